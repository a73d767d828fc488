//! SmolLM2 on opml's native paths, for the comparisons with llama.cpp and candle
//! (`toolchain/llm/engines.py`, `toolchain/llm/bench.sh`, `BENCHMARKS.md`). Each command prints
//! one JSON line.
//!
//! ```text
//! engine_bench tokenize <text>            # the ids of <text> (no BOS)
//! engine_bench decode <id,id,…>           # the text of each id
//! engine_bench greedy <tokens> <id,id,…>  # Engine, greedy: prompt and generation timed
//! engine_bench graph <tokens> <text>      # Generation::new (the dispute's graph run), timed
//! ```
//!
//! `greedy` feeds the prompt ids **one by one** (the engine has no batched prompt path), takes
//! the first generated token from the last prompt position's logits (timed with the prompt),
//! then generates the rest one token at a time: `prompt_s` covers the prompt's tokens and the
//! first token's logits, `gen_s` the other `tokens − 1` tokens. `peak_rss_kb` is the process's
//! `VmHWM` (the whole GGUF file is read into memory). Threads: rayon's global pool (every core,
//! or `RAYON_NUM_THREADS`).

use std::time::Instant;

use opml_gguf::Gguf;
use opml_llama::{Engine, Generation, Llama, smollm2_path};
use opml_llm::sample::{Sampling, greedy};
use opml_llm::task::Task;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bytes = std::fs::read(smollm2_path())?;
    let gguf = Gguf::parse(&bytes)?;
    let llama = Llama::from_gguf(&gguf)?;
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["tokenize", text] => {
            let mut ids = Vec::new();
            llama.tables().encode(text.as_bytes(), &mut ids);
            println!("{{\"ids\": {}}}", list(&ids));
        }
        ["decode", ids] => {
            let pieces: Vec<String> = parse_ids(ids)?
                .iter()
                .map(|&id| {
                    let bytes = llama.tables().decode(&[id]).unwrap_or_default();
                    json_string(&String::from_utf8_lossy(&bytes))
                })
                .collect();
            println!("{{\"pieces\": [{}]}}", pieces.join(", "));
        }
        ["greedy", tokens, ids] => {
            let (tokens, prompt): (usize, _) = (tokens.parse()?, parse_ids(ids)?);
            let mut engine = Engine::new(&llama);
            let start = Instant::now();
            let mut hidden = Vec::new();
            for &t in &prompt {
                hidden = engine.feed(t);
            }
            let mut out = vec![greedy(&engine.logits(&hidden))];
            let prompt_s = start.elapsed().as_secs_f64();
            let start = Instant::now();
            while out.len() < tokens {
                hidden = engine.feed(*out.last().expect("a token"));
                out.push(greedy(&engine.logits(&hidden)));
            }
            let gen_s = start.elapsed().as_secs_f64();
            println!(
                "{{\"engine\": \"opml\", \"tokens\": {}, \"prompt_tokens\": {}, \"prompt_s\": {prompt_s}, \"gen_tokens\": {}, \"gen_s\": {gen_s}, \"peak_rss_kb\": {}, \"threads\": {}}}",
                list(&out),
                prompt.len(),
                out.len() - 1,
                peak_rss_kb(),
                rayon_threads()
            );
        }
        ["graph", tokens, text] => {
            let task = Task {
                chat: false,
                tokens: tokens.parse()?,
                sampling: Sampling {
                    temperature: 0.0,
                    top_k: 0,
                    top_p: 1.0,
                    seed: 0,
                },
                prompt: text,
            };
            let start = Instant::now();
            let generation = Generation::new(&llama, &task, None)?;
            let seconds = start.elapsed().as_secs_f64();
            println!(
                "{{\"engine\": \"opml-graph\", \"tokens\": {}, \"prompt_tokens\": {}, \"seconds\": {seconds}, \"peak_rss_kb\": {}}}",
                list(&generation.generated()),
                generation.graph.prompt_tokens,
                peak_rss_kb()
            );
        }
        _ => return Err("usage: engine_bench tokenize <text> | decode <ids> | greedy <tokens> <ids> | graph <tokens> <text>".into()),
    }
    Ok(())
}

fn parse_ids(ids: &str) -> Result<Vec<u32>, std::num::ParseIntError> {
    ids.split(',').map(|s| s.trim().parse()).collect()
}

fn list(ids: &[u32]) -> String {
    let ids: Vec<String> = ids.iter().map(u32::to_string).collect();
    format!("[{}]", ids.join(", "))
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The threads of rayon's global pool, as the engine's kernels see it.
fn rayon_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// `VmHWM` of /proc/self/status (kB), 0 where there is none.
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
