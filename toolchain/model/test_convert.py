"""Tests of the model toolchain: the .opml writer/reader, the reference evaluator, the ONNX and
npz/safetensors converters, quantization, and the committed models and reference vectors.

    cd toolchain/model && .venv/bin/python -m unittest -v test_convert

Tolerances (README.md, "Tolerances"):
  * f32 .opml (numpy reference) vs onnxruntime: per sample and output, max |a - b| <= 1e-5 *
    max |b| (normwise relative), and the argmax (label) equal on every held-out digit;
  * int8 vs f32 held-out accuracy: a drop of at most 1 percentage point (MAX_INT8_DROP).
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile
import unittest
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import convert  # noqa: E402
import make_reference  # noqa: E402
import mnist_data  # noqa: E402
import opml_model as om  # noqa: E402
import reference as R  # noqa: E402
from opml_model import F32, I8, I32  # noqa: E402

REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
MODELS = os.path.join(REPO, mnist_data.MODELS_REL)
F32_RTOL = 1e-5
MAX_INT8_DROP = 0.01

_SPLIT = None


def split():
    global _SPLIT
    if _SPLIT is None:
        _SPLIT = mnist_data.split()
    return _SPLIT


def run_cli(*args):
    p = subprocess.run([sys.executable, os.path.join(HERE, "convert.py"), *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def ort_run(onnx_bytes, feeds):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.log_severity_level = 3
    s = ort.InferenceSession(onnx_bytes, so, providers=["CPUExecutionProvider"])
    return s.run(None, feeds)


def normwise_rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def assert_close_per_sample(tc, got, want, rtol=F32_RTOL):
    got = np.asarray(got).reshape(len(got), -1)
    want = np.asarray(want).reshape(len(want), -1)
    err = np.max(np.abs(got.astype(np.float64) - want), axis=1) / np.maximum(np.max(np.abs(want), axis=1), 1e-30)
    tc.assertLessEqual(float(err.max()), rtol, f"worst sample {int(err.argmax())}: {err.max():.3g}")


# =================================================================================================

class FormatTests(unittest.TestCase):
    def models(self):
        out = [("ops", om.to_bytes(make_reference.build_ops_model()))]
        for n in ("mlp", "mlp-int8", "cnn", "cnn-int8", "cnn-deep"):
            with open(os.path.join(MODELS, f"{n}.opml"), "rb") as f:
                out.append((n, f.read()))
        return out

    def test_roundtrip_is_byte_identical(self):
        for name, b in self.models():
            with self.subTest(name):
                m = om.from_bytes(b)
                R.check_model(m)
                self.assertEqual(om.to_bytes(m), b)

    def test_layout(self):
        for name, b in self.models():
            with self.subTest(name):
                (magic, version, flags, tc, nc, ic, oc, toff, noff, ioff, ooff, doff, dlen, res) = struct.unpack_from("<8s12IQ", b)
                self.assertEqual((magic, version, flags, res), (b"OPMLNET\0", 1, 0, 0))
                self.assertEqual(toff, 64)
                self.assertEqual(noff, toff + 48 * tc)
                self.assertEqual(doff % 16, 0)
                self.assertEqual(doff + dlen, len(b) - 32)
                self.assertEqual(hashlib.sha256(b[:-32]).digest(), b[-32:])
                for i in range(tc):
                    dtype, rank, kind, _, *dims, off, ln, scale, zp = struct.unpack_from("<BBBB4IIIfi", b, toff + 48 * i)
                    self.assertTrue(all(d == 1 for d in dims[rank:]))
                    if kind == om.CONST:
                        self.assertEqual((doff + off) % 16, 0)
                    else:
                        self.assertEqual(off, 0)
                for k in range(nc):
                    op, cnt, _, *ins = struct.unpack_from("<HBB4I", b, noff + 56 * k)
                    self.assertTrue(all(x == 0xFFFFFFFF for x in ins[cnt:]))

    def reseal(self, b: bytearray) -> bytes:
        b = bytearray(b)
        b[-32:] = hashlib.sha256(bytes(b[:-32])).digest()
        return bytes(b)

    def assertRefused(self, b, msg):
        with self.assertRaises(om.FormatError) as cm:
            m = om.from_bytes(b)
            R.check_model(m)
        self.assertIn(msg, str(cm.exception))

    def test_reader_refuses_corruption(self):
        good = bytearray(om.to_bytes(make_reference.build_ops_model()))
        (tc,) = struct.unpack_from("<I", good, 16)
        (doff,) = struct.unpack_from("<I", good, 48)
        self.assertRefused(b"NOTOPML\0" + bytes(good[8:]), "bad magic")
        self.assertRefused(bytes(good[:-1]), "checksum")
        self.assertRefused(bytes(good[:40]), "too short")
        flipped = bytearray(good)
        flipped[doff + 5] ^= 1
        self.assertRefused(bytes(flipped), "checksum mismatch")
        b = bytearray(good)
        struct.pack_into("<I", b, 8, 2)
        self.assertRefused(self.reseal(b), "unsupported version")
        b = bytearray(good)
        struct.pack_into("<I", b, 52, len(good))  # data_len past the end
        self.assertRefused(self.reseal(b), "outside the file")
        b = bytearray(good)
        struct.pack_into("<I", b, 36, 64)  # node table on top of the tensor table
        self.assertRefused(self.reseal(b), "overlap")
        m = make_reference.build_ops_model()
        const = next(i for i, t in enumerate(m.tensors) if t.kind == om.CONST)
        b = bytearray(good)
        off = 64 + 48 * const + 20
        (o,) = struct.unpack_from("<I", b, off)
        struct.pack_into("<I", b, off, o + 4)
        self.assertRefused(self.reseal(b), "not 16-aligned")
        b = bytearray(good)
        b[64] = 7  # dtype of tensor 0
        self.assertRefused(self.reseal(b), "unknown dtype")
        noff = struct.unpack_from("<I", good, 36)[0]
        b = bytearray(good)
        struct.pack_into("<H", b, noff, 99)
        self.assertRefused(self.reseal(b), "unknown op")
        b = bytearray(good)
        struct.pack_into("<I", b, noff + 4, tc - 1)  # node 0 reads the last tensor (defined later)
        self.assertRefused(self.reseal(b), "not yet defined")
        b = bytearray(good)
        struct.pack_into("<I", b, noff + 20, const)  # node 0 writes a constant
        self.assertRefused(self.reseal(b), "writes a constant")
        b = bytearray(good)
        struct.pack_into("<I", b, noff + 56 + 20, struct.unpack_from("<I", good, noff + 20)[0])  # twice
        self.assertRefused(self.reseal(b), "second time")
        b = bytearray(good)
        struct.pack_into("<I", b, 64 + 48 * const + 4, 5)  # a dim of the first constant: shape mismatch
        self.assertRefused(self.reseal(b), "len")

    def test_tensor_hash_layout(self):
        v = np.arange(6, dtype=np.float32).reshape(2, 3)
        want = hashlib.sha256(bytes([0, 2]) + struct.pack("<4I", 2, 3, 1, 1) + v.tobytes()).digest()
        self.assertEqual(om.tensor_hash(F32, (2, 3), v), want)
        want0 = hashlib.sha256(bytes([2, 0]) + struct.pack("<4I", 1, 1, 1, 1) + struct.pack("<i", 7)).digest()
        self.assertEqual(om.tensor_hash(I32, (), np.int32(7)), want0)


class QuantizeMultiplierTests(unittest.TestCase):
    def test_contract(self):
        rng = np.random.default_rng(0)
        for real in list(10 ** rng.uniform(-9, 2, 2000)) + [1.0, 0.5, 2 ** -20, 1 - 2 ** -40, 3.999999]:
            m0, s = om.quantize_multiplier(real)
            self.assertTrue(2 ** 30 <= m0 < 2 ** 31, (real, m0))
            self.assertTrue(-31 < s < 32)
            approx = m0 * 2.0 ** -(31 + s)
            self.assertLessEqual(abs(approx - real) / real, 2.0 ** -31)

    def test_edges(self):
        self.assertEqual(om.quantize_multiplier(0.0), (0, 0))
        self.assertEqual(om.quantize_multiplier(0.5), (2 ** 30, 0))
        self.assertEqual(om.quantize_multiplier(1.0), (2 ** 30, -1))
        for bad in (-1.0, float("nan"), float("inf"), 2.0 ** 40, 2.0 ** -80):
            with self.assertRaises(ValueError):
                om.quantize_multiplier(bad)


class ReferenceSemanticsTests(unittest.TestCase):
    # (x, expf bits, erff bits) from the libm crate 0.2.16 (Rust, x86-64)
    LIBM = [
        (1.0, 0x402df854, 0x3f57bb3d), (-1.0, 0x3ebc5ab2, 0xbf57bb3d), (0.5, 0x3fd3094c, 0x3f053f7b),
        (-0.30000001192092896, 0x3f3da643, 0xbea841c5), (10.0, 0x46ac14ee, 0x3f800000),
        (-20.0, 0x310da433, 0xbf800000), (88.0, 0x7ef882b7, 0x3f800000), (-100.0, 0x0000001b, 0xbf800000),
        (9.999999747378752e-06, 0x3f800054, 0x373d4f84), (0.8999999761581421, 0x401d6a23, 0x3f4c022d),
        (2.0, 0x40ec7326, 0x3f7ecd71), (-4.5, 0x3c360282, 0xbf800000), (7.0, 0x44891443, 0x3f800000),
        (0.0010000000474974513, 0x3f8020c9, 0x3a93e61c),
    ]

    def test_libm_ports(self):
        x = np.array([v[0] for v in self.LIBM], np.float32)
        self.assertEqual(R.expf(x).view(np.uint32).tolist(), [v[1] for v in self.LIBM])
        self.assertEqual(R.erff(x).view(np.uint32).tolist(), [v[2] for v in self.LIBM])

    def test_round_half_away(self):
        v = np.array([3, -3, 5, -5, 4, -4, 1, -1, 0], np.int64)
        self.assertEqual(R.round_half_away_shift(v, 1).tolist(), [2, -2, 3, -3, 2, -2, 1, -1, 0])
        self.assertEqual(R.round_half_away_shift(np.array([6, -6, 5, -5]), 2).tolist(), [2, -2, 1, -1])

    def test_requant(self):
        # acc 1000 * 0.25 = 250 -> clamp 127; -1000 * .25 + zp 10 = -240 -> -128; relu clamps at zp
        m0, s = om.quantize_multiplier(0.25)
        self.assertEqual(R.requant(np.array([1000, -1000, 2, -2, 6, -6]), m0, s, 10, False).tolist(),
                         [127, -128, 11, 9, 12, 8])
        self.assertEqual(R.requant(np.array([-1000, 6]), m0, s, 10, True).tolist(), [10, 12])

    def test_quantize_rounds_half_even(self):
        m = om.Model()
        x = m.add_input("x", F32, (6,))
        y = m.add_node("Quantize", [x], I8, (6,), (), "q", 0.5, 1)
        m.outputs = [y]
        out = R.evaluate(m, [np.array([0.25, 0.75, -0.25, 100, -100, 1.25], np.float32)])[y]
        self.assertEqual(out.tolist(), [1, 3, 1, 127, -128, 3])

    def test_dense_order_and_bias_first(self):
        # 1e8 + 1 - 1e8 in f32 is 0 in this order; (bias first) b=1e8, then +1, then -1e8
        m = om.Model()
        x = m.add_input("x", F32, (1, 2))
        w = m.add_const("w", np.array([[1.0, -1.0]], np.float32))
        b = m.add_const("b", np.array([1e8], np.float32))
        y = m.add_node("Dense", [x, w, b], F32, (1, 1), (0,), "d")
        m.outputs = [y]
        self.assertEqual(R.evaluate(m, [np.array([[1.0, 1e8]], np.float32)])[y].tolist(), [[0.0]])

    def test_argmax_first_maximum_and_nan_never_wins(self):
        # The spec (and the Rust executor): ties keep the first index, a NaN never wins, a
        # leading NaN keeps index 0.
        m = om.Model()
        x = m.add_input("x", F32, (4, 3))
        y = m.add_node("Argmax", [x], om.I32, (4,), (), "a")
        m.outputs = [y]
        nan = np.float32("nan")
        rows = np.array([[1, 5, 5], [nan, 2, 1], [1, nan, 3], [-np.inf, -np.inf, -np.inf]], np.float32)
        self.assertEqual(R.evaluate(m, [rows])[y].tolist(), [1, 0, 2, 0])

    def test_batched_equals_unbatched(self):
        m = make_reference.build_ops_model()
        ins = [make_reference.ops_inputs(k) for k in range(3)]
        batched = R.evaluate(m, [np.stack([i[0] for i in ins]), np.stack([i[1] for i in ins])], batched=True)
        for k in range(3):
            single = R.evaluate(m, ins[k])
            for n in m.nodes:
                self.assertEqual(single[n.output].tobytes(), batched[n.output][k].tobytes(), n.name)


class ReferenceVectorTests(unittest.TestCase):
    def test_vectors_up_to_date(self):
        """reference/ matches what the reference evaluator computes from the committed models
        (and reference/ops.opml is what build_ops_model builds)."""
        self.assertEqual(make_reference.main(["--check"]), 0)

    def test_vector_commitments_self_consistent(self):
        with open(os.path.join(HERE, "reference", "mlp-int8.json")) as f:
            d = json.load(f)
        with open(os.path.join(REPO, d["model"]), "rb") as f:
            buf = f.read()
        self.assertEqual(d["model_checksum"], hashlib.sha256(buf[:-32]).hexdigest())
        v = d["vectors"][0]
        inp = v["inputs"][0]
        c = hashlib.sha256(b"opml-dnn" + buf[-32:] + om.tensor_hash(F32, inp["shape"], np.frombuffer(bytes.fromhex(inp["data"]), "<f4").reshape(inp["shape"]))).digest()
        self.assertEqual(c.hex(), v["commitments"][0])
        for h, nxt in zip(v["node_output_hashes"], v["commitments"][1:]):
            c = hashlib.sha256(c + bytes.fromhex(h)).digest()
            self.assertEqual(c.hex(), nxt)


class ModelRootTests(unittest.TestCase):
    """The model root (docs/dnn.md, "Model root"); opml-dnn checks the same vectors
    (guest/dnn/tests/root.rs)."""

    def setUp(self):
        with open(os.path.join(HERE, "reference", "roots.json")) as f:
            self.roots = json.load(f)

    def test_committed_models_match_the_vectors(self):
        self.assertEqual(len(self.roots["models"]), 7)
        for entry in self.roots["models"]:
            c = om.commit(om.read(os.path.join(REPO, entry["model"])))
            self.assertEqual(c.root.hex(), entry["root"], entry["model"])
            self.assertEqual([h.hex() for h in c.tensors], entry["tensor_commitments"])
            self.assertEqual([h.hex() for h in c.nodes], entry["node_commitments"])

    def test_random_models_and_data_match_the_vectors(self):
        for entry in self.roots["random_models"]:
            m = om.from_bytes(bytes.fromhex(entry["bytes"]))
            self.assertEqual(om.model_root(m).hex(), entry["root"])
        for entry in self.roots["data_roots"]:
            self.assertEqual(om.data_root(bytes.fromhex(entry["data"])).hex(), entry["root"])
        # A fresh random model: the root is a function of the content, written or not.
        m = make_reference.random_model(np.random.default_rng(7))
        self.assertEqual(om.model_root(om.from_bytes(om.to_bytes(m))), om.model_root(m))

    def test_layout_by_hand(self):
        H = lambda a, b: hashlib.sha256(a + b).digest()  # noqa: E731
        z = bytes(32)
        data = bytes(range(70))
        c = [data[:32], data[32:64], data[64:] + bytes(26)]
        self.assertEqual(om.data_root(data), H(H(c[0], c[1]), H(c[2], z)))
        self.assertEqual(om.data_root(data[:5]), data[:5] + bytes(27))
        self.assertEqual(om.data_root(b""), z)
        self.assertEqual(om.tree_root([c[0]] * 5), H(H(H(c[0], c[0]), H(c[0], c[0])), H(H(c[0], z), H(z, z))))
        m = om.Model()
        x = m.add_input("x", I8, (2, 3), 0.5, -3)
        w = m.add_const("w", np.arange(6, dtype=np.float32).reshape(3, 2))
        y = m.add_node("Relu", [x], I8, (2, 3), (), "y", 0.5, -3)
        m.outputs = [y]
        meta_x = struct.pack("<BBBB4IfiI", I8, 2, 1, 0, 2, 3, 1, 1, 0.5, -3, 6)
        self.assertEqual(om.tensor_meta(m.tensors[x]), meta_x)
        meta_w = struct.pack("<BBBB4IfiI", F32, 2, 0, 0, 3, 2, 1, 1, 0.0, 0, 24)
        wdata = np.arange(6, dtype="<f4").tobytes() + bytes(8)
        entry = struct.pack("<HBB4II8i", 3, 1, 0, x, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, y, *[0] * 8)
        header = b"opmlroot" + struct.pack("<6I", 1, 3, 1, 1, 1, 0)
        tensors = [H(meta_x, z), H(meta_w, wdata), H(om.tensor_meta(m.tensors[y]), z)]
        tensors_root = H(H(tensors[0], tensors[1]), H(tensors[2], z))
        io = H(struct.pack("<I", x) + bytes(28), struct.pack("<I", y) + bytes(28))
        graph = H(hashlib.sha256(entry + bytes(8)).digest(), io)
        self.assertEqual(om.model_root(m), H(header, H(graph, tensors_root)))

    def test_proofs_fold_to_the_root(self):
        m = make_reference.build_ops_model()
        c = om.commit(m)

        def fold(leaf, index, siblings):
            for level, s in enumerate(siblings):
                leaf = om.node_hash(leaf, s) if (index >> level) & 1 == 0 else om.node_hash(s, leaf)
            return leaf
        for i, t in enumerate(c.tensors):
            proof = c.tensor_proof(i)
            self.assertEqual(len(proof), om.depth(len(c.tensors)) + 2)
            self.assertEqual(fold(t, i, proof[:-2]), c.tensors_root)
            self.assertEqual(om.node_hash(proof[-1], om.node_hash(proof[-2], c.tensors_root)), c.root)
        for i, n in enumerate(c.nodes):
            proof = c.node_proof(i)
            nodes_root = fold(n, i, proof[:-3])
            self.assertEqual(om.node_hash(proof[-1], om.node_hash(om.node_hash(nodes_root, proof[-3]), proof[-2])), c.root)

    def test_the_converter_reports_the_root(self):
        path = os.path.join(REPO, "toolchain/model/models/mlp.opml")
        out = subprocess.run([sys.executable, os.path.join(HERE, "convert.py"), "info", path],
                             capture_output=True, text=True, check=True).stdout
        root = om.model_root(om.read(path)).hex()
        self.assertIn(f"model root {root}", out)


# =================================================================================================

class CommittedModelTests(unittest.TestCase):
    def test_accuracy_and_int8_drop(self):
        (_, _), (xte, yte), _ = split()
        with open(os.path.join(HERE, "accuracy.json")) as f:
            acc = json.load(f)["models"]
        for name in ("mlp", "cnn"):
            with self.subTest(name):
                res = {}
                for suffix in ("", "-int8"):
                    m = om.read(os.path.join(MODELS, f"{name}{suffix}.opml"))
                    x = xte.reshape((len(xte),) + tuple(m.tensors[m.inputs[0]].shape))
                    outs = R.outputs(m, [x], batched=True)
                    label = next(o for i, o in zip(m.outputs, outs) if m.tensors[i].dtype == I32).reshape(-1)
                    res[suffix] = float(np.mean(label == yte))
                self.assertEqual(res[""], acc[name]["accuracy_opml_f32"])
                self.assertEqual(res["-int8"], acc[name]["accuracy_opml_int8"])
                self.assertGreaterEqual(res["-int8"], res[""] - MAX_INT8_DROP)
                self.assertGreater(res[""], 0.9)

    def test_deep_model_accuracy(self):
        """cnn-deep (train_deep.py, f32 only): the recorded held-out accuracy, measured again
        (about 40 s: 2 x 10^10 multiply-adds in numpy); the recorded comparison with onnxruntime
        within the tolerance."""
        (_, _), (xte, yte), _ = split()
        with open(os.path.join(HERE, "accuracy.json")) as f:
            acc = json.load(f)["models"]["cnn-deep"]
        m = om.read(os.path.join(MODELS, "cnn-deep.opml"))
        x = xte.reshape((len(xte),) + tuple(m.tensors[m.inputs[0]].shape))
        at = next(k for k, i in enumerate(m.outputs) if m.tensors[i].dtype == I32)
        label = np.concatenate([R.outputs(m, [x[s:s + 500]], batched=True)[at].reshape(-1)
                                for s in range(0, len(x), 500)])
        self.assertEqual(float(np.mean(label == yte)), acc["accuracy_opml_f32"])
        self.assertGreater(acc["accuracy_opml_f32"], 0.97)
        self.assertEqual(acc["f32_argmax_equal_onnxruntime"], len(yte))
        self.assertLessEqual(acc["f32_vs_onnxruntime_max_rel_error"], F32_RTOL)
        self.assertEqual(acc["opml_bytes"]["f32"], os.path.getsize(os.path.join(MODELS, "cnn-deep.opml")))

    def test_int8_models_are_integer_inside(self):
        for name in ("mlp-int8", "cnn-int8"):
            m = om.read(os.path.join(MODELS, f"{name}.opml"))
            ops = [n.op for n in m.nodes]
            self.assertEqual(ops[0], "Quantize")
            self.assertEqual(ops[-2:], ["Dequantize", "Argmax"])
            for n in m.nodes[1:-2]:
                self.assertEqual(m.tensors[n.output].dtype, I8, n.op)


# =================================================================================================

def make_onnx(nodes, inputs, outputs, inits, opset=17):
    import onnx
    from onnx import helper, numpy_helper
    g = helper.make_graph(nodes, "t", inputs, outputs, [numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m.SerializeToString()


def vi(name, shape, elem=1):
    from onnx import helper
    return helper.make_tensor_value_info(name, elem, shape)


class OnnxConverterTests(unittest.TestCase):
    def convert_and_compare(self, onnx_bytes, feeds, rtol=F32_RTOL, ops=None):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "m.onnx")
            with open(p, "wb") as f:
                f.write(onnx_bytes)
            m = convert.import_onnx(p)
            R.check_model(m)
            m = om.from_bytes(om.to_bytes(m))
        if ops is not None:
            self.assertEqual([n.op for n in m.nodes], ops)
        want = ort_run(onnx_bytes, feeds)
        got = R.outputs(m, list(feeds.values()))
        for g, w in zip(got, want):
            if np.asarray(w).dtype.kind in "iu":
                self.assertEqual(np.asarray(g).tolist(), np.asarray(w).tolist())
            else:
                self.assertLessEqual(normwise_rel(g, w), rtol)
        return m

    def test_conv_pool_family(self):
        from onnx import helper
        rng = np.random.default_rng(0)
        nodes = [
            helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2]),
            helper.make_node("Relu", ["c1"], ["r1"]),
            helper.make_node("AveragePool", ["r1"], ["a1"], kernel_shape=[2, 2], strides=[1, 1]),
            helper.make_node("Conv", ["a1", "w2"], ["c2"], kernel_shape=[2, 2]),
            helper.make_node("MaxPool", ["c2"], ["m2"], kernel_shape=[2, 2], strides=[2, 2]),
            helper.make_node("GlobalAveragePool", ["c1"], ["g"]),
            helper.make_node("Flatten", ["g"], ["gf"]),
            helper.make_node("Flatten", ["m2"], ["f"]),
            helper.make_node("Gemm", ["f", "wd"], ["y"], transB=1, alpha=1.0),
        ]
        inits = {"w1": rng.standard_normal((4, 2, 3, 3)).astype(np.float32), "b1": rng.standard_normal(4).astype(np.float32),
                 "w2": rng.standard_normal((3, 4, 2, 2)).astype(np.float32), "wd": rng.standard_normal((5, 12)).astype(np.float32)}
        b = make_onnx(nodes, [vi("x", [1, 2, 11, 11])], [vi("y", [1, 5]), vi("gf", [1, 4])], inits)
        x = rng.standard_normal((1, 2, 11, 11)).astype(np.float32)
        self.convert_and_compare(b, {"x": x}, ops=["Conv2d", "Relu", "AvgPool2d", "Conv2d", "MaxPool2d", "AvgPool2d", "Reshape", "Reshape", "Dense"])

    def test_transformer_family(self):
        """Gather (embedding), LayerNormalization, MatMul + Add (dense), the exact-GELU Erf
        pattern, Gelu (opset 20), x*Sigmoid(x), Softmax, MatMul of two activations, Sub/Mul by
        constants, Reshape through a folded Shape/Concat, Unsqueeze/Squeeze, Dropout/Identity."""
        from onnx import TensorProto, helper
        rng = np.random.default_rng(1)
        D = 8
        c = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
        nodes = [
            helper.make_node("Gather", ["table", "ids"], ["e"]),
            helper.make_node("LayerNormalization", ["e", "g", "bt"], ["ln"], epsilon=1e-5),
            helper.make_node("MatMul", ["ln", "w1"], ["h"]),
            helper.make_node("Add", ["h", "b1"], ["hb"]),
            helper.make_node("Div", ["hb", "sqrt2"], ["hd"]),
            helper.make_node("Erf", ["hd"], ["he"]),
            helper.make_node("Add", ["he", "one"], ["hp"]),
            helper.make_node("Mul", ["hb", "hp"], ["hm"]),
            helper.make_node("Mul", ["hm", "half"], ["gelu1"]),
            helper.make_node("Sigmoid", ["gelu1"], ["sg"]),
            helper.make_node("Mul", ["gelu1", "sg"], ["silu"]),
            helper.make_node("Sub", ["silu", "shift"], ["s2"]),
            helper.make_node("Mul", ["s2", "scale"], ["s3"]),
            helper.make_node("Dropout", ["s3"], ["s4"]),
            helper.make_node("Identity", ["s4"], ["s5"]),
            helper.make_node("Shape", ["s5"], ["shp"]),
            helper.make_node("Gather", ["shp", "zero"], ["d0"], axis=0),
            helper.make_node("Unsqueeze", ["d0", "zero1"], ["d0u"]),
            helper.make_node("Concat", ["d0u", "m1"], ["newshape"], axis=0),
            helper.make_node("Reshape", ["s5", "newshape"], ["flat"]),
            helper.make_node("MatMul", ["flat", "w2"], ["logits0"]),
            helper.make_node("Unsqueeze", ["logits0", "zero1"], ["lu"]),
            helper.make_node("Squeeze", ["lu", "zero1"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["p"], axis=-1),
            helper.make_node("MatMul", ["ln", "lnT"], ["mm"]),
        ]
        inits = {"table": c(11, D), "g": c(D) + 1, "bt": c(D), "w1": c(D, 16), "b1": c(16),
                 "sqrt2": np.array(np.sqrt(2.0), np.float32), "one": np.array(1.0, np.float32), "half": np.array(0.5, np.float32),
                 "shift": c(16), "scale": np.array([1.5], np.float32), "zero": np.array(0, np.int64), "zero1": np.array([0], np.int64),
                 "m1": np.array([-1], np.int64), "w2": c(16, 5), "lnT": c(D, 3)}
        b = make_onnx(nodes, [vi("ids", [3], TensorProto.INT64)],
                      [vi("p", [3, 5]), vi("mm", [3, 3])], inits)
        ids = np.array([1, 7, 10], np.int64)
        m = self.convert_and_compare(b, {"ids": ids})
        ops = [n.op for n in m.nodes]
        for op in ("Embedding", "LayerNorm", "Dense", "Gelu", "Silu", "Add", "Mul", "Reshape", "Softmax"):
            self.assertIn(op, ops)
        self.assertNotIn("Erf", ops)
        # Gelu as an op (opset 20) and MatMul of two activations
        nodes = [helper.make_node("Gelu", ["x"], ["g"]), helper.make_node("MatMul", ["g", "x2"], ["y"])]
        b = make_onnx(nodes, [vi("x", [2, 4]), vi("x2", [4, 3])], [vi("y", [2, 3])], {}, opset=20)
        self.convert_and_compare(b, {"x": c(2, 4), "x2": c(4, 3)}, ops=["Gelu", "MatMul"])

    def test_argmax_keepdims_and_mlp(self):
        from onnx import TensorProto, helper
        rng = np.random.default_rng(2)
        nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=0),
                 helper.make_node("Relu", ["y"], ["r"]),
                 helper.make_node("ArgMax", ["r"], ["a"], axis=-1)]
        b = make_onnx(nodes, [vi("x", ["N", 6])], [vi("a", ["N", 1], TensorProto.INT64), vi("r", ["N", 4])],
                      {"w": rng.standard_normal((6, 4)).astype(np.float32), "b": rng.standard_normal((1, 4)).astype(np.float32)})
        # r is both a graph output and the Relu's input -> Relu stays fused into the Dense only if
        # the Dense output (y) is used by nothing else; here y is only used by the Relu.
        self.convert_and_compare(b, {"x": rng.standard_normal((1, 6)).astype(np.float32)}, ops=["Dense", "Argmax", "Reshape"])

    def test_unsupported_operator_is_a_clear_error(self):
        from onnx import helper
        b = make_onnx([helper.make_node("Tanh", ["x"], ["y"], name="my_tanh")], [vi("x", [1, 4])], [vi("y", [1, 4])], {})
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "t.onnx")
            with open(p, "wb") as f:
                f.write(b)
            rc, out, err = run_cli("onnx", p, "-o", os.path.join(d, "o.opml"))
            self.assertEqual(rc, 2, err)
            self.assertIn("error: node 0 (Tanh 'my_tanh'): operator Tanh is not supported", err)
            self.assertNotIn("Traceback", err)
            self.assertFalse(os.path.exists(os.path.join(d, "o.opml")))

    def test_unsupported_attribute_is_a_clear_error(self):
        from onnx import helper
        b = make_onnx([helper.make_node("Softmax", ["x"], ["y"], axis=0, name="sm")], [vi("x", [3, 4])], [vi("y", [3, 4])], {})
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "t.onnx")
            with open(p, "wb") as f:
                f.write(b)
            rc, _, err = run_cli("onnx", p, "-o", os.path.join(d, "o.opml"))
            self.assertEqual(rc, 2)
            self.assertIn("Softmax over axis 0", err)
            self.assertNotIn("Traceback", err)

    def test_corrupt_files_are_clear_errors(self):
        with tempfile.TemporaryDirectory() as d:
            junk = os.path.join(d, "junk.onnx")
            with open(junk, "wb") as f:
                f.write(b"\x08\x07garbage" * 10)
            rc, _, err = run_cli("onnx", junk, "-o", os.path.join(d, "o.opml"))
            self.assertEqual(rc, 2)
            self.assertIn("not a valid ONNX model", err)
            rc, _, err = run_cli("onnx", os.path.join(d, "missing.onnx"), "-o", os.path.join(d, "o.opml"))
            self.assertEqual((rc, "No such file" in err), (2, True), err)
            # a truncated .opml
            with open(os.path.join(MODELS, "mlp-int8.opml"), "rb") as f:
                b = f.read()
            t = os.path.join(d, "t.opml")
            with open(t, "wb") as f:
                f.write(b[:1000])
            rc, _, err = run_cli("info", t)
            self.assertEqual(rc, 2)
            self.assertIn("checksum mismatch", err)
            with open(t, "wb") as f:
                f.write(b"\0" * 100)
            rc, _, err = run_cli("info", t)
            self.assertEqual(rc, 2)
            self.assertIn("bad magic", err)
            for e in (err,):
                self.assertNotIn("Traceback", e)


class SklearnTests(unittest.TestCase):
    """The third-party case: an sklearn MLPClassifier exported by skl2onnx."""

    @classmethod
    def setUpClass(cls):
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier
        from skl2onnx import to_onnx
        from skl2onnx.common.data_types import FloatTensorType
        (xtr, ytr), (xte, yte), _ = split()
        clf = MLPClassifier(hidden_layer_sizes=(24,), max_iter=12, batch_size=64, random_state=3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(xtr, ytr)
        cls.onnx = to_onnx(clf, initial_types=[("input", FloatTensorType([None, 784]))],
                           options={id(clf): {"zipmap": False}}, target_opset={"": 17, "ai.onnx.ml": 1}).SerializeToString()
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        cls.onnx_path = os.path.join(d, "skl.onnx")
        with open(cls.onnx_path, "wb") as f:
            f.write(cls.onnx)
        np.save(os.path.join(d, "calib.npy"), xtr[:1000])
        for args in (["-o", os.path.join(d, "f.opml")],
                     ["-o", os.path.join(d, "q.opml"), "--quantize", "--calibration", os.path.join(d, "calib.npy")]):
            rc, _, err = run_cli("onnx", cls.onnx_path, *args, "-q")
            assert rc == 0, err
        cls.f32 = om.read(os.path.join(d, "f.opml"))
        cls.i8 = om.read(os.path.join(d, "q.opml"))
        cls.xte, cls.yte = xte, yte
        cls.label, cls.proba = ort_run(cls.onnx, {"input": xte})
        cls.sk_pred = clf.predict(xte)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def outs(self, m):
        o = R.outputs(m, [self.xte.reshape(len(self.xte), 1, 784)], batched=True)
        return o[0].reshape(-1), o[1].reshape(len(self.xte), -1)  # skl2onnx order: label, probabilities

    def test_f32_matches_onnxruntime(self):
        label, proba = self.outs(self.f32)
        assert_close_per_sample(self, proba, self.proba)
        self.assertEqual(label.tolist(), self.label.reshape(-1).tolist())
        # scikit-learn's own float32 predict (BLAS sums): the same labels up to near-ties
        self.assertGreaterEqual(float(np.mean(label == self.sk_pred)), 0.999)

    def test_int8_accuracy_drop(self):
        lf, _ = self.outs(self.f32)
        lq, pq = self.outs(self.i8)
        af, aq = np.mean(lf == self.yte), np.mean(lq == self.yte)
        self.assertGreater(af, 0.85)
        self.assertGreaterEqual(aq, af - MAX_INT8_DROP, (af, aq))
        self.assertEqual([n.op for n in self.i8.nodes][:4], ["Quantize", "Dense", "Dense", "Dequantize"])
        # probabilities stay close (quantization error, not a bug): mean abs difference < 0.02
        self.assertLess(float(np.mean(np.abs(pq - self.proba))), 0.02)

    def test_cli_eval(self):
        np.save(os.path.join(self.tmp.name, "x.npy"), self.xte[:200])
        np.save(os.path.join(self.tmp.name, "y.npy"), self.yte[:200])
        rc, out, err = run_cli("eval", os.path.join(self.tmp.name, "q.opml"), "--data", os.path.join(self.tmp.name, "x.npy"),
                               "--labels", os.path.join(self.tmp.name, "y.npy"))
        self.assertEqual(rc, 0, err)
        self.assertGreater(json.loads(out)["accuracy"], 0.8)


class NpzConverterTests(unittest.TestCase):
    ARCH = {"input": {"name": "input", "shape": [1, 784]},
            "layers": [{"op": "dense", "weight": "fc1.weight", "bias": "fc1.bias", "relu": True},
                       {"op": "dense", "weight": "fc2.weight", "bias": "fc2.bias", "output": True},
                       {"op": "argmax", "output": True}]}

    def weights(self):
        m = om.read(os.path.join(MODELS, "mlp.opml"))
        consts = [t.data for t in m.tensors if t.kind == om.CONST]
        return dict(zip(["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"], consts))

    def test_npz_and_safetensors_match_the_onnx_conversion(self):
        with open(os.path.join(MODELS, "mlp.opml"), "rb") as f:
            want = f.read()
        with tempfile.TemporaryDirectory() as d:
            np.savez(os.path.join(d, "w.npz"), **self.weights())
            with open(os.path.join(d, "arch.json"), "w") as f:
                json.dump(self.ARCH, f)
            rc, _, err = run_cli("npz", os.path.join(d, "w.npz"), "--arch", os.path.join(d, "arch.json"), "-o", os.path.join(d, "o.opml"), "-q")
            self.assertEqual(rc, 0, err)
            with open(os.path.join(d, "o.opml"), "rb") as f:
                self.assertEqual(f.read(), want)
            from safetensors.numpy import save_file
            save_file({k: np.ascontiguousarray(v) for k, v in self.weights().items()}, os.path.join(d, "w.safetensors"))
            rc, _, err = run_cli("safetensors", os.path.join(d, "w.safetensors"), "--arch", os.path.join(d, "arch.json"),
                                 "-o", os.path.join(d, "s.opml"), "-q")
            self.assertEqual(rc, 0, err)
            with open(os.path.join(d, "s.opml"), "rb") as f:
                self.assertEqual(f.read(), want)

    def test_quantized_npz_matches_the_committed_int8_model(self):
        (xtr, _), _, _ = split()
        with open(os.path.join(MODELS, "mlp-int8.opml"), "rb") as f:
            want = f.read()
        with tempfile.TemporaryDirectory() as d:
            np.savez(os.path.join(d, "w.npz"), **self.weights())
            np.save(os.path.join(d, "c.npy"), xtr[:1000])
            with open(os.path.join(d, "arch.json"), "w") as f:
                json.dump(self.ARCH, f)
            rc, _, err = run_cli("npz", os.path.join(d, "w.npz"), "--arch", os.path.join(d, "arch.json"), "-o",
                                 os.path.join(d, "o.opml"), "--quantize", "--calibration", os.path.join(d, "c.npy"), "-q")
            self.assertEqual(rc, 0, err)
            with open(os.path.join(d, "o.opml"), "rb") as f:
                self.assertEqual(f.read(), want)

    def test_bad_inputs(self):
        with tempfile.TemporaryDirectory() as d:
            np.savez(os.path.join(d, "w.npz"), **self.weights())
            arch = json.loads(json.dumps(self.ARCH))
            arch["layers"][0]["weight"] = "nope"
            with open(os.path.join(d, "a.json"), "w") as f:
                json.dump(arch, f)
            rc, _, err = run_cli("npz", os.path.join(d, "w.npz"), "--arch", os.path.join(d, "a.json"), "-o", os.path.join(d, "o.opml"))
            self.assertEqual(rc, 2)
            self.assertIn("weight 'nope' is not in the weights file", err)
            arch = json.loads(json.dumps(self.ARCH))
            arch["layers"][0]["op"] = "lstm"
            with open(os.path.join(d, "a.json"), "w") as f:
                json.dump(arch, f)
            rc, _, err = run_cli("npz", os.path.join(d, "w.npz"), "--arch", os.path.join(d, "a.json"), "-o", os.path.join(d, "o.opml"))
            self.assertEqual(rc, 2)
            self.assertIn("unknown op 'lstm'", err)
            with open(os.path.join(d, "a.json"), "w") as f:
                f.write("{not json")
            rc, _, err = run_cli("npz", os.path.join(d, "w.npz"), "--arch", os.path.join(d, "a.json"), "-o", os.path.join(d, "o.opml"))
            self.assertEqual(rc, 2)
            self.assertIn("invalid JSON", err)
            with open(os.path.join(d, "a.json"), "w") as f:
                json.dump(self.ARCH, f)
            with open(os.path.join(d, "bad.npz"), "wb") as f:
                f.write(b"PK\3\4 this is not a zip")
            rc, _, err = run_cli("npz", os.path.join(d, "bad.npz"), "--arch", os.path.join(d, "a.json"), "-o", os.path.join(d, "o.opml"))
            self.assertEqual(rc, 2)
            self.assertIn("not a valid npz file", err)
            for e in (err,):
                self.assertNotIn("Traceback", e)


if __name__ == "__main__":
    unittest.main()
