"""Build and export ``mobilenet_small``: a MobileNetV2-style network, width 0.35.

The "MobileNet-class" model for calibration-speed measurements.  Untrained:
kaiming-initialised weights, BatchNorm affine parameters drawn around (1, 0)
and running statistics collected by forward passes in train mode over smooth
random images, so every layer sees roughly unit-scale activations and the
folded weights are not trivial.  The export uses the exporter's default
constant folding, so BatchNormalization is already folded into the Conv
weights, as in a typical deployed MobileNet (digits_cnn keeps its BN nodes).

Layout: stem Conv3x3/2 + BN + ReLU6, 10 inverted-residual blocks
(1x1 expand + ReLU6, depthwise 3x3 + ReLU6, 1x1 linear projection, residual
Add when shapes allow), 1x1 Conv to 1280 + ReLU6, GlobalAveragePool, Linear->10.
Input ``input`` [N,3,96,96] float32 (normalised, ~N(0,1)), dynamic batch; opset 17.

    python examples/mobilenet_small/make_mobilenet_small.py
"""

from __future__ import annotations

import os
import sys

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from _common import (export_onnx, file_kib, op_histogram, ort_run,  # noqa: E402
                     ort_vs_torch, seed_everything, write_meta)

SEED = 0
WIDTH, RES, N_CLASSES, LAST = 0.35, 96, 10, 1280
# (expansion t, channels c, repeats n, first stride s): MobileNetV2's first five stages
# with the 64-channel stage cut to 2 repeats: 1 + 2 + 3 + 2 + 2 = 10 blocks.
STAGES = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 2, 2), (6, 96, 2, 1)]
N_CALIB, N_TEST, N_BN_BATCHES = 32, 16, 8


def divisible(v: float, d: int = 8) -> int:
    """MobileNet's channel rounding: nearest multiple of d, never 10% below v."""
    r = max(d, int(v + d / 2) // d * d)
    return r + d if r < 0.9 * v else r


def conv_bn(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, act: bool = True):
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.ReLU6())
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, t: int) -> None:
        super().__init__()
        hid = cin * t
        layers = [conv_bn(cin, hid, 1)] if t != 1 else []
        layers += [conv_bn(hid, hid, 3, stride, groups=hid), conv_bn(hid, cout, 1, act=False)]
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + y if self.residual else y


class MobileNetSmall(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        cin = divisible(32 * WIDTH)
        layers = [conv_bn(3, cin, 3, 2)]
        for t, c, n, s in STAGES:
            cout = divisible(c * WIDTH)
            for i in range(n):
                layers.append(InvertedResidual(cin, cout, s if i == 0 else 1, t))
                cin = cout
        layers.append(conv_bn(cin, LAST, 1))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(LAST, N_CLASSES)
        self._init()

    def _init(self) -> None:
        g = torch.Generator().manual_seed(SEED + 1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", generator=g)
            elif isinstance(m, nn.BatchNorm2d):
                with torch.no_grad():
                    m.weight.copy_(torch.empty_like(m.weight).uniform_(0.5, 1.5, generator=g))
                    m.bias.copy_(torch.empty_like(m.bias).normal_(0.0, 0.1, generator=g))
                m.momentum = None                        # cumulative running averages
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.05, generator=g)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


def smooth_images(rng: np.random.Generator, n: int) -> np.ndarray:
    """Random 'images': a sum of low-frequency noise fields (coarse grids upsampled
    bilinearly) plus a little pixel noise, stored as 8-bit pixels and normalised
    like ImageNet input (per-channel mean/std), so values are ~N(0,1)."""
    x = torch.zeros(n, 3, RES, RES)
    for cells, amp in ((3, 0.6), (6, 0.4), (12, 0.25), (24, 0.1)):
        coarse = torch.from_numpy(rng.standard_normal((n, 3, cells, cells)).astype(np.float32))
        x += amp * nn.functional.interpolate(coarse, size=(RES, RES), mode="bilinear", align_corners=False)
    x += 0.03 * torch.from_numpy(rng.standard_normal(x.shape).astype(np.float32))
    pix = np.clip(np.round(127.5 + 60.0 * x.numpy()), 0, 255)
    mean = np.array([0.485, 0.456, 0.406], np.float32)[None, :, None, None]
    std = np.array([0.229, 0.224, 0.225], np.float32)[None, :, None, None]
    return ((pix / 255.0 - mean) / std).astype(np.float32)


def set_bn_stats(model: MobileNetSmall, rng: np.random.Generator) -> None:
    model.train()
    with torch.no_grad():
        for _ in range(N_BN_BATCHES):
            model(torch.from_numpy(smooth_images(rng, 16)))
    model.eval()


def main() -> None:
    seed_everything(SEED)
    rng = np.random.default_rng(SEED)
    model = MobileNetSmall()
    set_bn_stats(model, rng)
    calib, test = smooth_images(rng, N_CALIB), smooth_images(rng, N_TEST)

    path = os.path.join(HERE, "mobilenet_small.onnx")
    m = export_onnx(model, (torch.from_numpy(test[:1]),), path, input_names=["input"],
                    output_names=["logits"], opset=17,
                    dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    np.savez_compressed(os.path.join(HERE, "calib.npz"), input=calib)
    np.savez_compressed(os.path.join(HERE, "test.npz"), input=test)

    err = ort_vs_torch(path, model, {"input": test})
    (logits,) = ort_run(path, {"input": test})
    blocks = sum(isinstance(b, InvertedResidual) for b in model.features)
    meta = {"model": "mobilenet_small.onnx", "opset": 17, "inputs": {"input": [1, 3, RES, RES]},
            "input_dtype": "float32", "outputs": {"logits": [1, N_CLASSES]},
            "width": WIDTH, "inverted_residual_blocks": blocks, "trained": False,
            "n_calib": N_CALIB, "n_test": N_TEST, "ort_vs_torch_max_abs_err": err,
            "logits_std": float(logits.std()), "distinct_argmax_on_test": int(len(set(logits.argmax(1)))),
            "ops": op_histogram(m), "params": int(sum(p.numel() for p in model.parameters())),
            "macs": macs(model), "onnx_kib": file_kib(path), "seed": SEED,
            "torch_version": torch.__version__}
    write_meta(HERE, meta)
    print(f"ops: {meta['ops']}\n{blocks} blocks, {meta['params']} params, {meta['macs'] / 1e6:.1f} MMAC; "
          f"ORT vs torch max abs err {err:.2e}; logits std {meta['logits_std']:.3f}")


def macs(model: MobileNetSmall) -> int:
    """Multiply-accumulates of one 1x3xRESxRES inference (convs + linear)."""
    total = 0

    def hook(mod, inp, out):
        nonlocal total
        if isinstance(mod, nn.Conv2d):
            total += out.numel() * mod.in_channels // mod.groups * mod.kernel_size[0] * mod.kernel_size[1]
        elif isinstance(mod, nn.Linear):
            total += mod.in_features * mod.out_features

    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model(torch.zeros(1, 3, RES, RES))
    for h in hs:
        h.remove()
    return int(total)


if __name__ == "__main__":
    main()
