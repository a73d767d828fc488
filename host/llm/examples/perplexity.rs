//! Perplexity of SmolLM2 (the [`Engine`], every core) on a text file, for the comparison with
//! llama.cpp (`toolchain/llm/engines.py perplexity`, `BENCHMARKS.md`).
//!
//! ```text
//! cargo run --release -p opml-llama --example perplexity -- <text file> [--ids-out <file>]
//! ```
//!
//! The text is encoded with opml's tokenizer (no BOS token) and run as **one context**: token
//! `i` is fed at position `i`. Every token after the first is scored: `−log softmax(logits)[t]`
//! of the logits after the previous token, computed in f64 (`logsumexp` from the maximum). The
//! perplexity is `exp(mean)`. `--ids-out` writes the token ids (one per line) so that llama.cpp
//! scores exactly the same ids. Prints a summary and one JSON line.

use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use opml_gguf::Gguf;
use opml_llama::{Engine, Llama, smollm2_path};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (text_path, ids_out) = match args.as_slice() {
        [text] => (text, None),
        [text, flag, out] if flag == "--ids-out" => (text, Some(out)),
        _ => return Err("usage: perplexity <text file> [--ids-out <file>]".into()),
    };
    let text = std::fs::read(text_path)?;
    let bytes = std::fs::read(smollm2_path())?;
    let gguf = Gguf::parse(&bytes)?;
    let llama = Llama::from_gguf(&gguf)?;
    let mut ids = Vec::new();
    llama.tables().encode(&text, &mut ids);
    if ids.len() < 2 {
        return Err("the text has fewer than 2 tokens".into());
    }
    if let Some(out) = ids_out {
        let lines: String = ids.iter().map(|id| format!("{id}\n")).collect();
        std::fs::write(out, lines)?;
    }

    let bar = ProgressBar::new(ids.len() as u64 - 1);
    bar.set_style(ProgressStyle::with_template(
        "{elapsed_precise} [{bar:40}] {pos}/{len} tokens, {per_sec}, ETA {eta} {msg}",
    )?);
    let start = Instant::now();
    let mut engine = Engine::new(&llama);
    let mut nll = 0.0f64;
    for (i, pair) in ids.windows(2).enumerate() {
        let hidden = engine.feed(pair[0]);
        nll += neg_log_softmax(&engine.logits(&hidden), pair[1] as usize);
        bar.inc(1);
        if i % 64 == 0 {
            bar.set_message(format!("ppl {:.4}", (nll / (i + 1) as f64).exp()));
        }
    }
    bar.finish();
    let seconds = start.elapsed().as_secs_f64();
    let scored = ids.len() - 1;
    let mean = nll / scored as f64;
    eprintln!(
        "opml: {} tokens, {scored} scored, mean NLL {mean:.6}, perplexity {:.4} ({seconds:.1} s)",
        ids.len(),
        mean.exp()
    );
    println!(
        "{{\"engine\": \"opml\", \"tokens\": {}, \"scored\": {scored}, \"mean_nll\": {mean}, \"perplexity\": {}, \"seconds\": {seconds}}}",
        ids.len(),
        mean.exp()
    );
    Ok(())
}

/// `−log softmax(logits)[target]` in f64: `logsumexp(logits) − logits[target]`.
fn neg_log_softmax(logits: &[f32], target: usize) -> f64 {
    let max = logits
        .iter()
        .fold(f64::NEG_INFINITY, |m, &l| m.max(l as f64));
    let sum: f64 = logits.iter().map(|&l| (l as f64 - max).exp()).sum();
    max + sum.ln() - logits[target] as f64
}
