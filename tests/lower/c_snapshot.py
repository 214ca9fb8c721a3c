"""Compile every example and the light models the tests use to C, for a before/after diff.

    python tests/lower/c_snapshot.py OUT [--light squeezenet,shufflenet,...] [--only NAME,...]
    python tests/lower/c_snapshot.py OUT_A --compare OUT_B

Writes OUT/<config>/ (the generated C folder of each configuration) and runs each built
model on its test samples (OUT/<config>/run.npz when `make` is available).  Two
snapshots of two commits compare with ``--compare`` (manifests without their timings): a refactoring of the
lowering or of the C renderer must leave every generated file byte-identical.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EX = os.path.join(ROOT, "examples")
BERT = ["--input-shape", "input_ids=1x32", "--input-shape", "attention_mask=1x32"]

# config name -> (example folder, onnx file, extra flags)
EXAMPLES = {
    "digits_cnn": ("digits_cnn", "digits_cnn.onnx", []),
    "digits_cnn_w2": ("digits_cnn", "digits_cnn.onnx", ["--weight-bits", "2"]),
    "mobilenet_small": ("mobilenet_small", "mobilenet_small.onnx", []),
    "mobilenet_small_w4g16": ("mobilenet_small", "mobilenet_small.onnx",
                              ["--weight-bits", "4", "--group-size", "16"]),
    "tiny_bert": ("tiny_bert", "tiny_bert_opset17.onnx", BERT),
    "tiny_bert_shift_r16": ("tiny_bert", "tiny_bert_opset14.onnx",
                            BERT + ["--softmax", "shift", "--residual-bits", "16"]),
    "text_recog13": ("text_recog", "text_recog_opset13.onnx", []),
    "text_recog17": ("text_recog", "text_recog_opset17.onnx", []),
    "text_recog_masked": ("text_recog", "text_recog_masked_opset17.onnx",
                          ["--input-shape", "image=1x3x32x160", "--input-shape",
                           "column_mask=1x40"]),
}
MASKED = "text_recog_masked"


def masked_data(d: str, tmp: str) -> tuple[str, str]:
    """calib/test of the masked text_recog: images right-padded 128 -> 160 columns, the
    column mask 1 on the 32 image columns and 0 on the 8 padding ones."""
    out = []
    for f in ("calib", "test"):
        with np.load(os.path.join(d, f + ".npz")) as z:
            img = z["image"]
        pad = np.zeros(img.shape[:3] + (160,), np.float32)
        pad[..., :128] = img
        mask = np.zeros((img.shape[0], 40), np.int64)
        mask[:, :32] = 1
        path = os.path.join(tmp, f + ".npz")
        np.savez(path, image=pad, column_mask=mask)
        out.append(path)
    return out[0], out[1]
LIGHT = ["squeezenet", "shufflenet", "inception_v2", "densenet121", "resnet50"]


def compile_one(model: str, calib: str, out: str, extra: list) -> None:
    cmd = ["qcc", "compile", model, "--calib", calib, "--max-calib-samples", "8",
           "--target", "c", "-o", out, "--quiet", *extra]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        with open(os.path.join(out + ".error"), "w") as f:
            f.write(r.stderr)
        print(f"  compile failed rc={r.returncode}: {r.stderr.strip().splitlines()[-1:]}")


def run_one(out: str, test: str) -> None:
    if not os.path.exists(os.path.join(out, "manifest.json")):
        return
    with tempfile.TemporaryDirectory() as tmp:
        res = os.path.join(tmp, "run.npz")
        r = subprocess.run(["qcc", "run", out, "--inputs", test, "--engine", "target", "-o", res],
                           capture_output=True, text=True)
        if r.returncode != 0:
            with open(os.path.join(out, "run.error"), "w") as f:
                f.write(r.stderr)
            return
        with np.load(res) as z, open(os.path.join(out, "run.txt"), "w") as f:
            for k in sorted(z.files):
                v = z[k]
                f.write(f"{k} {v.dtype} {list(v.shape)} {hashlib.sha256(v.tobytes()).hexdigest()}\n")


def strip_volatile(out: str) -> None:
    """Drop what differs between two runs of the same compiler (times, absolute paths)."""
    for junk in ("build", "qcc_run"):
        p = os.path.join(out, junk)
        if os.path.isfile(p):
            os.remove(p)
    man = os.path.join(out, "manifest.json")
    if os.path.exists(man):
        with open(man) as f:
            m = _drop_times(json.load(f))
        with open(man, "w") as f:
            json.dump(m, f, indent=1, sort_keys=True, default=str)


VOLATILE = ("_timings", "timings_s", "seconds")
VOLATILE_FILES = {"timings.json"}  # wall-clock times of the compile


def _drop_times(m):
    if isinstance(m, dict):
        return {k: _drop_times(v) for k, v in m.items() if k not in VOLATILE}
    if isinstance(m, list):
        return [_drop_times(v) for v in m]
    return m


def _paths(x, y, at: str = "") -> list[str]:
    """Key paths where two JSON values differ (lists of equal length element by element)."""
    if isinstance(x, dict) and isinstance(y, dict):
        return [p for k in sorted(set(x) | set(y), key=str) if x.get(k) != y.get(k)
                for p in _paths(x.get(k), y.get(k), f"{at}.{k}" if at else str(k))]
    if isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
        return [p for i, (u, v) in enumerate(zip(x, y)) if u != v
                for p in _paths(u, v, f"{at}[{i}]")]
    return [at]


def _strip_c_comments(text: bytes) -> bytes:
    text = re.sub(rb"/\*.*?\*/", b"", text, flags=re.S)
    return re.sub(rb"//[^\n]*", b"", text)


def compare(a: str, b: str) -> int:
    """Print every file that differs between two snapshots (manifests without timings;
    a C file that differs only in its comments is named with "(comments only)", a
    manifest with the key paths that differ).  The exit status is 1 when any runner
    output (run.txt) or any C code outside comments differs."""
    bad = 0
    names = sorted(set(os.listdir(a)) | set(os.listdir(b)))
    for cfg in names:
        pa, pb = os.path.join(a, cfg), os.path.join(b, cfg)
        if not (os.path.isdir(pa) and os.path.isdir(pb)):
            print(f"{cfg}: only in {'A' if os.path.exists(pa) else 'B'}")
            bad += 1
            continue
        files = sorted((set(os.listdir(pa)) | set(os.listdir(pb))) - VOLATILE_FILES)
        diff, hard = [], False
        for f in files:
            fa, fb = os.path.join(pa, f), os.path.join(pb, f)
            if not (os.path.isfile(fa) and os.path.isfile(fb)):
                diff.append(f + " (missing)")
                hard = True
            elif f == "manifest.json":
                with open(fa) as x, open(fb) as y:
                    keys = _paths(_drop_times(json.load(x)), _drop_times(json.load(y)))
                if keys:
                    shown = ", ".join(keys[:6]) + (f", +{len(keys) - 6}" if len(keys) > 6 else "")
                    diff.append(f"{f} ({shown})")
            else:
                da, db = open(fa, "rb").read(), open(fb, "rb").read()
                if da == db:
                    continue
                if f.endswith((".c", ".h")) and _strip_c_comments(da) == _strip_c_comments(db):
                    diff.append(f + " (comments only)")
                else:
                    diff.append(f)
                    hard = hard or f.endswith((".c", ".h")) or f == "run.txt"
        bad += hard
        print(f"{cfg}: {'identical (' + str(len(files)) + ' files)' if not diff else 'DIFFERS ' + ', '.join(diff)}")
    return 1 if bad else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--light", default=",".join(LIGHT))
    ap.add_argument("--only", default="")
    ap.add_argument("--no-run", action="store_true")
    ap.add_argument("--compare", metavar="OTHER", help="compare snapshot OUT with OTHER")
    a = ap.parse_args(argv)
    if a.compare:
        return compare(a.out, a.compare)
    only = set(filter(None, a.only.split(",")))
    os.makedirs(a.out, exist_ok=True)
    for name, (folder, onnx_file, extra) in EXAMPLES.items():
        if only and name not in only:
            continue
        print(name, flush=True)
        d = os.path.join(EX, folder)
        out = os.path.join(a.out, name)
        with tempfile.TemporaryDirectory() as tmp:
            calib, test = os.path.join(d, "calib.npz"), os.path.join(d, "test.npz")
            if name == MASKED:
                calib, test = masked_data(d, tmp)
            compile_one(os.path.join(d, onnx_file), calib, out, extra)
            if not a.no_run:
                run_one(out, test)
        strip_volatile(out)
    sys.path.insert(0, ROOT)
    from qcc.bench.models import light

    for name in filter(None, a.light.split(",")):
        if only and name not in only:
            continue
        print(name, flush=True)
        m = light(name, n_calib=2, n_test=1)
        with tempfile.TemporaryDirectory() as tmp:
            calib, test = os.path.join(tmp, "calib.npz"), os.path.join(tmp, "test.npz")
            np.savez(calib, **m.calib)
            np.savez(test, **m.test)
            out = os.path.join(a.out, "light_" + name)
            extra = ["--allow-float", ",".join(m.allow_float)] if m.allow_float else []
            compile_one(m.path, calib, out, extra)
            if not a.no_run:
                run_one(out, test)
        strip_volatile(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
