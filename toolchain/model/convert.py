#!/usr/bin/env python3
"""Converts models to the `.opml` v1 format (docs/dnn.md).

    convert.py onnx MODEL.onnx -o OUT.opml [--quantize --calibration DATA.npy] [--batch N]
                                            [--input-shape NAME=D0,D1,...]
    convert.py npz WEIGHTS.npz --arch ARCH.json -o OUT.opml [--quantize --calibration DATA.npy]
    convert.py safetensors WEIGHTS.safetensors --arch ARCH.json -o OUT.opml [...]
    convert.py info MODEL.opml
    convert.py eval MODEL.opml --data X.npy [--labels Y.npy]

Any problem with the input (an unsupported operator, a corrupt file, a shape the format cannot
express) is reported as one `error: ...` line on stderr with exit status 2, never a traceback.
See README.md for the supported operators and the quantization scheme.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import opml_model as om  # noqa: E402
import reference  # noqa: E402
from opml_model import F32, I8, I32  # noqa: E402

EXIT_USAGE = 2


class ConvertError(Exception):
    """A user-facing conversion error (exit status 2)."""


# =================================================================================================
# ONNX import
# =================================================================================================

ONNX_FLOAT, ONNX_INT32, ONNX_INT64 = 1, 6, 7


def _np_to_const_dtype(a: np.ndarray, what: str) -> tuple[np.ndarray, int]:
    if a.dtype in (np.float32, np.float64, np.float16):
        return a.astype(np.float32), F32
    if a.dtype in (np.int64, np.int32, np.int16, np.int8, np.uint8, np.uint16, np.bool_):
        if a.size and (a.min() < -(2**31) or a.max() >= 2**31):
            raise ConvertError(f"{what}: integer values do not fit in i32")
        return a.astype(np.int32), I32
    raise ConvertError(f"{what}: unsupported element type {a.dtype}")


class OnnxImporter:
    def __init__(self, model, batch: int = 1, input_shapes: dict | None = None):
        import onnx
        from onnx import numpy_helper

        self.onnx = onnx
        self.nh = numpy_helper
        self.model = model
        self.g = model.graph
        self.batch = batch
        self.input_shapes = input_shapes or {}
        self.opset = 1
        for imp in model.opset_import:
            if imp.domain in ("", "ai.onnx"):
                self.opset = imp.version
        self.m = om.Model()
        self.consts: dict[str, np.ndarray] = {}
        self.t: dict[str, int] = {}  # ONNX value name -> opml tensor index
        self.const_idx: dict[str, int] = {}
        self.skip: set[int] = set()
        self.consumers: dict[str, list[int]] = {}
        self.producers: dict[str, int] = {}
        self.graph_outputs = {o.name for o in self.g.output}

    # -- helpers ----------------------------------------------------------------------------------
    def where(self, k: int) -> str:
        n = self.g.node[k]
        return f"node {k} ({n.op_type}{' ' + repr(n.name) if n.name else ''})"

    def err(self, k: int, msg: str):
        raise ConvertError(f"{self.where(k)}: {msg}")

    def attr(self, node, name, default=None):
        for a in node.attribute:
            if a.name == name:
                return self.onnx.helper.get_attribute_value(a)
        return default

    def is_const(self, name: str) -> bool:
        return name in self.consts

    def shape(self, name: str) -> tuple[int, ...]:
        if name in self.consts:
            return tuple(self.consts[name].shape)
        return self.m.tensors[self.t[name]].shape

    def dtype(self, name: str) -> int:
        if name in self.consts:
            return _np_to_const_dtype(self.consts[name], name)[1]
        return self.m.tensors[self.t[name]].dtype

    def tensor(self, name: str) -> int:
        """The opml tensor for an ONNX value, materializing constants on first use."""
        if name in self.t:
            return self.t[name]
        if name in self.consts:
            if name not in self.const_idx:
                a, dt = _np_to_const_dtype(self.consts[name], f"constant '{name}'")
                if a.ndim > om.MAX_RANK:
                    raise ConvertError(f"constant '{name}' has rank {a.ndim} > 4")
                self.const_idx[name] = self.m.add_const(name, a, dt)
            return self.const_idx[name]
        raise ConvertError(f"value '{name}' is used before it is defined")

    def single_consumer(self, name: str, op_type: str) -> int | None:
        """The index of the only node consuming `name`, if it has op `op_type` and `name` is not
        a graph output."""
        cs = self.consumers.get(name, [])
        if len(cs) == 1 and name not in self.graph_outputs and self.g.node[cs[0]].op_type == op_type:
            return cs[0]
        return None

    def node_out(self, k, op, inputs, dtype, shape, params=(), name=None) -> int:
        if len(shape) > om.MAX_RANK:
            self.err(k, f"output rank {len(shape)} > 4 is not representable")
        nm = name or self.g.node[k].output[0]
        return self.m.add_node(op, inputs, dtype, shape, params, nm)

    def _check_extra_outputs(self, k: int, keep: int = 1):
        n = self.g.node[k]
        for o in n.output[keep:]:
            if o and (self.consumers.get(o) or o in self.graph_outputs):
                self.err(k, f"output '{o}' is used, but only the first output is supported")

    # -- driver -----------------------------------------------------------------------------------
    def run(self) -> om.Model:
        g = self.g
        for init in g.initializer:
            try:
                self.consts[init.name] = self.nh.to_array(init)
            except Exception as e:  # noqa: BLE001
                raise ConvertError(f"initializer '{init.name}': cannot read ({e})") from None
        for inp in g.input:
            if inp.name in self.consts:
                continue
            self._add_input(inp)
        for k, n in enumerate(g.node):
            for i in n.input:
                if i:
                    self.consumers.setdefault(i, []).append(k)
            for o in n.output:
                if o:
                    self.producers[o] = k
        for k, n in enumerate(g.node):
            if k in self.skip:
                continue
            if n.domain not in ("", "ai.onnx", "ai.onnx.ml"):
                self.err(k, f"operator {n.domain}.{n.op_type} is not supported")
            ins = [i for i in n.input if i]
            if n.op_type == "Constant":
                self._constant(k)
                continue
            if n.op_type == "Shape":
                self._shape(k)
                continue
            if ins and all(self.is_const(i) for i in ins) and n.op_type not in ("Identity",):
                self._fold(k)
                continue
            h = getattr(self, "op_" + n.op_type, None)
            if h is None:
                self.err(k, f"operator {n.op_type} is not supported (supported: {', '.join(supported_onnx_ops())})")
            h(k)
        for o in g.output:
            if o.name not in self.t and o.name not in self.consts:
                raise ConvertError(f"graph output '{o.name}' is never computed")
            self.m.outputs.append(self.tensor(o.name))
        try:
            reference.check_model(self.m)
        except om.FormatError as e:
            raise ConvertError(f"converted graph is invalid: {e}") from None
        return self.m

    def _add_input(self, inp):
        tt = inp.type.tensor_type
        if not inp.type.HasField("tensor_type"):
            raise ConvertError(f"graph input '{inp.name}' is not a tensor")
        elem = tt.elem_type
        if elem == ONNX_FLOAT:
            dt = F32
        elif elem in (ONNX_INT64, ONNX_INT32):
            dt = I32
        else:
            raise ConvertError(f"graph input '{inp.name}': element type {elem} is not supported (float, int32, int64 are)")
        if inp.name in self.input_shapes:
            shape = tuple(self.input_shapes[inp.name])
        else:
            shape = []
            for ax, d in enumerate(tt.shape.dim):
                if d.HasField("dim_value") and d.dim_value > 0:
                    shape.append(d.dim_value)
                elif ax == 0:
                    shape.append(self.batch)
                else:
                    raise ConvertError(f"graph input '{inp.name}' has a dynamic dimension at axis {ax}; "
                                       f"give it with --input-shape {inp.name}=D0,D1,...")
            shape = tuple(shape)
        if len(shape) > om.MAX_RANK:
            raise ConvertError(f"graph input '{inp.name}' has rank {len(shape)} > 4")
        self.t[inp.name] = self.m.add_input(inp.name, dt, shape)

    def _constant(self, k):
        n = self.g.node[k]
        v = None
        for a in n.attribute:
            if a.name == "value":
                v = self.nh.to_array(a.t)
            elif a.name in ("value_float", "value_int"):
                v = np.array(self.onnx.helper.get_attribute_value(a))
            elif a.name in ("value_floats", "value_ints"):
                v = np.array(self.onnx.helper.get_attribute_value(a))
        if v is None:
            self.err(k, "unsupported Constant form")
        self.consts[n.output[0]] = v

    def _shape(self, k):
        n = self.g.node[k]
        s = np.array(self.shape(n.input[0]), dtype=np.int64)
        start, end = self.attr(n, "start", 0), self.attr(n, "end", None)
        self.consts[n.output[0]] = s[start:end]

    def _fold(self, k):
        """Evaluate a node whose inputs are all constants with onnx's reference evaluator."""
        from onnx import helper
        from onnx.reference import ReferenceEvaluator

        n = self.g.node[k]
        feeds = {i: self.consts[i] for i in n.input if i}
        inputs = [helper.make_tensor_value_info(i, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape) for i, v in feeds.items()]
        outputs = [helper.make_tensor_value_info(o, 0, None) for o in n.output if o]
        graph = helper.make_graph([n], "fold", inputs, outputs)
        try:
            mdl = helper.make_model(graph, opset_imports=list(self.model.opset_import))
            res = ReferenceEvaluator(mdl).run(None, feeds)
        except Exception as e:  # noqa: BLE001
            self.err(k, f"cannot fold this constant expression ({type(e).__name__}: {e})")
        for o, v in zip([o for o in n.output if o], res):
            self.consts[o] = np.asarray(v)

    def alias(self, k, src: str, dst: str | None = None):
        dst = dst or self.g.node[k].output[0]
        if src in self.consts:
            self.consts[dst] = self.consts[src]
        else:
            self.t[dst] = self.tensor(src)

    def reshape_to(self, k, src: str, shape, name: str | None = None) -> int:
        shape = tuple(int(d) for d in shape)
        x = self.tensor(src)
        if self.m.tensors[x].shape == shape:
            return x
        if len(shape) > om.MAX_RANK:
            self.err(k, f"reshape to rank {len(shape)} > 4 is not representable")
        t = self.m.tensors[x]
        return self.m.add_node("Reshape", [x], t.dtype, shape, (), name or self.g.node[k].output[0],
                               t.scale, t.zero_point)

    # -- trivial ops ------------------------------------------------------------------------------
    def op_Identity(self, k):
        self.alias(k, self.g.node[k].input[0])

    def op_Dropout(self, k):
        self._check_extra_outputs(k)
        self.alias(k, self.g.node[k].input[0])

    def op_Cast(self, k):
        n = self.g.node[k]
        to = self.attr(n, "to")
        dt = self.dtype(n.input[0])
        if (to == ONNX_FLOAT and dt == F32) or (to in (ONNX_INT32, ONNX_INT64) and dt == I32):
            return self.alias(k, n.input[0])
        self.err(k, f"Cast from {om.DTYPE_NAMES[dt]} to ONNX type {to} is not supported (only no-op casts are)")

    # -- dense layers -----------------------------------------------------------------------------
    def _bias_vector(self, k, b: np.ndarray, N: int, what="bias") -> np.ndarray:
        b = np.asarray(b, dtype=np.float32)
        if b.size == 1:
            return np.full(N, b.reshape(()), np.float32)
        if b.size == N and b.shape[-1] == N:
            return b.reshape(N)
        self.err(k, f"{what} of shape {list(b.shape)} does not broadcast as a per-output vector of {N}")
        raise AssertionError

    def _dense(self, k, x: str, W: np.ndarray, b: np.ndarray | None, out_name: str, consumer_chain=True):
        """Emit Dense(x, W (N,K), b) for node k; fuse a following bias Add and Relu if they are
        the only consumers."""
        xs = self.shape(x)
        if self.dtype(x) != F32:
            self.err(k, "Dense input must be float")
        if not xs:
            self.err(k, "Dense input must have rank >= 1")
        N, K = W.shape
        if xs[-1] != K:
            self.err(k, f"input has K={xs[-1]} but the weight is {list(W.shape)}")
        # MatMul -> Add(bias) fusion
        if b is None and consumer_chain:
            a = self.single_consumer(out_name, "Add")
            if a is not None:
                an = self.g.node[a]
                other = an.input[1] if an.input[0] == out_name else an.input[0]
                if other in self.consts:
                    c = self.consts[other]
                    if c.size in (1, N) and (c.size == 1 or c.shape[-1] == N) and c.ndim <= len(xs):
                        b = self._bias_vector(a, c, N)
                        self.skip.add(a)
                        out_name = an.output[0]
        relu = 0
        r = self.single_consumer(out_name, "Relu")
        if r is not None:
            relu = 1
            self.skip.add(r)
            out_name = self.g.node[r].output[0]
        ins = [self.tensor(x), self.m.add_const(out_name + ".weight", W.astype(np.float32))]
        if b is not None:
            ins.append(self.m.add_const(out_name + ".bias", b.astype(np.float32)))
        self.t[out_name] = self.m.add_node("Dense", ins, F32, xs[:-1] + (N,), (relu,), out_name)

    def op_Gemm(self, k):
        n = self.g.node[k]
        A, B = n.input[0], n.input[1]
        C = n.input[2] if len(n.input) > 2 and n.input[2] else None
        alpha, beta = self.attr(n, "alpha", 1.0), self.attr(n, "beta", 1.0)
        if self.attr(n, "transA", 0):
            self.err(k, "transA=1 is not supported")
        if not self.is_const(B):
            self.err(k, "Gemm with a non-constant B is not supported")
        if C is not None and not self.is_const(C):
            self.err(k, "Gemm with a non-constant C is not supported")
        Bm = np.asarray(self.consts[B], dtype=np.float32)
        W = Bm if self.attr(n, "transB", 0) else Bm.T
        if alpha != 1.0:
            W = (W * np.float32(alpha)).astype(np.float32)
        b = None
        if C is not None:
            b = self._bias_vector(k, self.consts[C], W.shape[0], "C")
            if beta != 1.0:
                b = (b * np.float32(beta)).astype(np.float32)
        self._dense(k, A, np.ascontiguousarray(W), b, n.output[0], consumer_chain=C is None)

    def op_MatMul(self, k):
        n = self.g.node[k]
        A, B = n.input
        if self.is_const(A):
            self.err(k, "MatMul with a constant first operand is not supported")
        if self.is_const(B):
            Bm = np.asarray(self.consts[B])
            if Bm.ndim != 2:
                self.err(k, f"MatMul by a constant of rank {Bm.ndim} is not supported (rank 2 is)")
            return self._dense(k, A, np.ascontiguousarray(Bm.T.astype(np.float32)), None, n.output[0])
        sa, sb = self.shape(A), self.shape(B)
        if len(sb) != 2 or len(sa) < 2 or sa[-1] != sb[0]:
            self.err(k, f"MatMul of {list(sa)} by {list(sb)} is not supported (A (..., M, K) by B (K, N) is)")
        self.t[n.output[0]] = self.node_out(k, "MatMul", [self.tensor(A), self.tensor(B)], F32, sa[:-1] + (sb[1],))

    # -- elementwise ------------------------------------------------------------------------------
    def _binary(self, k, op: str, negate_b: bool = False):
        n = self.g.node[k]
        a, b = n.input
        if self.is_const(a) and not self.is_const(b):
            if negate_b:
                self.err(k, "Sub with a constant first operand is not supported")
            a, b = b, a
        sa = self.shape(a)
        if self.dtype(a) != F32 or self.dtype(b) != F32:
            self.err(k, f"{n.op_type} is supported on float tensors only")
        if self.is_const(b):
            c = np.asarray(self.consts[b], dtype=np.float32)
            if negate_b:
                c = -c
            try:
                full = np.broadcast_to(c, sa)
            except ValueError:
                self.err(k, f"operand of shape {list(c.shape)} does not broadcast to {list(sa)}")
            if len(c.shape) > len(sa) or np.broadcast_shapes(c.shape, sa) != sa:
                self.err(k, f"operand of shape {list(c.shape)} would broadcast the input {list(sa)}")
            if sa and np.all(full == full.reshape(-1, sa[-1])[0]):
                vec = np.ascontiguousarray(full.reshape(-1, sa[-1])[0])
                bt = self.m.add_const(n.output[0] + ".b", vec)
            else:
                bt = self.m.add_const(n.output[0] + ".b", np.ascontiguousarray(full))
        else:
            if negate_b:
                self.err(k, "Sub of two non-constant tensors is not supported")
            sb = self.shape(b)
            if not (sb == sa or (sa and sb == (sa[-1],))):
                self.err(k, f"{n.op_type} of {list(sa)} and {list(sb)}: only equal shapes or a last-axis vector are supported")
            bt = self.tensor(b)
        self.t[n.output[0]] = self.node_out(k, op, [self.tensor(a), bt], F32, sa)

    def op_Add(self, k):
        self._binary(k, "Add")

    def op_Sub(self, k):
        self._binary(k, "Add", negate_b=True)

    def op_Mul(self, k):
        n = self.g.node[k]
        # Silu: Mul(x, Sigmoid(x))
        for a, b in ((n.input[0], n.input[1]), (n.input[1], n.input[0])):
            p = self._producer(b)
            if p is not None and self.g.node[p].op_type == "Sigmoid" and self.g.node[p].input[0] == a \
                    and self.consumers.get(b) == [k] and b not in self.graph_outputs:
                self.t[n.output[0]] = self.node_out(k, "Silu", [self.tensor(a)], F32, self.shape(a))
                return
        self._binary(k, "Mul")

    def _producer(self, name: str) -> int | None:
        return self.producers.get(name)

    def op_Sigmoid(self, k):
        n = self.g.node[k]
        # handled by op_Mul when it is the x * sigmoid(x) pattern
        cs = self.consumers.get(n.output[0], [])
        if len(cs) == 1 and self.g.node[cs[0]].op_type == "Mul" and n.input[0] in self.g.node[cs[0]].input \
                and n.output[0] not in self.graph_outputs:
            return
        self.err(k, "operator Sigmoid is supported only as x * Sigmoid(x) (SiLU)")

    def _unary(self, k, op):
        n = self.g.node[k]
        x = n.input[0]
        if op != "Relu" and self.dtype(x) != F32:
            self.err(k, f"{n.op_type} needs a float input")
        self.t[n.output[0]] = self.node_out(k, op, [self.tensor(x)], self.dtype(x), self.shape(x))

    def op_Relu(self, k):
        self._unary(k, "Relu")

    def op_Gelu(self, k):
        n = self.g.node[k]
        if self.attr(n, "approximate", b"none") not in (b"none", "none"):
            self.err(k, "Gelu with approximate='tanh' is not supported (the exact erf form is)")
        self._unary(k, "Gelu")

    def op_Div(self, k):
        # only as the start of the exact GELU pattern (what torch exports for F.gelu below opset 20):
        # Div(x, sqrt2) -> Erf -> Add 1 -> Mul x -> Mul 0.5
        if self._gelu_pattern(k):
            return
        self.err(k, "operator Div is supported only inside the GELU pattern x*0.5*(1+erf(x/sqrt(2)))")

    def op_Erf(self, k):
        self.err(k, "operator Erf is supported only inside the GELU pattern x*0.5*(1+erf(x/sqrt(2)))")

    def _gelu_pattern(self, k) -> bool:
        g = self.g.node
        n = g[k]
        x, c = n.input
        if not self.is_const(c) or np.asarray(self.consts[c]).size != 1:
            return False
        if abs(float(np.asarray(self.consts[c]).reshape(())) - np.sqrt(2.0)) > 1e-5:
            return False
        e = self.single_consumer(n.output[0], "Erf")
        if e is None:
            return False
        a = self.single_consumer(g[e].output[0], "Add")
        if a is None or not self._is_scalar_const(g[a].input, g[e].output[0], 1.0):
            return False
        m1 = self.single_consumer(g[a].output[0], "Mul")
        if m1 is None:
            return False
        others = [i for i in g[m1].input if i != g[a].output[0]]
        if len(others) != 1:
            return False
        if others[0] != x:
            return False
        m2 = self.single_consumer(g[m1].output[0], "Mul")  # (x * (1 + erf)) * 0.5
        if m2 is None or not self._is_scalar_const(g[m2].input, g[m1].output[0], 0.5):
            return False
        last = m2
        if self.dtype(x) != F32:
            return False
        self.skip.update({e, a, m1, last})
        out = g[last].output[0]
        self.t[out] = self.m.add_node("Gelu", [self.tensor(x)], F32, self.shape(x), (), out)
        return True

    def _is_scalar_const(self, ins, other, value) -> bool:
        rest = [i for i in ins if i != other]
        if len(rest) != 1 or not self.is_const(rest[0]):
            return False
        c = np.asarray(self.consts[rest[0]])
        return c.size == 1 and abs(float(c.reshape(())) - value) < 1e-7

    def op_Softmax(self, k):
        n = self.g.node[k]
        r = len(self.shape(n.input[0]))
        axis = self.attr(n, "axis", -1 if self.opset >= 13 else 1)
        if axis < 0:
            axis += r
        if axis != r - 1:
            self.err(k, f"Softmax over axis {axis} of a rank-{r} tensor is not supported (only the last axis is)")
        self._unary(k, "Softmax")

    # -- convolution and pooling ------------------------------------------------------------------
    def _window_attrs(self, k, kernel, allow_pads: bool):
        n = self.g.node[k]
        if len(kernel) != 2:
            self.err(k, f"only 2-D windows are supported (kernel_shape {kernel})")
        strides = self.attr(n, "strides", [1, 1])
        pads = self.attr(n, "pads", [0, 0, 0, 0])
        dil = self.attr(n, "dilations", [1, 1])
        auto = self.attr(n, "auto_pad", b"NOTSET")
        auto = auto.decode() if isinstance(auto, bytes) else auto
        if auto not in ("NOTSET", "VALID"):
            self.err(k, f"auto_pad={auto} is not supported (give explicit pads)")
        if auto == "VALID":
            pads = [0, 0, 0, 0]
        if list(dil) != [1, 1]:
            self.err(k, f"dilations {list(dil)} are not supported")
        if self.attr(n, "ceil_mode", 0):
            self.err(k, "ceil_mode=1 is not supported")
        if pads[0] != pads[2] or pads[1] != pads[3]:
            self.err(k, f"asymmetric pads {list(pads)} are not supported")
        if not allow_pads and any(pads):
            self.err(k, f"pooling with padding {list(pads)} is not supported")
        return list(strides), [pads[0], pads[1]]

    def op_Conv(self, k):
        n = self.g.node[k]
        x, w = n.input[0], n.input[1]
        b = n.input[2] if len(n.input) > 2 and n.input[2] else None
        if not self.is_const(w) or (b is not None and not self.is_const(b)):
            self.err(k, "Conv needs constant weights and bias")
        if self.attr(n, "group", 1) != 1:
            self.err(k, f"group={self.attr(n, 'group')} is not supported")
        W = np.asarray(self.consts[w], dtype=np.float32)
        if W.ndim != 4:
            self.err(k, f"only 2-D convolutions are supported (weight rank {W.ndim})")
        xs = self.shape(x)
        if len(xs) != 4 or xs[1] != W.shape[1]:
            self.err(k, f"input {list(xs)} does not fit weight {list(W.shape)}")
        kernel = self.attr(n, "kernel_shape", list(W.shape[2:]))
        (sh, sw), (ph, pw) = self._window_attrs(k, kernel, True)
        out_name = n.output[0]
        relu = 0
        r = self.single_consumer(out_name, "Relu")
        if r is not None:
            relu = 1
            self.skip.add(r)
            out_name = self.g.node[r].output[0]
        O, _, KH, KW = W.shape
        H2 = (xs[2] + 2 * ph - KH) // sh + 1
        W2 = (xs[3] + 2 * pw - KW) // sw + 1
        if H2 < 1 or W2 < 1:
            self.err(k, "kernel larger than the padded input")
        ins = [self.tensor(x), self.m.add_const(out_name + ".weight", W)]
        if b is not None:
            ins.append(self.m.add_const(out_name + ".bias", self._bias_vector(k, self.consts[b], O)))
        self.t[out_name] = self.m.add_node("Conv2d", ins, F32, (xs[0], O, H2, W2), (sh, sw, ph, pw, relu), out_name)

    def _pool(self, k, op):
        n = self.g.node[k]
        self._check_extra_outputs(k)
        if self.attr(n, "storage_order", 0):
            self.err(k, "storage_order=1 is not supported")
        kernel = self.attr(n, "kernel_shape")
        (sh, sw), _ = self._window_attrs(k, kernel, False)
        x = n.input[0]
        xs = self.shape(x)
        if len(xs) != 4 or xs[2] < kernel[0] or xs[3] < kernel[1]:
            self.err(k, f"input {list(xs)} does not fit the window {kernel}")
        shape = (xs[0], xs[1], (xs[2] - kernel[0]) // sh + 1, (xs[3] - kernel[1]) // sw + 1)
        self.t[n.output[0]] = self.node_out(k, op, [self.tensor(x)], self.dtype(x), shape, (kernel[0], kernel[1], sh, sw))

    def op_MaxPool(self, k):
        self._pool(k, "MaxPool2d")

    def op_AveragePool(self, k):
        self._pool(k, "AvgPool2d")

    def op_GlobalAveragePool(self, k):
        n = self.g.node[k]
        xs = self.shape(n.input[0])
        if len(xs) != 4:
            self.err(k, "only 2-D GlobalAveragePool is supported")
        self.t[n.output[0]] = self.node_out(k, "AvgPool2d", [self.tensor(n.input[0])], F32, (xs[0], xs[1], 1, 1), (xs[2], xs[3], 1, 1))

    # -- shapes -----------------------------------------------------------------------------------
    def op_Flatten(self, k):
        n = self.g.node[k]
        xs = self.shape(n.input[0])
        axis = self.attr(n, "axis", 1)
        if axis < 0:
            axis += len(xs)
        a, b = int(np.prod(xs[:axis])), int(np.prod(xs[axis:]))
        self.t[n.output[0]] = self.reshape_to(k, n.input[0], (a, b))

    def op_Reshape(self, k):
        n = self.g.node[k]
        if not self.is_const(n.input[1]):
            self.err(k, "Reshape with a computed (non-constant) shape is not supported")
        xs = self.shape(n.input[0])
        spec = [int(v) for v in np.asarray(self.consts[n.input[1]]).reshape(-1)]
        allowzero = self.attr(n, "allowzero", 0)
        shape = []
        for i, d in enumerate(spec):
            if d == 0 and not allowzero:
                shape.append(xs[i])
            else:
                shape.append(d)
        if shape.count(-1) > 1:
            self.err(k, f"bad shape {spec}")
        total = int(np.prod(xs))
        if -1 in shape:
            known = int(np.prod([d for d in shape if d != -1]))
            shape[shape.index(-1)] = total // known if known else 0
        if int(np.prod(shape)) != total:
            self.err(k, f"cannot reshape {list(xs)} to {spec}")
        self.t[n.output[0]] = self.reshape_to(k, n.input[0], shape)

    def _axes(self, k, n):
        axes = self.attr(n, "axes")
        if axes is None and len(n.input) > 1 and n.input[1]:
            if not self.is_const(n.input[1]):
                self.err(k, "non-constant axes")
            axes = [int(v) for v in np.asarray(self.consts[n.input[1]]).reshape(-1)]
        return axes

    def op_Squeeze(self, k):
        n = self.g.node[k]
        xs = self.shape(n.input[0])
        axes = self._axes(k, n)
        axes = [a + len(xs) if a < 0 else a for a in axes] if axes is not None else [i for i, d in enumerate(xs) if d == 1]
        self.t[n.output[0]] = self.reshape_to(k, n.input[0], [d for i, d in enumerate(xs) if i not in axes])

    def op_Unsqueeze(self, k):
        n = self.g.node[k]
        xs = list(self.shape(n.input[0]))
        axes = self._axes(k, n)
        r = len(xs) + len(axes)
        axes = sorted(a + r if a < 0 else a for a in axes)
        for a in axes:
            xs.insert(a, 1)
        self.t[n.output[0]] = self.reshape_to(k, n.input[0], xs)

    # -- reductions and the rest ------------------------------------------------------------------
    def op_ArgMax(self, k):
        n = self.g.node[k]
        x = n.input[0]
        xs = self.shape(x)
        axis = self.attr(n, "axis", 0)
        if axis < 0:
            axis += len(xs)
        if axis != len(xs) - 1:
            self.err(k, f"ArgMax over axis {axis} of a rank-{len(xs)} tensor is not supported (only the last axis is)")
        if self.attr(n, "select_last_index", 0):
            self.err(k, "select_last_index=1 is not supported")
        keep = self.attr(n, "keepdims", 1)
        out = n.output[0]
        t = self.m.add_node("Argmax", [self.tensor(x)], I32, xs[:-1], (), out + (".argmax" if keep else ""))
        if keep:
            t = self.m.add_node("Reshape", [t], I32, xs[:-1] + (1,), (), out)
        self.t[out] = t

    def op_ArrayFeatureExtractor(self, k):
        n = self.g.node[k]
        X, Y = n.input
        if self.is_const(X):
            c = np.asarray(self.consts[X]).reshape(-1)
            if c.dtype.kind in "iu" and np.array_equal(c, np.arange(len(c))) and self.dtype(Y) == I32:
                return self.alias(k, Y)  # class labels 0..n-1: the index is the label
            self.err(k, "ArrayFeatureExtractor is supported only for class labels 0..n-1")
        self.err(k, "ArrayFeatureExtractor on a non-constant array is not supported")

    def op_LayerNormalization(self, k):
        n = self.g.node[k]
        self._check_extra_outputs(k)
        x = n.input[0]
        xs = self.shape(x)
        axis = self.attr(n, "axis", -1)
        if axis < 0:
            axis += len(xs)
        if axis != len(xs) - 1:
            self.err(k, f"LayerNormalization over axis {axis} is not supported (only the last axis is)")
        D = xs[-1]
        sc = n.input[1]
        bi = n.input[2] if len(n.input) > 2 and n.input[2] else None
        if not self.is_const(sc) or (bi is not None and not self.is_const(bi)):
            self.err(k, "LayerNormalization needs constant scale and bias")
        gamma = self._bias_vector(k, self.consts[sc], D, "scale")
        beta = self._bias_vector(k, self.consts[bi], D, "bias") if bi else np.zeros(D, np.float32)
        eps = float(self.attr(n, "epsilon", 1e-5))
        out = n.output[0]
        ins = [self.tensor(x), self.m.add_const(out + ".gamma", gamma), self.m.add_const(out + ".beta", beta)]
        self.t[out] = self.node_out(k, "LayerNorm", ins, F32, xs, (om.f32_bits(eps),))

    def op_Gather(self, k):
        n = self.g.node[k]
        data, idx = n.input
        if self.attr(n, "axis", 0) != 0:
            self.err(k, "Gather is supported only on axis 0 (an embedding lookup)")
        if not self.is_const(data) or self.is_const(idx):
            self.err(k, "Gather is supported only as an embedding lookup: constant table, computed ids")
        table = np.asarray(self.consts[data])
        if self.dtype(idx) != I32:
            self.err(k, "Gather ids must be integers")
        table2 = table if table.ndim == 2 else table.reshape(table.shape[0], -1) if table.ndim > 2 else table.reshape(-1, 1)
        ts = self.m.add_const(n.output[0] + ".table", _np_to_const_dtype(table2, "Gather table")[0])
        ids_shape = self.shape(idx)
        out_shape = ids_shape + (table2.shape[1],)
        if len(out_shape) > 4:
            self.err(k, f"embedding output rank {len(out_shape)} > 4")
        want = ids_shape + table.shape[1:]
        nm = n.output[0] if want == out_shape else n.output[0] + ".flat"
        t = self.m.add_node("Embedding", [self.tensor(idx), ts], self.m.tensors[ts].dtype, out_shape, (), nm)
        self.t[n.output[0]] = t
        if want != out_shape:
            self.t[n.output[0]] = self.reshape_to(k, n.output[0], want)


def supported_onnx_ops() -> list[str]:
    ops = sorted(a[3:] for a in dir(OnnxImporter) if a.startswith("op_"))
    return ops + ["Constant", "Shape", "(any op on constants: folded)"]


def import_onnx(path: str, batch: int = 1, input_shapes=None) -> om.Model:
    try:
        import onnx
    except ImportError as e:  # pragma: no cover
        raise ConvertError(f"the onnx package is missing ({e}); run toolchain/scripts/install.sh") from None
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise ConvertError(f"{path}: {e.strerror}") from None
    try:
        mdl = onnx.load_from_string(raw)
    except Exception as e:  # noqa: BLE001
        raise ConvertError(f"{path}: not a valid ONNX model ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
    if not mdl.graph.node and not mdl.graph.output:
        raise ConvertError(f"{path}: not a valid ONNX model (empty graph)")
    try:
        onnx.checker.check_model(mdl)
    except Exception as e:  # noqa: BLE001
        raise ConvertError(f"{path}: ONNX checker: {str(e).splitlines()[0]}") from None
    return OnnxImporter(mdl, batch, input_shapes).run()


# =================================================================================================
# npz / safetensors + JSON architecture
# =================================================================================================

ARCH_HELP = """architecture JSON: {"input": {"name": "x", "shape": [1, 784], "dtype": "f32"},
 "layers": [{"op": "dense", "weight": "fc1.w", "bias": "fc1.b", "relu": true}, ...],
 "outputs": ["logits", "class"]}   (see README.md)"""


def load_weights(path: str, fmt: str) -> dict[str, np.ndarray]:
    try:
        if fmt == "npz":
            with np.load(path, allow_pickle=False) as z:
                return {k: np.asarray(z[k]) for k in z.files}
        try:
            from safetensors.numpy import load_file
        except ImportError:
            raise ConvertError("the safetensors package is not installed") from None
        return dict(load_file(path))
    except ConvertError:
        raise
    except FileNotFoundError:
        raise ConvertError(f"{path}: no such file") from None
    except Exception as e:  # noqa: BLE001
        raise ConvertError(f"{path}: not a valid {fmt} file ({type(e).__name__}: {e})") from None


def import_arch(weights: dict[str, np.ndarray], arch: dict) -> om.Model:
    m = om.Model()

    def bad(msg):
        raise ConvertError(f"architecture: {msg}")

    if not isinstance(arch, dict) or "layers" not in arch or "input" not in arch:
        bad("needs 'input' and 'layers'")
    inp = arch["input"]
    try:
        dt = {"f32": F32, "i32": I32}[inp.get("dtype", "f32")]
        shape = [int(d) for d in inp["shape"]]
    except (KeyError, TypeError, ValueError):
        bad("input needs 'shape' (list of ints) and dtype f32 or i32")
    if len(shape) > 4:
        bad("input rank > 4")
    cur = m.add_input(inp.get("name", "input"), dt, shape)
    named: dict[str, int] = {}
    used = set()

    def W(name, layer_i, want_rank=None):
        if name not in weights:
            bad(f"layer {layer_i}: weight '{name}' is not in the weights file (it has: {', '.join(sorted(weights)[:20])})")
        used.add(name)
        a = np.asarray(weights[name])
        if a.dtype.kind != "f":
            bad(f"layer {layer_i}: weight '{name}' is {a.dtype}, expected floats")
        if want_rank is not None and a.ndim != want_rank:
            bad(f"layer {layer_i}: weight '{name}' has shape {list(a.shape)}, expected rank {want_rank}")
        return a.astype(np.float32)

    for i, L in enumerate(arch["layers"]):
        if not isinstance(L, dict) or "op" not in L:
            bad(f"layer {i}: needs an 'op'")
        op = L["op"]
        nm = L.get("name", f"layer{i}")
        t = m.tensors[cur]
        xs = t.shape
        try:
            if op == "dense":
                w = W(L["weight"], i, 2)
                if L.get("transpose"):
                    w = np.ascontiguousarray(w.T)
                if not xs or xs[-1] != w.shape[1]:
                    bad(f"layer {i}: input {list(xs)} does not fit weight (N, K) = {list(w.shape)}")
                ins = [cur, m.add_const(nm + ".weight", w)]
                if L.get("bias"):
                    b = W(L["bias"], i).reshape(-1)
                    if b.shape != (w.shape[0],):
                        bad(f"layer {i}: bias has {b.size} values, expected {w.shape[0]}")
                    ins.append(m.add_const(nm + ".bias", b))
                cur = m.add_node("Dense", ins, F32, xs[:-1] + (w.shape[0],), (int(bool(L.get("relu"))),), nm)
            elif op == "conv2d":
                w = W(L["weight"], i, 4)
                sh, sw = L.get("stride", [1, 1])
                ph, pw = L.get("pad", [0, 0])
                if len(xs) != 4 or xs[1] != w.shape[1]:
                    bad(f"layer {i}: input {list(xs)} does not fit weight {list(w.shape)}")
                ins = [cur, m.add_const(nm + ".weight", w)]
                if L.get("bias"):
                    b = W(L["bias"], i).reshape(-1)
                    if b.shape != (w.shape[0],):
                        bad(f"layer {i}: bias has {b.size} values, expected {w.shape[0]}")
                    ins.append(m.add_const(nm + ".bias", b))
                H2 = (xs[2] + 2 * ph - w.shape[2]) // sh + 1
                W2 = (xs[3] + 2 * pw - w.shape[3]) // sw + 1
                cur = m.add_node("Conv2d", ins, F32, (xs[0], w.shape[0], H2, W2), (sh, sw, ph, pw, int(bool(L.get("relu")))), nm)
            elif op in ("maxpool2d", "avgpool2d"):
                kh, kw = L["kernel"]
                sh, sw = L.get("stride", [kh, kw])
                if len(xs) != 4 or xs[2] < kh or xs[3] < kw:
                    bad(f"layer {i}: input {list(xs)} does not fit the window")
                cur = m.add_node("MaxPool2d" if op == "maxpool2d" else "AvgPool2d", [cur], t.dtype,
                                 (xs[0], xs[1], (xs[2] - kh) // sh + 1, (xs[3] - kw) // sw + 1), (kh, kw, sh, sw), nm)
            elif op in ("relu", "gelu", "silu", "softmax"):
                cur = m.add_node(op.capitalize(), [cur], t.dtype, xs, (), nm)
            elif op == "argmax":
                cur = m.add_node("Argmax", [cur], I32, xs[:-1], (), nm)
            elif op in ("flatten", "reshape"):
                if op == "flatten":
                    shape2 = (xs[0], int(np.prod(xs[1:]))) if xs else (1,)
                else:
                    shape2 = [int(d) for d in L["shape"]]
                    if shape2.count(-1) == 1:
                        known = int(np.prod([d for d in shape2 if d != -1]))
                        shape2[shape2.index(-1)] = t.numel // known
                if int(np.prod(shape2)) != t.numel:
                    bad(f"layer {i}: cannot reshape {list(xs)} to {list(shape2)}")
                cur = m.add_node("Reshape", [cur], t.dtype, shape2, (), nm)
            elif op in ("layernorm", "rmsnorm"):
                g = W(L["weight"], i).reshape(-1)
                if not xs or g.shape != (xs[-1],):
                    bad(f"layer {i}: weight must have {xs[-1] if xs else '?'} values")
                ins = [cur, m.add_const(nm + ".gamma", g)]
                if op == "layernorm":
                    b = W(L["bias"], i).reshape(-1) if L.get("bias") else np.zeros_like(g)
                    ins.append(m.add_const(nm + ".beta", b))
                eps = float(L.get("eps", 1e-5))
                cur = m.add_node("LayerNorm" if op == "layernorm" else "RmsNorm", ins, F32, xs, (om.f32_bits(eps),), nm)
            elif op == "embedding":
                tab = W(L["weight"], i, 2)
                if t.dtype != I32:
                    bad(f"layer {i}: embedding needs i32 ids")
                cur = m.add_node("Embedding", [cur, m.add_const(nm + ".table", tab)], F32, xs + (tab.shape[1],), (), nm)
            elif op in ("add", "mul", "matmul"):
                if "weight" in L:
                    other = m.add_const(nm + ".b", W(L["weight"], i))
                elif L.get("input") in named:
                    other = named[L["input"]]
                else:
                    bad(f"layer {i}: {op} needs 'weight' (a constant) or 'input' (an earlier layer's name)")
                ob = m.tensors[other].shape
                if op == "matmul":
                    cur = m.add_node("MatMul", [cur, other], F32, xs[:-1] + (ob[-1],), (), nm)
                else:
                    cur = m.add_node(op.capitalize(), [cur, other], F32, xs, (), nm)
            else:
                bad(f"layer {i}: unknown op '{op}' (dense, conv2d, maxpool2d, avgpool2d, relu, gelu, silu, softmax, argmax, "
                    "flatten, reshape, layernorm, rmsnorm, embedding, add, mul, matmul)")
        except KeyError as e:
            bad(f"layer {i} ({op}): missing field {e}")
        except (TypeError, ValueError) as e:
            bad(f"layer {i} ({op}): {e}")
        named[nm] = cur
        if L.get("output"):
            m.outputs.append(cur)
    if not m.outputs:
        m.outputs.append(cur)
    unused = sorted(set(weights) - used)
    if unused and arch.get("strict", True):
        bad(f"weights not used by any layer: {', '.join(unused[:10])}")
    try:
        reference.check_model(m)
    except om.FormatError as e:
        bad(str(e))
    return m


# =================================================================================================
# post-training int8 quantization
# =================================================================================================

def activation_qparams(lo: float, hi: float) -> tuple[float, int]:
    """Asymmetric u8-style range over i8: scale = (hi - lo) / 255 (the range always includes 0),
    zero point so that lo maps to -128."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if hi - lo <= 0 or not np.isfinite(hi - lo):
        return 1.0, 0
    scale = float(np.float32((hi - lo) / 255.0))
    zp = int(np.clip(round(-128 - lo / scale), -128, 127))
    return scale, zp


def weight_qparams(w: np.ndarray) -> tuple[np.ndarray, float]:
    amax = float(np.abs(w).max()) if w.size else 0.0
    scale = float(np.float32(amax / 127.0)) if amax > 0 else 1.0
    q = np.clip(np.rint(w.astype(np.float64) / scale), -127, 127).astype(np.int8)
    return q, scale


def calibrate(model: om.Model, data: np.ndarray) -> dict[int, tuple[float, float]]:
    """min/max of every f32 tensor over the calibration batch."""
    ranges = {}
    for s in range(0, len(data), 512):
        V = reference.evaluate(model, [data[s:s + 512]], batched=True)
        for i, v in V.items():
            if model.tensors[i].dtype == F32 and model.tensors[i].kind != om.CONST:
                lo, hi = float(v.min()), float(v.max())
                if i in ranges:
                    lo, hi = min(lo, ranges[i][0]), max(hi, ranges[i][1])
                ranges[i] = (lo, hi)
    return ranges


def quantize(fm: om.Model, calib: np.ndarray) -> om.Model:
    """int8 version of a float model: Dense/Conv2d with constant weights become i8 layers
    (per-tensor symmetric weights, i32 bias, calibrated activation ranges, fused ReLU); pooling,
    reshapes and ReLU follow their i8 input; every other op stays f32 behind a Dequantize.
    Quantize nodes are inserted where an i8 layer first reads a float tensor (the graph input)."""
    if len(fm.inputs) != 1 or fm.tensors[fm.inputs[0]].dtype != F32:
        raise ConvertError("quantization needs a model with a single f32 input")
    ranges = calibrate(fm, calib)
    qm = om.Model()
    fver: dict[int, int] = {}
    qver: dict[int, int] = {}

    def name(i):
        return fm.tensors[i].name or f"t{i}"

    for i in fm.inputs:
        t = fm.tensors[i]
        fver[i] = qm.add_input(t.name, t.dtype, t.shape)

    def need_f32(i):
        if i in fver:
            return fver[i]
        t = fm.tensors[i]
        if t.kind == om.CONST:
            fver[i] = qm.add_const(t.name, t.data, t.dtype, t.scale, t.zero_point)
        elif i in qver:
            q = qm.tensors[qver[i]]
            fver[i] = qm.add_node("Dequantize", [qver[i]], F32, q.shape, (), name(i) + ".dq")
        else:
            raise AssertionError(i)
        return fver[i]

    def need_i8(i):
        if i in qver:
            return qver[i]
        f = need_f32(i)
        sc, zp = activation_qparams(*ranges[i])
        qver[i] = qm.add_node("Quantize", [f], I8, fm.tensors[i].shape, (), name(i) + ".q", sc, zp)
        return qver[i]

    for n in fm.nodes:
        out = fm.tensors[n.output]
        ins = [fm.tensors[i] for i in n.inputs]
        if n.op in ("Dense", "Conv2d") and ins[0].dtype == F32 and ins[1].kind == om.CONST \
                and all(t.kind == om.CONST for t in ins[2:]):
            x = need_i8(n.inputs[0])
            sx = qm.tensors[x].scale
            wq, sw = weight_qparams(np.asarray(ins[1].data))
            so, zo = activation_qparams(*ranges[n.output])
            q_ins = [x, qm.add_const(ins[1].name, wq, I8, sw, 0)]
            if len(ins) > 2:
                sb = sx * sw
                bq = np.rint(np.asarray(ins[2].data, np.float64) / sb)
                if np.abs(bq).max(initial=0) >= 2**31:
                    raise ConvertError(f"{n.op} '{n.name}': quantized bias overflows i32")
                q_ins.append(qm.add_const(ins[2].name, bq.astype(np.int32), I32, sb, 0))
            try:
                m0, s = om.quantize_multiplier(sx * sw / so)
            except ValueError as e:
                raise ConvertError(f"{n.op} '{n.name}': {e}") from None
            if n.op == "Dense":
                params = (m0, s, n.params[0])
            else:
                params = tuple(n.params[:4]) + (m0, s, n.params[4])
            qver[n.output] = qm.add_node(n.op, q_ins, I8, out.shape, params, out.name, so, zo)
        elif n.op in ("MaxPool2d", "AvgPool2d", "Reshape", "Relu") and n.inputs[0] in qver and n.inputs[0] not in fver:
            xq = qver[n.inputs[0]]
            t = qm.tensors[xq]
            qver[n.output] = qm.add_node(n.op, [xq], I8, out.shape, n.params, out.name, t.scale, t.zero_point)
        else:
            new_ins = [need_f32(i) for i in n.inputs]
            fver[n.output] = qm.add_node(n.op, new_ins, out.dtype, out.shape, n.params, out.name, out.scale, out.zero_point)
    for i in fm.outputs:
        qm.outputs.append(need_f32(i) if fm.tensors[i].dtype != I8 else qver[i])
    try:
        reference.check_model(qm)
    except om.FormatError as e:
        raise ConvertError(f"quantized graph is invalid: {e}") from None
    return qm


def load_calibration(path: str, model: om.Model) -> np.ndarray:
    try:
        a = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ConvertError(f"{path}: no such file") from None
    except Exception as e:  # noqa: BLE001
        raise ConvertError(f"{path}: not a .npy array ({type(e).__name__}: {e})") from None
    if not isinstance(a, np.ndarray) or a.dtype.kind not in "fiu":
        raise ConvertError(f"{path}: calibration data must be a numeric .npy array")
    shape = model.tensors[model.inputs[0]].shape
    a = a.astype(np.float32)
    if tuple(a.shape[1:]) == tuple(shape):
        return a
    if shape and shape[0] == 1 and tuple(a.shape[1:]) == tuple(shape[1:]):
        return a.reshape((a.shape[0],) + tuple(shape))
    if shape and int(np.prod(a.shape[1:])) == int(np.prod(shape)):
        return a.reshape((a.shape[0],) + tuple(shape))
    raise ConvertError(f"{path}: calibration array {list(a.shape)} does not match the model input {list(shape)} "
                       f"(want [count, {', '.join(map(str, shape))}])")


# =================================================================================================
# CLI
# =================================================================================================

def _parse_shapes(items) -> dict:
    out = {}
    for it in items or []:
        if "=" not in it:
            raise ConvertError(f"--input-shape wants NAME=D0,D1,..., got {it!r}")
        k, v = it.split("=", 1)
        try:
            out[k] = [int(d) for d in v.split(",")]
        except ValueError:
            raise ConvertError(f"--input-shape {it!r}: dims must be integers") from None
    return out


def finish(model: om.Model, args) -> None:
    if args.quantize:
        if not args.calibration:
            raise ConvertError("--quantize needs --calibration DATA.npy")
        model = quantize(model, load_calibration(args.calibration, model))
    try:
        om.write(model, args.output)
    except OSError as e:
        raise ConvertError(f"{args.output}: {e.strerror}") from None
    if not args.quiet:
        print(model.summary(), file=sys.stderr)
        print(f"wrote {args.output} ({os.path.getsize(args.output)} bytes)", file=sys.stderr)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="convert.py", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p):
        p.add_argument("-o", "--output", required=True, help="the .opml file to write")
        p.add_argument("--quantize", action="store_true", help="post-training int8 quantization")
        p.add_argument("--calibration", help=".npy array of calibration inputs (for --quantize)")
        p.add_argument("-q", "--quiet", action="store_true")

    p = sub.add_parser("onnx", help="convert an ONNX model")
    p.add_argument("model")
    p.add_argument("--batch", type=int, default=1, help="value of a dynamic first (batch) dimension (default 1)")
    p.add_argument("--input-shape", action="append", metavar="NAME=D0,D1,...", help="fix an input's shape")
    common(p)
    for fmt in ("npz", "safetensors"):
        p = sub.add_parser(fmt, help=f"convert {fmt} weights with a JSON architecture", epilog=ARCH_HELP)
        p.add_argument("weights")
        p.add_argument("--arch", required=True, help="architecture JSON")
        common(p)
    p = sub.add_parser("info", help="print a summary of an .opml file")
    p.add_argument("model")
    p = sub.add_parser("eval", help="evaluate an .opml file (numpy reference) on a .npy batch")
    p.add_argument("model")
    p.add_argument("--data", required=True)
    p.add_argument("--labels")
    args = ap.parse_args(argv)

    try:
        if args.cmd == "onnx":
            finish(import_onnx(args.model, args.batch, _parse_shapes(args.input_shape)), args)
        elif args.cmd in ("npz", "safetensors"):
            try:
                with open(args.arch) as f:
                    arch = json.load(f)
            except OSError as e:
                raise ConvertError(f"{args.arch}: {e.strerror}") from None
            except json.JSONDecodeError as e:
                raise ConvertError(f"{args.arch}: invalid JSON ({e})") from None
            finish(import_arch(load_weights(args.weights, args.cmd), arch), args)
        elif args.cmd == "info":
            print(read_model(args.model).summary())
        elif args.cmd == "eval":
            m = read_model(args.model)
            x = load_calibration(args.data, m)
            outs = [reference.outputs(m, [x[s:s + 500]], batched=True) for s in range(0, len(x), 500)]
            outs = [np.concatenate([o[j] for o in outs]) for j in range(len(m.outputs))]
            if args.labels:
                y = np.load(args.labels).reshape(-1)
                pred = next((o for o, i in zip(outs, m.outputs) if m.tensors[i].dtype == I32), None)
                if pred is None:
                    pred = np.argmax(outs[0].reshape(len(x), -1), axis=-1)
                acc = float(np.mean(pred.reshape(len(x)) == y))
                print(json.dumps({"accuracy": acc, "count": len(x)}))
            else:
                for i, o in zip(m.outputs, outs):
                    print(f"t{i}: {o.tolist()}")
    except ConvertError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # noqa: BLE001  (never a traceback; still say it is a bug)
        print(f"error: internal error ({type(e).__name__}: {e})", file=sys.stderr)
        return EXIT_USAGE
    return 0


def read_model(path: str) -> om.Model:
    try:
        m = om.read(path)
        reference.check_model(m)
        return m
    except FileNotFoundError:
        raise ConvertError(f"{path}: no such file") from None
    except om.FormatError as e:
        raise ConvertError(f"{path}: {e}") from None


if __name__ == "__main__":
    sys.exit(main())
