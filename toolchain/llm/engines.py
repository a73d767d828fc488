#!/usr/bin/env python3
"""SmolLM2 on llama.cpp (llama-cpp-python) next to opml and candle, for BENCHMARKS.md.

Run with a Python that has llama-cpp-python (toolchain/llm/.venv, which toolchain/llm/install.sh
fills from requirements.txt). Every engine gets the same token ids (opml's tokenizer, no
BOS), so tokenization differences do not enter the comparisons.

  engines.py text --out FILE
      The held-out text: CPython's pydoc_data.topics, topics TOPICS in this order, joined by a
      blank line. Prints its SHA-256 (it depends on the CPython version; see EXPECTED_SHA256).
  engines.py perplexity --ids FILE [--n-ctx N]
      llama.cpp's perplexity on the ids in FILE (one per line, as written by opml's
      `--example perplexity -- TEXT --ids-out FILE`): one context of the whole text, every token
      after the first scored with log-softmax of the logits after the previous one, in f64.
  engines.py greedy --tokens N --ids a,b,...
      llama.cpp greedy generation (argmax, lowest id on ties) after the prompt ids: one JSON
      line with the ids, the prompt time (prompt batch + the first token) and the generation
      time of the other N-1 tokens, and the peak RSS (VmHWM) of this process.
  engines.py compare --tokens N
      Greedy continuations of PROMPTS by opml (Engine), llama.cpp and candle side by side, with
      the first position where each pair diverges.
  engines.py bench --repeat R
      Speed and memory of the three engines (each run a fresh process; llama.cpp also on one
      thread) on a 64-token prompt
      and 64 generated tokens, plus opml's graph run; median of R runs.

Paths: OPML_ENGINE_BENCH (opml's engine_bench example), CANDLE_REF (toolchain/llm/candle-ref's
binary), OPML_GGUF (the model); defaults are this checkout's release builds.
"""

import argparse
import hashlib
import json
import math
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
MODEL = os.environ.get("OPML_GGUF", os.path.join(HERE, "cache", "SmolLM2-135M-Instruct.Q4_1.gguf"))
OPML = os.environ.get("OPML_ENGINE_BENCH", os.path.join(TARGET, "release", "examples", "engine_bench"))
CANDLE = os.environ.get("CANDLE_REF", os.path.join(HERE, "candle-ref", "target", "release", "candle-ref"))
THREADS = 2

# Plain English prose of the Python language reference, as shipped in CPython's stdlib.
TOPICS = ["objects", "execmodel"]
# The SHA-256 of the text with CPython 3.11.7 (other versions may ship other wording).
EXPECTED_SHA256 = "71f9224fc1c908dcb31bec6846ce4ee61640f5235bb2aac7691239ea73e095a9"

# The greedy comparison's prompts; the last one is the 64-token prompt of `bench` (exactly 64
# ids with opml's tokenizer, checked).
PROMPTS = [
    "The capital of France is",
    "def fibonacci(n):",
    "Once upon a time, in a small village by the sea,",
    "Photosynthesis is the process by which green plants and some other organisms use sunlight "
    "to synthesize foods from carbon dioxide and water. Photosynthesis in plants generally "
    "involves the green pigment chlorophyll and generates oxygen as a byproduct. In this "
    "article we explain, step by step and in plain words, how the light reactions and the "
    "Calvin cycle work",
]
BENCH_PROMPT = PROMPTS[-1]
BENCH_PROMPT_TOKENS = 64


def peak_rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def load_llama(n_ctx, logits_all=True, threads=THREADS):
    from llama_cpp import Llama

    return Llama(
        model_path=MODEL,
        n_ctx=n_ctx,
        n_batch=512,
        logits_all=logits_all,
        n_threads=threads,
        n_threads_batch=threads,
        verbose=False,
    )


def cmd_text(args):
    import pydoc_data.topics as topics

    text = "\n\n".join(topics.topics[t].strip() for t in TOPICS) + "\n"
    data = text.encode("utf-8")
    with open(args.out, "wb") as f:
        f.write(data)
    digest = hashlib.sha256(data).hexdigest()
    if digest != EXPECTED_SHA256:
        print(f"note: this CPython's text differs from BENCHMARKS.md's ({digest})", file=sys.stderr)
    print(json.dumps({
        "python": sys.version.split()[0],
        "topics": TOPICS,
        "bytes": len(data),
        "sha256": digest,
    }))


def neg_log_softmax(row, target):
    m = max(row)
    s = math.fsum(math.exp(v - m) for v in row)
    return m + math.log(s) - row[target]


def cmd_perplexity(args):
    import numpy as np

    with open(args.ids) as f:
        ids = [int(line) for line in f if line.strip()]
    n_ctx = args.n_ctx or len(ids)
    if len(ids) > n_ctx:
        sys.exit(f"{len(ids)} tokens do not fit in n_ctx={n_ctx}")
    llm = load_llama(n_ctx)
    start = time.perf_counter()
    llm.eval(ids)
    seconds = time.perf_counter() - start
    # scores[i] are the logits after token i (f32); log-softmax in f64.
    scores = np.asarray(llm.scores[: len(ids) - 1], dtype=np.float64)
    m = scores.max(axis=1)
    lse = m + np.log(np.exp(scores - m[:, None]).sum(axis=1))
    nll = lse - scores[np.arange(len(ids) - 1), ids[1:]]
    mean = float(nll.sum()) / (len(ids) - 1)
    print(f"llama.cpp: {len(ids)} tokens, {len(ids) - 1} scored, mean NLL {mean:.6f}, "
          f"perplexity {math.exp(mean):.4f} ({seconds:.1f} s)", file=sys.stderr)
    print(json.dumps({"engine": "llama.cpp", "tokens": len(ids), "scored": len(ids) - 1,
                      "mean_nll": mean, "perplexity": math.exp(mean), "seconds": seconds}))


def last_logits(llm):
    """The logits after the last token evaluated (with logits_all=False llama-cpp-python keeps
    only the batch's last row, in the context, not in `scores`)."""
    import numpy as np

    return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),))


def llama_greedy(llm, prompt, tokens):
    import numpy as np

    llm.reset()
    start = time.perf_counter()
    llm.eval(prompt)
    out = [int(np.argmax(last_logits(llm)))]
    prompt_s = time.perf_counter() - start
    start = time.perf_counter()
    while len(out) < tokens:
        llm.eval([out[-1]])
        out.append(int(np.argmax(last_logits(llm))))
    gen_s = time.perf_counter() - start
    return out, prompt_s, gen_s


def cmd_greedy(args):
    prompt = [int(t) for t in args.ids.split(",")]
    # logits_all=False: the prompt batch computes the logits of its last position only (llama.cpp's
    # own fast path; `scores[n_tokens - 1]` holds them).
    llm = load_llama(max(512, len(prompt) + args.tokens), logits_all=False, threads=args.threads)
    out, prompt_s, gen_s = llama_greedy(llm, prompt, args.tokens)
    print(json.dumps({"engine": "llama.cpp", "tokens": out, "prompt_tokens": len(prompt),
                      "prompt_s": prompt_s, "gen_tokens": len(out) - 1, "gen_s": gen_s,
                      "peak_rss_kb": peak_rss_kb(), "threads": args.threads}))


def run_json(cmd, env=None):
    full = dict(os.environ, **(env or {}))
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, env=full)
    return json.loads(done.stdout.strip().splitlines()[-1])


def opml_ids(text):
    return run_json([OPML, "tokenize", text])["ids"]


def engine_cmds(ids, tokens):
    joined = ",".join(map(str, ids))
    return {
        "opml": ([OPML, "greedy", str(tokens), joined], {}),
        "llama.cpp": ([sys.executable, os.path.abspath(__file__), "greedy", "--tokens",
                       str(tokens), "--ids", joined], {}),
        "candle": ([CANDLE, MODEL, str(tokens), joined], {"RAYON_NUM_THREADS": str(THREADS)}),
    }


def bench_cmds(ids, tokens):
    """The engines of `bench`: those of `compare` and llama.cpp on one thread (no barrier between
    threads: how llama.cpp fares when the machine's cores are busy with other work)."""
    cmds = engine_cmds(ids, tokens)
    cmds["llama.cpp 1 thread"] = (cmds["llama.cpp"][0] + ["--threads", "1"], {})
    return cmds


def first_divergence(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))


def cmd_compare(args):
    names = ["opml", "llama.cpp", "candle"]
    for prompt in PROMPTS:
        ids = opml_ids(prompt)
        runs = {n: run_json(c, e)["tokens"] for n, (c, e) in engine_cmds(ids, args.tokens).items()}
        print(f"\n### Prompt ({len(ids)} tokens): {prompt!r}\n")
        for a, b in [("opml", "llama.cpp"), ("opml", "candle"), ("llama.cpp", "candle")]:
            d = first_divergence(runs[a], runs[b])
            print(f"- {a} vs {b}: " + ("identical" if d is None else f"first divergence at generated token {d}"))
        pieces = {n: run_json([OPML, "decode", ",".join(map(str, runs[n]))])["pieces"] for n in names}
        print("\n| # | " + " | ".join(names) + " |")
        print("|---:|" + "---|" * len(names))
        for i in range(args.tokens):
            cells = []
            for n in names:
                cell = f"{runs[n][i]} `{pieces[n][i]!r}`"[:40] if i < len(runs[n]) else ""
                if n != "opml" and i < len(runs[n]) and runs[n][i] != runs["opml"][i]:
                    cell = "**" + cell + "**"
                cells.append(cell.replace("|", "\\|"))
            print(f"| {i} | " + " | ".join(cells) + " |")
        for n in names:
            text = "".join(pieces[n])
            print(f"\n{n}: {text!r}")
    sys.stdout.flush()


def cmd_bench(args):
    ids = opml_ids(BENCH_PROMPT)
    if len(ids) != BENCH_PROMPT_TOKENS:
        sys.exit(f"the bench prompt is {len(ids)} tokens, not {BENCH_PROMPT_TOKENS}")
    cmds = bench_cmds(ids, args.tokens)
    results = {n: [] for n in cmds}
    results["opml-graph"] = []
    load = []
    for r in range(args.repeat):
        load.append(os.getloadavg()[0])
        for name, (cmd, env) in cmds.items():
            results[name].append(run_json(cmd, env))
        results["opml-graph"].append(run_json([OPML, "graph", str(args.tokens), BENCH_PROMPT]))
        print(f"run {r + 1}/{args.repeat} done (load {load[-1]:.2f})", file=sys.stderr)
    load.append(os.getloadavg()[0])
    print(f"\nprompt {len(ids)} tokens, {args.tokens} generated (greedy), median of {args.repeat} "
          f"runs; 1-min load average during the runs: {', '.join(f'{l:.2f}' for l in load)}\n")
    print("| engine | threads | prompt tok/s | generation tok/s | peak RSS MB | runs (prompt / gen tok/s) |")
    print("|---|---:|---:|---:|---:|---|")
    for name in cmds:
        rs = results[name]
        p = [x["prompt_tokens"] / x["prompt_s"] for x in rs]
        g = [x["gen_tokens"] / x["gen_s"] for x in rs]
        rss = statistics.median(x["peak_rss_kb"] for x in rs) / 1024
        threads = "all (%d)" % os.cpu_count() if name == "opml" else str(rs[0].get("threads", THREADS))
        runs = "; ".join(f"{a:.0f} / {b:.1f}" for a, b in zip(p, g))
        print(f"| {name} | {threads} | {statistics.median(p):.1f} | {statistics.median(g):.1f} | "
              f"{rss:.0f} | {runs} |")
    gs = results["opml-graph"]
    secs = [x["seconds"] for x in gs]
    print(f"| opml graph run (`Generation::new`, {len(ids)}+{args.tokens}) | all ({os.cpu_count()}) | "
          f"– | {args.tokens / statistics.median(secs):.1f} (whole task: {statistics.median(secs):.2f} s) | "
          f"{statistics.median(x['peak_rss_kb'] for x in gs) / 1024:.0f} | "
          + "; ".join(f"{s:.2f} s" for s in secs) + " |")
    same = [gs[0]["tokens"] == results["opml"][0]["tokens"]]
    print(f"\nopml graph tokens == opml engine tokens: {same[0]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("text")
    p.add_argument("--out", required=True)
    p = sub.add_parser("perplexity")
    p.add_argument("--ids", required=True)
    p.add_argument("--n-ctx", type=int, default=0)
    p = sub.add_parser("greedy")
    p.add_argument("--tokens", type=int, default=64)
    p.add_argument("--ids", required=True)
    p.add_argument("--threads", type=int, default=THREADS)
    p = sub.add_parser("compare")
    p.add_argument("--tokens", type=int, default=64)
    p = sub.add_parser("bench")
    p.add_argument("--tokens", type=int, default=64)
    p.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    {"text": cmd_text, "perplexity": cmd_perplexity, "greedy": cmd_greedy,
     "compare": cmd_compare, "bench": cmd_bench}[args.cmd](args)


if __name__ == "__main__":
    main()
