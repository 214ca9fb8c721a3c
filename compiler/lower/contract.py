"""The contract test kit: golden vectors every backend's primitives must reproduce.

The expected values come from ``qcc.arith`` (docs/arithmetic.md) and the reference ops
(``qcc.ops``), never from a backend: a backend test feeds the inputs of each
:class:`Vectors` to its own primitive (a C function, a Triton kernel, the accelerator's
simulator) and compares with ``expected`` bit for bit (:func:`assert_exact`).  The edges
covered: int32 accumulator extremes, multipliers at 0 / 2^30 / 2^31 - 1, shifts 1..62,
exact rounding ties on both signs, saturation at every output range, LUT indexing of
int8 and uint8 inputs, packed int4/int2 weight rows.  :func:`oracle` gives the whole-model
expectation (the reference interpreter's outputs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qcc import arith
from qcc.ir import DType

I32_MIN, I32_MAX = -(1 << 31), (1 << 31) - 1
RANGES = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767),
          "int32": (I32_MIN, I32_MAX)}


@dataclass(frozen=True)
class Vectors:
    """``inputs``: equal-length int64 columns by name; ``expected``: int64, same length."""

    name: str
    doc: str
    inputs: dict
    expected: np.ndarray

    def __len__(self) -> int:
        return int(self.expected.size)


def _cols(rows: list, names: tuple) -> dict:
    arr = np.asarray(rows, np.int64).reshape(-1, len(names))
    return {n: arr[:, i].copy() for i, n in enumerate(names)}


def rshift_round_vectors() -> Vectors:
    """``rshift_round(x, s) = (x + 2^(s-1)) >> s`` (ties toward +inf) on int64 products."""
    rows = []
    for s in (1, 2, 15, 16, 30, 31, 32, 47, 61, 62):
        half = 1 << (s - 1)
        for x in (0, 1, -1, half, -half, half - 1, -half - 1, 3 * half, -3 * half,
                  (1 << 61) - 1, -(1 << 61), I32_MAX * ((1 << 31) - 1), I32_MIN * ((1 << 31) - 1)):
            if abs(x) < 1 << 62:   # |acc * m| < 2^62: the products the kernels form
                rows.append((x, s))
    ins = _cols(rows, ("x", "s"))
    return Vectors("rshift_round", rshift_round_vectors.__doc__, ins,
                   arith.rshift_round(ins["x"], ins["s"]).astype(np.int64))


def requant_vectors(seed: int = 0) -> Vectors:
    """``requantize(acc, m, s, zp, lo, hi)``: edges, exact ties and saturation, plus random."""
    rows = []
    ms = (0, 1, 1 << 30, (1 << 30) + 1, (1 << 31) - 1)
    for m in ms:
        for s in (1, 8, 31, 32, 40, 62):
            for acc in (0, 1, -1, 127, -128, 1 << 20, -(1 << 20), I32_MAX, I32_MIN):
                for zp, lo, hi in ((0, -128, 127), (-128, -128, 127), (5, 0, 255),
                                   (0, -32768, 32767), (0, I32_MIN, I32_MAX), (3, 3, 127)):
                    rows.append((acc, m, s, zp, lo, hi))
    # exact ties: acc * m == (2k + 1) * 2^(s-1), both signs
    for s in (1, 2, 10, 31):
        for k in (0, 1, 2, 63, -1, -2, -64):
            tie = (2 * k + 1) << (s - 1)
            if not I32_MIN <= tie <= I32_MAX:
                continue
            rows.append((tie, 1, s, 0, I32_MIN, I32_MAX))
            if tie % (1 << 30) == 0:
                rows.append((tie >> 30, 1 << 30, s, 0, I32_MIN, I32_MAX))
    rng = np.random.default_rng(seed)
    for _ in range(2000):
        m = int(rng.integers(1 << 30, 1 << 31))
        s = int(rng.integers(1, 63))
        lo, hi = RANGES[str(rng.choice(list(RANGES)[:3]))]
        rows.append((int(rng.integers(I32_MIN, I32_MAX, endpoint=True)), m, s,
                     int(rng.integers(lo, hi + 1)), lo, hi))
    ins = _cols(rows, ("acc", "m", "s", "zp", "lo", "hi"))
    want = np.array([arith.requantize(a, m, s, zp, lo, hi) for a, m, s, zp, lo, hi in rows],
                    np.int64)
    return Vectors("requant", requant_vectors.__doc__, ins, want)


def saturate_vectors() -> Vectors:
    """``saturate(x, lo, hi)`` of int64 values into every output range."""
    rows = [(x, lo, hi) for lo, hi in RANGES.values()
            for x in (lo - 1, lo, lo + 1, 0, hi - 1, hi, hi + 1, I32_MIN, I32_MAX,
                      -(1 << 40), 1 << 40)]
    ins = _cols(rows, ("x", "lo", "hi"))
    return Vectors("saturate", saturate_vectors.__doc__, ins,
                   np.array([arith.saturate(x, lo, hi) for x, lo, hi in rows], np.int64))


def lut_vectors(seed: int = 0) -> list[Vectors]:
    """``qcc.lut``: every int8 and every uint8 input through a random 256-entry table, by the
    reference op (``table[x - min(x dtype)]``)."""
    from qcc.ir import Graph, TensorType
    from qcc.interp import Interpreter

    table = np.random.default_rng(seed).integers(-128, 128, 256).astype(np.int8)
    out = []
    for dt in (DType.int8, DType.uint8):
        g = Graph("lut")
        x = g.add_input("x", TensorType(dt, (256,)))
        t = g.add_const("table", table, DType.int8)
        y = g.new_value("y", TensorType(DType.int8, (256,)))
        g.add_node("qcc.lut", [x, t], [y], {})
        g.outputs.append(y)
        xs = np.arange(dt.min, dt.max + 1).astype(dt.np)
        want = Interpreter(g).run({"x": xs})["y"]
        out.append(Vectors(f"lut_{dt.name}", lut_vectors.__doc__,
                           {"x": xs.astype(np.int64), "table": table.astype(np.int64)},
                           np.asarray(want, np.int64)))
    return out


def packed_weight_vectors(seed: int = 0) -> list[Vectors]:
    """Packed int4/int2 weight rows (docs/lowering.md, ``conv2d``/``linear``): the byte of
    field ``t`` is ``t // (8/bits)``, at bit ``(t % (8/bits)) * bits``, two's complement;
    ``expected`` is the value read back for each (row byte string, t)."""
    from .rules_nn import pack_rows

    rng = np.random.default_rng(seed)
    out = []
    for bits in (4, 2):
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        vals = np.concatenate([np.arange(lo, hi + 1), rng.integers(lo, hi + 1, 61)])
        row = pack_rows(vals[None, :], bits)[0]
        out.append(Vectors(f"packed_int{bits}", packed_weight_vectors.__doc__,
                           {"bytes": row.astype(np.int64), "t": np.arange(vals.size)},
                           vals.astype(np.int64)))
    return out


def all_vectors() -> list[Vectors]:
    return [rshift_round_vectors(), requant_vectors(), saturate_vectors(), *lut_vectors(),
            *packed_weight_vectors()]


def oracle(graph, feeds: dict) -> dict:
    """The whole-model expectation: the reference interpreter's outputs for ``feeds``."""
    from qcc.interp import Interpreter

    return Interpreter(graph).run(feeds)


def assert_exact(got, want, what: str) -> None:
    """Bit-exact comparison with a message naming the first differing positions."""
    g, w = np.asarray(got), np.asarray(want)
    if g.shape != w.shape:
        raise AssertionError(f"{what}: shape {g.shape}, expected {w.shape}")
    bad = np.flatnonzero(g.ravel().astype(np.int64) != w.ravel().astype(np.int64))
    if bad.size:
        shown = ", ".join(f"[{i}] {g.ravel()[i]} != {w.ravel()[i]}" for i in bad[:5])
        raise AssertionError(f"{what}: {bad.size} of {w.size} values differ: {shown}")
