"""Writes guest/examples/mnist/digits.bin: the first 64 held-out digits of the split in
mnist_data.py (never seen in training), each as one label byte and 784 gray bytes
(round(255 * pixel)), for `opml demo --workload mnist` and the Rust tests.

Run: .venv/bin/python export_digits.py"""

import os

import numpy as np

import mnist_data

COUNT = 64
OUT = os.path.join(mnist_data.HERE, "..", "..", "guest", "examples", "mnist", "digits.bin")


def main() -> None:
    _, (x_test, y_test), _ = mnist_data.split()
    rows = []
    for x, y in zip(x_test[:COUNT], y_test[:COUNT]):
        gray = np.rint(x * 255.0).clip(0, 255).astype(np.uint8)
        rows.append(bytes([int(y)]) + gray.tobytes())
    with open(OUT, "wb") as f:
        f.write(b"".join(rows))
    print(f"wrote {len(rows)} digits to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
