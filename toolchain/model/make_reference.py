#!/usr/bin/env python3
"""Writes the reference vectors the Rust executor (opml-dnn) checks itself against, bit for bit:

    reference/ops.opml        a small model that uses every op of docs/dnn.md, f32 and i8
                              (built here from a fixed seed, byte-reproducible)
    reference/<model>.json    for each committed model: inputs, outputs, the tensor hash of every
                              node's output, the graph commitments C(0..n), and (first vector
                              only) every node's output data, and the model root
    reference/large/<model>.json  the same for the large models (models/cnn-deep.opml), without
                              the node output data; kept out of reference/ itself, whose
                              vector files guest/dnn/tests/{reference,root}.rs run and count,
                              and checked by guest/dnn/tests/deep_model.rs
    reference/roots.json      model roots (docs/dnn.md, "Model root"): for every committed model
                              its root and every tensor and node commitment; seeded random
                              models (their bytes) with theirs; data roots of random byte strings

Models: models/{mlp,cnn}{,-int8}.opml (mnist_data.MODELS_REL), reference/sklearn{,-int8}.opml and
reference/ops.opml. Inputs: the first held-out MNIST digits (mnist_data.split) and, for ops.opml,
seeded random tensors. All byte strings are lowercase hex; tensor data is the tensor's raw
little-endian bytes (row-major), exactly what the tensor hash covers.

    .venv/bin/python make_reference.py           # rewrite reference/
    .venv/bin/python make_reference.py --check   # exit 1 if anything differs (the test does this)
"""

from __future__ import annotations

import json
import os
import re
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import mnist_data  # noqa: E402
import opml_model as om  # noqa: E402
import reference  # noqa: E402
from opml_model import F32, I8, I32  # noqa: E402

REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
REF_DIR = os.path.join(HERE, "reference")
MNIST_MODELS = [(n, f"{mnist_data.MODELS_REL}/{n}.opml") for n in ("mlp", "mlp-int8", "cnn", "cnn-int8")] + [
    ("sklearn", "toolchain/model/reference/sklearn.opml"),
    ("sklearn-int8", "toolchain/model/reference/sklearn-int8.opml"),
]
# Models too large for every node's output data in the vectors (cnn-deep: 200 KB of it).
LARGE_MODELS = [("cnn-deep", f"{mnist_data.MODELS_REL}/cnn-deep.opml")]
LARGE_DIR = "large"
N_DIGITS = 3
N_OPS_VECTORS = 3


# -- the op-coverage model ------------------------------------------------------------------------

def build_ops_model() -> om.Model:
    """Every op, both dtypes where the op has both, odd shapes, a rank-3 Dense, stride 2 with
    padding (zero point padding for i8), saturating Quantize, negative i8 averages, requant
    shifts from negative to large, a rank-0 Argmax."""
    rng = np.random.default_rng(1234)
    m = om.Model()

    def w(*shape, s=0.5):
        return (rng.standard_normal(shape) * s).astype(np.float32)

    def wq(*shape):
        return rng.integers(-127, 128, size=shape).astype(np.int8)

    img = m.add_input("img", F32, (1, 2, 6, 6))
    ids = m.add_input("ids", I32, (1, 5))
    # f32 path
    c1 = m.add_node("Conv2d", [img, m.add_const("c1.w", w(3, 2, 3, 3)), m.add_const("c1.b", w(3))], F32, (1, 3, 6, 6),
                    (1, 1, 1, 1, 1), "c1")
    c2 = m.add_node("Conv2d", [c1, m.add_const("c2.w", w(4, 3, 3, 3))], F32, (1, 4, 3, 3), (2, 2, 1, 1, 0), "c2")
    mp = m.add_node("MaxPool2d", [c1], F32, (1, 3, 3, 3), (2, 2, 2, 2), "mp")
    ap = m.add_node("AvgPool2d", [c1], F32, (1, 3, 4, 4), (3, 3, 1, 1), "ap")
    r = m.add_node("Reshape", [c2], F32, (1, 4, 9), (), "r")
    d1 = m.add_node("Dense", [r, m.add_const("d1.w", w(8, 9)), m.add_const("d1.b", w(8))], F32, (1, 4, 8), (0,), "d1")
    g = m.add_node("Gelu", [d1], F32, (1, 4, 8), (), "gelu")
    s = m.add_node("Silu", [d1], F32, (1, 4, 8), (), "silu")
    a = m.add_node("Add", [g, s], F32, (1, 4, 8), (), "add")
    ln = m.add_node("LayerNorm", [a, m.add_const("ln.g", w(8) + 1), m.add_const("ln.b", w(8))], F32, (1, 4, 8),
                    (om.f32_bits(1e-5),), "ln")
    rms = m.add_node("RmsNorm", [ln, m.add_const("rms.g", w(8) + 1)], F32, (1, 4, 8), (om.f32_bits(1e-6),), "rms")
    emb = m.add_node("Embedding", [ids, m.add_const("emb.t", w(10, 8))], F32, (1, 5, 8), (), "emb")
    mm = m.add_node("MatMul", [emb, m.add_const("mm.b", w(8, 4))], F32, (1, 5, 4), (), "mm")
    mul = m.add_node("Mul", [rms, m.add_const("mul.v", w(8))], F32, (1, 4, 8), (), "mul")
    addb = m.add_node("Add", [mul, m.add_const("add.v", w(8))], F32, (1, 4, 8), (), "addb")
    bmat = m.add_node("Reshape", [m.add_node("Dense", [emb, m.add_const("bd.w", w(1, 8))], F32, (1, 5, 1), (0,), "bd")],
                      F32, (5, 1), (), "bmat")
    pre = m.add_node("Dense", [addb, m.add_const("pre.w", w(5, 8))], F32, (1, 4, 5), (1,), "pre")
    mm2 = m.add_node("MatMul", [pre, m.add_const("mm2.b", w(5, 6))], F32, (1, 4, 6), (), "mm2")
    mm3 = m.add_node("MatMul", [m.add_node("Reshape", [mm2], F32, (4, 6, 1), (), "mm2r"),
                                m.add_node("Reshape", [bmat], F32, (1, 5), (), "bmat2")], F32, (4, 6, 5), (), "mm3")
    sm = m.add_node("Softmax", [mm2], F32, (1, 4, 6), (), "sm")
    am = m.add_node("Argmax", [sm], I32, (1, 4), (), "am")
    mul2 = m.add_node("Mul", [sm, m.add_node("Relu", [mm2], F32, (1, 4, 6), (), "relu")], F32, (1, 4, 6), (), "mul2")
    d2 = m.add_node("Dense", [mul2, m.add_const("d2.w", w(3, 6))], F32, (1, 4, 3), (0,), "d2")
    # i8 path
    q = m.add_node("Quantize", [img], I8, (1, 2, 6, 6), (), "q", 0.02, 3)
    sx, sw1, so1 = 0.02, 0.01, 0.05
    m0, sh = om.quantize_multiplier(np.float32(sx) * np.float32(sw1) / np.float32(so1))
    qc = m.add_node("Conv2d", [q, m.add_const("qc.w", wq(3, 2, 3, 3), I8, sw1), m.add_const("qc.b", rng.integers(-3000, 3000, 3).astype(np.int32), I32, sx * sw1)],
                    I8, (1, 3, 6, 6), (1, 1, 1, 1, m0, sh, 1), "qc", so1, -100)
    sw2, so2 = 0.02, 1.0
    m0, sh = om.quantize_multiplier(np.float32(so1) * np.float32(sw2) / np.float32(so2))
    qc2 = m.add_node("Conv2d", [qc, m.add_const("qc2.w", wq(2, 3, 3, 3), I8, sw2)], I8, (1, 2, 3, 3), (2, 2, 1, 1, m0, sh, 0),
                     "qc2", so2, 5)
    qmp = m.add_node("MaxPool2d", [qc], I8, (1, 3, 3, 3), (2, 2, 2, 2), "qmp", so1, -100)
    qap = m.add_node("AvgPool2d", [qc2], I8, (1, 2, 2, 2), (2, 2, 1, 1), "qap", so2, 5)
    qap3 = m.add_node("AvgPool2d", [qc2], I8, (1, 2, 1, 1), (3, 3, 1, 1), "qap3", so2, 5)
    qrelu = m.add_node("Relu", [qc2], I8, (1, 2, 3, 3), (), "qrelu", so2, 5)
    qr = m.add_node("Reshape", [qc2], I8, (1, 18), (), "qr", so2, 5)
    sw3, so3 = 0.01, 4.0
    m0, sh = om.quantize_multiplier(np.float32(so2) * np.float32(sw3) / np.float32(so3))
    qd = m.add_node("Dense", [qr, m.add_const("qd.w", wq(6, 18), I8, sw3), m.add_const("qd.b", rng.integers(-50, 50, 6).astype(np.int32), I32, so2 * sw3)],
                    I8, (1, 6), (m0, sh, 0), "qd", so3, -7)
    m0, sh = om.quantize_multiplier(np.float32(so1) * np.float32(sw3) / np.float32(0.5))
    qd2 = m.add_node("Dense", [m.add_node("Reshape", [qmp], I8, (1, 27), (), "qmpr", so1, -100), m.add_const("qd2.w", wq(4, 27), I8, sw3)],
                     I8, (1, 4), (m0, sh, 1), "qd2", 0.5, 0)
    # multiplier > 1: a negative shift
    m0, sh = om.quantize_multiplier(np.float32(0.02) * np.float32(0.03) / np.float32(0.0004))
    assert sh < 0
    qneg = m.add_node("Dense", [m.add_node("Reshape", [q], I8, (1, 36, 2), (), "qpairs", 0.02, 3),
                                m.add_const("qneg.w", rng.integers(-1, 2, (3, 2)).astype(np.int8), I8, 0.03)],
                      I8, (1, 36, 3), (m0, sh, 0), "qneg", 0.0004, -2)
    qam = m.add_node("Argmax", [qd], I32, (1,), (), "qam")
    dq = m.add_node("Dequantize", [qd], F32, (1, 6), (), "dq")
    am0 = m.add_node("Argmax", [m.add_node("Reshape", [dq], F32, (6,), (), "dqf")], I32, (), (), "am0")
    qemb = m.add_node("Embedding", [ids, m.add_const("qemb.t", wq(10, 4), I8, 0.1)], I8, (1, 5, 4), (), "qemb", 0.1, 0)
    dqe = m.add_node("Dequantize", [qemb], F32, (1, 5, 4), (), "dqe")
    m.outputs = [mp, ap, d2, mm, mm3, am, qap, qap3, qrelu, qam, am0, dq, qd2, dqe, qneg]
    reference.check_model(m)
    return m


def ops_inputs(k: int):
    rng = np.random.default_rng(100 + k)
    img = (rng.standard_normal((1, 2, 6, 6)) * 1.5).astype(np.float32)
    ids = rng.integers(0, 10, (1, 5)).astype(np.int32)
    return [img, ids]


# -- vectors --------------------------------------------------------------------------------------

def tensor_json(t: om.Tensor, idx: int, v: np.ndarray, values=True) -> dict:
    v = np.array(v, dtype=om.DTYPE_NP[t.dtype], order="C")
    d = {"tensor": idx, "dtype": om.DTYPE_NAMES[t.dtype], "shape": list(t.shape), "data": v.tobytes().hex()}
    if t.dtype == I8:
        d["scale"] = float(np.float32(t.scale))
        d["zero_point"] = t.zero_point
    if values:
        d["values"] = v.reshape(-1).tolist()
    return d


def vectors_for(path_rel: str, inputs_list, names, buf: bytes | None = None, node_outputs=True) -> dict:
    if buf is None:
        with open(os.path.join(REPO, path_rel), "rb") as f:
            buf = f.read()
    model = om.from_bytes(buf)
    reference.check_model(model)
    out = {"format": "opml-reference-v1", "model": path_rel, "model_checksum": om.checksum(buf).hex(),
           "model_root": om.model_root(model).hex(),
           "nodes": [f"{n.op}" for n in model.nodes], "vectors": []}
    for k, (inputs, nm) in enumerate(zip(inputs_list, names)):
        V = reference.evaluate(model, inputs)
        cs = om.commitments(buf, model, V)
        vec = {
            "name": nm,
            "inputs": [tensor_json(model.tensors[i], i, V[i], values=False) for i in model.inputs],
            "outputs": [tensor_json(model.tensors[i], i, V[i]) for i in model.outputs],
            "node_output_hashes": [om.tensor_hash(model.tensors[n.output].dtype, model.tensors[n.output].shape, V[n.output]).hex()
                                   for n in model.nodes],
            "commitments": [c.hex() for c in cs],
        }
        if k == 0 and node_outputs:
            vec["node_outputs"] = [tensor_json(model.tensors[n.output], n.output, V[n.output], values=False) for n in model.nodes]
        out["vectors"].append(vec)
    return out


# -- model roots ----------------------------------------------------------------------------------

N_RANDOM_MODELS = 24
DATA_ROOT_LENGTHS = [0, 1, 2, 31, 32, 33, 63, 64, 65, 95, 96, 97, 127, 128, 129, 160, 255, 256, 257, 1000, 1024, 1025, 3000]


def random_model(rng) -> om.Model:
    """A valid random model: constants of every dtype and rank 0..4 (sizes around the chunk and
    power-of-two boundaries), f32/i8 inputs, a chain of Relu/Reshape nodes, random outputs."""
    m = om.Model()
    for k in range(int(rng.integers(0, 8))):
        rank = int(rng.integers(0, 5))
        shape = tuple(int(d) for d in rng.integers(1, 9, rank))
        dtype = int(rng.integers(0, 3))
        if dtype == F32:
            m.add_const(f"c{k}", rng.standard_normal(shape).astype(np.float32))
        elif dtype == I8:
            m.add_const(f"c{k}", rng.integers(-128, 128, shape).astype(np.int8), I8,
                        float(rng.uniform(0.001, 1)), int(rng.integers(-128, 128)))
        else:
            m.add_const(f"c{k}", rng.integers(-2**31, 2**31, shape).astype(np.int32), I32, float(rng.uniform(0, 1)))
    live = []
    for k in range(int(rng.integers(0, 3))):
        shape = tuple(int(d) for d in rng.integers(1, 6, int(rng.integers(0, 5))))
        if rng.integers(0, 2):
            live.append(m.add_input(f"x{k}", F32, shape))
        else:
            live.append(m.add_input(f"x{k}", I8, shape, float(rng.uniform(0.001, 1)), int(rng.integers(-128, 128))))
    for k in range(int(rng.integers(0, 6)) if live else 0):
        x = m.tensors[live[int(rng.integers(0, len(live)))]]
        xi = m.tensors.index(x)
        if rng.integers(0, 2):
            live.append(m.add_node("Relu", [xi], x.dtype, x.shape, (), f"n{k}", x.scale, x.zero_point))
        else:
            live.append(m.add_node("Reshape", [xi], x.dtype, (x.numel,), (), f"n{k}", x.scale, x.zero_point))
    m.outputs = [int(i) for i in rng.choice(len(m.tensors), int(rng.integers(0, 4)))] if m.tensors else []
    reference.check_model(m)
    return m


def roots_json(files: dict[str, bytes]) -> dict:
    models = []
    for rel in [rel for _, rel in MNIST_MODELS] + ["toolchain/model/reference/ops.opml"]:
        if rel.endswith("ops.opml"):
            buf = files["ops.opml"]
        else:
            with open(os.path.join(REPO, rel), "rb") as f:
                buf = f.read()
        c = om.commit(om.from_bytes(buf))
        models.append({"model": rel, "root": c.root.hex(), "tensor_commitments": [h.hex() for h in c.tensors],
                       "node_commitments": [h.hex() for h in c.nodes]})
    rng = np.random.default_rng(20261202)
    randoms = []
    for _ in range(N_RANDOM_MODELS):
        m = random_model(rng)
        randoms.append({"bytes": om.to_bytes(m).hex(), "root": om.model_root(m).hex()})
    data = []
    for n in DATA_ROOT_LENGTHS:
        b = rng.integers(0, 256, n).astype(np.uint8).tobytes()
        data.append({"data": b.hex(), "root": om.data_root(b).hex()})
    return {"format": "opml-model-roots-v1", "models": models, "random_models": randoms, "data_roots": data}


def generate() -> dict[str, bytes]:
    """{path relative to REF_DIR: bytes} for every generated file."""
    files: dict[str, bytes] = {}
    ops = build_ops_model()
    files["ops.opml"] = om.to_bytes(ops)
    _, (xte, yte), (_, te_idx) = mnist_data.split()
    digits = [(xte[i], int(yte[i]), int(te_idx[i])) for i in range(N_DIGITS)]
    for name, rel in MNIST_MODELS + LARGE_MODELS:
        model = om.read(os.path.join(REPO, rel))
        shape = model.tensors[model.inputs[0]].shape
        ins = [[x.reshape(shape)] for x, _, _ in digits]
        nms = [f"mnist digit {pkg} (label {lab})" for _, lab, pkg in digits]
        large = (name, rel) in LARGE_MODELS
        files[f"{LARGE_DIR}/{name}.json" if large else f"{name}.json"] = _dump(vectors_for(rel, ins, nms, node_outputs=not large))
    # ops.json is computed from the bytes just built (so --check also checks the builder)
    d = vectors_for("toolchain/model/reference/ops.opml", [ops_inputs(k) for k in range(N_OPS_VECTORS)],
                    [f"ops random {k}" for k in range(N_OPS_VECTORS)], buf=files["ops.opml"])
    files["ops.json"] = _dump(d)
    files["roots.json"] = _dump(roots_json(files))
    return files


_FLAT_LIST = re.compile(r'\[(?:\s*(?:-?[0-9.eE+-]+|"[^"\n]*"|true|false|null)\s*,?)*\s*\]')


def _dump(d) -> bytes:
    """Indented JSON with lists of scalars on one line."""
    s = json.dumps(d, indent=1)
    s = _FLAT_LIST.sub(lambda m: re.sub(r"\s*\n\s*", " ", m.group(0)).replace("[ ", "[").replace(" ]", "]"), s)
    return (s + "\n").encode()


def main(argv) -> int:
    check = "--check" in argv
    files = generate()
    bad = []
    for rel, data in files.items():
        path = os.path.join(REF_DIR, rel)
        if check:
            try:
                with open(path, "rb") as f:
                    if f.read() != data:
                        bad.append(rel)
            except FileNotFoundError:
                bad.append(rel)
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
            print(f"wrote reference/{rel} ({len(data)} bytes)", file=sys.stderr)
    if bad:
        print(f"reference vectors out of date: {', '.join(bad)} (run make_reference.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
