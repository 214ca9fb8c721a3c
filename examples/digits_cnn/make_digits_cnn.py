"""Train and export ``digits_cnn``: a small CNN on scikit-learn's 8x8 digits.

Graph features the compiler must handle: Conv + BatchNormalization (kept in
the export so the BN-folding pass has work), ReLU, ReLU6 (exported as Clip),
a depthwise conv, a residual Add, GlobalAveragePool, Flatten and Gemm.
Input ``input`` [N,1,8,8] float32 in [0,1] with a dynamic batch axis; opset 17.

Writes digits_cnn.onnx, calib.npz (200 training images), test.npz and
test_labels.npy (the 360 held-out images) and meta.json.

    python examples/digits_cnn/make_digits_cnn.py
"""

from __future__ import annotations

import os
import sys

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
EPOCHS = 60
N_CALIB = 200


class DigitsCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(32)
        # residual branch: pointwise + ReLU6, then depthwise + BN
        self.pw = nn.Conv2d(32, 32, 1, bias=False)
        self.bn_pw = nn.BatchNorm2d(32)
        self.dw = nn.Conv2d(32, 32, 3, padding=1, groups=32, bias=False)
        self.bn_dw = nn.BatchNorm2d(32)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn1(self.conv1(x)))          # [N,16,8,8]
        x = torch.relu(self.bn2(self.conv2(x)))          # [N,32,4,4]
        r = nn.functional.relu6(self.bn_pw(self.pw(x)))
        r = self.bn_dw(self.dw(r))
        x = torch.relu(x + r)                            # residual Add
        x = torch.flatten(self.pool(x), 1)
        return self.fc(x)


def load_data():
    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0)[:, None]   # [1797,1,8,8] in [0,1]
    y = d.target.astype(np.int64)
    return train_test_split(x, y, test_size=0.2, random_state=SEED, stratify=y)


def augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Random shifts by at most one pixel (zero fill)."""
    dx, dy = (int(v) - 1 for v in torch.randint(0, 3, (2,), generator=g))
    x = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
    if dy == 1:
        x[:, :, 0] = 0
    elif dy == -1:
        x[:, :, -1] = 0
    if dx == 1:
        x[:, :, :, 0] = 0
    elif dx == -1:
        x[:, :, :, -1] = 0
    return x


def train(model: nn.Module, xtr: np.ndarray, ytr: np.ndarray) -> None:
    g = torch.Generator().manual_seed(SEED)
    x, y = torch.from_numpy(xtr), torch.from_numpy(ytr)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=EPOCHS * ((len(x) + 63) // 64))
    for epoch in range(EPOCHS):
        model.train()
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), 64):
            idx = perm[i:i + 64]
            xb = augment(x[idx].clone(), g)
            loss = nn.functional.cross_entropy(model(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        if epoch % 10 == 9:
            print(f"epoch {epoch + 1}: loss {loss.item():.4f}")


def main() -> None:
    seed_everything(SEED)
    xtr, xte, ytr, yte = load_data()
    model = DigitsCNN()
    train(model, xtr, ytr)
    model.eval()
    with torch.no_grad():
        torch_acc = float((model(torch.from_numpy(xte)).argmax(1).numpy() == yte).mean())

    path = os.path.join(HERE, "digits_cnn.onnx")
    m = export_onnx(model, (torch.from_numpy(xte[:1]),), path, input_names=["input"],
                    output_names=["logits"], opset=17, keep_batchnorm=True,
                    dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    ops = op_histogram(m)
    assert ops.get("BatchNormalization", 0) == 4, ops

    np.savez_compressed(os.path.join(HERE, "calib.npz"), input=xtr[:N_CALIB])
    np.savez_compressed(os.path.join(HERE, "test.npz"), input=xte)
    np.save(os.path.join(HERE, "test_labels.npy"), yte)

    err = ort_vs_torch(path, model, {"input": xte})
    (logits,) = ort_run(path, {"input": xte})
    acc = float((logits.argmax(1) == yte).mean())
    meta = {
        "model": "digits_cnn.onnx", "opset": 17,
        "inputs": {"input": [1, 1, 8, 8]}, "input_dtype": "float32",
        "outputs": {"logits": [1, 10]},
        "float_accuracy_pct": round(100 * acc, 2), "torch_accuracy_pct": round(100 * torch_acc, 2),
        "n_test": int(len(yte)), "n_calib": N_CALIB,
        "ort_vs_torch_max_abs_err": err, "ops": ops,
        "params": int(sum(p.numel() for p in model.parameters())),
        "onnx_kib": file_kib(path), "seed": SEED, "torch_version": torch.__version__,
    }
    write_meta(HERE, meta)
    print(f"ops: {ops}")
    print(f"float accuracy (onnxruntime) {100 * acc:.2f}% on {len(yte)} test images; "
          f"torch {100 * torch_acc:.2f}%; ORT vs torch max abs err {err:.2e}")


if __name__ == "__main__":
    main()
