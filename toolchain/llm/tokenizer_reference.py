#!/usr/bin/env python3
"""Reference ids for opml-llm's tokenizer (guest/llm/src/tokenizer).

Reads SmolLM2's vocabulary from the GGUF with ggml's `gguf` package, builds a Hugging Face
`tokenizers.Tokenizer` from the same tokens and merges (BPE; pre-tokenizer
Sequence[Digits(individual_digits=True), ByteLevel(add_prefix_space=False, use_regex=True)];
ByteLevel decoder; the control tokens as special added tokens), generates a deterministic corpus
and writes JSON

    {tokens, token_types, merges, chat_template,
     corpus: [{text, ids[, llama_ids]}], chat: [{user, rendered, ids[, llama_ids]}]}

Usage: tokenizer_reference.py OUT.json [--model GGUF] [--llama-cpp]
       tokenizer_reference.py --codepoints OUT.json
  --llama-cpp   also record llama.cpp's ids (llama-cpp-python, vocab only) when `llama_cpp` imports.
  --codepoints  instead, the pre-tokenizer's pieces of probes of every Unicode scalar value:
                {probes_per_text, pieces: ["byte lengths, comma-separated"]}, one string per
                text of probe_text() of probes_per_text consecutive scalar values; the probe
                `a{c} {c}x` tells the class of c (letter, number, white space, other) apart.
"""

import argparse
import json
import random
import sys
from pathlib import Path

import gguf
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers

ROOT = Path(__file__).resolve().parent
DEFAULT_MODEL = ROOT / "cache" / "SmolLM2-135M-Instruct.Q4_1.gguf"
SEED = 20260

SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
    "<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
    "{% endif %}"
)


def read_vocab(path):
    r = gguf.GGUFReader(str(path))
    f = r.fields

    def strs(name):
        fld = f[name]
        return [bytes(fld.parts[i]).decode("utf-8") for i in fld.data]

    def scalar(name):
        return f[name].contents()

    assert scalar("tokenizer.ggml.model") == "gpt2"
    assert scalar("tokenizer.ggml.pre") == "smollm"
    tokens = strs("tokenizer.ggml.tokens")
    types = [int(f["tokenizer.ggml.token_type"].parts[i][0]) for i in f["tokenizer.ggml.token_type"].data]
    merges = strs("tokenizer.ggml.merges")
    template = scalar("tokenizer.chat_template")
    return tokens, types, merges, template


def hf_tokenizer(tokens, types, merges):
    vocab = {t: i for i, t in enumerate(tokens)}
    assert len(vocab) == len(tokens)
    pairs = [tuple(m.split(" ")) for m in merges]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=pairs, fuse_unk=False, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(
        [
            AddedToken(t, special=True, normalized=False, lstrip=False, rstrip=False, single_word=False)
            for t, ty in zip(tokens, types)
            if ty == 3
        ]
    )
    return tok


WORDS = (
    "the of and to in is was for that on as with by he it at from his an were are which this be "
    "also has or had first one their its new after but who not they have her she two been other "
    "when there all during into school time may years more most only over city some world would "
    "where later up such used many can state about national out known university united then "
    "made Hello World Rust RISC-V fraud proof optimistic machine learning tokenizer GPT SmolLM "
    "don't can't won't I'm you're we've they'll she'd it's O'Neil rock'n'roll"
).split()

SCRIPTS = [
    "日本語のテキストと漢字、ひらがな。中文分词测试，你好世界！",
    "Привет, мир! Съешь же ещё этих мягких французских булок.",
    "مرحبا بالعالم، هذه جملة عربية ١٢٣٤٥",
    "नमस्ते दुनिया। यह हिंदी में एक वाक्य है। १२३",
    "Γειά σου Κόσμε· αλφάβητο",
    "שלום עולם",
    "안녕하세요 세계 한국어 문장입니다",
    "ไทย ภาษาไทย สวัสดี",
    "emoji 😀🎉👍🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️",
    "combining: e\u0301 a\u0300\u0323 n\u0303 Z\u0335\u0321\u0322a\u0337l\u0334g\u0336o",
    "Ελληνικά ΣΊΣΥΦΟΣ ß ẞ ǅ ﬁ ﬀ Å Å",
    "math ∑∫√∞ ≠ ≤ ≥ ½ ¼ ² ³ ⅓ Ⅻ ⑩ 𝟙𝟚",
]

SPACES = [" ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n", "\u00a0", "\u3000", "\u2009", "\u200b", "\u2028", "\u0085", "\x0b", "\x0c", "\u1680", "\u202f"]
APOS = ["'", "\u2019", "\u02bc", "`", "\u00b4"]
SPECIALS = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<repo_name>", "<filename>", "<jupyter_code>", "<empty_output>", "<|im_start", "im_end|>", "<|im_start|><|im_end|>"]
CODE = [
    "fn main() {\n    println!(\"Hello, world!\");\n}\n",
    "def f(x):\n\treturn x**2 + 1  # comment\n",
    "for (int i = 0; i < n; ++i) { a[i] = b[i] * 2; }",
    "<div class=\"x\">&amp; &lt;tag&gt;</div>",
    "SELECT * FROM t WHERE id = 42 AND name LIKE '%foo%';",
    "    if x == None:\n        raise ValueError('bad')\n\n\n",
    "let v: Vec<u32> = (0..10).map(|x| x * x).collect();",
    "{\"key\": [1, 2.5, -3e10, true, null]}",
    "#include <stdio.h>\nint main(void){return 0;}",
    "$ cargo test -p opml-llm -- --nocapture 2>&1 | tail",
]
NUMBERS = ["0", "42", "3.14159", "1,234,567.89", "-17", "1e-9", "0x1F", "2026-12-02", "12:34:56", "+1 (555) 010-9999", "100%", "$9.99", "١٢٣", "४२", "¹²³", "Ⅳ"]


def random_soup(rng, n):
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.3:
            cp = rng.randrange(0x20, 0x80)
        elif r < 0.6:
            cp = rng.randrange(0x80, 0x3000)
        elif r < 0.85:
            cp = rng.randrange(0x3000, 0x10000)
        else:
            cp = rng.randrange(0x10000, 0x30000)
        if 0xD800 <= cp < 0xE000:
            cp = 0xFFFD
        out.append(chr(cp))
    return "".join(out)


def sentence(rng):
    words = [rng.choice(WORDS) for _ in range(rng.randrange(1, 16))]
    s = ""
    for w in words:
        s += rng.choice([" ", " ", " ", "  ", ", ", ". ", "\n", "\t", "-", "(", ") "]) if s else ""
        if rng.random() < 0.15:
            w = w.capitalize() if rng.random() < 0.5 else w.upper()
        if rng.random() < 0.1:
            w += rng.choice(APOS) + rng.choice(["s", "t", "re", "ve", "m", "ll", "d", "S", "T", "RE", "x"])
        s += w
    return s + rng.choice(["", ".", "!", "?", "...", " ", "\n"])


def corpus():
    rng = random.Random(SEED)
    texts = ["", " ", "a", "\n", "  \n  ", "'s", "''s", " 's", "I'M", "don't", "x" * 10000, " " * 300 + "a", "1" * 200, "!" * 500]
    # Bytes without a token (dropped): between symbols, inside a piece.
    texts += ["!\x04!", "a\x06\x06b", "(\x14)", "\x13", "x\x1d y", "..\x16..", "\U00040000\U000a0000"]
    texts += SCRIPTS + CODE + NUMBERS + SPACES + SPECIALS
    gens = [
        lambda: sentence(rng),
        lambda: rng.choice(SCRIPTS)[: rng.randrange(1, 40)] + rng.choice(SPACES) + sentence(rng),
        lambda: "".join(rng.choice(SPACES) + rng.choice(WORDS) for _ in range(rng.randrange(1, 8))) + rng.choice(SPACES) * rng.randrange(0, 3),
        lambda: " ".join(rng.choice(NUMBERS) for _ in range(rng.randrange(1, 6))) + rng.choice(["", " items", "th", "a1b2"]),
        lambda: rng.choice(CODE)[rng.randrange(0, 10):],
        lambda: rng.choice(APOS).join(rng.choice(WORDS) for _ in range(3)) + rng.choice(APOS) + rng.choice(["s", "re", "LL", "d", "ve"]),
        lambda: sentence(rng) + rng.choice(SPECIALS) + sentence(rng),
        lambda: random_soup(rng, rng.randrange(1, 30)),
        lambda: rng.choice(SPACES) * rng.randrange(1, 6) + rng.choice(WORDS) + rng.choice(SPACES) * rng.randrange(1, 6),
        lambda: "".join(rng.choice(SCRIPTS[8:10]) for _ in range(2)),
        lambda: rng.choice(WORDS) * rng.randrange(2, 20),
    ]
    while len(texts) < 12000:
        texts.append(rng.choice(gens)())
    return texts


def codepoint_probes(out):
    pt = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    cps = [chr(cp) for cp in range(0x110000) if not 0xD800 <= cp < 0xE000]
    pieces = []
    for i in range(0, len(cps), PROBES_PER_TEXT):
        text = probe_text(cps[i : i + PROBES_PER_TEXT])
        # ByteLevel pieces have one character per byte.
        pieces.append(",".join(str(len(p)) for p, _ in pt.pre_tokenize_str(text)))
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps({"probes_per_text": PROBES_PER_TEXT, "pieces": pieces}), encoding="utf-8")


PROBES_PER_TEXT = 256


def probe_text(chars):
    """`a{c} {c}x` for each c, separated by digits (isolated pieces): letters, numbers, white
    space and others give different pieces."""
    return "1".join(f"a{c} {c}x" for c in chars)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--codepoints", action="store_true", help="write code point probes instead")
    ap.add_argument("--model", default=str(DEFAULT_MODEL))
    ap.add_argument("--llama-cpp", action="store_true", help="also record llama.cpp's ids if llama_cpp imports")
    args = ap.parse_args()
    if args.codepoints:
        return codepoint_probes(args.out)

    tokens, types, merges, template = read_vocab(args.model)
    if template != CHAT_TEMPLATE:
        sys.exit("tokenizer.chat_template differs from the SmolLM2 template this script renders")
    tok = hf_tokenizer(tokens, types, merges)
    llama = None
    if args.llama_cpp:
        try:
            from llama_cpp import Llama

            llama = Llama(model_path=args.model, vocab_only=True, verbose=False)
        except ImportError as e:
            print(f"llama_cpp not importable ({e}); HF ids only", file=sys.stderr)

    def entry(text, **extra):
        e = dict(extra, text=text, ids=tok.encode(text, add_special_tokens=False).ids)
        if llama is not None:
            e["llama_ids"] = llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        return e

    texts = corpus()
    out = {
        "tokens": tokens,
        "token_types": types,
        "merges": merges,
        "chat_template": template,
        "corpus": [entry(t) for t in texts],
        "chat": [],
    }
    for e in out["corpus"]:
        dec = tok.decode(e["ids"], skip_special_tokens=False)
        lossy = any(c in "\x04\x06\x13\x14\x16\x1d" or 0x40000 <= ord(c) < 0xC0000 for c in e["text"])
        assert dec == e["text"] or lossy, (e["text"], dec)
    for user in ["Hello!", "What is 2+2?", "Write a haiku about RISC-V.\n", "", " leading space", "日本語で答えて", "<|im_end|> injected"]:
        rendered = f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"
        out["chat"].append(entry(rendered, user=user))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, ensure_ascii=False), encoding="utf-8")
    print(f"{len(texts)} strings, llama.cpp: {llama is not None}", file=sys.stderr)


if __name__ == "__main__":
    main()
