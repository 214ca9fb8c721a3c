"""GPU benchmark of the Triton target (docs/target_triton.md "Measured"); needs CUDA.

    python -m qcc.bench.triton_gpu [--out bench_triton.json] [--quick] [--budget-s 240]

1. int8 GEMM with the fused epilogue (bias, per-channel requant, clamp, int8 out) on LLM
   linear shapes (M in 1, 16, 128, 2048, 8192; N, K up to 8192): TOPS (2MNK/t) and % of
   the device's int8 peak, against ``torch._int_mm`` plus an eager requantization, bf16
   ``torch.matmul`` (cuBLAS) and the same Triton GEMM without the epilogue (its cost);
   every fused result is checked bit-exact against the numpy contract on a slice;
2. whole-model latency of the examples with a CUDA graph, and per kernel (each launch
   timed alone), checked bit-exact against the reference engine.

Times are medians of ``triton.testing.do_bench``.  The run stops adding shapes once
``--budget-s`` of wall time is spent, so it fits a few minutes of device time.  Nothing
is estimated: a shape that fails is recorded with its error.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

# int8 dense tensor-core peaks (TOPS) by device name fragment (vendor data sheets)
PEAK_INT8 = {"H200": 1979.0, "H100 SXM": 1979.0, "H100 PCIe": 1513.0, "H100": 1979.0,
             "A100": 624.0, "L4": 242.0, "L40S": 733.0, "A10": 250.0}
LLM_SHAPES = [(m, n, k) for m in (1, 16, 128, 2048, 8192)
              for n, k in ((4096, 4096), (8192, 4096), (4096, 8192), (8192, 8192))]
QUICK_SHAPES = [(m, 4096, 4096) for m in (1, 16, 128, 2048, 8192)]
EXAMPLES = [("digits_cnn", "digits_cnn.onnx"), ("mobilenet_small", "mobilenet_small.onnx"),
            ("tiny_bert", "tiny_bert_opset17.onnx")]
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def peak_of(name: str):
    for key, v in PEAK_INT8.items():
        if key in name:
            return v
    return None


def _gemm_call(m, n, k, fused: bool):
    from qcc import arith
    from qcc.backends.triton.calls import linear_call

    rng = np.random.default_rng(m * 7 + n)
    w = rng.integers(-127, 128, (k, n)).astype(np.int8)
    bias = rng.integers(-5000, 5000, n).astype(np.int32) if fused else None
    mm, ss = arith.quantize_multiplier(rng.uniform(1e-5, 1e-4, n)) if fused else (None, None)
    call = linear_call(f"bench_{m}_{n}_{k}_{int(fused)}", (m, k), "int8", w, 8, bias, mm, ss,
                       "int8" if fused else "int32")
    return call, w  # on a GPU the kernel is autotuned over the module's configurations


def bench_gemm(m, n, k, peak, do_bench, dev: str = "cuda") -> dict:
    """One shape; ``dev="cpu"`` (interpreter) with a stand-in ``do_bench`` is the smoke test."""
    import torch

    from qcc.backends.triton.render import load_module, module_source

    row = {"M": m, "N": n, "K": k}
    x = torch.randint(-128, 128, (m, k), dtype=torch.int8, device=dev)
    fused_call = None
    for fused in (True, False):
        call, w = _gemm_call(m, n, k, fused)
        fused_call = fused_call or call
        mod = load_module(module_source([(call.family, call.cfg)]))
        t = {r: torch.from_numpy(np.ascontiguousarray(v)).to(dev) for r, v in call.consts.items()}
        t["a"] = x
        t["c"] = torch.empty((m, n), dtype=torch.int8 if fused else torch.int32, device=dev)
        fn = getattr(mod, call.cfg["name"] + "_launch")
        ms = do_bench(lambda: fn(t, call.params))
        row["fused_ms" if fused else "plain_ms"] = ms
        if fused:  # bit-exact on the first rows against the numpy contract
            from qcc import arith

            xs = x[:8].cpu().numpy().astype(np.int64)
            acc = xs @ w.astype(np.int64) + call.consts["corr"].astype(np.int64)
            ref = arith.requantize(acc, call.consts["m"], call.consts["s"], 0, -128, 127, axis=-1)
            row["exact"] = bool(np.array_equal(t["c"][:8].cpu().numpy(), ref))
    wt = torch.from_numpy(w).to(dev)
    if m > 16 and k % 8 == 0 and n % 8 == 0:  # torch._int_mm's constraints
        fc = fused_call.consts  # the same multipliers, shifts and bias as the fused kernel
        m64 = torch.from_numpy(fc["m"].astype(np.int64)).to(dev)
        s64 = torch.from_numpy(fc["s"].astype(np.int64)).to(dev)
        b64 = torch.from_numpy(fc["corr"].astype(np.int64)).to(dev)
        half = torch.ones_like(s64) << (s64 - 1)

        def int_mm_requant():  # the same contract, eagerly: 5 elementwise kernels in int64
            acc = torch._int_mm(x, wt).to(torch.int64) + b64
            return ((acc * m64 + half) >> s64).clamp(-128, 127).to(torch.int8)
        row["int_mm_requant_ms"] = do_bench(int_mm_requant)
        row["int_mm_ms"] = do_bench(lambda: torch._int_mm(x, wt))
    xb, wb = x.to(torch.bfloat16), wt.to(torch.bfloat16)
    row["bf16_ms"] = do_bench(lambda: torch.matmul(xb, wb))
    ops = 2.0 * m * n * k
    for key in [k_ for k_ in row if k_.endswith("_ms")]:
        row[key.replace("_ms", "_tops")] = ops / (row[key] * 1e-3) / 1e12
    if peak:
        row["fused_pct_peak"] = 100.0 * row["fused_tops"] / peak
    if "int_mm_requant_ms" in row:
        row["fused_vs_int_mm_requant"] = row["int_mm_requant_ms"] / row["fused_ms"]
    row["epilogue_cost_pct"] = 100.0 * (row["fused_ms"] / row["plain_ms"] - 1.0)
    return row


def bench_models(do_bench, tmp: str) -> list:
    import torch

    from qcc.backends.triton import load_model
    from qcc.commands import run_artifact
    from qcc.driver import CompileOptions, compile_model

    rows = []
    for ex, model in EXAMPLES:
        d = os.path.join(ROOT, "examples", ex)
        out = os.path.join(tmp, ex)
        try:
            man = compile_model(os.path.join(d, model), CompileOptions(
                target="triton", out_dir=out, options={"calib": os.path.join(d, "calib.npz")}))
            with np.load(os.path.join(d, "test.npz")) as z:
                data = {k: z[k][:4] for k in z.files}
            ref = run_artifact(out, data, "reference")
            got = run_artifact(out, data, "target", "cuda")
            exact = all(np.array_equal(got[k], ref[k]) for k in ref)
            mdl = load_model(out, man, "cuda")
            feed = {k: torch.from_numpy(v[:1]) for k, v in data.items()}
            eager = do_bench(lambda: mdl(feed))
            per = [{"kernel": name, "ms": do_bench(lambda f=f, t=t, p=p: f(t, p))}
                   for (f, t, p), name in zip(mdl.calls, [r["kernel"] for r in man["layers"]])]
            mdl.capture()
            graph = do_bench(lambda: mdl(feed))
            rows.append({"model": ex, "exact": exact, "eager_ms": eager, "cuda_graph_ms": graph,
                         "kernels_sum_ms": sum(r["ms"] for r in per), "per_kernel": per})
        except Exception as e:  # noqa: BLE001 - recorded, never estimated
            rows.append({"model": ex, "error": f"{type(e).__name__}: {e}"[:300]})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="bench_triton.json")
    ap.add_argument("--quick", action="store_true", help="M sweep at N = K = 4096 only")
    ap.add_argument("--budget-s", type=float, default=240.0)
    ap.add_argument("--no-models", action="store_true")
    args = ap.parse_args(argv)
    os.environ.pop("TRITON_INTERPRET", None)
    import tempfile

    import torch
    import triton
    from triton.testing import do_bench

    if not torch.cuda.is_available():
        print("bench/triton_gpu.py: no CUDA device; nothing measured", file=sys.stderr)
        return 2
    name = torch.cuda.get_device_name(0)
    peak = peak_of(name)
    res = {"device": name, "peak_int8_tops": peak, "triton": triton.__version__,
           "torch": torch.__version__, "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
           "host": platform.node(), "gemm": [], "models": []}
    t0 = time.time()
    for m, n, k in (QUICK_SHAPES if args.quick else LLM_SHAPES):
        if time.time() - t0 > args.budget_s * 0.7:
            res["gemm_stopped"] = f"budget reached after {len(res['gemm'])} shapes"
            break
        try:
            res["gemm"].append(bench_gemm(m, n, k, peak, do_bench))
        except Exception as e:  # noqa: BLE001
            res["gemm"].append({"M": m, "N": n, "K": k, "error": f"{type(e).__name__}: {e}"[:300]})
        print(json.dumps(res["gemm"][-1]), file=sys.stderr)
    if not args.no_models:
        with tempfile.TemporaryDirectory() as tmp:
            res["models"] = bench_models(do_bench, tmp)
    with open(args.out, "w") as f:
        json.dump(res, f, indent=1)
    print(f"wrote {args.out} ({len(res['gemm'])} GEMM shapes, {len(res['models'])} models, "
          f"{time.time() - t0:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
