//! The input stream, the public output and the debug log of a machine.

use std::fmt;
use std::sync::{Arc, OnceLock};

use opml_state::input::{self, CHUNK_LEN, END_LINK, InputChunk};
use opml_state::{Hash, output};

/// The input bytes and, computed on first use, the link of every chunk.
///
/// Shared by every snapshot of a machine: the input never changes, only the cursor does.
pub(crate) struct Input {
    bytes: Vec<u8>,
    /// `links[i]` is the link of chunk `i`.
    links: OnceLock<Vec<Hash>>,
}

impl Input {
    /// Wraps `bytes`, which must be shorter than 4 GiB.
    pub(crate) fn new(bytes: Vec<u8>) -> Arc<Input> {
        Arc::new(Input {
            bytes,
            links: OnceLock::new(),
        })
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn len(&self) -> u32 {
        self.bytes.len() as u32
    }

    fn links(&self) -> &[Hash] {
        self.links.get_or_init(|| {
            let chunks = self.bytes.len().div_ceil(CHUNK_LEN);
            let mut links = vec![END_LINK; chunks];
            let mut next = END_LINK;
            for i in (0..chunks).rev() {
                next = input::chunk_at(&self.bytes, self.len(), i, next).link();
                links[i] = next;
            }
            links
        })
    }

    /// The state's input link with `cursor` bytes consumed.
    pub(crate) fn link(&self, cursor: u32) -> Hash {
        if cursor >= self.len() {
            END_LINK
        } else {
            self.links()[cursor as usize / CHUNK_LEN]
        }
    }

    /// The chunk holding `cursor`, opened; `None` once the input is exhausted.
    pub(crate) fn chunk(&self, cursor: u32) -> Option<InputChunk> {
        if cursor >= self.len() {
            return None;
        }
        let index = cursor as usize / CHUNK_LEN;
        let next = self.links().get(index + 1).copied().unwrap_or(END_LINK);
        Some(input::chunk_at(&self.bytes, self.len(), index, next))
    }

    /// Unread bytes in the chunk holding `cursor`.
    pub(crate) fn available(&self, cursor: u32) -> u32 {
        if cursor >= self.len() {
            return 0;
        }
        let chunk_start = cursor - cursor % CHUNK_LEN as u32;
        (self.len() - chunk_start).min(CHUNK_LEN as u32) - cursor % CHUNK_LEN as u32
    }
}

/// The public output: the bytes, and their accumulator folded lazily up to `folded`.
#[derive(Clone, Default)]
pub(crate) struct Output {
    bytes: Vec<u8>,
    acc: Hash,
    /// Bytes already folded into `acc` (a multiple of 32).
    folded: usize,
}

impl Output {
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub(crate) fn len(&self) -> u32 {
        self.bytes.len() as u32
    }

    pub(crate) fn push(&mut self, data: &[u8]) {
        self.bytes.extend_from_slice(data);
    }

    /// The state's `(output_acc, output_tail)`, folding the chunks completed since last time.
    pub(crate) fn commit(&mut self) -> (Hash, [u8; 32]) {
        let whole = self.bytes.len() - self.bytes.len() % output::CHUNK_LEN;
        for chunk in self.bytes[self.folded..whole].chunks_exact(output::CHUNK_LEN) {
            self.acc = output::fold(&self.acc, chunk.try_into().expect("32-byte chunk"));
        }
        self.folded = whole;
        let mut tail = [0u8; 32];
        tail[..self.bytes.len() - whole].copy_from_slice(&self.bytes[whole..]);
        (self.acc, tail)
    }
}

/// Where a machine sends the bytes its guest writes to the debug log (fd 2).
pub type LogSink = Box<dyn FnMut(&[u8]) + Send + Sync>;

/// The debug log sink of a machine. A clone has none: snapshots replaying old steps stay quiet.
#[derive(Default)]
pub(crate) struct Log(Option<LogSink>);

impl Log {
    pub(crate) fn set(&mut self, sink: Option<LogSink>) {
        self.0 = sink;
    }

    pub(crate) fn write(&mut self, data: &[u8]) {
        if let Some(sink) = &mut self.0 {
            sink(data);
        }
    }
}

impl Clone for Log {
    fn clone(&self) -> Log {
        Log(None)
    }
}

impl fmt::Debug for Log {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Log(sink)"
        } else {
            "Log(none)"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_match_the_commitment_and_chunks_open_them() {
        let bytes: Vec<u8> = (0..100u8).collect();
        let input = Input::new(bytes.clone());
        assert_eq!(input.link(0), input::commitment(&bytes));
        for cursor in 0..=100 {
            assert_eq!(
                input.chunk(cursor).map(|c| c.link()),
                (cursor < 100).then(|| input.link(cursor))
            );
        }
        assert_eq!(input.available(0), 32);
        assert_eq!(input.available(97), 3);
        assert_eq!(input.available(100), 0);
        assert_eq!(input.link(100), END_LINK);
    }

    #[test]
    fn lazy_fold_matches_the_digest() {
        let mut out = Output::default();
        let data: Vec<u8> = (0..77u8).collect();
        for piece in data.chunks(5) {
            out.push(piece);
            let (acc, tail) = out.commit();
            assert_eq!(
                output::finish(&acc, &tail, out.len()),
                output::digest(out.bytes())
            );
        }
    }
}
