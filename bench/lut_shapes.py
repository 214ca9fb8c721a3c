"""Which kernel wins where for packed int4 / int2 linear layers: table lookup over weight bits
(kernels/linear_lut.c) against whole-register unpacking (linear_simd_packed.c), per layer
shape, with the int8 layer of the same shape beside them (docs/target_c_log.md "Table lookup").

    python -m qcc.bench.lut_shapes [--rows 1,4,32] [--k 128,512] [--n 8,64,512]
                                   [--runs 50] [--rounds 2] [--out DIR]

One synthetic program holds a linear layer per (rows, K, N, width) with random weights,
multipliers and zero points (widths: int8; int4 in groups of 32; int2 in groups of 16; int4
and int2 per channel); it is built through ``qcc_run --profile`` with ``-mavx2`` and ``-march=native``,
each with and without ``-DQCC_NO_LUT``, in alternating rounds; each layer's time is the least
over rounds of its median step time. Reported: µs per layer and the ratio LUT / unpack (below
1: the table lookup is faster)."""

from __future__ import annotations

import os
import sys
import tempfile

import numpy as np

WIDTHS = {"int8": (8, 0), "int4_g32": (4, 32), "int2_g16": (2, 16), "int4_pc": (4, 0), "int2_pc": (2, 0)}
BUILDS = {"avx2": ("-mavx2",), "avx2_nolut": ("-mavx2", "-DQCC_NO_LUT"),
          "native": ("-march=native",), "native_nolut": ("-march=native", "-DQCC_NO_LUT")}


def _graph(shapes: list, seed: int = 0):
    """The program: one linear layer per (rows, k, n, width); its feeds."""
    from qcc import arith
    from qcc.ir import DType, Graph, TensorType
    from qcc.ops import infer_types

    rng = np.random.default_rng(seed)
    g, feeds = Graph("lut_shapes"), {}
    dts = {8: DType.int8, 4: DType.int4, 2: DType.int2}
    for i, (rows, k, n, w) in enumerate(shapes):
        bits, gs = WIDTHS[w]
        x = g.add_input(f"x{i}", TensorType(DType.int8, (rows, k)))
        feeds[x.name] = rng.integers(-128, 128, (rows, k)).astype(np.int8)
        lim = 1 << (bits - 1)
        wt = g.add_const(f"w{i}", rng.integers(-lim, lim, (k, n)).astype(np.int8), dts[bits])
        b = g.add_const(f"b{i}", rng.integers(-3000, 3000, n).astype(np.int32), DType.int32)
        m, s = arith.quantize_multiplier(np.exp(rng.uniform(np.log(1e-4), np.log(3e-2), n)))
        ins = [x, wt, b, g.add_const(f"m{i}", np.atleast_1d(m).astype(np.int32), DType.int32),
               g.add_const(f"s{i}", np.atleast_1d(s).astype(np.int32), DType.int32)]
        attrs = {"x_zp": int(rng.integers(-128, 128)), "y_zp": 3}
        if gs:
            ins.append(g.add_const(f"g{i}", rng.integers(0, (1 << 16) + 1, (n, -(-k // gs))).astype(np.int32),
                                   DType.int32))
            attrs.update(group_size=gs, group_shift=16)
        y = g.new_value(f"y{i}", TensorType(DType.int8, ()))
        node = g.add_node("qcc.linear", ins, [y], attrs)
        y.type = infer_types(node)[0]
        g.outputs.append(y)
    return g, feeds


def measure(shapes: list, work: str, runs: int, rounds: int, log=sys.stderr) -> list[dict]:
    from qcc.backends.c import emit
    from qcc.backends.c.profile import host_steps
    from types import SimpleNamespace

    g, feeds = _graph(shapes)
    out = os.path.join(work, "c")
    os.makedirs(out, exist_ok=True)
    manifest = dict(emit(g, out, SimpleNamespace(options={"model_name": "lut_shapes"})), target="c")
    best = {b: [float("inf")] * len(shapes) for b in BUILDS}
    for r in range(rounds):
        for b, flags in BUILDS.items():
            steps, _ = host_steps(out, feeds, manifest, runs, flags)
            best[b] = [min(a, t) for a, t in zip(best[b], steps)]
        print(f"  round {r + 1}/{rounds} done", file=log)
    kernels = [row["kernel"] for row in manifest["layers"]]
    rows = []
    for i, (nr, k, n, w) in enumerate(shapes):
        rows.append({"rows": nr, "k": k, "n": n, "width": w, "kernel": kernels[i],
                     **{f"{b}_ns": round(best[b][i], 1) for b in BUILDS}})
    return rows


def table(rows: list[dict]) -> str:
    """One line per shape: int8, unpack and LUT µs per ISA (int4 g32 / int2 g16 / int4 per channel)."""
    by = {}
    for r in rows:
        by.setdefault((r["rows"], r["k"], r["n"]), {})[r["width"]] = r
    out = ["| rows x K x N | ISA | int8 | int4 g32: unpack / LUT | int2 g16: unpack / LUT | "
           "int4 per channel: unpack / LUT | int2 per channel: unpack / LUT |", "|---" * 7 + "|"]
    for (nr, k, n), ws in by.items():
        for isa in ("avx2", "native"):
            i8 = ws["int8"][f"{isa}_ns"] / 1e3
            cells = []
            for w in ("int4_g32", "int2_g16", "int4_pc", "int2_pc"):
                c = ws[w]
                un, lu = c[f"{isa}_nolut_ns"] / 1e3, c[f"{isa}_ns"] / 1e3
                mark = "**" if lu < un else ""
                cells.append(f"{un:,.2f} / {mark}{lu:,.2f}{mark} ({lu / un:.2f}x)")
            out.append(f"| {nr} x {k} x {n} | {isa} | {i8:,.2f} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def _ints(s: str) -> list[int]:
    return [int(v) for v in s.split(",") if v]


def main(argv=None) -> int:
    from . import script, speed

    ap = script.parser("lut_shapes", __doc__)
    ap.add_argument("--rows", default="1,4,32")
    ap.add_argument("--k", default="128,512")
    ap.add_argument("--n", default="8,64,512")
    script.add_timing(ap, rounds=2, runs=50, per="build")
    script.add_out(ap, "lut_shapes")
    args = ap.parse_args(argv)
    shapes = [(r, k, n, w) for r in _ints(args.rows) for k in _ints(args.k) for n in _ints(args.n)
              for w in WIDTHS]
    with tempfile.TemporaryDirectory(prefix="qcc_lut_") as work:
        rows = measure(shapes, work, args.runs, args.rounds)
    info = speed.machine_info()
    text = (f"{table(rows)}\n\nµs per layer (least over rounds of the step medians, qcc_run --profile); "
            f"unpack: -DQCC_NO_LUT; bold: the table lookup wins; machine: {info['cpu']}, "
            f"{info['cores_available']} cores available; {info['versions']['gcc']}\n")
    script.publish(text, args.out, "lut_shapes", {"machine": info, "layers": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
