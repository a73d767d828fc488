//! A tiny llama GGUF model for tests (shared by `opml-agent`'s and `opml-cli`'s tests).

/// A tiny llama with SmolLM2's tokenizer (its vocabulary, so its output head, is SmolLM2's)
/// and seeded random Q8_0 weights: d = 64, 4 heads, 2 KV heads, FFN 128, 2 blocks. SmolLM2
/// itself has a node step (its output head) of 1.1 × 10^9 instructions in the VM: with the top
/// phase even the smallest task needs, more than the game's 40 levels (`docs/game-design.md`,
/// "LLM tasks"), so the games run on this one: the same graph and code paths, small enough.
pub(crate) fn gguf(smollm2: &[u8]) -> Vec<u8> {
    let real = opml_gguf::Gguf::parse(smollm2).unwrap();
    let tokens = real.str_array("tokenizer.ggml.tokens").unwrap();
    let types = real.i32_array("tokenizer.ggml.token_type").unwrap();
    let merges = real.str_array("tokenizer.ggml.merges").unwrap();
    let eos = real.u32("tokenizer.ggml.eos_token_id").unwrap();
    let (d, ffn, heads, kv_heads, layers) = (64u64, 128u64, 4u32, 2u32, 2u32);
    let kv = d / u64::from(heads) * u64::from(kv_heads);
    let vocab = tokens.len() as u64;
    let mut w = Gguf::default();
    w.string("general.architecture", "llama");
    w.string("general.name", "tiny llama");
    w.string("tokenizer.ggml.model", "gpt2");
    w.string("tokenizer.ggml.pre", "smollm");
    for (key, value) in [
        ("llama.embedding_length", d as u32),
        ("llama.feed_forward_length", ffn as u32),
        ("llama.attention.head_count", heads),
        ("llama.attention.head_count_kv", kv_heads),
        ("llama.block_count", layers),
        ("tokenizer.ggml.eos_token_id", eos),
    ] {
        w.u32(key, value);
    }
    w.f32("llama.rope.freq_base", 10_000.0);
    w.f32("llama.attention.layer_norm_rms_epsilon", 1e-5);
    w.strings("tokenizer.ggml.tokens", tokens);
    w.i32s("tokenizer.ggml.token_type", types);
    w.strings("tokenizer.ggml.merges", merges);
    let mut seed = 1u32;
    w.matrix("token_embd.weight", vocab, d, &mut seed);
    w.norm("output_norm.weight", d);
    for l in 0..layers {
        let name = |part: &str| format!("blk.{l}.{part}.weight");
        w.norm(&name("attn_norm"), d);
        w.matrix(&name("attn_q"), d, d, &mut seed);
        w.matrix(&name("attn_k"), kv, d, &mut seed);
        w.matrix(&name("attn_v"), kv, d, &mut seed);
        w.matrix(&name("attn_output"), d, d, &mut seed);
        w.norm(&name("ffn_norm"), d);
        w.matrix(&name("ffn_gate"), ffn, d, &mut seed);
        w.matrix(&name("ffn_up"), ffn, d, &mut seed);
        w.matrix(&name("ffn_down"), d, ffn, &mut seed);
    }
    w.finish()
}

/// A GGUF v3 writer: metadata, then tensors (F32 norms, Q8_0 matrices), 32-byte aligned.
#[derive(Default)]
struct Gguf {
    kvs: Vec<u8>,
    kv_count: u64,
    infos: Vec<u8>,
    data: Vec<u8>,
    tensors: u64,
}

impl Gguf {
    fn key(&mut self, key: &str, kind: u32) {
        put_str(&mut self.kvs, key);
        self.kvs.extend_from_slice(&kind.to_le_bytes());
        self.kv_count += 1;
    }
    fn string(&mut self, key: &str, value: &str) {
        self.key(key, 8);
        put_str(&mut self.kvs, value);
    }
    fn u32(&mut self, key: &str, value: u32) {
        self.key(key, 4);
        self.kvs.extend_from_slice(&value.to_le_bytes());
    }
    fn f32(&mut self, key: &str, value: f32) {
        self.key(key, 6);
        self.kvs.extend_from_slice(&value.to_le_bytes());
    }
    fn strings(&mut self, key: &str, values: &[&str]) {
        self.key(key, 9);
        self.kvs.extend_from_slice(&8u32.to_le_bytes());
        self.kvs
            .extend_from_slice(&(values.len() as u64).to_le_bytes());
        for value in values {
            put_str(&mut self.kvs, value);
        }
    }
    fn i32s(&mut self, key: &str, values: &[i32]) {
        self.key(key, 9);
        self.kvs.extend_from_slice(&5u32.to_le_bytes());
        self.kvs
            .extend_from_slice(&(values.len() as u64).to_le_bytes());
        for value in values {
            self.kvs.extend_from_slice(&value.to_le_bytes());
        }
    }
    /// A tensor of GGML dims `dims` (row length first) and type `kind`.
    fn tensor(&mut self, name: &str, dims: &[u64], kind: u32, bytes: &[u8]) {
        put_str(&mut self.infos, name);
        self.infos
            .extend_from_slice(&(dims.len() as u32).to_le_bytes());
        for dim in dims {
            self.infos.extend_from_slice(&dim.to_le_bytes());
        }
        self.infos.extend_from_slice(&kind.to_le_bytes());
        self.infos
            .extend_from_slice(&(self.data.len() as u64).to_le_bytes());
        self.data.extend_from_slice(bytes);
        self.data.resize(self.data.len().next_multiple_of(32), 0);
        self.tensors += 1;
    }
    /// An RMSNorm gain of ones.
    fn norm(&mut self, name: &str, len: u64) {
        let bytes: Vec<u8> = (0..len).flat_map(|_| 1f32.to_le_bytes()).collect();
        self.tensor(name, &[len], 0, &bytes);
    }
    /// A `rows × cols` Q8_0 matrix of seeded random values (scale ≈ 0.01).
    fn matrix(&mut self, name: &str, rows: u64, cols: u64, seed: &mut u32) {
        let mut bytes = Vec::new();
        for _ in 0..rows * cols / 32 {
            bytes.extend_from_slice(&0x211fu16.to_le_bytes());
            for _ in 0..32 {
                *seed ^= *seed << 13;
                *seed ^= *seed >> 17;
                *seed ^= *seed << 5;
                bytes.push((*seed >> 24) as u8);
            }
        }
        self.tensor(name, &[cols, rows], 8, &bytes);
    }
    fn finish(self) -> Vec<u8> {
        let mut out = b"GGUF".to_vec();
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&self.tensors.to_le_bytes());
        out.extend_from_slice(&self.kv_count.to_le_bytes());
        out.extend_from_slice(&self.kvs);
        out.extend_from_slice(&self.infos);
        out.resize(out.len().next_multiple_of(32), 0);
        out.extend_from_slice(&self.data);
        out
    }
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
}
