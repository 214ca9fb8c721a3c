"""Synthetic transformer encoders built with onnx.helper (BERT post-LN or
ViT/GPT pre-LN blocks, optional padding mask, erf or tanh GELU) and their
inputs: used by the transformer tests and by ``qcc.bench.transformer_ops``
(residual-width measurement).  Also the helpers of ``examples/text_recog``
(CTC greedy decoding, exact match / character accuracy) and its benchmark:

    python -m qcc.bench.transformer_models [--out DIR] [--n-test N]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class _B:
    def __init__(self, seed: int):
        self.nodes, self.inits, self.rng, self.n = [], [], np.random.default_rng(seed), 0

    def c(self, arr, dtype=np.float32) -> str:
        self.n += 1
        name = f"c{self.n}"
        self.inits.append(numpy_helper.from_array(np.asarray(arr, dtype), name))
        return name

    def op(self, op: str, ins: list, **attrs) -> str:
        self.n += 1
        out = f"t{self.n}"
        self.nodes.append(helper.make_node(op, ins, [out], name=f"{op}_{self.n}", **attrs))
        return out

    def linear(self, x: str, k: int, n: int) -> str:
        w = self.rng.normal(0, 1 / math.sqrt(k), size=(k, n))
        b = self.rng.normal(0, 0.1, size=n)
        return self.op("Add", [self.op("MatMul", [x, self.c(w)]), self.c(b)])

    def layernorm(self, x: str, h: int, decomposed: bool) -> str:
        g, b = self.c(1 + 0.1 * self.rng.normal(size=h)), self.c(0.1 * self.rng.normal(size=h))
        if not decomposed:
            return self.op("LayerNormalization", [x, g, b], axis=-1, epsilon=1e-12)
        d = self.op("Sub", [x, self.op("ReduceMean", [x], axes=[-1])])
        var = self.op("ReduceMean", [self.op("Pow", [d, self.c(2.0)])], axes=[-1])
        den = self.op("Sqrt", [self.op("Add", [var, self.c(1e-12)])])
        return self.op("Add", [self.op("Mul", [self.op("Div", [d, den]), g]), b])

    def gelu(self, x: str, tanh: bool = False) -> str:
        if tanh:   # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
            x3 = self.op("Mul", [self.op("Pow", [x, self.c(3.0)]), self.c(0.044715)])
            t = self.op("Tanh", [self.op("Mul", [self.op("Add", [x, x3]), self.c(0.7978845608)])])
            return self.op("Mul", [self.op("Mul", [x, self.c(0.5)]), self.op("Add", [t, self.c(1.0)])])
        e = self.op("Erf", [self.op("Div", [x, self.c(1.4142135)])])
        return self.op("Mul", [self.op("Mul", [x, self.op("Add", [e, self.c(1.0)])]), self.c(0.5)])

    def attention(self, h: str, seq: int, hidden: int, heads: int, mask_add) -> str:
        dh = hidden // heads
        split = self.c([1, seq, heads, dh], np.int64)
        q, k, v = (self.op("Reshape", [self.linear(h, hidden, hidden), split]) for _ in range(3))
        q = self.op("Transpose", [q], perm=[0, 2, 1, 3])
        k = self.op("Transpose", [k], perm=[0, 2, 3, 1])
        v = self.op("Transpose", [v], perm=[0, 2, 1, 3])
        s = self.op("Div", [self.op("MatMul", [q, k]), self.c(math.sqrt(dh))])
        if callable(mask_add):   # a mask built after the scores (graph order as some exporters emit)
            s = mask_add(s)
        elif mask_add:
            s = self.op("Add", [s, mask_add])
        p = self.op("Softmax", [s], axis=-1)
        if getattr(self, "nan_guard", False):   # torch scaled_dot_product_attention
            p = self.op("Where", [self.op("IsNaN", [p]), self.c(0.0), p])
        ctx = self.op("Transpose", [self.op("MatMul", [p, v])], perm=[0, 2, 1, 3])
        return self.linear(self.op("Reshape", [ctx, self.c([1, seq, hidden], np.int64)]), hidden, hidden)


def _mask_builder(b: _B, kind):
    """The additive mask value, a function scores -> masked scores, or None."""
    if not kind:
        return None
    m = b.op("Unsqueeze", ["attention_mask", b.c([1, 2], np.int64)])
    if kind in (True, "add"):
        return b.op("Mul", [b.op("Sub", [b.c(1.0), b.op("Cast", [m], to=TensorProto.FLOAT)]),
                            b.c(-10000.0)])
    if kind == "add_min":
        lo = float(np.finfo(np.float32).min)
        return lambda s: b.op("Add", [s, b.op("Mul", [b.op("Sub", [b.c(1.0), b.op(
            "Cast", [m], to=TensorProto.FLOAT)]), b.c(lo)])])
    if kind == "sdpa_bool":   # F.scaled_dot_product_attention(attn_mask=bool) as torch exports it
        b.nan_guard = True
        keep = b.op("Not", [b.op("Equal", [m, b.c(0, np.int64)])])
        return b.op("Where", [keep, b.c(0.0), b.c(-np.inf)])
    if kind == "where":
        return lambda s: b.op("Where", [b.op("Equal", [m, b.c(0, np.int64)]), b.c(-np.inf), s])
    raise ValueError(f"mask kind {kind!r}")


def encoder_onnx(path: str, seq: int = 8, hidden: int = 16, heads: int = 2, ffn: int = 32,
                 layers: int = 1, opset: int = 17, seed: int = 0, pre_ln: bool = False,
                 mask: bool = True, tanh_gelu: bool = False) -> str:
    """x f32 [1, seq, hidden] (+ attention_mask i64 [1, seq]) -> encoder output.

    Post-LN (BERT) by default; ``pre_ln`` gives the ViT/GPT block
    ``h + attn(LN(h))``, ``h + ffn(LN(h))`` with a final LayerNorm.  ``mask``:
    False (none), True or "add" (``(1 - m) * -10000`` added, built once up
    front), "add_min" (``(1 - m) * float32 min``, built after each scores
    MatMul), "where" (``Where(m == 0, -inf, scores)``, torch masked_fill), "sdpa_bool"
    (``scores + Where(m != 0, 0, -inf)`` and a NaN guard after the softmax, as
    torch exports scaled_dot_product_attention with a boolean mask)."""
    b = _B(seed)
    dec = opset < 17
    mask_add = _mask_builder(b, mask)
    h = "x" if pre_ln else b.layernorm("x", hidden, dec)
    for _ in range(layers):
        if pre_ln:
            h = b.op("Add", [h, b.attention(b.layernorm(h, hidden, dec), seq, hidden, heads, mask_add)])
            f = b.linear(b.gelu(b.linear(b.layernorm(h, hidden, dec), hidden, ffn), tanh_gelu), ffn, hidden)
            h = b.op("Add", [h, f])
        else:
            h = b.layernorm(b.op("Add", [h, b.attention(h, seq, hidden, heads, mask_add)]), hidden, dec)
            f = b.linear(b.gelu(b.linear(h, hidden, ffn), tanh_gelu), ffn, hidden)
            h = b.layernorm(b.op("Add", [h, f]), hidden, dec)
    if pre_ln:
        h = b.layernorm(h, hidden, dec)
    b.nodes.append(helper.make_node("Identity", [h], ["y"], name="out"))
    ins = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, seq, hidden])]
    if mask:
        ins.append(helper.make_tensor_value_info("attention_mask", TensorProto.INT64, [1, seq]))
    g = helper.make_graph(b.nodes, "enc", ins,
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, seq, hidden])], b.inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def encoder_data(n: int, seq: int = 8, hidden: int = 16, seed: int = 1, mask: bool = True,
                 outliers: float = 0.0) -> dict:
    """N(0, 1) inputs; ``outliers`` > 0 scales two channels by that factor (the
    outlier dimensions of trained residual streams)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, seq + 1, size=n)
    x = rng.normal(0, 1, size=(n, seq, hidden)).astype(np.float32)
    if outliers:
        x[..., :2] *= np.float32(outliers)
    if not mask:
        return {"x": x}
    return {"x": x, "attention_mask": (np.arange(seq)[None] < lengths[:, None]).astype(np.int64)}


# ------------------------------------------------ examples/text_recog (CTC text recognizer)
def ctc_greedy_decode(logits: np.ndarray, blank: int = 0) -> list[str]:
    """``[N, T, C]`` per-column logits -> N strings: argmax per column, repeats
    merged, blanks dropped; class ``1 + d`` is the digit ``d``."""
    out = []
    for best in np.asarray(logits).argmax(-1):
        keep = np.ones(best.shape, bool)
        keep[1:] = best[1:] != best[:-1]
        out.append("".join(str(int(c) - 1) for c in best[keep] if c != blank))
    return out


def _edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def text_metrics(pred: list[str], labels) -> dict:
    """Exact-match rate and character accuracy ``1 - sum(edit distance) / sum(len(label))``."""
    labels = [str(t) for t in labels]
    if len(pred) != len(labels):
        raise ValueError(f"{len(pred)} predictions for {len(labels)} labels")
    exact = float(np.mean([p == t for p, t in zip(pred, labels)]))
    dist = sum(_edit_distance(p, t) for p, t in zip(pred, labels))
    return {"exact": exact, "char": max(0.0, 1.0 - dist / sum(len(t) for t in labels)), "n": len(labels)}


TEXT_RECOG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "text_recog")


def text_recog_data(width: int = 128, masked: bool = False) -> tuple[dict, dict, list[str]]:
    """calib, test (``{"image": [N, 3, 32, width]}``) and the test strings; a
    width above 128 pads every image on the right with its last column (the
    background), which leaves the text and its label unchanged.  ``masked`` adds
    ``column_mask`` [N, width / 4] (1 for the 32 image columns, 0 for padding),
    the second input of ``text_recog_masked_opset17.onnx``."""
    calib = dict(np.load(os.path.join(TEXT_RECOG, "calib.npz")))
    test = dict(np.load(os.path.join(TEXT_RECOG, "test.npz")))
    labels = [str(t) for t in np.load(os.path.join(TEXT_RECOG, "test_labels.npy"))]
    if width != 128:
        calib, test = ({"image": pad_width(d["image"], width)} for d in (calib, test))
    if masked:
        for d in (calib, test):
            n = len(d["image"])
            d["column_mask"] = (np.arange(width // 4) < 32)[None].repeat(n, 0).astype(np.int64)
    return calib, test, labels


def pad_width(x: np.ndarray, width: int) -> np.ndarray:
    if width < x.shape[-1]:
        raise ValueError(f"cannot pad width {x.shape[-1]} down to {width}")
    return np.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, width - x.shape[-1])], mode="edge")


def _qcc_cli(args: list) -> None:
    """The installed ``qcc`` console script (the path a user takes)."""
    exe = shutil.which("qcc") or os.path.join(os.path.dirname(sys.executable), "qcc")
    r = subprocess.run([exe, *map(str, args)], capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"qcc {' '.join(map(str, args[:2]))} failed: {r.stderr.strip()[-400:]}")


def _logit_cosines(out: np.ndarray, ref: np.ndarray) -> list[float]:
    a, b = out.reshape(len(out), -1).astype(np.float64), ref.reshape(len(ref), -1).astype(np.float64)
    return list((a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)))


def _row(logits: np.ndarray, ref: np.ndarray, labels: list[str]) -> dict:
    """Metrics against the labels; cosine and decoded-string agreement against float."""
    cos = _logit_cosines(logits, ref)
    pred = ctc_greedy_decode(logits)
    same = float(np.mean([a == b for a, b in zip(pred, ctc_greedy_decode(ref))]))
    return {**text_metrics(pred, labels), "same_as_float": same, "min_cos": min(cos),
            "mean_cos": float(np.mean(cos))}


def _qcc_text_recog(model: str, calib: dict, test: dict, work: str, tag: str, extra=()) -> list:
    """The CLI path: ``qcc compile --calib --target onnx``, then ``qcc run`` on the
    reference engine (the integer IR) and on onnxruntime (qcc's QDQ export)."""
    cal, inp = (os.path.join(work, f"{tag}_{n}.npz") for n in ("calib", "test"))
    np.savez(cal, **calib)
    np.savez(inp, **test)
    _qcc_cli(["compile", model, "--calib", cal, "--target", "onnx", "-o", os.path.join(work, tag),
              "--quiet", *extra])
    outs = []
    for engine in ("reference", "target"):
        out = os.path.join(work, f"{tag}_{engine}.npz")
        _qcc_cli(["run", os.path.join(work, tag), "--inputs", inp, "-o", out, "--engine", engine])
        outs.append(np.load(out)["logits"])
    return outs


TEXT_RECOG_CONFIGS = [("text_recog_opset17.onnx", 128, False), ("text_recog_opset17.onnx", 160, False),
                      ("text_recog_opset13.onnx", 128, False), ("text_recog_masked_opset17.onnx", 160, True)]


def text_recog_bench(work: str, n_test: int | None = None) -> dict:
    """Float, qcc integer-only and onnxruntime quantize_static on examples/text_recog:
    exact match, character accuracy, min/mean cosine of the logits to float."""
    from qcc.bench.transformer_ops import _ort_static, _session

    res: dict = {}
    for name, width, masked in TEXT_RECOG_CONFIGS:
        calib, test, labels = text_recog_data(width, masked)
        if n_test:
            test, labels = {k: v[:n_test] for k, v in test.items()}, labels[:n_test]
        path = os.path.join(TEXT_RECOG, name)
        ref = _session(path).run(None, test)[0]
        row = {"float": _row(ref, ref, labels)}
        extra = ["--input-shape", f"image=1x3x32x{width}"] if width != 128 and not masked else []
        ints, qdq = _qcc_text_recog(path, calib, test, work, f"{name[:-5]}_{width}", extra)
        row["qcc int8, integer IR (reference engine)"] = _row(ints, ref, labels)
        row["qcc int8, its QDQ export on onnxruntime"] = _row(qdq, ref, labels)
        feeds = [{k: v[i:i + 1] for k, v in test.items()} for i in range(len(labels))]
        for method in ("MinMax", "Entropy"):
            try:
                outs = _ort_static(path, calib, feeds, method, work)
                row[f"ort {method.lower()}"] = _row(np.concatenate([o[0] for o in outs]), ref, labels)
            except Exception as e:  # noqa: BLE001 - a benchmark row records the failure
                row[f"ort {method.lower()}"] = {"error": f"{type(e).__name__}: {str(e)[:120]}"}
        res[f"{name[:-5]} w{width}"] = row
    return res


def text_recog_table(res: dict) -> str:
    lines = ["| model | config | exact match | char acc | same string as float | min cos | mean cos |",
             "|---|---|---|---|---|---|---|"]
    for model, row in res.items():
        for name, r in row.items():
            if "error" in r:
                lines.append(f"| {model} | {name} | error: {r['error']} | | | | |")
            else:
                lines.append(f"| {model} | {name} | {100 * r['exact']:.1f}% | {100 * r['char']:.1f}% | "
                             f"{100 * r['same_as_float']:.1f}% | {r['min_cos']:.4f} | {r['mean_cos']:.4f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m qcc.bench.transformer_models",
                                 description="examples/text_recog: float vs qcc vs onnxruntime quantize_static")
    ap.add_argument("--out", help="folder for transformer_models.json (qcc bench --out DIR includes it)")
    ap.add_argument("--n-test", type=int, help="use the first N test images (default: all 200)")
    args = ap.parse_args(argv)
    t0 = time.time()
    with tempfile.TemporaryDirectory() as work:
        res = text_recog_bench(work, args.n_test)
    print(f"examples/text_recog, {platform.machine()} {platform.node()}, "
          f"{time.strftime('%Y-%m-%d', time.gmtime())}, {time.time() - t0:.0f} s")
    print(text_recog_table(res))
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "transformer_models.json"), "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
