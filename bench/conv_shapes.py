"""One int8 conv layer per shape, built twice and timed side by side: a kernel-selection A/B.

    python -m qcc.bench.conv_shapes [--shapes NAME,...] [--grid] [--arch "-march=native"]
        [--a-flags ""] [--b-flags "-DQCC_PWS_PAD_MIN=1000000"] [--rounds 5] [--runs 2000]

Each shape (``SHAPES``: batch 1, per-channel requantization, random weights and inputs) is
compiled to C once, then built with ``--arch`` (default ``-march=native``; ``""`` for the
default build with run-time dispatch) plus ``--a-flags`` as A and plus ``--b-flags`` as B; the
two ``qcc_run --bench RUNS`` medians alternate for ``--rounds`` rounds and the least of each
is printed with B / A. Both builds' outputs are checked equal first. With the default
``--b-flags`` B is the build without the GEMM's padded-plane tuples (docs/target_c.md
"Kernel selection"), so B / A above 1 means the padded path is faster. ``--grid`` adds
``GRID``: small strided and short-row convs with 3- and 4-tap kernel rows (the shapes where the
padded-plane tuples and the im2col runs compete), named ``kKHxKW_sS_cCmM_oOHxOW``. Values that
start with ``-`` take ``=``: ``--arch=-mavx2``, ``--arch=-DQCC_NO_DISPATCH`` (SSE2),
``--b-flags=-DQCC_PWS_PAD_SMALL=0`` (the selection rule of docs/target_c.md off).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from types import SimpleNamespace

import numpy as np

# name: (c, h, w, m, (kh, kw), (sh, sw), pads [t, l, b, r], group)
SHAPES = {
    "stem_10x4_s2": (1, 49, 10, 64, (10, 4), (2, 2), [5, 1, 5, 1], 1),
    "row_1x3_s2_25": (32, 1, 49, 48, (1, 3), (1, 2), [0, 1, 0, 1], 1),
    "row_1x3_s2_13": (48, 1, 25, 48, (1, 3), (1, 2), [0, 1, 0, 1], 1),
    "row_1x3_s2_7": (48, 1, 13, 48, (1, 3), (1, 2), [0, 1, 0, 1], 1),
    "3x3_s1_4x4": (32, 4, 4, 32, (3, 3), (1, 1), [1, 1, 1, 1], 1),
    "3x3_s1_6x6": (16, 6, 6, 32, (3, 3), (1, 1), [1, 1, 1, 1], 1),
    "3x3_s2_8x8": (16, 8, 8, 32, (3, 3), (2, 2), [1, 1, 1, 1], 1),
    "3x3_s2_16x16": (16, 16, 16, 32, (3, 3), (2, 2), [1, 1, 1, 1], 1),
    "3x3_s2_32x32": (8, 32, 32, 16, (3, 3), (2, 2), [1, 1, 1, 1], 1),
    "3x3_s1_10x10": (8, 10, 10, 16, (3, 3), (1, 1), [1, 1, 1, 1], 1),
    "3x4_s1_12x9": (8, 12, 12, 16, (3, 4), (1, 1), [1, 1, 1, 2], 1),
}


def _grid_shape(kh: int, kw: int, s: int, c: int, m: int, oh: int, ow: int):
    """The conv of ``c -> m`` channels, kernel kh x kw, stride s (both axes, rows: along the
    row only) whose output plane is oh x ow: pads 1 (and kw - 2 on the right) where kh or kw
    exceed 1."""
    sh = s if kh > 1 else 1
    pt, pb = (1, kh - 2) if kh > 1 else (0, 0)
    pl, pr = (1, kw - 2)
    h = (oh - 1) * sh + kh - pt - pb
    w = (ow - 1) * s + kw - pl - pr
    return (c, h, w, m, (kh, kw), (sh, s), [pt, pl, pb, pr], 1)


def _grid() -> dict:
    g = {}
    for kw in (3, 4):
        for s, planes in ((2, (4, 8, 16)), (1, (4, 6))):
            for o in planes:
                for c, m in ((1, 16), (16, 32), (64, 64)):
                    if o == 16 and c == 64:
                        continue
                    g[f"k3x{kw}_s{s}_c{c}m{m}_o{o}x{o}"] = _grid_shape(3, kw, s, c, m, o, o)
        for ow in (16, 20, 25, 49):
            for c, m in ((32, 48), (64, 64)):
                g[f"k1x{kw}_s2_c{c}m{m}_o1x{ow}"] = _grid_shape(1, kw, 2, c, m, 1, ow)
    for c, m in ((2, 16), (4, 16), (8, 16)):  # the reduction length on 4x4 and 5x5 planes
        for o in (4, 5):
            g[f"k3x3_s2_c{c}m{m}_o{o}x{o}"] = _grid_shape(3, 3, 2, c, m, o, o)
    for c, m in ((16, 32), (64, 64)):
        g[f"k3x3_s2_c{c}m{m}_o5x5"] = _grid_shape(3, 3, 2, c, m, 5, 5)
        g[f"k3x3_s2_c{c}m{m}_o4x6"] = _grid_shape(3, 3, 2, c, m, 4, 6)
    return g


GRID = _grid()


def _graph(shape, seed: int = 0):
    from qcc import arith
    from qcc.ir import DType, Graph, TensorType
    from qcc.ops import infer_types

    c, h, w, m, k, s, pads, group = shape
    rng = np.random.default_rng(seed)
    g = Graph("conv")
    x = g.add_input("x", TensorType(DType.int8, (1, c, h, w)))
    wt = g.add_const("w", rng.integers(-128, 128, (m, c // group) + tuple(k)).astype(np.int8), DType.int8)
    b = g.add_const("b", rng.integers(-20000, 20000, m).astype(np.int32), DType.int32)
    mm, ss = arith.quantize_multiplier(np.exp(rng.uniform(np.log(1e-4), np.log(3e-3), m)))
    mv = g.add_const("m", np.atleast_1d(mm).astype(np.int32), DType.int32)
    sv = g.add_const("s", np.atleast_1d(ss).astype(np.int32), DType.int32)
    y = g.new_value("y", TensorType(DType.int8, ()))
    node = g.add_node("qcc.conv2d", [x, wt, b, mv, sv], [y],
                      {"x_zp": 3, "y_zp": -5, "strides": list(s), "pads": list(pads),
                       "dilations": [1, 1], "group": group})
    y.type = infer_types(node)[0]
    g.outputs.append(y)
    return g, {"x": rng.integers(-128, 128, (1, c, h, w)).astype(np.int8)}


def measure(name: str, shape, arch: str, a_flags: str, b_flags: str, rounds: int, runs: int,
            work: str) -> dict:
    from qcc.backends.c import emit
    from qcc.backends.c.build import bench_latency, build, run_samples

    g, feeds = _graph(shape)
    d = os.path.join(work, name)
    os.makedirs(d, exist_ok=True)
    manifest = dict(emit(g, d, SimpleNamespace(options={"model_name": "t"})), target="c")
    with open(os.path.join(d, "manifest.json"), "w") as f:
        json.dump(manifest, f, default=str)
    fa = tuple(arch.split())
    bins = {"A": build(d, extra_cflags=fa + tuple(a_flags.split())),
            "B": build(d, extra_cflags=fa + tuple(b_flags.split()))}
    outs = {k: run_samples(d, [feeds], manifest, binary=v)[0]["y"] for k, v in bins.items()}
    assert np.array_equal(outs["A"], outs["B"]), f"{name}: the two builds differ"
    best = {"A": float("inf"), "B": float("inf")}
    for _ in range(rounds):
        for k, v in bins.items():
            best[k] = min(best[k], bench_latency(d, feeds, n=runs, binary=v))
    c, h, w, m, k, s, pads, group = shape
    oh = (h + pads[0] + pads[2] - k[0]) // s[0] + 1
    ow = (w + pads[1] + pads[3] - k[1]) // s[1] + 1
    return {"shape": name, "plane": f"{oh}x{ow}", "a_us": best["A"], "b_us": best["B"],
            "b_over_a": best["B"] / best["A"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shapes", default=None, help="names from SHAPES or GRID (default: SHAPES)")
    ap.add_argument("--grid", action="store_true", help="the GRID shapes (after --shapes if given)")
    ap.add_argument("--arch", default="-march=native")
    ap.add_argument("--a-flags", default="")
    ap.add_argument("--b-flags", default="-DQCC_PWS_PAD_MIN=1000000")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=2000)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="qcc_convshapes_") as work:
        print(f"| shape | out plane | A µs ({args.arch or 'default'} {args.a_flags}) | B µs (+{args.b_flags}) | B / A |")
        print("|---|---|---:|---:|---:|")
        shapes = {**SHAPES, **GRID}
        names = args.shapes.split(",") if args.shapes else ([] if args.grid else list(SHAPES))
        names += list(GRID) if args.grid else []
        for name in names:
            r = measure(name, shapes[name], args.arch, args.a_flags, args.b_flags, args.rounds,
                        args.runs, work)
            print(f"| {r['shape']} | {r['plane']} | {r['a_us']:.2f} | {r['b_us']:.2f} | {r['b_over_a']:.2f} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
