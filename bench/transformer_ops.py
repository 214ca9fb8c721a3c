"""Operator-level error of qcc's integer transformer ops against float64.

For every input scale S in 1e-4 .. 0.1 the integer input is ``q = round(x / S)``
(int32, as the accumulator of the preceding matmul would hold it) and the
op's output, dequantized, is compared with the float op applied to the
*dequantized* input ``q * S`` (so the table isolates the op's own arithmetic,
not the input rounding).  Ops and inputs (seeded):

* softmax, I-BERT i-exp and I-ViT shift: 512 rows of 128 logits ~ N(0, 3^2),
  output uint8 at 2^-8;
* GELU: i-erf (int16 input at the i-GELU scale, one dyadic requant from S),
  x uniform on [-6, 6]; the int8 lookup table at its own int8 scale is a
  separate row;
* LayerNorm: 512 rows of 128 values ~ N(0.5, 2^2) with per-channel spread,
  gamma 1 / beta 0, output the normalized value (scale sqrt(C) / 2^15).

Published numbers from the I-BERT (arXiv 2101.01321) and I-ViT (arXiv
2207.01405) papers are printed next to them.

Residual width (unless --no-model): synthetic 2-layer pre-LN and post-LN
encoders (bench/transformer_models.py) whose inputs carry 0, 10x or 30x
outlier channels, residual stream at int8 vs int16.

Model level (unless --no-model): examples/tiny_bert at opset 17 and 14 through
qcc (I-BERT / shift softmax, 16- / 8-bit residual stream) and through
onnxruntime ``quantize_static`` (QDQ, per-channel int8, same calibration
samples; MinMax, Entropy, Percentile): cosine of the final hidden states to
float onnxruntime, and logits top-1.

    python -m qcc.bench.transformer_ops [--out DIR] [--quick] [--no-model]
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import os
import sys
import time

import numpy as np

from qcc import arith, lut
from qcc.ops import integer_transformer as itx

from . import script

SCALES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1)
PUBLISHED = {
    "softmax_ibert": "I-BERT emulation, 128-wide rows: max 0.012 at S=0.01, 0.07-0.09 at S=0.06-0.13",
    "softmax_shift": "I-ViT Shiftmax, 8-bit, 197-wide rows: max 0.024-0.039",
    "gelu_ierf": "I-BERT IntGELU (n=14) max on [-6,6]: 0.0182 @1e-4, 0.0218 @1e-3, 0.030 @2^-9, "
                 "0.108 @2^-8, 1.73 @2^-6; float i-GELU poly RMS 0.0082 / max 0.0182 on [-4,4]",
    "gelu_lut": "(exact table of the dequantized int8 grid; error = output rounding only)",
    "layernorm": "I-BERT/I-ViT: not published per scale; I-ViT's fixed 10-step sqrt is wrong for var < 2^16",
}


def _errors(ref: np.ndarray, out: np.ndarray) -> dict:
    e = np.asarray(out, np.float64) - np.asarray(ref, np.float64)
    return {"max_abs": float(np.max(np.abs(e))), "rms": float(np.sqrt(np.mean(e * e)))}


def _softmax_float(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - x.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def softmax_error(scale: float, variant: str, rows: int, rng) -> dict:
    x = rng.normal(0.0, 3.0, size=(rows, 128))
    q = np.clip(np.rint(x / scale), arith.INT32_MIN, arith.INT32_MAX).astype(np.int64)
    c = itx.isoftmax_consts(scale, variant)
    y = itx.isoftmax_ref(q, c["mult"], c["shift"], c["attrs"]).astype(np.float64) / 256.0
    return _errors(_softmax_float(q * scale), y)


def _gelu(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def gelu_error(scale: float, n: int, rng) -> dict:
    x = rng.uniform(-6.0, 6.0, size=n)
    q = np.rint(x / scale).astype(np.int64)
    gc = itx.igelu_consts(6.0)
    m, s = arith.quantize_multiplier(scale / gc["scale"])
    q16 = np.clip(arith.rshift_round(q * int(m), int(s)), -32768, 32767)   # the linear's requant
    acc = itx.igelu_acc(q16, gc["attrs"])
    return _errors(_gelu(q * scale), acc * gc["out_scale"])


def gelu_lut_error(n: int, rng) -> dict:
    s_in = 12.0 / 255.0
    zp_in = -1
    s_out, zp_out = (6.2 / 255.0), -121
    table = lut.build_table("Gelu", s_in, zp_in, s_out, zp_out).astype(np.int64)
    q = rng.integers(-128, 128, size=n)
    y = (table[q + 128] - zp_out) * s_out
    return dict(_errors(_gelu((q - zp_in) * s_in), y), input_scale=s_in)


def layernorm_error(scale: float, rows: int, rng) -> dict:
    c = 128
    x = rng.normal(0.5, 2.0, size=(rows, c)) * rng.uniform(0.5, 1.5, size=c)
    q = np.rint(x / scale).astype(np.int64)
    n = itx.ilayernorm_norm(q, (1,))
    y = n * math.sqrt(c) / (1 << itx.LN_N_BITS)
    xf = q * scale
    ref = (xf - xf.mean(-1, keepdims=True)) / xf.std(-1, keepdims=True)
    return _errors(ref, y)


def run(quick: bool = False, seed: int = 0) -> dict:
    rows = 64 if quick else 512
    n = 20000 if quick else 200000
    out: dict = {"scales": list(SCALES), "published": PUBLISHED, "ops": {}}
    t0 = time.perf_counter()
    for op in ("softmax_ibert", "softmax_shift", "gelu_ierf", "layernorm"):
        res = {}
        for s in SCALES:
            rng = np.random.default_rng(seed)
            if op.startswith("softmax"):
                res[str(s)] = softmax_error(s, "ibert" if op.endswith("ibert") else "shiftmax", rows, rng)
            elif op == "gelu_ierf":
                res[str(s)] = gelu_error(s, n, rng)
            else:
                res[str(s)] = layernorm_error(s, rows, rng)
        out["ops"][op] = res
    out["ops"]["gelu_lut"] = {"int8": gelu_lut_error(n, np.random.default_rng(seed))}
    out["seconds"] = round(time.perf_counter() - t0, 2)
    return out


# ----------------------------------------------------------------- model level (tiny_bert)
BERT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "tiny_bert")
BERT_SHAPES = {"input_ids": [1, 32], "attention_mask": [1, 32]}
QCC_CONFIGS = {"qcc ibert r16": {}, "qcc shift r16": {"softmax": "shift"},
               "qcc ibert r8": {"residual_bits": 8}}


def _samples(data: dict) -> list[dict]:
    n = next(iter(data.values())).shape[0]
    return [{k: v[i:i + 1] for k, v in data.items()} for i in range(n)]


def _session(path: str, basic: bool = False):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.intra_op_num_threads = 1
    if basic:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def _score(outs: list, refs: list, labels) -> dict:
    cos = []
    for o, r in zip(outs, refs):
        a, b = np.ravel(o[0]).astype(np.float64), np.ravel(r[0]).astype(np.float64)
        cos.append(float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))))
    res = {"min_cos": min(cos), "mean_cos": float(np.mean(cos))}
    if labels is not None:
        res["top1"] = float(np.mean([np.argmax(o[1]) == y for o, y in zip(outs, labels)]))
    return res


def _compiled(path: str, calib: dict, shapes, options: dict):
    from qcc.frontend.onnx_import import import_model
    from qcc.passes.pipelines import pipeline_for
    from qcc.passmanager import PassContext, PassManager

    g = import_model(path, shapes or {})
    ctx = PassContext(options=dict(calib=calib, quantize=True, quiet=True, target="onnx", **options))
    PassManager(pipeline_for("onnx", True)).run(g, ctx)
    return g


def _interp(g, feeds: list) -> list:
    from qcc.interp import Interpreter

    it = Interpreter(g)
    names = [v.name for v in g.outputs]
    return [[it.run(f)[n] for n in names] for f in feeds]


def _qcc_outputs(path: str, calib: dict, feeds: list, options: dict) -> list:
    return _interp(_compiled(path, calib, BERT_SHAPES, options), feeds)


def _ort_static(path: str, calib: dict, feeds: list, method: str, work: str, op_types=None) -> list:
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                          QuantType, quantize_static)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(_samples(calib))

        def get_next(self):
            return next(self.it, None)

    out = os.path.join(work, f"ort_{method}_{os.path.basename(path)}")
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)       # its pre-processing advice, once per call
    try:
        with contextlib.redirect_stdout(io.StringIO()):   # its calibration progress prints
            quantize_static(path, out, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                            calibrate_method=getattr(CalibrationMethod, method),
                            op_types_to_quantize=op_types)
    finally:
        root.setLevel(level)
    sess = _session(out, basic=True)
    return [sess.run(None, f) for f in feeds]


def model_level(work: str) -> dict:
    """qcc configurations and onnxruntime quantize_static on tiny_bert, both opsets."""
    calib = dict(np.load(os.path.join(BERT, "calib.npz")))
    test = dict(np.load(os.path.join(BERT, "test.npz")))
    labels = np.load(os.path.join(BERT, "test_labels.npy"))
    feeds = _samples(test)
    res: dict = {}
    for opset in (17, 14):
        path = os.path.join(BERT, f"tiny_bert_opset{opset}.onnx")
        ref = [_session(path).run(None, f) for f in feeds]
        row = {"float": _score(ref, ref, labels)}
        for name, options in QCC_CONFIGS.items():
            row[name] = _score(_qcc_outputs(path, calib, feeds, options), ref, labels)
        for method in ("MinMax", "Entropy", "Percentile"):
            try:
                outs = _ort_static(path, calib, feeds, method, work)
                row[f"ort {method.lower()}"] = _score(outs, ref, labels)
            except Exception as e:  # noqa: BLE001 - a benchmark row records the failure
                row[f"ort {method.lower()}"] = {"error": f"{type(e).__name__}: {str(e)[:120]}"}
        # onnxruntime's usual transformer recipe: only MatMul/Gemm quantized, the rest float
        outs = _ort_static(path, calib, feeds, "MinMax", work, ["MatMul", "Gemm"])
        row["ort minmax, MatMul/Gemm only (rest float)"] = _score(outs, ref, labels)
        res[f"opset{opset}"] = row
    return res


# ------------------------------------------- residual width (synthetic encoders, outliers)
RESIDUAL_CASES = [(pre, o) for pre in (True, False) for o in (0.0, 10.0, 30.0)]


def residual_width(work: str, quick: bool = False) -> list:
    """Min/mean cosine of 2-layer encoders (hidden 64, 4 heads, seq 16) with the
    residual stream at int8 vs int16, inputs with two channels scaled by 0/10/30
    (the outlier dimensions of trained residual streams set the per-tensor scale)."""
    from qcc.bench.transformer_models import encoder_data, encoder_onnx

    rows = []
    for pre, o in RESIDUAL_CASES[:2] if quick else RESIDUAL_CASES:
        path = encoder_onnx(os.path.join(work, "res.onnx"), seq=16, hidden=64, heads=4, ffn=128,
                            layers=2, pre_ln=pre)
        sess = _session(path)
        test = _samples(encoder_data(8, 16, 64, seed=5, outliers=o))
        ref = [sess.run(None, f) for f in test]
        for bits in (8, 16):
            g = _compiled(path, encoder_data(32, 16, 64, outliers=o), None, {"residual_bits": bits})
            r = _score(_interp(g, test), ref, None)
            rows.append({"block": "pre-LN" if pre else "post-LN", "outliers": o, "bits": bits,
                         "min_cos": r["min_cos"], "mean_cos": r["mean_cos"]})
    return rows


def residual_table(rows: list) -> str:
    lines = ["| block | outlier channels | residual | min cosine | mean cosine |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['block']} | x{r['outliers']:g} | int{r['bits']} | {r['min_cos']:.4f} | "
                     f"{r['mean_cos']:.4f} |")
    return "\n".join(lines)


def model_table(res: dict) -> str:
    lines = ["| model | config | min cosine | mean cosine | logits top-1 |", "|---|---|---|---|---|"]
    for model, row in res.items():
        for name, r in row.items():
            if "error" in r:
                lines.append(f"| {model} | {name} | error: {r['error']} | | |")
            else:
                lines.append(f"| {model} | {name} | {r['min_cos']:.4f} | {r['mean_cos']:.4f} | "
                             f"{100 * r['top1']:.1f}% |")
    return "\n".join(lines)


def table(res: dict) -> str:
    head = "| op | " + " | ".join(f"S={s:g}" for s in res["scales"]) + " | published |"
    lines = [head, "|" + "---|" * (len(res["scales"]) + 2)]
    for op, per in res["ops"].items():
        if op == "gelu_lut":
            r = per["int8"]
            cells = [f"{r['max_abs']:.4f} / {r['rms']:.4f} (int8 S={r['input_scale']:.3f})"]
            cells += [""] * (len(res["scales"]) - 1)
        else:
            cells = [f"{per[str(s)]['max_abs']:.4f} / {per[str(s)]['rms']:.4f}" for s in res["scales"]]
        lines.append(f"| {op} | " + " | ".join(cells) + f" | {res['published'][op]} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = script.parser("transformer_ops", __doc__)
    ap.add_argument("--out", help="folder for transformer_ops.json")
    ap.add_argument("--quick", action="store_true", help="fewer samples")
    ap.add_argument("--no-model", action="store_true", help="skip the residual-width and tiny_bert comparisons (~3 min)")
    args = ap.parse_args(argv)
    res = run(args.quick)
    print("max abs / RMS error vs float64 (op applied to the dequantized input)")
    print(table(res))
    if not args.no_model:
        import tempfile

        with tempfile.TemporaryDirectory() as work:
            res["residual"] = residual_width(work, args.quick)
            print("\nresidual stream width: synthetic 2-layer encoders, min/mean cosine over 8 samples")
            print(residual_table(res["residual"]))
            res["model"] = model_level(work)
        print("\ntiny_bert: final hidden states vs float onnxruntime, 32 test samples")
        print(model_table(res["model"]))
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        path = os.path.join(args.out, "transformer_ops.json")
        with open(path, "w") as f:
            json.dump(res, f, indent=1)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
