#!/usr/bin/env python3
"""Trains `cnn-deep`, the MNIST model large enough that the graph phase of a two-phase dispute
matters: a VGG-style stack of eight 3x3 convolutions (ReLU; 16, 32 and 64 channels; two 2x2
max-pools) and two dense layers, 11 million multiply-adds per digit, none of its nodes more than
1.8 million (so one disputed node re-runs in the VM in under a second while the whole graph takes
1.6 x 10^9 RV32IM instructions; README.md, "cnn-deep"). The dense layers are narrow (3136 -> 32 -> 10)
so the weights stay small: 0.9 MB, and no node hashes more than 0.4 MB of them.

    .venv/bin/python train_deep.py       # about 4 minutes on 2 cores (2.5 of them training)

Uses train_mnist.py's numpy training (Adam, im2col convolution in its BLAS-shaped form, max-pool
backward), ONNX export, conversion and evaluation; writes models/cnn-deep.opml (f32 only),
build/cnn-deep.onnx, and the `cnn-deep` entry of accuracy.json (the other entries are kept).
Then run make_reference.py.
Reproducible on one machine (fixed seeds, one BLAS thread), like train_mnist.py.
"""

from __future__ import annotations

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import train_mnist as tm  # noqa: E402  (sets the one-BLAS-thread environment before numpy)

import numpy as np  # noqa: E402

import mnist_data  # noqa: E402

NAME = "cnn-deep"
# (in channels, out channels) per 3x3 pad-1 convolution (each followed by ReLU), "pool" for a
# 2x2 stride-2 max-pool: 28x28 -> 14x14 -> 7x7, so the flattened features are 64 * 7 * 7 = 3136.
LAYERS = ((1, 16), (16, 16), "pool", (16, 32), (32, 32), (32, 32), "pool", (32, 64), (64, 64), (64, 64))
HIDDEN = 32
# LAYERS in accuracy.json: each convolution's output channels, and the pools.
ARCH = " ".join("pool" if layer == "pool" else str(layer[1]) for layer in LAYERS)
HYPER = dict(epochs=4, lr=1e-3, seed=13)
INIT_SEED = 3


class DeepCNN:
    """conv/ReLU/pool stack of LAYERS, then dense 3136 -> HIDDEN (ReLU) -> 10."""

    def __init__(self, rng, layers=LAYERS, hidden=HIDDEN):
        self.layers = layers
        self.convs = []  # (K, c) per conv
        side, ch = 28, 1
        for layer in layers:
            if layer == "pool":
                side //= 2
                continue
            cin, cout = layer
            assert cin == ch, layer
            self.convs.append((tm.he(rng, (cout, cin, 3, 3), 9 * cin), np.zeros(cout, np.float32)))
            ch = cout
        feat = ch * side * side
        self.W1 = tm.he(rng, (hidden, feat), feat)
        self.b1 = np.zeros(hidden, np.float32)
        self.W2 = tm.he(rng, (10, hidden), hidden)
        self.b2 = np.zeros(10, np.float32)
        self.params = [p for kc in self.convs for p in kc] + [self.W1, self.b1, self.W2, self.b2]

    def forward(self, x):
        x = x.reshape(-1, 1, 28, 28)
        caches, k = [], 0
        for layer in self.layers:
            if layer == "pool":
                x, pc = tm.pool_fwd(x)
                caches.append(pc)
            else:
                K, c = self.convs[k]
                h, cc = tm.conv_fwd(x, K, c, 1, blas=True)
                x = np.maximum(h, 0)
                caches.append((h, cc))
                k += 1
        f = x.reshape(len(x), -1)
        h1 = f @ self.W1.T + self.b1
        a1 = np.maximum(h1, 0)
        return a1 @ self.W2.T + self.b2, (caches, x.shape, f, h1, a1)

    def backward(self, g, cache):
        caches, shape, f, h1, a1 = cache
        dW2, db2 = g.T @ a1, g.sum(0)
        dh1 = (g @ self.W2) * (h1 > 0)
        dW1, db1 = dh1.T @ f, dh1.sum(0)
        d = (dh1 @ self.W1).reshape(shape)
        grads = []
        k = len(self.convs)
        for layer, c in zip(reversed(self.layers), reversed(caches)):
            if layer == "pool":
                d = tm.pool_bwd(d, c)
            else:
                k -= 1
                h, cc = c
                d, dK, dc = tm.conv_bwd(d * (h > 0), self.convs[k][0], cc, 1, blas=True)
                grads = [dK, dc] + grads
        return grads + [dW1, db1, dW2, db2]


def export(net: DeepCNN):
    from onnx import TensorProto, helper
    nodes, inits, x, k, p = [], {}, "input", 0, 0
    for layer in net.layers:
        if layer == "pool":
            p += 1
            nodes.append(helper.make_node("MaxPool", [x], [f"pool{p}"], kernel_shape=[2, 2], strides=[2, 2],
                                          name=f"pool{p}"))
            x = f"pool{p}"
        else:
            k += 1
            K, c = net.convs[k - 1]
            inits[f"conv{k}.weight"], inits[f"conv{k}.bias"] = K, c
            nodes += [helper.make_node("Conv", [x, f"conv{k}.weight", f"conv{k}.bias"], [f"conv{k}"],
                                       kernel_shape=[3, 3], pads=[1, 1, 1, 1], name=f"conv{k}"),
                      helper.make_node("Relu", [f"conv{k}"], [f"relu{k}"], name=f"relu{k}")]
            x = f"relu{k}"
    nodes += [
        helper.make_node("Flatten", [x], ["flat"], axis=1, name="flatten"),
        helper.make_node("Gemm", ["flat", "fc1.weight", "fc1.bias"], ["fc1"], transB=1, name="fc1"),
        helper.make_node("Relu", ["fc1"], ["fc1.relu"], name="fc1.relu"),
        helper.make_node("Gemm", ["fc1.relu", "fc2.weight", "fc2.bias"], ["logits"], transB=1, name="fc2"),
        helper.make_node("ArgMax", ["logits"], ["label"], axis=1, keepdims=0, name="argmax"),
    ]
    inits.update({"fc1.weight": net.W1, "fc1.bias": net.b1, "fc2.weight": net.W2, "fc2.bias": net.b2})
    return tm._model(nodes, inits, helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 28, 28]))


def main():
    import onnx
    os.makedirs(tm.BUILD, exist_ok=True)
    (xtr, ytr), (xte, yte), _ = mnist_data.split()
    print(f"training {NAME}", file=sys.stderr)
    t0 = time.time()
    net = DeepCNN(np.random.default_rng(INIT_SEED))
    tm.train(net, xtr, ytr, **HYPER)
    dt = time.time() - t0
    onnx_path = os.path.join(tm.BUILD, f"{NAME}.onnx")
    onnx.save(export(net), onnx_path)
    f32p = os.path.join(tm.MODELS_DIR, f"{NAME}.opml")
    tm.convert_all(NAME, onnx_path, f32p)
    hp = dict(HYPER, convs=ARCH, hidden=HIDDEN)
    r = tm.evaluate(NAME, onnx_path, f32p, None, xte, yte, dt, hp)
    tm.record_accuracy(NAME, r)


if __name__ == "__main__":
    main()
