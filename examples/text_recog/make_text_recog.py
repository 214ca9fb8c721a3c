"""Train and export ``text_recog``: a small scene-text-style digit-string recognizer.

Architecture: a CNN backbone (four Conv+BN+ReLU, max pooling 2x2, 2x2, 2x1)
turns a 1x3x32xW image into 64 feature maps of height 4 and width W/4; a
height-collapsing Conv (kernel 4x1) makes one 64-dim feature per column
(T = W/4 columns), plus a learned position embedding sliced to T; two pre-LN
transformer encoder layers (4-head self-attention, hidden 64, erf-GELU FFN
128, LayerNorm) and a final LayerNorm; a per-column classifier over 11
classes (0 = CTC blank, 1 + d = digit d).  The graph outputs the logits
``[N, T, 11]``; CTC greedy decoding runs in numpy outside the graph
(``qcc.bench.transformer_models.ctc_greedy_decode``).

Data (synthetic, seeded, offline): strings of 3..8 digits rendered by pasting
scikit-learn ``load_digits`` 8x8 glyphs, upscaled to random sizes with a
per-glyph vertical jitter and random spacing, in a random foreground colour on
a random background colour, plus Gaussian noise; pixel values are kept on a
1/16 grid so the .npz files compress.  Training uses the first 1400 glyphs of
``load_digits``, calibration / test images the other 397 (handwriting the
model has not seen).

Exports (dynamic batch and width axes; T = floor(W / 4) columns, W <= 4 * 64):
  text_recog_opset17.onnx         LayerNormalization op
  text_recog_opset13.onnx         LayerNorm decomposed (ReduceMean/Sub/Pow/Sqrt/Div...)
  text_recog_masked_opset17.onnx  same weights, second input ``column_mask``
                                  [N, T] (1 = image column, 0 = padding) added as
                                  (1 - m) * -10000 to the attention scores
Writes calib.npz (64 images), test.npz (200 images), all W = 128,
test_labels.npy (the 200 strings, unicode, no pickle) and meta.json.
Training (1500 steps, one thread) took 795 s on a shared, heavily loaded 2-core
box (``train_seconds`` in meta.json); ``TEXT_RECOG_STEPS`` overrides the steps.

    python examples/text_recog/make_text_recog.py
"""

from __future__ import annotations

import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
from sklearn.datasets import load_digits

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from _common import (export_onnx, file_kib, op_histogram, ort_run,  # noqa: E402
                     ort_vs_torch, seed_everything, write_meta)

from qcc.bench.transformer_models import ctc_greedy_decode, text_metrics  # noqa: E402

SEED = 0
HEIGHT, WIDTH = 32, 128
MIN_LEN, MAX_LEN = 3, 8
HIDDEN, HEADS, FFN, LAYERS, MAX_T = 64, 4, 128, 2, 64
N_CLASSES = 11                       # blank + 10 digits
N_TRAIN_GLYPHS = 1400
GRID, NOISE = 16, (0.015, 0.05)    # pixel grid 1/GRID; Gaussian noise sigma range
STEPS, BATCH = int(os.environ.get("TEXT_RECOG_STEPS", 1500)), 32
N_CALIB, N_TEST, N_EVAL = 64, 200, 1000
OPSETS = (17, 13)


# ------------------------------------------------------------------ data
def glyph_pools(train: bool) -> list[np.ndarray]:
    """Per digit, the 8x8 glyphs (values 0..1) of one split of load_digits."""
    d = load_digits()
    sl = slice(0, N_TRAIN_GLYPHS) if train else slice(N_TRAIN_GLYPHS, None)
    imgs, tgt = d.images[sl] / 16.0, d.target[sl]
    return [imgs[tgt == k] for k in range(10)]


def _interp_matrix(n_out: int, n_in: int = 8) -> np.ndarray:
    """[n_out, n_in] bilinear interpolation weights (edge-clamped)."""
    pos = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    lo = np.minimum(np.floor(pos).astype(int), n_in - 2)
    m = np.zeros((n_out, n_in))
    m[np.arange(n_out), lo] = 1 - (pos - lo)
    m[np.arange(n_out), lo + 1] = pos - lo
    return m


def _resize(g: np.ndarray, h: int, w: int) -> np.ndarray:
    """Bilinear resize of an 8x8 glyph to h x w."""
    return _interp_matrix(h) @ g @ _interp_matrix(w).T


def _render_clean(rng: np.random.Generator, text: str, pools: list[np.ndarray], width: int) -> np.ndarray:
    n = len(text)
    gh, gw, sp = int(rng.integers(16, 27)), int(rng.integers(10, 16)), int(rng.integers(0, 4))
    gw = min(gw, (width - 6 - (n - 1) * (sp + 1)) // n)
    total = n * gw + (n - 1) * (sp + 1)
    x = int(rng.integers(2, width - total - 1))
    y0 = (HEIGHT - gh) // 2 + int(rng.integers(-2, 3))
    alpha = np.zeros((HEIGHT, width))
    for ch in text:
        pool = pools[int(ch)]
        g = _resize(pool[rng.integers(len(pool))], gh, gw)
        y = int(np.clip(y0 + rng.integers(-2, 3), 0, HEIGHT - gh))
        alpha[y:y + gh, x:x + gw] = np.maximum(alpha[y:y + gh, x:x + gw], g)
        x += gw + sp + int(rng.integers(0, 2))
    bg = rng.uniform(0, 1, 3)
    fg = rng.uniform(0, 1, 3)
    if abs(fg.mean() - bg.mean()) < 0.35:
        fg = np.clip(1.0 - bg + rng.normal(0, 0.1, 3), 0, 1)
    return bg[:, None, None] * (1 - alpha) + fg[:, None, None] * alpha


def render(rng: np.random.Generator, text: str, pools: list[np.ndarray],
           width: int = WIDTH) -> np.ndarray:
    """One [3, HEIGHT, width] float32 image of ``text``, values on a 1/GRID grid in [-1, 1]."""
    img = _render_clean(rng, text, pools, width)
    img = img + rng.normal(0, rng.uniform(*NOISE), img.shape)
    img = np.round(np.clip(img, 0, 1) * GRID) / GRID
    return ((img - 0.5) * 2).astype(np.float32)


def make_batch(rng: np.random.Generator, n: int, pools, width: int = WIDTH):
    texts = ["".join(map(str, rng.integers(0, 10, size=rng.integers(MIN_LEN, MAX_LEN + 1))))
             for _ in range(n)]
    return np.stack([render(rng, t, pools, width) for t in texts]), texts


# ------------------------------------------------------------------ model
def conv_bn(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


class SelfAttention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.qkv = nn.ModuleList(nn.Linear(HIDDEN, HIDDEN) for _ in range(3))
        self.out = nn.Linear(HIDDEN, HIDDEN)

    def forward(self, x: torch.Tensor, mask_add=None) -> torch.Tensor:
        b, t = x.shape[0], x.shape[1]
        q, k, v = (lin(x).view(b, t, HEADS, HIDDEN // HEADS).transpose(1, 2) for lin in self.qkv)
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(HIDDEN // HEADS)
        if mask_add is not None:                          # key padding mask, [N, 1, 1, T]
            scores = scores + mask_add
        ctx = torch.matmul(torch.softmax(scores, dim=-1), v).transpose(1, 2)
        return self.out(ctx.reshape(b, t, HIDDEN))


class EncoderLayer(nn.Module):
    """Pre-LN block: x + attn(LN(x)), then x + FFN(LN(x))."""

    def __init__(self) -> None:
        super().__init__()
        self.ln1, self.attn = nn.LayerNorm(HIDDEN), SelfAttention()
        self.ln2 = nn.LayerNorm(HIDDEN)
        self.ffn = nn.Sequential(nn.Linear(HIDDEN, FFN), nn.GELU(), nn.Linear(FFN, HIDDEN))

    def forward(self, x: torch.Tensor, mask_add=None) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), mask_add)
        return x + self.ffn(self.ln2(x))


class TextRecog(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(*conv_bn(3, 16), nn.MaxPool2d(2), *conv_bn(16, 24), nn.MaxPool2d(2),
                                      *conv_bn(24, 48), nn.MaxPool2d((2, 1)), *conv_bn(48, 64))
        self.collapse = nn.Conv2d(64, HIDDEN, (HEIGHT // 8, 1))      # [N, HIDDEN, 1, W/4]
        self.pos = nn.Parameter(torch.randn(1, MAX_T, HIDDEN) * 0.02)
        self.layers = nn.ModuleList(EncoderLayer() for _ in range(LAYERS))
        self.ln = nn.LayerNorm(HIDDEN)
        self.classifier = nn.Linear(HIDDEN, N_CLASSES)

    def forward(self, image: torch.Tensor, column_mask=None) -> torch.Tensor:
        f = self.collapse(self.backbone(image)).squeeze(2).transpose(1, 2)   # [N, T, HIDDEN]
        x = f + self.pos[:, :f.shape[1]]
        mask_add = None
        if column_mask is not None:          # HF-style additive mask from a 0/1 input
            mask_add = (1.0 - column_mask[:, None, None, :].to(torch.float32)) * -10000.0
        for layer in self.layers:
            x = layer(x, mask_add)
        return self.classifier(self.ln(x))                                # [N, T, 11]


class MaskedTextRecog(nn.Module):
    """The same weights with a second input ``column_mask`` [N, T] (1 = image
    column, 0 = padding): batched inference over images right-padded to a
    common width masks the padded columns out of every attention row."""

    def __init__(self, model: TextRecog) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor, column_mask: torch.Tensor) -> torch.Tensor:
        return self.model(image, column_mask)


# ------------------------------------------------------------------ training
def ctc_targets(texts: list[str]):
    flat = torch.tensor([1 + int(c) for t in texts for c in t], dtype=torch.long)
    return flat, torch.tensor([len(t) for t in texts], dtype=torch.long)


def train(model: TextRecog, rng: np.random.Generator, pools) -> None:
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=STEPS, pct_start=0.1)
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)
    t0 = time.time()
    model.train()
    for step in range(STEPS):
        x, texts = make_batch(rng, BATCH, pools)
        logp = model(torch.from_numpy(x)).log_softmax(-1).transpose(0, 1)   # [T, N, C]
        tgt, tlen = ctc_targets(texts)
        loss = ctc(logp, tgt, torch.full((BATCH,), logp.shape[0], dtype=torch.long), tlen)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 100 == 99:
            print(f"step {step + 1}: CTC loss {loss.item():.4f} ({time.time() - t0:.0f}s)", flush=True)


def evaluate(model: TextRecog, x: np.ndarray, texts: list[str]) -> dict:
    with torch.no_grad():
        logits = torch.cat([model(torch.from_numpy(x[i:i + 100])) for i in range(0, len(x), 100)])
    return text_metrics(ctc_greedy_decode(logits.numpy()), texts)


# ------------------------------------------------------------------ export
def export_all(model: TextRecog, x: np.ndarray) -> dict:
    """Export the models; returns {path: test feeds} (the masked model reads the
    images right-padded to width 160 with the padding masked)."""
    axes = {"image": {0: "batch", 3: "width"}, "logits": {0: "batch", 1: "columns"}}
    out = {}
    for opset in OPSETS:
        path = os.path.join(HERE, f"text_recog_opset{opset}.onnx")
        export_onnx(model, (torch.from_numpy(x[:1]),), path, input_names=["image"],
                    output_names=["logits"], dynamic_axes=axes, opset=opset)
        out[path] = {"image": x}
    path = os.path.join(HERE, "text_recog_masked_opset17.onnx")
    axes["column_mask"] = {0: "batch", 1: "columns"}
    xp, mask = padded(x, 160)
    export_onnx(MaskedTextRecog(model), (torch.from_numpy(xp[:1]), torch.from_numpy(mask[:1])), path,
                input_names=["image", "column_mask"], output_names=["logits"], dynamic_axes=axes, opset=17)
    out[path] = {"image": xp, "column_mask": mask}
    return out


def padded(x: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad images to ``width`` with their last column; the 0/1 column mask."""
    mask = (np.arange(width // 4) < x.shape[-1] // 4)[None].repeat(len(x), 0).astype(np.int64)
    return np.pad(x, [(0, 0)] * 3 + [(0, width - x.shape[-1])], mode="edge"), mask


def check_exports(model: TextRecog, paths: dict, texts: list[str]) -> dict:
    """Per export: op histogram, onnxruntime vs torch, float test metrics."""
    import onnx

    out = {}
    for path, feeds in paths.items():
        mod = MaskedTextRecog(model) if "column_mask" in feeds else model
        err = ort_vs_torch(path, mod, feeds)
        m = text_metrics(ctc_greedy_decode(ort_run(path, feeds)[0]), texts)
        name = os.path.basename(path)
        out[name] = {"inputs": {k: list(v.shape[1:]) for k, v in feeds.items()},
                     "ops": op_histogram(onnx.load(path)), "ort_vs_torch_max_abs_err": err,
                     "float_test": m, "onnx_kib": file_kib(path)}
        print(f"{name}: float exact match {100 * m['exact']:.1f}%, char acc {100 * m['char']:.1f}% "
              f"on {N_TEST} test images {out[name]['inputs']}, ORT vs torch max abs err {err:.2e}")
    return out


def main() -> None:
    seed_everything(SEED, threads=1)      # one thread: faster than two on a busy 2-core box
    rng = np.random.default_rng(SEED)
    model = TextRecog()
    t0 = time.time()
    train(model, rng, glyph_pools(True))
    train_s = time.time() - t0
    model.eval()
    pools = glyph_pools(False)
    eval_rng = np.random.default_rng(SEED + 1)
    ev = make_batch(eval_rng, N_EVAL, pools)
    calib, _ = make_batch(eval_rng, N_CALIB, pools)
    test, test_texts = make_batch(eval_rng, N_TEST, pools)
    wide, wide_texts = make_batch(eval_rng, 50, pools, width=160)
    torch_eval = evaluate(model, *ev)
    paths = export_all(model, test)
    np.savez_compressed(os.path.join(HERE, "calib.npz"), image=calib)
    np.savez_compressed(os.path.join(HERE, "test.npz"), image=test)
    np.save(os.path.join(HERE, "test_labels.npy"), np.array(test_texts))
    meta = {"inputs": {"image": [1, 3, HEIGHT, WIDTH]}, "dynamic_axes": {"image": {"0": "batch", "3": "width"}},
            "outputs": {"logits": [1, WIDTH // 4, N_CLASSES]}, "n_calib": N_CALIB, "n_test": N_TEST,
            "task": "read a string of 3..8 digits; logits per column, CTC greedy decoding (blank 0, "
                    "digit d = class d + 1)",
            "masked_model": "text_recog_masked_opset17.onnx: same weights, input column_mask [N, W/4] "
                            "(1 = image column, 0 = padding), additive (1 - m) * -10000 on the scores",
            "train_steps": STEPS, "batch": BATCH, "train_seconds": round(train_s, 1),
            "torch_1000_fresh": torch_eval, "torch_width160_50": evaluate(model, wide, wide_texts),
            "params": int(sum(p.numel() for p in model.parameters())),
            "seed": SEED, "torch_version": torch.__version__,
            "models": check_exports(model, paths, test_texts)}
    meta["npz_kib"] = {n: file_kib(os.path.join(HERE, n)) for n in ("calib.npz", "test.npz")}
    write_meta(HERE, meta)
    print(f"torch on {N_EVAL} fresh images: {torch_eval}; width 160: {meta['torch_width160_50']}")


if __name__ == "__main__":
    main()
