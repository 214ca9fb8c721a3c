"""C kernel benchmark: qcc's generated C side by side with onnxruntime in one run, plus the
Cortex-M4 instruction counts and sizes (docs/target_c.md "Speed").

    python -m qcc.bench.kernels [MODELS...] [--rounds 5] [--runs 200] [--no-m4] [--out DIR]

Per model, in one process and one run: the C host runner of the default build (the user's
plain `make`: `-O3`; on x86-64 with run-time dispatch, docs/target_c.md "Runtime dispatch"),
of the default build with `-DQCC_NO_DISPATCH` (its SSE2 kernels only: the default build before
dispatch), of the default build with `-DQCC_PORTABLE` (the portable kernels:
what the default build ran before the SSE2 variant), of `-march=native`, of `-march=native -DQCC_PORTABLE` (the portable kernels without the
hand-written SIMD variants: the x86 code before them) and of `-mavx2`, onnxruntime float32 and its static int8 QDQ model (`quantize_static`,
per-channel, MinMax on the model's calibration samples), all one thread, one sample.
The engines are timed in alternating rounds (round r times every engine once before round
r+1 starts, so load on a shared machine hits them alike); each cell is the median over
rounds of per-round medians.

onnxruntime is timed fairly: inputs and outputs are bound once with I/O binding
(`run_with_iobinding`, outputs preallocated), and the median cost of the same call on a
one-element Identity model, measured in the same rounds, is subtracted ("ORT - call").
The C runner is timed inside its native loop (`qcc_run --bench`).

Cortex-M4 (`-mcpu=cortex-m4 -O2`, QEMU mps2-an386 `-icount shift=0`): instructions per
inference and per MAC (**instructions, not cycles**), flash of the model's objects, arena
and the static stack bound.
"""

from __future__ import annotations

import os
import sys
import tempfile

import numpy as np

from . import speed

DEFAULT = ["digits_cnn", "mobilenet_small", "tiny_bert", "text_recog"]


def _iobound(path: str, feeds: dict):
    """A zero-argument call running ``path`` with I/O bound once (outputs preallocated)."""
    import onnxruntime as ort

    sess = speed.ort_session(path)
    names = [i.name for i in sess.get_inputs()]
    feeds = {k: np.ascontiguousarray(v) for k, v in feeds.items() if k in names}
    outs = sess.run(None, feeds)
    io = sess.io_binding()
    for k, v in feeds.items():
        io.bind_cpu_input(k, v)
    for o, a in zip(sess.get_outputs(), outs):
        io.bind_ortvalue_output(o.name, ort.OrtValue.ortvalue_from_numpy(np.empty_like(a)))
    call = lambda: sess.run_with_iobinding(io)  # noqa: E731
    call.io = io  # for checks: call.io.copy_outputs_to_cpu()
    return call


def _identity(work: str) -> str:
    import onnx
    from onnx import TensorProto, helper

    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "empty",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    path = os.path.join(work, "identity.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def _time_fn(fn, runs: int) -> float:
    return speed.time_callable(fn, runs, max(3, runs // 20), budget_s=5.0)["median_us"]


def engines(m, work: str, sample: dict, runs: int) -> dict:
    """name -> zero-argument callable returning one median in µs."""
    from qcc.backends.c import build as cbuild

    from .accuracy import ort_quantize
    from .ctarget import compile_c

    c_dir, _ = compile_c(m, work)
    default = cbuild.build(c_dir, dispatch=True)
    fixed = cbuild.build(c_dir, dispatch=False)
    native = cbuild.build(c_dir, extra_cflags=("-march=native",))
    default_portable = cbuild.build(c_dir, extra_cflags=("-DQCC_PORTABLE",))
    # the same code with the hand-written SIMD variants switched off: the portable kernels,
    # which is what x86 ran before them
    portable = cbuild.build(c_dir, extra_cflags=("-march=native", "-DQCC_PORTABLE"))
    avx2 = cbuild.build(c_dir, extra_cflags=("-mavx2",))
    q8 = os.path.join(work, "ort_int8.onnx")
    ort_quantize(m, "minmax", q8)
    fp32, int8 = _iobound(m.path, sample), _iobound(q8, sample)
    empty = _iobound(_identity(work), {"x": np.zeros(1, np.float32)})
    return {
        "c_dir": c_dir,
        "sizes": {"qcc_c": text_bytes(default), "qcc_c_fixed": text_bytes(fixed)},
        "qcc_c": lambda: cbuild.bench_latency(c_dir, sample, runs, binary=default),
        "qcc_c_fixed": lambda: cbuild.bench_latency(c_dir, sample, runs, binary=fixed),
        "qcc_c_portable": lambda: cbuild.bench_latency(c_dir, sample, runs, binary=default_portable),
        "qcc_c_native": lambda: cbuild.bench_latency(c_dir, sample, runs, binary=native),
        "qcc_c_native_portable": lambda: cbuild.bench_latency(c_dir, sample, runs, binary=portable),
        "qcc_c_avx2": lambda: cbuild.bench_latency(c_dir, sample, runs, binary=avx2),
        "ort_fp32": lambda: _time_fn(fp32, runs),
        "ort_int8": lambda: _time_fn(int8, runs),
        "ort_empty": lambda: _time_fn(empty, runs),
    }


def text_bytes(binary: str) -> int:
    """The code and read-only data of a host runner (``size``'s text column)."""
    import subprocess

    r = subprocess.run(["size", binary], capture_output=True, text=True)
    return int(r.stdout.splitlines()[1].split()[0]) if r.returncode == 0 else -1


def cortex_m4(c_dir: str, sample: dict) -> dict:
    from qcc.analysis import macs
    from qcc.backends.c import arm
    from qcc.ir.serialize import load as load_ir

    elf = arm.build(c_dir)
    size = arm.size(elf)
    insns = arm.count_instructions(c_dir, [sample])[0]
    n = macs(load_ir(os.path.join(c_dir, "model.qcc")))
    return {"instructions": insns, "macs": n, "insns_per_mac": round(insns / n, 2) if n else None,
            "model_flash_bytes": size.get("model_flash_bytes"), "arena_bytes": size.get("arena"),
            "stack_bound_bytes": size.get("model_stack_bytes")}


def bench_model(m, work: str, rounds: int, runs: int, m4: bool, log=sys.stderr) -> dict:
    sample = {k: v[:1] for k, v in m.test.items()}
    eng = engines(m, work, sample, runs)
    c_dir = eng.pop("c_dir")
    sizes = eng.pop("sizes")
    times = {k: [] for k in eng}
    for r in range(rounds):
        for k, fn in eng.items():
            times[k].append(float(fn()))
        print(f"  {m.name} round {r + 1}/{rounds}: "
              + ", ".join(f"{k} {v[-1]:.1f}" for k, v in times.items()), file=log)
    med = {k: float(np.median(v)) for k, v in times.items()}
    rec = {"model": m.name, "median_us": {k: round(v, 2) for k, v in med.items()},
           "rounds_us": {k: [round(x, 2) for x in v] for k, v in times.items()},
           "runner_text_bytes": sizes}
    fair = {k: max(med[k] - med["ort_empty"], 0.0) for k in ("ort_fp32", "ort_int8")}
    rec["ort_minus_call_us"] = {k: round(v, 2) for k, v in fair.items()}
    rec["speedup"] = {f"{o}/{c}": round(fair[o] / med[c], 3)
                      for o in fair for c in ("qcc_c", "qcc_c_fixed", "qcc_c_portable", "qcc_c_native")
                      if med[c] > 0}
    if m4:
        try:
            rec["cortex_m4"] = cortex_m4(c_dir, sample)
        except Exception as e:  # noqa: BLE001 - recorded, the host columns stand
            rec["cortex_m4"] = {"error": f"{type(e).__name__}: {e}"[:300]}
    return rec


def table(rows: list[dict]) -> str:
    head = ("| model | qcc C µs | C no dispatch µs | C portable µs | C native µs | C native portable µs | C -mavx2 µs | "
            "ORT fp32 µs (- call) | ORT int8 µs (- call) | "
            "fp32 / C | int8 / C | int8 / C native | M4 insns | M4 insns/MAC | M4 flash / arena / stack B |")
    out = [head, "|---" * 15 + "|"]
    for r in rows:
        md, fair, sp = r["median_us"], r["ort_minus_call_us"], r["speedup"]
        m4 = r.get("cortex_m4") or {}
        m4c = ("n/a", "n/a", "n/a") if "instructions" not in m4 else (
            f"{m4['instructions'] / 1e6:.2f} M", f"{m4['insns_per_mac']}",
            f"{m4['model_flash_bytes']:,} / {m4['arena_bytes']:,} / {m4['stack_bound_bytes']}")
        out.append(f"| {r['model']} | {md['qcc_c']:,.1f} | {md['qcc_c_fixed']:,.1f} | {md['qcc_c_portable']:,.1f} | {md['qcc_c_native']:,.1f} | "
                   f"{md['qcc_c_native_portable']:,.1f} | {md['qcc_c_avx2']:,.1f} | "
                   f"{md['ort_fp32']:,.1f} ({fair['ort_fp32']:,.1f}) | "
                   f"{md['ort_int8']:,.1f} ({fair['ort_int8']:,.1f}) | "
                   f"{sp['ort_fp32/qcc_c']:.2f}x | {sp['ort_int8/qcc_c']:.2f}x | "
                   f"{sp['ort_int8/qcc_c_native']:.2f}x | {m4c[0]} | {m4c[1]} | {m4c[2]} |")
    out += ["", "| model | runner text B, dispatch | runner text B, no dispatch | growth |", "|---|---|---|---|"]
    for r in rows:
        sz = r.get("runner_text_bytes", {})
        d, f = sz.get("qcc_c", -1), sz.get("qcc_c_fixed", -1)
        out.append(f"| {r['model']} | {d:,} | {f:,} | {d / f if f > 0 else 0:.2f}x |")
    return "\n".join(out)


def main(argv=None) -> int:
    from . import script
    from .run import select_models

    ap = script.parser("kernels", __doc__)
    ap.add_argument("models", nargs="*", help=f"default: {' '.join(DEFAULT)}")
    script.add_timing(ap, rounds=5, runs=200, per="engine")
    ap.add_argument("--no-m4", action="store_true", help="skip the Cortex-M4 columns")
    script.add_out(ap, "kernels")
    args = ap.parse_args(argv)
    rows = []
    for m in select_models(args.models or DEFAULT, quick=True):
        with tempfile.TemporaryDirectory(prefix="qcc_kbench_") as work:
            rows.append(bench_model(m, work, args.rounds, args.runs, not args.no_m4))
    info = speed.machine_info()
    text = (f"{table(rows)}\n\nmachine: {info['cpu']}, {info['cores_available']} cores available; "
            f"{info['versions']['gcc']}; onnxruntime {info['versions']['onnxruntime']}\n")
    script.publish(text, args.out, "kernels", {"machine": info, "models": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
