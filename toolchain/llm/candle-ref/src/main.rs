//! SmolLM2 (GGUF) greedy generation with candle's quantized llama, from token ids.
//!
//! `candle-ref <model.gguf> <tokens> <id,id,…>`: feeds the prompt ids as one batch (prompt
//! processing), then generates `<tokens>` tokens greedily (argmax of the logits, lowest id on
//! ties), one forward per token. Prints one JSON line: the generated ids, the prompt and
//! generation times in seconds and the peak RSS (`VmHWM`) in kB. Threads: candle's CPU kernels
//! run on rayon's pool (`RAYON_NUM_THREADS`).

use std::time::Instant;

use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use candle_transformers::models::quantized_llama::ModelWeights;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        return Err("usage: candle-ref <model.gguf> <tokens> <id,id,…>".into());
    }
    let tokens: usize = args[2].parse()?;
    let prompt: Vec<u32> = args[3]
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()?;
    let device = Device::Cpu;
    let mut file = std::fs::File::open(&args[1])?;
    let content = gguf_file::Content::read(&mut file)?;
    let mut model = ModelWeights::from_gguf(content, &mut file, &device)?;

    let start = Instant::now();
    let input = Tensor::new(prompt.as_slice(), &device)?.unsqueeze(0)?;
    let mut logits = model.forward(&input, 0)?.squeeze(0)?;
    let mut next = argmax(&logits.to_vec1::<f32>()?);
    let prompt_s = start.elapsed().as_secs_f64();

    let start = Instant::now();
    let mut out = vec![next];
    for i in 1..tokens {
        let input = Tensor::new(&[next], &device)?.unsqueeze(0)?;
        logits = model.forward(&input, prompt.len() + i - 1)?.squeeze(0)?;
        next = argmax(&logits.to_vec1::<f32>()?);
        out.push(next);
    }
    let gen_s = start.elapsed().as_secs_f64();
    let ids: Vec<String> = out.iter().map(u32::to_string).collect();
    println!(
        "{{\"engine\": \"candle\", \"tokens\": [{}], \"prompt_tokens\": {}, \"prompt_s\": {prompt_s}, \"gen_tokens\": {}, \"gen_s\": {gen_s}, \"peak_rss_kb\": {}}}",
        ids.join(", "),
        prompt.len(),
        // The first generated token comes with the prompt's forward; the rest are timed here.
        out.len() - 1,
        peak_rss_kb()
    );
    Ok(())
}

/// The index of the largest logit, the lowest on ties.
fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in logits.iter().enumerate() {
        if v > logits[best] {
            best = i;
        }
    }
    best as u32
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
