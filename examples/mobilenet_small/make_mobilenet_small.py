"""Train and export ``mobilenet_small``: a MobileNetV3-style network on real digits.

The "MobileNet-class" example: depthwise separable convolutions, inverted
residual blocks (1x1 expand, depthwise kxk, 1x1 linear projection, residual
Add where shapes allow), ReLU6 in the early blocks and HardSwish in the late
ones and the stem/head (as MobileNetV3 does), GlobalAveragePool and a Linear
classifier.  Trained briefly (about a minute on 2 CPU cores) on scikit-learn's
8x8 handwritten digits, upsampled bilinearly to 32x32 and stored as 8-bit
pixels (``k/255``).  The export uses the exporter's default constant folding,
so BatchNormalization is folded into the Conv weights, as in a deployed
MobileNet (digits_cnn keeps its BN nodes for the BN-folding pass).

Input ``input`` [N,1,32,32] float32 in [0,1], dynamic batch; opset 17.
Writes mobilenet_small.onnx, calib.npz (128 training images), test.npz and
test_labels.npy (the 360 held-out images, same split as digits_cnn), meta.json.

    python examples/mobilenet_small/make_mobilenet_small.py
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from _common import (export_onnx, file_kib, op_histogram, ort_run,  # noqa: E402
                     ort_vs_torch, seed_everything, write_meta)

SEED = 0
RES, N_CLASSES, HEAD = 32, 10, 160
# (expansion t, out channels, kernel, stride, activation) of the inverted-residual blocks
BLOCKS = [(4, 24, 3, 2, "relu6"), (3, 24, 3, 1, "relu6"),
          (4, 40, 5, 2, "hardswish"), (3, 40, 5, 1, "hardswish")]
EPOCHS, BATCH, N_CALIB = 24, 64, 128


def act(kind: str) -> nn.Module:
    return nn.ReLU6() if kind == "relu6" else nn.Hardswish()


def conv_bn(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, a: str = "") -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if a:
        layers.append(act(a))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, stride: int, t: int, a: str) -> None:
        super().__init__()
        hid = cin * t
        layers = [conv_bn(cin, hid, 1, a=a)] if t != 1 else []
        layers += [conv_bn(hid, hid, k, stride, groups=hid, a=a), conv_bn(hid, cout, 1)]
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + y if self.residual else y


class MobileNetSmall(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        layers = [conv_bn(1, 16, 3, 2, a="hardswish"),           # stem: 16x16
                  InvertedResidual(16, 16, 3, 1, 1, "relu6")]    # depthwise separable + residual
        cin = 16
        for t, c, k, s, a in BLOCKS:
            layers.append(InvertedResidual(cin, c, k, s, t, a))
            cin = c
        layers.append(conv_bn(cin, HEAD, 1, a="hardswish"))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(HEAD, N_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


def load_data():
    """Digits upsampled 8x8 -> 32x32 (bilinear), rounded to 8-bit pixels."""
    d = load_digits()
    x = torch.from_numpy((d.images.astype(np.float32) / 16.0)[:, None])
    x = nn.functional.interpolate(x, size=(RES, RES), mode="bilinear", align_corners=False)
    x = (np.round(np.clip(x.numpy(), 0, 1) * 255) / 255).astype(np.float32)
    y = d.target.astype(np.int64)
    return train_test_split(x, y, test_size=0.2, random_state=SEED, stratify=y)


def augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Random shifts by up to 3 pixels (zero fill) of the whole batch."""
    dy, dx = (int(v) - 3 for v in torch.randint(0, 7, (2,), generator=g))
    out = torch.zeros_like(x)
    ys, yd = (slice(0, RES - dy), slice(dy, RES)) if dy >= 0 else (slice(-dy, RES), slice(0, RES + dy))
    xs, xd = (slice(0, RES - dx), slice(dx, RES)) if dx >= 0 else (slice(-dx, RES), slice(0, RES + dx))
    out[:, :, yd, xd] = x[:, :, ys, xs]
    return out


def train(model: nn.Module, xtr: np.ndarray, ytr: np.ndarray) -> None:
    g = torch.Generator().manual_seed(SEED)
    x, y = torch.from_numpy(xtr), torch.from_numpy(ytr)
    steps = EPOCHS * ((len(x) + BATCH - 1) // BATCH)
    opt = torch.optim.AdamW(model.parameters(), lr=4e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=4e-3, total_steps=steps)
    for epoch in range(EPOCHS):
        model.train()
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), BATCH):
            idx = perm[i:i + BATCH]
            loss = nn.functional.cross_entropy(model(augment(x[idx], g)), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        if epoch % 6 == 5:
            print(f"epoch {epoch + 1}: loss {loss.item():.4f}", flush=True)


def main() -> None:
    seed_everything(SEED)
    xtr, xte, ytr, yte = load_data()
    model = MobileNetSmall()
    t0 = time.perf_counter()
    train(model, xtr, ytr)
    train_s = time.perf_counter() - t0
    model.eval()

    path = os.path.join(HERE, "mobilenet_small.onnx")
    m = export_onnx(model, (torch.from_numpy(xte[:1]),), path, input_names=["input"],
                    output_names=["logits"], opset=17,
                    dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    np.savez_compressed(os.path.join(HERE, "calib.npz"), input=xtr[:N_CALIB])
    np.savez_compressed(os.path.join(HERE, "test.npz"), input=xte)
    np.save(os.path.join(HERE, "test_labels.npy"), yte)

    err = ort_vs_torch(path, model, {"input": xte})
    (logits,) = ort_run(path, {"input": xte})
    acc = float((logits.argmax(1) == yte).mean())
    blocks = sum(isinstance(b, InvertedResidual) for b in model.features)
    meta = {"model": "mobilenet_small.onnx", "opset": 17, "inputs": {"input": [1, 1, RES, RES]},
            "input_dtype": "float32", "outputs": {"logits": [1, N_CLASSES]},
            "dataset": "sklearn digits, bilinear 8x8->32x32, 8-bit pixels",
            "float_accuracy_pct": round(100 * acc, 2), "inverted_residual_blocks": blocks,
            "trained": True, "epochs": EPOCHS, "train_seconds": round(train_s, 1),
            "n_calib": N_CALIB, "n_test": int(len(yte)), "ort_vs_torch_max_abs_err": err,
            "ops": op_histogram(m), "params": int(sum(p.numel() for p in model.parameters())),
            "macs": macs(model), "onnx_kib": file_kib(path), "seed": SEED,
            "torch_version": torch.__version__}
    write_meta(HERE, meta)
    print(f"ops: {meta['ops']}\n{blocks} blocks, {meta['params']} params, {meta['macs'] / 1e6:.2f} MMAC; "
          f"float accuracy {100 * acc:.2f}% on {len(yte)} test images; trained in {train_s:.0f} s; "
          f"ORT vs torch max abs err {err:.2e}")


def macs(model: MobileNetSmall) -> int:
    """Multiply-accumulates of one 1x1xRESxRES inference (convs + linear)."""
    total = 0

    def hook(mod, inp, out):
        nonlocal total
        if isinstance(mod, nn.Conv2d):
            total += out.numel() * mod.in_channels // mod.groups * mod.kernel_size[0] * mod.kernel_size[1]
        elif isinstance(mod, nn.Linear):
            total += mod.in_features * mod.out_features

    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model(torch.zeros(1, 1, RES, RES))
    for h in hs:
        h.remove()
    return int(total)


if __name__ == "__main__":
    main()
