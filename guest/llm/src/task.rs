//! The input of an LLM task: a fixed header with the generation settings, then the prompt text.
//! It is the one graph input of an LLM graph, so the settings and the text are part of the
//! disputed computation.
//!
//! | bytes | field |
//! |---|---|
//! | 0..8 | magic `OPMLLLM1` |
//! | 8..12 | flags: bit 0 = apply the chat template; others 0 |
//! | 12..16 | generated tokens, u32 |
//! | 16..20 | temperature, f32 (finite, ≥ 0; 0 = greedy) |
//! | 20..24 | top-k, u32 (0 = all) |
//! | 24..28 | top-p, f32 (in (0, 1]) |
//! | 28..32 | 0 |
//! | 32..40 | seed, u64 |
//! | 40.. | the prompt, UTF-8 |
//!
//! Integers and floats are little-endian.

use alloc::vec::Vec;

use crate::sample::Sampling;
use crate::tokenizer::Tables;

/// The first 8 bytes of a task record.
pub const MAGIC: [u8; 8] = *b"OPMLLLM1";
/// The length of the header before the prompt.
pub const HEADER_LEN: usize = 40;

/// An LLM task's settings and prompt.
#[derive(Clone, Debug, PartialEq)]
pub struct Task<'a> {
    /// Whether the prompt is a user message to wrap in the model's chat template.
    pub chat: bool,
    /// How many tokens to generate after the prompt.
    pub tokens: u32,
    /// How each generated token is chosen.
    pub sampling: Sampling,
    /// The prompt text.
    pub prompt: &'a str,
}

/// Why a task record is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskError {
    /// Shorter than the header, or a wrong magic.
    Header,
    /// Unknown flags or a non-zero reserved word.
    Reserved,
    /// A temperature or top-p out of range.
    Sampling,
    /// The prompt is not UTF-8.
    Utf8,
}

impl core::fmt::Display for TaskError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            TaskError::Header => "the LLM task record has no valid header",
            TaskError::Reserved => "the LLM task record sets unknown flags or reserved bytes",
            TaskError::Sampling => "the temperature must be finite and ≥ 0, and top-p in (0, 1]",
            TaskError::Utf8 => "the prompt is not UTF-8",
        })
    }
}

impl<'a> Task<'a> {
    /// The record's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.prompt.len());
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&u32::from(self.chat).to_le_bytes());
        out.extend_from_slice(&self.tokens.to_le_bytes());
        out.extend_from_slice(&self.sampling.temperature.to_bits().to_le_bytes());
        out.extend_from_slice(&self.sampling.top_k.to_le_bytes());
        out.extend_from_slice(&self.sampling.top_p.to_bits().to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&self.sampling.seed.to_le_bytes());
        out.extend_from_slice(self.prompt.as_bytes());
        out
    }

    /// The prompt's token ids under `tables`: in the chat template if the task asks for it.
    pub fn prompt_ids(&self, tables: &Tables<'_>) -> Vec<u32> {
        let mut ids = Vec::new();
        if self.chat {
            tables.encode_chat(self.prompt.as_bytes(), &mut ids);
        } else {
            tables.encode(self.prompt.as_bytes(), &mut ids);
        }
        ids
    }

    /// Reads and checks a record.
    pub fn parse(record: &'a [u8]) -> Result<Task<'a>, TaskError> {
        let (header, prompt) = record
            .split_at_checked(HEADER_LEN)
            .ok_or(TaskError::Header)?;
        if header[..8] != MAGIC {
            return Err(TaskError::Header);
        }
        let word = |at: usize| {
            u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
        };
        let flags = word(8);
        if flags > 1 || word(28) != 0 {
            return Err(TaskError::Reserved);
        }
        let sampling = Sampling {
            temperature: f32::from_bits(word(16)),
            top_k: word(20),
            top_p: f32::from_bits(word(24)),
            seed: u64::from(word(32)) | u64::from(word(36)) << 32,
        };
        let t = sampling.temperature;
        let p = sampling.top_p;
        if !(t.is_finite() && t >= 0.0 && p > 0.0 && p <= 1.0) {
            return Err(TaskError::Sampling);
        }
        Ok(Task {
            chat: flags == 1,
            tokens: word(12),
            sampling,
            prompt: core::str::from_utf8(prompt).map_err(|_| TaskError::Utf8)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let task = Task {
            chat: true,
            tokens: 7,
            sampling: Sampling {
                temperature: 0.7,
                top_k: 40,
                top_p: 0.9,
                seed: 0x0102_0304_0506_0708,
            },
            prompt: "Hello, wörld",
        };
        let bytes = task.encode();
        assert_eq!(bytes.len(), HEADER_LEN + task.prompt.len());
        assert_eq!(Task::parse(&bytes), Ok(task));
        assert_eq!(Task::parse(&bytes[..39]), Err(TaskError::Header));
        let mut bad = bytes.clone();
        bad[8] = 2;
        assert_eq!(Task::parse(&bad), Err(TaskError::Reserved));
        let mut bad = bytes.clone();
        bad[24..28].copy_from_slice(&1.5f32.to_bits().to_le_bytes());
        assert_eq!(Task::parse(&bad), Err(TaskError::Sampling));
        let mut bad = bytes.clone();
        bad[16..20].copy_from_slice(&f32::NAN.to_bits().to_le_bytes());
        assert_eq!(Task::parse(&bad), Err(TaskError::Sampling));
        let mut bad = bytes;
        bad.push(0xff);
        assert_eq!(Task::parse(&bad), Err(TaskError::Utf8));
    }
}
