"""The `.opml` v1 model format (docs/dnn.md): an in-memory model, the writer, a validating
reader, tensor hashes and graph commitments, the model root (tensor and node commitments), and
`quantize_multiplier`.

Everything here follows docs/dnn.md, which is normative; where the document leaves a choice open
this module documents the one it makes (see README.md, "Conventions").
"""

from __future__ import annotations

import hashlib
import math
import struct
from dataclasses import dataclass, field

import numpy as np

MAGIC = b"OPMLNET\0"
VERSION = 1
HEADER_LEN = 64
TENSOR_ENTRY = 48
NODE_ENTRY = 56
CHECKSUM_LEN = 32
ALIGN = 16
UNUSED_INPUT = 0xFFFF_FFFF
MAX_RANK = 4

# dtypes
F32, I8, I32 = 0, 1, 2
DTYPE_NAMES = {F32: "f32", I8: "i8", I32: "i32"}
DTYPE_SIZE = {F32: 4, I8: 1, I32: 4}
DTYPE_NP = {F32: np.dtype("<f4"), I8: np.dtype("i1"), I32: np.dtype("<i4")}

# tensor kinds
CONST, INPUT, NODE_OUTPUT = 0, 1, 2
KIND_NAMES = {CONST: "constant", INPUT: "input", NODE_OUTPUT: "node output"}

# op codes (the table in docs/dnn.md, in order)
OPS = {
    "Dense": 1,
    "Conv2d": 2,
    "Relu": 3,
    "Gelu": 4,
    "Silu": 5,
    "MaxPool2d": 6,
    "AvgPool2d": 7,
    "Softmax": 8,
    "Argmax": 9,
    "LayerNorm": 10,
    "RmsNorm": 11,
    "Embedding": 12,
    "Add": 13,
    "Mul": 14,
    "MatMul": 15,
    "Reshape": 16,
    "Quantize": 17,
    "Dequantize": 18,
}
OP_NAMES = {v: k for k, v in OPS.items()}
# (min, max) input counts per op
OP_ARITY = {
    "Dense": (2, 3),
    "Conv2d": (2, 3),
    "Relu": (1, 1),
    "Gelu": (1, 1),
    "Silu": (1, 1),
    "MaxPool2d": (1, 1),
    "AvgPool2d": (1, 1),
    "Softmax": (1, 1),
    "Argmax": (1, 1),
    "LayerNorm": (3, 3),
    "RmsNorm": (2, 2),
    "Embedding": (2, 2),
    "Add": (2, 2),
    "Mul": (2, 2),
    "MatMul": (2, 2),
    "Reshape": (1, 1),
    "Quantize": (1, 1),
    "Dequantize": (1, 1),
}


class FormatError(Exception):
    """A malformed `.opml` file or an invalid model (the message says what and where)."""


def f32_bits(x: float) -> int:
    """The IEEE-754 binary32 bits of `x` as a signed i32 (how `eps` is stored in params)."""
    return struct.unpack("<i", struct.pack("<f", x))[0]


def bits_f32(b: int) -> float:
    return struct.unpack("<f", struct.pack("<i", b))[0]


def quantize_multiplier(real: float) -> tuple[int, int]:
    """(m0, s) with 2^30 <= m0 < 2^31 and m0 * 2^-(31+s) ~= real (the nearest such m0), or (0, 0)
    for real == 0. Raises ValueError for a negative/non-finite real or one outside the range the
    spec allows (-31 < s < 32)."""
    real = float(real)
    if real == 0.0:
        return 0, 0
    if not math.isfinite(real) or real < 0:
        raise ValueError(f"requantization multiplier must be finite and >= 0, got {real!r}")
    mant, exp = math.frexp(real)  # real = mant * 2^exp, 0.5 <= mant < 1
    m0 = round(mant * (1 << 31))  # exact product; nearest, ties to even
    if m0 == 1 << 31:
        m0 //= 2
        exp += 1
    s = -exp
    if not -31 < s < 32:
        raise ValueError(f"requantization multiplier {real!r} is out of range (shift {s})")
    assert (1 << 30) <= m0 < (1 << 31)
    return m0, s


@dataclass
class Tensor:
    dtype: int
    shape: tuple[int, ...]
    kind: int
    data: np.ndarray | None = None  # constants only
    scale: float = 0.0
    zero_point: int = 0
    name: str = ""

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def nbytes(self) -> int:
        return self.numel * DTYPE_SIZE[self.dtype]

    def dims4(self) -> tuple[int, int, int, int]:
        d = list(self.shape) + [1] * (MAX_RANK - len(self.shape))
        return tuple(d)  # type: ignore[return-value]

    def describe(self) -> str:
        q = f" scale={self.scale:g} zp={self.zero_point}" if self.dtype == I8 else ""
        nm = f" '{self.name}'" if self.name else ""
        return f"{KIND_NAMES[self.kind]}{nm} {DTYPE_NAMES[self.dtype]}{list(self.shape)}{q}"


@dataclass
class Node:
    op: str
    inputs: list[int]
    output: int
    params: list[int] = field(default_factory=lambda: [0] * 8)
    name: str = ""


class Model:
    """A graph in execution order. Tensor indices are positions in `tensors`."""

    def __init__(self) -> None:
        self.tensors: list[Tensor] = []
        self.nodes: list[Node] = []
        self.inputs: list[int] = []
        self.outputs: list[int] = []

    # -- building -----------------------------------------------------------------------------
    def add_const(self, name: str, array, dtype: int | None = None, scale: float = 0.0, zero_point: int = 0) -> int:
        a = np.asarray(array)
        if dtype is None:
            dtype = {np.dtype("float32"): F32, np.dtype("int8"): I8, np.dtype("int32"): I32}.get(a.dtype)
            if dtype is None:
                raise FormatError(f"constant '{name}': unsupported numpy dtype {a.dtype}")
        a = np.array(a, dtype=DTYPE_NP[dtype], order="C")  # (ascontiguousarray would make rank 0 rank 1)
        if a.ndim > MAX_RANK:
            raise FormatError(f"constant '{name}' has rank {a.ndim} > {MAX_RANK}")
        self.tensors.append(Tensor(dtype, tuple(int(d) for d in a.shape), CONST, a, float(np.float32(scale)), int(zero_point), name))
        return len(self.tensors) - 1

    def add_input(self, name: str, dtype: int, shape, scale: float = 0.0, zero_point: int = 0) -> int:
        shape = tuple(int(d) for d in shape)
        if len(shape) > MAX_RANK:
            raise FormatError(f"input '{name}' has rank {len(shape)} > {MAX_RANK}")
        self.tensors.append(Tensor(dtype, shape, INPUT, None, float(np.float32(scale)), int(zero_point), name))
        self.inputs.append(len(self.tensors) - 1)
        return len(self.tensors) - 1

    def add_node(self, op: str, inputs, dtype: int, shape, params=(), name: str = "", scale: float = 0.0, zero_point: int = 0) -> int:
        shape = tuple(int(d) for d in shape)
        if len(shape) > MAX_RANK:
            raise FormatError(f"{op} node '{name}': output rank {len(shape)} > {MAX_RANK}")
        p = [int(v) for v in params] + [0] * (8 - len(params))
        self.tensors.append(Tensor(dtype, shape, NODE_OUTPUT, None, float(np.float32(scale)), int(zero_point), name))
        out = len(self.tensors) - 1
        self.nodes.append(Node(op, list(inputs), out, p, name))
        return out

    def summary(self) -> str:
        lines = []
        for i in self.inputs:
            lines.append(f"input  t{i}: {self.tensors[i].describe()}")
        for k, n in enumerate(self.nodes):
            ins = ", ".join(f"t{i}" for i in n.inputs)
            t = self.tensors[n.output]
            used = len(_PARAM_NAMES.get((n.op, t.dtype if n.op not in ("Dense", "Conv2d") else self.tensors[n.inputs[0]].dtype), ()))
            ps = ",".join(str(v) for v in n.params[: max(used, 0)])
            lines.append(f"node {k:3d} {n.op:<10} ({ins}) -> t{n.output}: {DTYPE_NAMES[t.dtype]}{list(t.shape)}"
                         + (f" scale={t.scale:g} zp={t.zero_point}" if t.dtype == I8 else "")
                         + (f" params=[{ps}]" if ps else ""))
        lines.append("outputs: " + ", ".join(f"t{i}" for i in self.outputs))
        nconst = sum(1 for t in self.tensors if t.kind == CONST)
        nbytes = sum(t.nbytes for t in self.tensors if t.kind == CONST)
        lines.append(f"{len(self.tensors)} tensors ({nconst} constants, {nbytes} bytes), {len(self.nodes)} nodes")
        lines.append(f"model root {model_root(self).hex()}")
        return "\n".join(lines)


_PARAM_NAMES = {
    ("Dense", F32): ("relu",),
    ("Dense", I8): ("m0", "s", "relu"),
    ("Conv2d", F32): ("stride_h", "stride_w", "pad_h", "pad_w", "relu"),
    ("Conv2d", I8): ("stride_h", "stride_w", "pad_h", "pad_w", "m0", "s", "relu"),
    ("MaxPool2d", F32): ("kernel_h", "kernel_w", "stride_h", "stride_w"),
    ("MaxPool2d", I8): ("kernel_h", "kernel_w", "stride_h", "stride_w"),
    ("AvgPool2d", F32): ("kernel_h", "kernel_w", "stride_h", "stride_w"),
    ("AvgPool2d", I8): ("kernel_h", "kernel_w", "stride_h", "stride_w"),
    ("LayerNorm", F32): ("eps",),
    ("RmsNorm", F32): ("eps",),
}


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


# -- writer ---------------------------------------------------------------------------------------

def to_bytes(model: Model) -> bytes:
    """Serialize `model` to `.opml` v1 bytes (with the trailing checksum)."""
    tensors, nodes = model.tensors, model.nodes
    tensors_offset = HEADER_LEN
    nodes_offset = tensors_offset + TENSOR_ENTRY * len(tensors)
    inputs_offset = nodes_offset + NODE_ENTRY * len(nodes)
    outputs_offset = inputs_offset + 4 * len(model.inputs)
    data_offset = _align(outputs_offset + 4 * len(model.outputs))

    # data region: every constant 16-aligned, in tensor order
    data = bytearray()
    offsets = {}
    for i, t in enumerate(tensors):
        if t.kind != CONST:
            continue
        data += b"\0" * (_align(len(data)) - len(data))
        offsets[i] = len(data)
        data += _const_bytes(t, i)

    out = bytearray()
    out += struct.pack("<8s12IQ", MAGIC, VERSION, 0, len(tensors), len(nodes), len(model.inputs),
                       len(model.outputs), tensors_offset, nodes_offset, inputs_offset, outputs_offset,
                       data_offset, len(data), 0)
    assert len(out) == HEADER_LEN
    for i, t in enumerate(tensors):
        out += struct.pack("<BBBB4IIIfi12x", t.dtype, len(t.shape), t.kind, 0, *t.dims4(),
                           offsets.get(i, 0), t.nbytes, t.scale, t.zero_point)
    for n in nodes:
        out += node_entry(n)
    out += struct.pack(f"<{len(model.inputs)}I", *model.inputs)
    out += struct.pack(f"<{len(model.outputs)}I", *model.outputs)
    out += b"\0" * (data_offset - len(out))
    out += data
    out += hashlib.sha256(out).digest()
    return bytes(out)


def _const_bytes(t: Tensor, i: int) -> bytes:
    """A constant's data, little-endian."""
    raw = np.ascontiguousarray(t.data, dtype=DTYPE_NP[t.dtype]).tobytes()
    if len(raw) != t.nbytes:
        raise FormatError(f"constant t{i} '{t.name}': data has {len(raw)} bytes, shape needs {t.nbytes}")
    return raw


def node_entry(n: Node) -> bytes:
    """The 56-byte node table entry."""
    ins = list(n.inputs) + [UNUSED_INPUT] * (4 - len(n.inputs))
    return struct.pack("<HBB4II8i", OPS[n.op], len(n.inputs), 0, *ins, n.output, *n.params)


def write(model: Model, path) -> bytes:
    validate(model)
    b = to_bytes(model)
    with open(path, "wb") as f:
        f.write(b)
    return b


# -- reader ---------------------------------------------------------------------------------------

def from_bytes(buf: bytes) -> Model:
    """Parse and validate `.opml` v1 bytes; raises FormatError with a precise message."""
    buf = bytes(buf)
    n = len(buf)
    if n < HEADER_LEN + CHECKSUM_LEN:
        raise FormatError(f"file too short ({n} bytes)")
    if buf[:8] != MAGIC:
        raise FormatError(f"bad magic {buf[:8]!r} (not an .opml file)")
    (version, flags, tcount, ncount, icount, ocount, toff, noff, ioff, ooff, doff, dlen,
     reserved) = struct.unpack_from("<12IQ", buf, 8)
    if version != VERSION:
        raise FormatError(f"unsupported version {version} (expected {VERSION})")
    if hashlib.sha256(buf[:-CHECKSUM_LEN]).digest() != buf[-CHECKSUM_LEN:]:
        raise FormatError("checksum mismatch (file corrupt or truncated)")
    if flags != 0 or reserved != 0:
        raise FormatError("nonzero flags or reserved header field")
    body = n - CHECKSUM_LEN
    ranges = [("header", 0, HEADER_LEN)]
    for what, off, cnt, size in (("tensor table", toff, tcount, TENSOR_ENTRY), ("node table", noff, ncount, NODE_ENTRY),
                                 ("input list", ioff, icount, 4), ("output list", ooff, ocount, 4), ("data", doff, dlen, 1)):
        end = off + cnt * size
        if end > body:
            raise FormatError(f"{what} [{off}, {end}) lies outside the file body ({body} bytes)")
        ranges.append((what, off, end))
    ranges = sorted((r for r in ranges if r[2] > r[1]), key=lambda r: r[1])
    for k, (b, bstart, _) in enumerate(ranges[1:], 1):
        a, _, aend = max(ranges[:k], key=lambda r: r[2])
        if bstart < aend:
            raise FormatError(f"{a} and {b} overlap")
    if doff % ALIGN:
        raise FormatError(f"data_offset {doff} is not {ALIGN}-aligned")

    m = Model()
    for i in range(tcount):
        dtype, rank, kind, res0, d0, d1, d2, d3, off, ln, scale, zp = struct.unpack_from("<BBBB4IIIfi", buf, toff + i * TENSOR_ENTRY)
        tail = buf[toff + i * TENSOR_ENTRY + 36: toff + (i + 1) * TENSOR_ENTRY]
        if dtype not in DTYPE_NAMES:
            raise FormatError(f"tensor {i}: unknown dtype {dtype}")
        if rank > MAX_RANK:
            raise FormatError(f"tensor {i}: rank {rank} > {MAX_RANK}")
        if kind not in KIND_NAMES:
            raise FormatError(f"tensor {i}: unknown kind {kind}")
        if res0 != 0 or any(tail):
            raise FormatError(f"tensor {i}: nonzero reserved bytes")
        dims = (d0, d1, d2, d3)
        if any(d != 1 for d in dims[rank:]):
            raise FormatError(f"tensor {i}: unused dims must be 1, got {dims}")
        shape = dims[:rank]
        nbytes = DTYPE_SIZE[dtype]
        for d in shape:
            nbytes *= d
        if nbytes >= 1 << 32:
            raise FormatError(f"tensor {i}: byte size overflows u32")
        if ln != nbytes:
            raise FormatError(f"tensor {i}: len {ln} != {nbytes} bytes for {DTYPE_NAMES[dtype]}{list(shape)}")
        data = None
        if kind == CONST:
            if off % ALIGN:
                raise FormatError(f"tensor {i}: constant offset {off} is not {ALIGN}-aligned")
            if off + ln > dlen:
                raise FormatError(f"tensor {i}: constant [{off}, {off + ln}) outside the data region ({dlen} bytes)")
            data = np.frombuffer(buf, dtype=DTYPE_NP[dtype], count=nbytes // DTYPE_SIZE[dtype], offset=doff + off).reshape(shape)
        elif off != 0:
            raise FormatError(f"tensor {i}: non-constant tensor with offset {off}")
        m.tensors.append(Tensor(dtype, shape, kind, data, scale, zp, f"t{i}"))
    m.inputs = list(struct.unpack_from(f"<{icount}I", buf, ioff))
    m.outputs = list(struct.unpack_from(f"<{ocount}I", buf, ooff))
    for i in range(ncount):
        op, cnt, res, *rest = struct.unpack_from("<HBB4II8i", buf, noff + i * NODE_ENTRY)
        ins, out, params = rest[:4], rest[4], rest[5:]
        if op not in OP_NAMES:
            raise FormatError(f"node {i}: unknown op {op}")
        if res != 0:
            raise FormatError(f"node {i}: nonzero reserved byte")
        if not 1 <= cnt <= 4 or any(x != UNUSED_INPUT for x in ins[cnt:]):
            raise FormatError(f"node {i}: bad input count {cnt} / unused inputs not u32::MAX")
        m.nodes.append(Node(OP_NAMES[op], list(ins[:cnt]), out, list(params), f"n{i}"))
    validate(m)
    return m


def read(path) -> Model:
    with open(path, "rb") as f:
        return from_bytes(f.read())


def validate(m: Model) -> None:
    """Graph-level checks: definition order, kinds, arity. Shapes/dtypes per op are checked by
    `reference.check_model` (which knows each op's rule)."""
    defined = set()
    for i, t in enumerate(m.tensors):
        if t.kind == CONST:
            defined.add(i)
    seen_inputs = set()
    for i in m.inputs:
        if i >= len(m.tensors) or m.tensors[i].kind != INPUT:
            raise FormatError(f"graph input {i} is not an input tensor")
        if i in seen_inputs:
            raise FormatError(f"graph input {i} listed twice")
        seen_inputs.add(i)
        defined.add(i)
    for i, t in enumerate(m.tensors):
        if t.kind == INPUT and i not in seen_inputs:
            raise FormatError(f"tensor {i} has kind input but is not a graph input")
    written = set()
    for k, n in enumerate(m.nodes):
        lo, hi = OP_ARITY[n.op]
        if not lo <= len(n.inputs) <= hi:
            raise FormatError(f"node {k} ({n.op}): {len(n.inputs)} inputs, expected {lo}..{hi}")
        for i in n.inputs:
            if i >= len(m.tensors) or i not in defined:
                raise FormatError(f"node {k} ({n.op}) reads tensor {i}, which is not yet defined")
        o = n.output
        if o >= len(m.tensors):
            raise FormatError(f"node {k} ({n.op}) writes tensor {o}, which does not exist")
        if m.tensors[o].kind != NODE_OUTPUT:
            raise FormatError(f"node {k} ({n.op}) writes a {KIND_NAMES[m.tensors[o].kind]} (tensor {o})")
        if o in written:
            raise FormatError(f"node {k} ({n.op}) writes tensor {o} a second time")
        written.add(o)
        defined.add(o)
    for i, t in enumerate(m.tensors):
        if t.kind == NODE_OUTPUT and i not in written:
            raise FormatError(f"tensor {i} is a node output that no node writes")
    for i in m.outputs:
        if i >= len(m.tensors) or i not in defined:
            raise FormatError(f"graph output {i} is not a defined tensor")


# -- hashes and commitments -----------------------------------------------------------------------

def tensor_hash(dtype: int, shape, data: np.ndarray) -> bytes:
    """sha256(dtype u8 ‖ rank u8 ‖ dims 4 × u32 LE (unused 1) ‖ data LE)."""
    shape = tuple(int(d) for d in shape)
    dims = list(shape) + [1] * (MAX_RANK - len(shape))
    a = np.array(data, dtype=DTYPE_NP[dtype], order="C")
    if a.shape != shape:
        raise ValueError(f"tensor data shape {a.shape} != {shape}")
    return hashlib.sha256(struct.pack("<BB4I", dtype, len(shape), *dims) + a.tobytes()).digest()


def checksum(buf: bytes) -> bytes:
    return bytes(buf[-CHECKSUM_LEN:])


def commitments(model_bytes: bytes, model: Model, values: dict[int, np.ndarray]) -> list[bytes]:
    """[C(0), C(1), ..., C(n)] for one (unbatched) evaluation; `values` maps tensor index to data."""
    h = hashlib.sha256(b"opml-dnn" + checksum(model_bytes))
    for i in model.inputs:
        t = model.tensors[i]
        h.update(tensor_hash(t.dtype, t.shape, values[i]))
    cs = [h.digest()]
    for n in model.nodes:
        t = model.tensors[n.output]
        cs.append(hashlib.sha256(cs[-1] + tensor_hash(t.dtype, t.shape, values[n.output])).digest())
    return cs


# -- the model root (docs/dnn.md, "Model root") ---------------------------------------------------

ROOT_TAG = b"opmlroot"
ROOT_VERSION = 1
CHUNK = 32
ZERO = bytes(32)


def node_hash(left: bytes, right: bytes) -> bytes:
    """An inner node: sha256(left ‖ right) of two 32-byte values."""
    assert len(left) == 32 and len(right) == 32
    return hashlib.sha256(left + right).digest()


def depth(leaves: int) -> int:
    """The least d with 2^d >= leaves (0 for 0 or 1 leaf)."""
    return 0 if leaves <= 1 else (leaves - 1).bit_length()


def _levels(leaves: list[bytes]) -> list[list[bytes]]:
    """Every level of the zero-padded tree over `leaves`, bottom-up (the last is [root])."""
    level = list(leaves) or [ZERO]
    levels, z = [level], ZERO
    for _ in range(depth(len(leaves))):
        if len(level) % 2:
            level = level + [z]
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
        levels.append(level)
        z = node_hash(z, z)
    return levels


def tree_root(leaves: list[bytes]) -> bytes:
    """The root of the complete binary tree over the 32-byte `leaves`, padded with zero subtrees
    to a power of two (one leaf: itself; none: the zero word)."""
    return _levels(leaves)[-1][0]


def tree_proof(leaves: list[bytes], index: int) -> list[bytes]:
    """The siblings of leaf `index`, bottom-up."""
    levels, z, proof = _levels(leaves), ZERO, []
    for level in levels[:-1]:
        j = index ^ 1
        proof.append(level[j] if j < len(level) else z)
        z = node_hash(z, z)
        index //= 2
    return proof


def data_root(data: bytes) -> bytes:
    """The tree root over the 32-byte chunks of `data`, the last one zero-padded."""
    data = bytes(data)
    data += bytes(-len(data) % CHUNK)
    return tree_root([data[i:i + CHUNK] for i in range(0, len(data), CHUNK)])


def root_header(tensor_count: int, node_count: int, input_count: int, output_count: int) -> bytes:
    """The header word: "opmlroot" ‖ version ‖ the four counts ‖ 0, u32 LE."""
    return ROOT_TAG + struct.pack("<6I", ROOT_VERSION, tensor_count, node_count, input_count, output_count, 0)


def tensor_meta(t: Tensor) -> bytes:
    """The metadata word: dtype, rank, kind, 0, dims (4 × u32, unused 1), scale f32, zero point
    i32, byte length u32."""
    return struct.pack("<BBBB4IfiI", t.dtype, len(t.shape), t.kind, 0, *t.dims4(), t.scale, t.zero_point, t.nbytes)


def tensor_commitment(t: Tensor, i: int = 0) -> bytes:
    """sha256(meta ‖ data_root); the data root of a non-constant is the zero word."""
    return node_hash(tensor_meta(t), data_root(_const_bytes(t, i)) if t.kind == CONST else ZERO)


def node_commitment(n: Node) -> bytes:
    """sha256(56-byte node entry ‖ 8 zero bytes)."""
    return hashlib.sha256(node_entry(n) + bytes(8)).digest()


@dataclass
class ModelCommitment:
    """The model root and what it is made of."""
    header: bytes
    tensors: list[bytes]
    nodes: list[bytes]
    io: bytes

    @property
    def tensors_root(self) -> bytes:
        return tree_root(self.tensors)

    @property
    def graph(self) -> bytes:
        return node_hash(tree_root(self.nodes), self.io)

    @property
    def root(self) -> bytes:
        return node_hash(self.header, node_hash(self.graph, self.tensors_root))

    def tensor_proof(self, index: int) -> list[bytes]:
        """Bottom-up: the tensor tree's siblings, the graph node, the header word."""
        return tree_proof(self.tensors, index) + [self.graph, self.header]

    def node_proof(self, index: int) -> list[bytes]:
        """Bottom-up: the node tree's siblings, the io node, the tensor tree's root, the header."""
        return tree_proof(self.nodes, index) + [self.io, self.tensors_root, self.header]


def commit(m: Model) -> ModelCommitment:
    """The model root's parts: header word, every tensor and node commitment, the io node."""
    def lst(xs):
        return data_root(struct.pack(f"<{len(xs)}I", *xs))
    return ModelCommitment(
        header=root_header(len(m.tensors), len(m.nodes), len(m.inputs), len(m.outputs)),
        tensors=[tensor_commitment(t, i) for i, t in enumerate(m.tensors)],
        nodes=[node_commitment(n) for n in m.nodes],
        io=node_hash(lst(m.inputs), lst(m.outputs)),
    )


def model_root(m: Model) -> bytes:
    """The model root: sha256(header ‖ sha256(sha256(nodes_root ‖ io) ‖ tensors_root))."""
    return commit(m).root
