"""``qcc demo``: compile a bundled example to integer-only C, run it on held-out data and
say what happened and how good it was (the README's first quick-start command).

Application layer: it goes through the Python API only (``qcc.api``).
"""

from __future__ import annotations

import json
import os
import time

import numpy as np

from .errors import QccError

_HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_EXAMPLE = "digits_cnn"

# what each generated file of target c is for (the names the manifest's "files" use)
FILE_ROLES = {
    "header": "the API: run function, arena size, input/output shapes and scales",
    "source": "the model: one kernel call per layer, integer only",
    "weights": "the weights as const arrays (flash)",
    "weights_header": "declarations of the weight arrays",
    "kernels": "the integer kernels this model uses (static inline)",
    "runner": "host test program (reads/writes raw samples)",
    "makefile": "make: builds qcc_run and libNAME.a",
    "cmake": "CMake: the NAME library and (option) the runner",
    "readme": "how to build and call the generated code",
    "io_header": "quantize inputs / dequantize outputs with this model's scales",
    "io_source": "quantize inputs / dequantize outputs with this model's scales",
}


def find_example(name_or_dir: str) -> str:
    """The folder of a bundled example (a source checkout's examples/NAME) or a folder
    laid out like one (model, meta.json, calib.npz, test.npz, test_labels.npy)."""
    cands = [name_or_dir] if os.sep in name_or_dir or os.path.isdir(name_or_dir) else []
    for root in (os.path.dirname(_HERE), os.getcwd()):
        cands.append(os.path.join(root, "examples", name_or_dir))
    for d in cands:
        if os.path.isfile(os.path.join(d, "meta.json")):
            return d
    raise QccError(f"example '{name_or_dir}' not found (looked in {', '.join(cands)}); the "
                   f"examples live in qcc's source checkout: run 'qcc demo' from a clone, or "
                   f"give the folder with --example DIR")


def _say(msg: str = "") -> None:
    print(msg, flush=True)


def _float_outputs(model: str, data: dict) -> dict:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    first = next(iter(data.values()))
    rows = [sess.run(names, {k: v[i:i + 1] for k, v in data.items()}) for i in range(len(first))]
    return {n: np.concatenate([r[j] for r in rows]) for j, n in enumerate(names)}


def _sqnr_db(ref: np.ndarray, got: np.ndarray) -> float:
    noise = float(np.sum((ref.astype(np.float64) - got) ** 2))
    sig = float(np.sum(ref.astype(np.float64) ** 2))
    return float("inf") if noise == 0 else 10 * np.log10(sig / noise)


def _kib(n: float) -> str:
    return f"{n / 1024:,.1f} KiB"


def run_demo(example: str = DEFAULT_EXAMPLE, out_dir: str = "qcc_demo") -> int:
    from . import api
    from .npzio import load_npz

    d = find_example(example)
    with open(os.path.join(d, "meta.json")) as f:
        meta = json.load(f)
    model = os.path.join(d, meta.get("model") or f"{os.path.basename(d)}.onnx")
    calib = os.path.join(d, "calib.npz")
    test = load_npz(os.path.join(d, "test.npz"), "test data")
    labels_path = os.path.join(d, "test_labels.npy")
    labels = np.load(labels_path, allow_pickle=False) if os.path.isfile(labels_path) else None
    n_test = len(next(iter(test.values())))
    rel = os.path.relpath(d)
    rel = d if rel.startswith("..") else rel
    _say(f"qcc demo: {rel} ({meta.get('params', 0):,} parameters), "
         f"{meta.get('n_calib', '?')} calibration samples, {n_test} held-out test samples")

    t0 = time.perf_counter()
    _say(f"[1/3] quantizing to int8 and generating C into {out_dir}/ ...")
    art = api.compile(model, calib=calib, target="c", out_dir=out_dir, name="model")
    t1 = time.perf_counter()
    _say(f"[2/3] building with the host C compiler and running the {n_test} test samples ...")
    got = art.run(test)
    t2 = time.perf_counter()
    _say(f"[3/3] checking against the float model (onnxruntime) and qcc's reference "
         f"interpreter ...")
    ref = _float_outputs(model, test)
    exact = art.run(test, engine="reference")
    t3 = time.perf_counter()
    out = "logits" if "logits" in got else next(iter(got))
    _report(art, meta, out, got[out], ref[out], exact[out], labels, (t1 - t0, t2 - t1, t3 - t2))
    return 0


def _report(art, meta, out, got, ref, exact, labels, secs) -> None:
    m = art.manifest
    mem = m.get("memory", {})
    n = len(got)
    _say("")
    _say(f"done in {sum(secs):.1f} s (compile {secs[0]:.1f} s, build + run {secs[1]:.1f} s, "
         f"checks {secs[2]:.1f} s). Results on {n} held-out samples:")
    if labels is not None and got.ndim == 2:
        acc_q = float(np.mean(got.argmax(1) == labels)) * 100
        acc_f = float(np.mean(ref.argmax(1) == labels)) * 100
        agree = float(np.mean(got.argmax(1) == ref.argmax(1))) * 100
        _say(f"  accuracy   {acc_q:.1f} % of the labels with the int8 C code, "
             f"{acc_f:.1f} % with the float model")
        _say(f"  agreement  {agree:.1f} % of the predictions equal the float model's")
    _say(f"  fidelity   SQNR {_sqnr_db(ref, got):.1f} dB of '{out}' against the float model "
         f"(higher is closer; 30 dB is about 3 % rms error)")
    same = bool(np.array_equal(got, exact))
    _say(f"  bit-exact  {'yes' if same else 'NO'}: the C output "
         f"{'equals' if same else 'differs from'} qcc's reference interpreter on all {n} samples")
    files = m.get("files", {})
    code = [f for k, f in files.items() if k in ("header", "source", "weights", "weights_header",
                                               "kernels")]
    code_bytes = sum(os.path.getsize(os.path.join(art.path, f)) for f in code)
    wb = mem.get("weight_bytes", m["sizes"]["weight_bytes"])
    _say(f"  size       weights {_kib(wb)} (float: {_kib(4 * meta.get('params', 0))}), "
         f"RAM arena {_kib(mem.get('arena_bytes', 0))}, model C sources {_kib(code_bytes)} "
         f"in {len(code)} files")
    _say("")
    _say(f"files in {art.path}:")
    for key, f in sorted(files.items(), key=lambda kv: kv[1]):
        _say(f"  {f:20s} {FILE_ROLES.get(key, '')}")
    _say(f"  {'manifest.json':20s} what was compiled: pipeline, scales, memory plan, per-layer table")
    _say("")
    _say("next: qcc compile YOUR.onnx --calib CALIB.npz --target c -o OUT   "
         "(docs/target_c.md; qcc --help; Python: docs/python_api.md)")


def cmd_demo(args) -> int:
    return run_demo(args.example, args.output)
