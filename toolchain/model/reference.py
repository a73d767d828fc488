"""The numpy reference evaluator of `.opml` v1 models: docs/dnn.md's semantics, exactly.

f32 operations run as float32 numpy operations in the spec's order (one accumulator, ascending
reduced index, bias first, no fused multiply-add), so every `+ - * / sqrt` rounds as in Rust.
`exp` and `erf` are ports of the `libm` crate's `expf` and `erff` (0.2.x, from FreeBSD msun),
operation by operation, so Softmax, Silu and Gelu are bit-identical too. The quantized path is
integer arithmetic with the spec's rounding.

Evaluation is batched for speed: every value carries one extra leading axis (size B, or 1 for
constants) that the model knows nothing about; each batch row is computed exactly as a separate
run would compute it.
"""

from __future__ import annotations

import numpy as np

import opml_model as om
from opml_model import F32, I8, I32, FormatError

f32 = np.float32
CANONICAL_NAN = np.array([0x7FC0_0000], dtype=np.uint32).view(np.float32)[0]
MAX_K = 1 << 16


def canonical(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=np.float32)
    if np.isnan(y).any():
        y = np.where(np.isnan(y), CANONICAL_NAN, y)
    return y


# -- libm ports (f32) -----------------------------------------------------------------------------

def _bits(x):
    return np.asarray(x, np.float32).view(np.uint32)


def _scalbnf(y: np.ndarray, k: np.ndarray) -> np.ndarray:
    """y * 2^k rounded once to f32 (what libm's scalbnf computes: its prescaling is exact)."""
    return (y.astype(np.float64) * np.ldexp(1.0, k.astype(np.int64))).astype(np.float32)


_E_HALF = (f32(0.5), f32(-0.5))
_LN2_HI = f32(6.9314575195e-01)
_LN2_LO = f32(1.4286067653e-06)
_INV_LN2 = f32(1.4426950216e+00)
_P1 = f32(1.6666625440e-1)
_P2 = f32(-2.7667332906e-3)


def expf(x) -> np.ndarray:
    """libm::expf, elementwise."""
    x = np.array(x, dtype=np.float32, ndmin=1)
    with np.errstate(all="ignore"):
        bits = _bits(x)
        sign = (bits >> 31).astype(np.int32)
        hx = bits & np.uint32(0x7FFFFFFF)
        half = np.where(sign == 1, _E_HALF[1], _E_HALF[0]).astype(np.float32)
        big = hx > 0x3F851592
        kb = np.trunc(_INV_LN2 * x + half)
        kb = np.where(big & (hx < 0x42D00000), kb, 0).astype(np.int32)  # bounded where used
        k_red = np.where(big, kb, 1 - sign - sign).astype(np.int32)
        red = hx > 0x3EB17218
        k = np.where(red, k_red, 0).astype(np.int32)
        kf = k.astype(np.float32)
        hi = np.where(red, x - kf * _LN2_HI, x).astype(np.float32)
        lo = np.where(red, kf * _LN2_LO, f32(0)).astype(np.float32)
        xr = np.where(red, hi - lo, x).astype(np.float32)
        xx = xr * xr
        c = xr - xx * (_P1 + xx * _P2)
        y = f32(1) + (xr * c / (f32(2) - c) - lo + hi)
        y = np.where(k == 0, y, _scalbnf(y, k)).astype(np.float32)
        # |x| <= 2^-14
        y = np.where(hx <= 0x39000000, f32(1) + x, y)
        # special cases
        y = np.where((hx >= 0x42AEAC50) & (sign == 1) & (hx >= 0x42CFF1B5), f32(0), y)
        y = np.where((hx >= 0x42B17218) & (sign == 0), x * f32(2.0**127), y)
        y = np.where(hx > 0x7F800000, x, y)
    return y.astype(np.float32)


_ERX = f32(8.4506291151e-01)
_EFX8 = f32(1.0270333290e+00)
_PP = [f32(v) for v in (1.2837916613e-01, -3.2504209876e-01, -2.8481749818e-02, -5.7702702470e-03, -2.3763017452e-05)]
_QQ = [f32(v) for v in (3.9791721106e-01, 6.5022252500e-02, 5.0813062117e-03, 1.3249473704e-04, -3.9602282413e-06)]
_PA = [f32(v) for v in (-2.3621185683e-03, 4.1485610604e-01, -3.7220788002e-01, 3.1834661961e-01, -1.1089469492e-01,
                        3.5478305072e-02, -2.1663755178e-03)]
_QA = [f32(v) for v in (1.0642088205e-01, 5.4039794207e-01, 7.1828655899e-02, 1.2617121637e-01, 1.3637083583e-02,
                        1.1984500103e-02)]
_RA = [f32(v) for v in (-9.8649440333e-03, -6.9385856390e-01, -1.0558626175e+01, -6.2375331879e+01, -1.6239666748e+02,
                        -1.8460508728e+02, -8.1287437439e+01, -9.8143291473e+00)]
_SA = [f32(v) for v in (1.9651271820e+01, 1.3765776062e+02, 4.3456588745e+02, 6.4538726807e+02, 4.2900814819e+02,
                        1.0863500214e+02, 6.5702495575e+00, -6.0424413532e-02)]
_RB = [f32(v) for v in (-9.8649431020e-03, -7.9928326607e-01, -1.7757955551e+01, -1.6063638306e+02, -6.3756646729e+02,
                        -1.0250950928e+03, -4.8351919556e+02)]
_SB = [f32(v) for v in (3.0338060379e+01, 3.2579251099e+02, 1.5367296143e+03, 3.1998581543e+03, 2.5530502930e+03,
                        4.7452853394e+02, -2.2440952301e+01)]


def _horner(c0, s, coeffs):
    """c0 + s*(c1 + s*(c2 + ...)) evaluated innermost first, as the C source nests it."""
    acc = coeffs[-1]
    for c in reversed(coeffs[:-1]):
        acc = c + s * acc
    return c0 + s * acc


def erff(x) -> np.ndarray:
    """libm::erff, elementwise."""
    x = np.array(x, dtype=np.float32, ndmin=1)
    one = f32(1)
    with np.errstate(all="ignore"):
        bits = _bits(x)
        sign = bits >> 31
        ix = bits & np.uint32(0x7FFFFFFF)
        ax = np.abs(x)
        # |x| < 0.84375
        z = x * x
        r = _horner(_PP[0], z, _PP[1:])
        s = _horner(one, z, _QQ)
        y_small = x + x * (r / s)
        y_tiny = f32(0.125) * (f32(8.0) * x + _EFX8 * x)
        # erfc1 (0.84375 <= |x| < 1.25)
        s1 = ax - one
        p = _horner(_PA[0], s1, _PA[1:])
        q = _horner(one, s1, _QA)
        erfc1 = one - _ERX - p / q
        # erfc2 (1.25 <= |x| < 6)
        s2 = one / (ax * ax)
        ra = _horner(_RA[0], s2, _RA[1:])
        sa = _horner(one, s2, _SA)
        rb = _horner(_RB[0], s2, _RB[1:])
        sb = _horner(one, s2, _SB)
        lt = ix < 0x4036DB6D
        rr = np.where(lt, ra, rb).astype(np.float32)
        ss = np.where(lt, sa, sb).astype(np.float32)
        zz = (_bits(ax) & np.uint32(0xFFFFE000)).view(np.float32)
        erfc2 = expf(-zz * zz - f32(0.5625)) * expf((zz - ax) * (zz + ax) + rr / ss) / ax
        erfc = np.where(ix < 0x3FA00000, erfc1, erfc2).astype(np.float32)
        y_mid = one - erfc
        y_big = one - np.array([0x03800000], np.uint32).view(np.float32)[0]
        y_hi = np.where(ix < 0x40C00000, y_mid, y_big).astype(np.float32)
        y_hi = np.where(sign == 1, -y_hi, y_hi)
        y = np.where(ix < 0x3F580000, np.where(ix < 0x31800000, y_tiny, y_small), y_hi)
        y_inf = one - f32(2) * sign.astype(np.float32) + one / x
        y = np.where(ix >= 0x7F800000, y_inf, y)
    return y.astype(np.float32)


def rintf(x) -> np.ndarray:
    """Round half to even (libm::rintf in the default rounding mode)."""
    return np.rint(np.asarray(x, dtype=np.float32)).astype(np.float32)


# -- integer helpers ------------------------------------------------------------------------------

def round_half_away_shift(v: np.ndarray, n: int) -> np.ndarray:
    """sign(v) * ((|v| + 2^(n-1)) >> n), in i64."""
    v = np.asarray(v, dtype=np.int64)
    a = (np.abs(v) + (np.int64(1) << np.int64(n - 1))) >> np.int64(n)
    return np.where(v < 0, -a, a)


def requant(acc: np.ndarray, m0: int, s: int, zp_out: int, relu: bool) -> np.ndarray:
    acc = np.asarray(acc, dtype=np.int64)
    if acc.size and (acc.max() >= 2**31 or acc.min() < -(2**31)):
        raise FormatError("i32 accumulator overflow")
    r = round_half_away_shift(acc * np.int64(m0), 31 + s)
    lo = zp_out if relu else -128
    return np.clip(zp_out + r, lo, 127).astype(np.int8)


def _relu_f32(y):
    # `if x < 0 { 0 } else { x }`: -0.0 and NaN pass through (NaN then canonicalized)
    return np.where(y < 0, f32(0), y).astype(np.float32)


# -- shape and dtype rules ------------------------------------------------------------------------

def infer(model: om.Model, k: int) -> tuple[int, tuple[int, ...]]:
    """Check node k against the spec's rules; return the (dtype, shape) its output must have."""
    n = model.nodes[k]
    T = [model.tensors[i] for i in n.inputs]
    p = n.params
    where = f"node {k} ({n.op}{' ' + repr(n.name) if n.name and not n.name.startswith('n') else ''})"

    def fail(msg):
        raise FormatError(f"{where}: {msg}")

    def need(cond, msg):
        if not cond:
            fail(msg)

    def dt(t):
        return om.DTYPE_NAMES[t.dtype]

    op = n.op
    if op in ("Dense", "Conv2d"):
        x, w = T[0], T[1]
        b = T[2] if len(T) > 2 else None
        if op == "Dense":
            need(len(x.shape) >= 1 and len(w.shape) == 2, f"needs x (..., K) and W (N, K), got {list(x.shape)} and {list(w.shape)}")
            N, K = w.shape
            need(x.shape[-1] == K, f"x has K={x.shape[-1]} but W is {list(w.shape)}")
            shape = x.shape[:-1] + (N,)
            relu_at = 0 if x.dtype == F32 else 2
        else:
            need(len(x.shape) == 4 and len(w.shape) == 4, f"needs x (N,C,H,W) and W (O,C,KH,KW), got {list(x.shape)} and {list(w.shape)}")
            O, C, KH, KW = w.shape
            need(x.shape[1] == C, f"x has C={x.shape[1]} but W is {list(w.shape)}")
            sh, sw, ph, pw = p[0], p[1], p[2], p[3]
            need(sh >= 1 and sw >= 1 and ph >= 0 and pw >= 0, f"bad stride/pad {p[:4]}")
            need(ph < KH and pw < KW, f"padding {ph, pw} must be smaller than the kernel {KH, KW}")
            H2 = (x.shape[2] + 2 * ph - KH) // sh + 1
            W2 = (x.shape[3] + 2 * pw - KW) // sw + 1
            need(x.shape[2] + 2 * ph >= KH and x.shape[3] + 2 * pw >= KW, "kernel larger than the padded input")
            shape = (x.shape[0], O, H2, W2)
            N, K = O, C * KH * KW
            relu_at = 4 if x.dtype == F32 else 6
        need(b is None or b.shape == (N,), f"bias must be ({N},), got {list(b.shape) if b else None}")
        need(p[relu_at] in (0, 1), f"relu flag must be 0/1, got {p[relu_at]}")
        if x.dtype == F32:
            need(w.dtype == F32 and (b is None or b.dtype == F32), "f32 layer needs f32 weights and bias")
            return F32, shape
        need(x.dtype == I8 and w.dtype == I8 and w.zero_point == 0, f"quantized layer needs i8 x and symmetric i8 W, got {dt(x)}, {dt(w)} zp={w.zero_point}")
        need(b is None or (b.dtype == I32 and b.zero_point == 0), "quantized layer needs an i32 bias with zero point 0")
        need(K <= MAX_K, f"reduced length {K} > 2^16")
        m0, s = p[relu_at - 2], p[relu_at - 1]
        need(m0 == 0 or (1 << 30) <= m0 < (1 << 31), f"m0 {m0} out of range")
        need(-31 < s < 32, f"shift {s} out of range")
        return I8, shape
    if op in ("Relu", "Gelu", "Silu", "Softmax"):
        x = T[0]
        if op == "Relu":
            need(x.dtype in (F32, I8), f"Relu of {dt(x)}")
            return x.dtype, x.shape
        need(x.dtype == F32, f"{op} needs f32, got {dt(x)}")
        need(op != "Softmax" or len(x.shape) >= 1, "Softmax of a scalar")
        return F32, x.shape
    if op in ("MaxPool2d", "AvgPool2d"):
        x = T[0]
        need(len(x.shape) == 4 and x.dtype in (F32, I8), f"needs f32/i8 (N,C,H,W), got {dt(x)}{list(x.shape)}")
        kh, kw, sh, sw = p[:4]
        need(kh >= 1 and kw >= 1 and sh >= 1 and sw >= 1, f"bad kernel/stride {p[:4]}")
        need(x.shape[2] >= kh and x.shape[3] >= kw, "kernel larger than the input")
        return x.dtype, (x.shape[0], x.shape[1], (x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1)
    if op == "Argmax":
        x = T[0]
        need(len(x.shape) >= 1 and x.shape[-1] >= 1, "Argmax needs a non-empty last axis")
        return I32, x.shape[:-1]
    if op in ("LayerNorm", "RmsNorm"):
        x = T[0]
        need(x.dtype == F32 and len(x.shape) >= 1, f"{op} needs f32 (..., D)")
        D = x.shape[-1]
        for g in T[1:]:
            need(g.dtype == F32 and g.shape == (D,), f"gamma/beta must be f32 ({D},)")
        return F32, x.shape
    if op == "Embedding":
        ids, table = T
        need(ids.dtype == I32 and len(ids.shape) <= 3, f"ids must be i32 of rank <= 3, got {dt(ids)}{list(ids.shape)}")
        need(len(table.shape) == 2, f"table must be (V, D), got {list(table.shape)}")
        need(table.dtype in (F32, I8), f"table must be f32 or i8, got {dt(table)}")
        return table.dtype, ids.shape + (table.shape[1],)
    if op in ("Add", "Mul"):
        a, b = T
        need(a.dtype == F32 and b.dtype == F32, f"{op} is f32 only")
        need(b.shape == a.shape or (len(a.shape) >= 1 and b.shape == (a.shape[-1],)),
             f"b {list(b.shape)} must equal a {list(a.shape)} or be ({a.shape[-1] if a.shape else '?'},)")
        return F32, a.shape
    if op == "MatMul":
        a, b = T
        need(a.dtype == F32 and b.dtype == F32, "MatMul is f32 only")
        need(len(a.shape) >= 2 and len(b.shape) == 2 and a.shape[-1] == b.shape[0],
             f"needs A (..., M, K) and B (K, N), got {list(a.shape)} and {list(b.shape)}")
        return F32, a.shape[:-1] + (b.shape[1],)
    if op == "Reshape":
        return T[0].dtype, model.tensors[n.output].shape  # count checked by the caller
    if op == "Quantize":
        need(T[0].dtype == F32, "Quantize needs f32")
        return I8, T[0].shape
    if op == "Dequantize":
        need(T[0].dtype == I8, "Dequantize needs i8")
        return F32, T[0].shape
    fail("unknown op")
    raise AssertionError


def check_model(model: om.Model) -> None:
    om.validate(model)
    for k, n in enumerate(model.nodes):
        dtype, shape = infer(model, k)
        out = model.tensors[n.output]
        where = f"node {k} ({n.op})"
        if n.op == "Reshape":
            if out.numel != model.tensors[n.inputs[0]].numel:
                raise FormatError(f"{where}: element count changes ({model.tensors[n.inputs[0]].shape} -> {out.shape})")
        if out.dtype != dtype or tuple(out.shape) != tuple(shape):
            raise FormatError(f"{where}: output is {om.DTYPE_NAMES[out.dtype]}{list(out.shape)}, the op gives "
                              f"{om.DTYPE_NAMES[dtype]}{list(shape)}")
        # data-moving ops keep an i8 input's quantization
        src = {"Relu": 0, "MaxPool2d": 0, "AvgPool2d": 0, "Reshape": 0, "Embedding": 1}.get(n.op)
        if src is not None and out.dtype == I8:
            t = model.tensors[n.inputs[src]]
            if (np.float32(t.scale), t.zero_point) != (np.float32(out.scale), out.zero_point):
                raise FormatError(f"{where}: i8 output must keep the input's scale and zero point")
    for i, t in enumerate(model.tensors):
        if t.dtype == I8 and not (np.isfinite(t.scale) and t.scale > 0 and -128 <= t.zero_point <= 127):
            raise FormatError(f"tensor {i} ('{t.name}'): i8 needs a finite scale > 0 and a zero point in -128..=127")


# -- evaluation -----------------------------------------------------------------------------------

def evaluate(model: om.Model, inputs, batched: bool = False) -> dict[int, np.ndarray]:
    """Run the model; return every tensor's value (graph inputs, constants used, node outputs)
    keyed by tensor index. With `batched`, each input carries an extra leading batch axis and so
    does every returned value."""
    if len(inputs) != len(model.inputs):
        raise ValueError(f"model has {len(model.inputs)} inputs, got {len(inputs)}")
    V: dict[int, np.ndarray] = {}
    B = None
    for i, a in zip(model.inputs, inputs):
        t = model.tensors[i]
        a = np.asarray(a)
        if not batched:
            a = a[None]
        if tuple(a.shape[1:]) != tuple(t.shape):
            raise ValueError(f"input t{i} '{t.name}': shape {list(a.shape[1:])}, the model wants {list(t.shape)}")
        if B is None:
            B = a.shape[0]
        V[i] = a.astype(om.DTYPE_NP[t.dtype])
    for i, t in enumerate(model.tensors):
        if t.kind == om.CONST:
            V[i] = np.asarray(t.data).reshape((1,) + tuple(t.shape))
    for k, n in enumerate(model.nodes):
        out_t = model.tensors[n.output]
        args = [V[i] for i in n.inputs]
        tin = [model.tensors[i] for i in n.inputs]
        y = _run(n, args, tin, out_t)
        want = (y.shape[0],) + tuple(out_t.shape)
        if y.shape != want:
            raise AssertionError(f"node {k} ({n.op}): produced {y.shape}, expected {want}")
        V[n.output] = y.astype(om.DTYPE_NP[out_t.dtype], copy=False)
    if not batched:
        V = {i: v[0] for i, v in V.items()}
    return V


def _run(n: om.Node, a: list[np.ndarray], tin: list[om.Tensor], out: om.Tensor) -> np.ndarray:
    op, p = n.op, n.params
    x = a[0]
    if op == "Dense":
        w = a[1]  # (Bw, N, K)
        K = w.shape[-1]
        r = x.ndim - 1  # model rank of x
        wk_shape = (w.shape[0],) + (1,) * (r - 1) + (w.shape[1],)
        lead = np.broadcast_shapes(x.shape[:-1], (w.shape[0],) + (1,) * (r - 1))
        if tin[0].dtype == F32:
            acc = np.zeros(lead + (w.shape[1],), np.float32)
            if len(a) > 2:  # the accumulator starts at the bias (not 0 + bias: -0.0 stays)
                acc = np.broadcast_to(a[2].reshape((a[2].shape[0],) + (1,) * (r - 1) + (a[2].shape[1],)), acc.shape).copy()
            for k in range(K):
                acc = acc + x[..., k:k + 1] * w[..., k].reshape(wk_shape)
            if p[0]:
                acc = _relu_f32(acc)
            return canonical(acc)
        xi = x.astype(np.int64) - tin[0].zero_point
        wi = w.astype(np.int64)
        acc = np.zeros(lead + (w.shape[1],), np.int64)
        if len(a) > 2:
            acc = acc + a[2].astype(np.int64).reshape((a[2].shape[0],) + (1,) * (r - 1) + (a[2].shape[1],))
        for k in range(K):
            acc = acc + xi[..., k:k + 1] * wi[..., k].reshape(wk_shape)
        return requant(acc, p[0], p[1], out.zero_point, bool(p[2]))
    if op == "Conv2d":
        w = a[1]  # (Bw, O, C, KH, KW)
        _, O, C, KH, KW = w.shape
        sh, sw, ph, pw = p[:4]
        Bn, N, _, H, W = x.shape
        H2 = (H + 2 * ph - KH) // sh + 1
        W2 = (W + 2 * pw - KW) // sw + 1
        quant = tin[0].dtype == I8
        if quant:
            xs = x.astype(np.int64) - tin[0].zero_point  # padding with zx contributes 0
            ws = w.astype(np.int64)
            dt = np.int64
        else:
            xs, ws, dt = x, w, np.float32
        xp = np.zeros((Bn, N, C, H + 2 * ph, W + 2 * pw), dt)
        xp[:, :, :, ph:ph + H, pw:pw + W] = xs
        lead = max(Bn, w.shape[0])
        acc = np.zeros((lead, N, O, H2, W2), dt)
        if len(a) > 2:
            acc = np.broadcast_to(a[2].astype(dt).reshape(a[2].shape[0], 1, O, 1, 1), acc.shape).copy()
        for c in range(C):
            for kh in range(KH):
                for kw in range(KW):
                    patch = xp[:, :, c, kh:kh + sh * (H2 - 1) + 1:sh, kw:kw + sw * (W2 - 1) + 1:sw]
                    acc = acc + patch[:, :, None] * ws[:, :, c, kh, kw].reshape(w.shape[0], 1, O, 1, 1)
        if quant:
            return requant(acc, p[4], p[5], out.zero_point, bool(p[6]))
        if p[4]:
            acc = _relu_f32(acc)
        return canonical(acc)
    if op == "Relu":
        if tin[0].dtype == I8:
            return np.maximum(x, np.int8(tin[0].zero_point)).astype(np.int8)
        return canonical(_relu_f32(x))
    if op == "Gelu":
        with np.errstate(all="ignore"):
            return canonical(f32(0.5) * x * (f32(1) + erff(x / f32(np.sqrt(2.0)))))
    if op == "Silu":
        with np.errstate(all="ignore"):
            return canonical(x / (f32(1) + expf(-x)))
    if op in ("MaxPool2d", "AvgPool2d"):
        kh_, kw_, sh, sw = p[:4]
        H, W = x.shape[3], x.shape[4]
        H2 = (H - kh_) // sh + 1
        W2 = (W - kw_) // sw + 1
        wins = [x[:, :, :, i:i + sh * (H2 - 1) + 1:sh, j:j + sw * (W2 - 1) + 1:sw] for i in range(kh_) for j in range(kw_)]
        if op == "MaxPool2d":
            m = wins[0]
            for v in wins[1:]:
                m = np.where(v > m, v, m)  # the first maximum wins
            return canonical(m) if tin[0].dtype == F32 else m.astype(np.int8)
        if tin[0].dtype == F32:
            s = np.zeros(wins[0].shape, np.float32)
            for v in wins:
                s = s + v
            return canonical(s / f32(kh_ * kw_))
        s = np.zeros(wins[0].shape, np.int64)
        for v in wins:
            s = s + v.astype(np.int64)
        cnt = kh_ * kw_
        q = (2 * np.abs(s) + cnt) // (2 * cnt)  # |s|/cnt rounded half away from zero
        return np.where(s < 0, -q, q).astype(np.int8)
    if op == "Softmax":
        L = x.shape[-1]
        m = x[..., 0:1]
        for i in range(1, L):
            v = x[..., i:i + 1]
            m = np.where(v > m, v, m)
        e = expf(x - m).reshape(x.shape)
        s = np.zeros(m.shape, np.float32)
        for i in range(L):
            s = s + e[..., i:i + 1]
        return canonical(e / s)
    if op == "Argmax":
        # The spec's rule: the first element, replaced only by a strictly greater one (a NaN
        # never wins; ties keep the first).
        best = x[..., 0]
        index = np.zeros(best.shape, np.int32)
        for i in range(1, x.shape[-1]):
            greater = x[..., i] > best
            best = np.where(greater, x[..., i], best)
            index = np.where(greater, np.int32(i), index)
        return index
    if op in ("LayerNorm", "RmsNorm"):
        D = x.shape[-1]
        eps = f32(om.bits_f32(p[0]))
        d = f32(D)
        g = a[1].reshape((a[1].shape[0],) + (1,) * (x.ndim - 2) + (D,))
        with np.errstate(all="ignore"):
            if op == "LayerNorm":
                s = np.zeros(x.shape[:-1] + (1,), np.float32)
                for i in range(D):
                    s = s + x[..., i:i + 1]
                mean = s / d
                xc = x - mean
                v = np.zeros(x.shape[:-1] + (1,), np.float32)
                for i in range(D):
                    v = v + xc[..., i:i + 1] * xc[..., i:i + 1]
                var = v / d
                bta = a[2].reshape(g.shape)
                return canonical(xc / np.sqrt(var + eps) * g + bta)
            s = np.zeros(x.shape[:-1] + (1,), np.float32)
            for i in range(D):
                s = s + x[..., i:i + 1] * x[..., i:i + 1]
            return canonical(x / np.sqrt(s / d + eps) * g)
    if op == "Embedding":
        ids, table = a  # ids (B, ...), table (Bt, V, D)
        V = table.shape[1]
        if ids.size and (ids.min() < 0 or ids.max() >= V):
            raise FormatError(f"Embedding: id out of range 0..{V}")
        if table.shape[0] == 1:
            y = table[0][ids]
        else:
            y = np.stack([table[b][ids[b]] for b in range(ids.shape[0])])
        return canonical(y) if y.dtype == np.float32 else y
    if op in ("Add", "Mul"):
        b = a[1]
        if tin[1].shape != tin[0].shape:  # broadcast over the last axis
            b = b.reshape((b.shape[0],) + (1,) * (x.ndim - 2) + (b.shape[-1],))
        return canonical(x + b if op == "Add" else x * b)
    if op == "MatMul":
        bm = a[1]  # (Bb, K, N)
        K = bm.shape[1]
        r = x.ndim - 1
        bk_shape = (bm.shape[0],) + (1,) * (r - 1) + (bm.shape[2],)
        acc = np.zeros(np.broadcast_shapes(x.shape[:-1], (bm.shape[0],) + (1,) * (r - 1)) + (bm.shape[2],), np.float32)
        for k in range(K):
            acc = acc + x[..., k:k + 1] * bm[:, k, :].reshape(bk_shape)
        return canonical(acc)
    if op == "Reshape":
        return x.reshape((x.shape[0],) + tuple(out.shape))
    if op == "Quantize":
        with np.errstate(all="ignore"):
            r = rintf(x / f32(out.scale)) + f32(out.zero_point)
            r = np.where(np.isnan(r), f32(0), r)
            return np.clip(r, -128, 127).astype(np.int8)
    if op == "Dequantize":
        return canonical((x.astype(np.int32) - np.int32(tin[0].zero_point)).astype(np.float32) * f32(tin[0].scale))
    raise FormatError(f"unknown op {op}")


def outputs(model: om.Model, inputs, batched: bool = False) -> list[np.ndarray]:
    V = evaluate(model, inputs, batched)
    return [V[i] for i in model.outputs]
