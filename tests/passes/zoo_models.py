"""Small random-weight networks of the shapes users bring (torch modules, exported
by ``torch.onnx.export``): residual CNN, U-Net with Concat/Resize, smooth
activations, BN without a conv before it, selection ops, 1-D convolutions,
squeeze-excite gating, an FPN decoder with ConvTranspose, Pow/Div/ReduceL2 math."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


def _randomize_bn(m: nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    for mod in m.modules():
        if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
            c = mod.num_features
            mod.running_mean.copy_(torch.rand(c, generator=g) * 0.4 - 0.2)
            mod.running_var.copy_(torch.rand(c, generator=g) + 0.5)
            mod.weight.data.copy_(torch.rand(c, generator=g) + 0.5)
            mod.bias.data.copy_(torch.rand(c, generator=g) * 0.4 - 0.2)
        elif isinstance(mod, (nn.GroupNorm, nn.InstanceNorm2d)) and mod.weight is not None:
            c = mod.weight.numel()
            mod.weight.data.copy_(torch.rand(c, generator=g) + 0.5)
            mod.bias.data.copy_(torch.rand(c, generator=g) * 0.4 - 0.2)


class ResNetTiny(nn.Module):
    """Two residual blocks (identity and strided 1x1 shortcut), BN, GAP, Linear."""

    def __init__(self):
        super().__init__()
        self.stem, self.bn0 = nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16)
        self.c1, self.b1 = nn.Conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16)
        self.c2, self.b2 = nn.Conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16)
        self.down, self.c3 = nn.Conv2d(16, 32, 1, stride=2), nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = F.relu(self.bn0(self.stem(x)))
        x = F.relu(x + self.b2(self.c2(F.relu(self.b1(self.c1(x))))))
        x = F.relu(self.c3(x) + self.down(x))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


class UNetTiny(nn.Module):
    """Encoder/decoder: nearest and bilinear upsampling, skip Concats, Sigmoid head."""

    def __init__(self):
        super().__init__()
        self.e1, self.e2 = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 16, 3, padding=1, stride=2)
        self.mid = nn.Conv2d(16, 16, 3, padding=1)
        self.d1, self.d2 = nn.Conv2d(24, 8, 3, padding=1), nn.Conv2d(24, 8, 3, padding=1)
        self.head = nn.Conv2d(8, 2, 1)

    def forward(self, x):
        a = F.relu(self.e1(x))
        b = F.relu(self.mid(F.relu(self.e2(a))))
        u1 = F.relu(self.d1(torch.cat([F.interpolate(b, scale_factor=2, mode="nearest"), a], 1)))
        up = F.interpolate(b, scale_factor=2, mode="bilinear", align_corners=False)
        u2 = F.relu(self.d2(torch.cat([a, up], 1)))
        return torch.sigmoid(self.head(u1 + u2))


class SmoothActs(nn.Module):
    """SiLU, HardSwish, x*Sigmoid, x*HardSigmoid, Tanh, GELU, AveragePool, mean."""

    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(3, 16, 3, padding=1), nn.Conv2d(16, 16, 3, padding=1, groups=16)
        self.c3, self.c4 = nn.Conv2d(16, 16, 1), nn.Conv2d(16, 16, 3, padding=1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = F.hardswish(self.c2(F.silu(self.c1(x))))
        x = torch.sigmoid(self.c3(x)) * x
        x = F.gelu(torch.tanh(F.hardsigmoid(self.c4(x)) * x))
        return self.fc(F.avg_pool2d(x, 2).mean((2, 3)))


class BnPadSplit(nn.Module):
    """BN on the input (no conv before it), Pad, Split, Mul by a constant, LeakyRelu,
    Concat, pools, Gemm (transB) + BatchNorm1d + ReLU6."""

    def __init__(self):
        super().__init__()
        self.bn, self.c1 = nn.BatchNorm2d(3), nn.Conv2d(3, 16, 3)
        self.c2, self.c3 = nn.Conv2d(8, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1)
        self.fc, self.bn1, self.fc2 = nn.Linear(144, 32), nn.BatchNorm1d(32), nn.Linear(32, 10)

    def forward(self, x):
        x = F.relu(self.c1(F.pad(self.bn(x), (1, 1, 1, 1))))
        a, b = torch.split(x, 8, dim=1)
        x = torch.cat([F.relu(self.c2(a)) * 0.5, F.leaky_relu(self.c3(b), 0.1)], 1)
        x = F.avg_pool2d(F.max_pool2d(x, 2), 2).reshape(x.shape[0], -1)
        return self.fc2(F.relu6(self.bn1(self.fc(x))))


class Selection(nn.Module):
    """Per-channel and scalar PRelu, reflect Pad, MaxPool ceil_mode, AveragePool with
    count_include_pad, elementwise Max/Min, ReduceSum, ReduceMax, LogSoftmax."""

    def __init__(self):
        super().__init__()
        self.c, self.c2 = nn.Conv2d(3, 8, 3), nn.Conv2d(8, 8, 3)
        self.p, self.p1 = nn.PReLU(8), nn.PReLU()
        with torch.no_grad():
            self.p.weight.copy_(torch.linspace(0.05, 0.9, 8))
        self.fc = nn.Linear(16, 6)

    def forward(self, x):
        y = self.p(self.c(F.pad(x, (1, 1, 1, 1), mode="reflect")))
        y = F.avg_pool2d(F.max_pool2d(y, 3, 2, ceil_mode=True), 3, 1, padding=1, count_include_pad=True)
        z = torch.minimum(torch.maximum(self.p1(self.c2(y)), torch.zeros_like(y[:, :, 1:-1, 1:-1]) - 0.5),
                          y[:, :, 1:-1, 1:-1])
        f = torch.cat([(z * 0.25).sum((2, 3)), z.amax((2, 3))], 1)
        return F.log_softmax(self.fc(f), -1)


class Conv1dNet(nn.Module):
    """Conv1d + BatchNorm1d + Hardtanh, strided/dilated Conv1d, Linear on [N, L, C]."""

    def __init__(self):
        super().__init__()
        self.c, self.bn = nn.Conv1d(4, 8, 3, padding=1), nn.BatchNorm1d(8)
        self.c2 = nn.Conv1d(8, 8, 3, stride=2, padding=2, dilation=2)
        self.fc = nn.Linear(8, 6)

    def forward(self, x):
        y = F.relu(self.c2(F.hardtanh(self.bn(self.c(x)), -1.5, 1.5)))
        return self.fc(y.transpose(1, 2))


class NormSeg(nn.Module):
    """GroupNorm, InstanceNorm2d (affine), per-pixel Softmax over channels."""

    def __init__(self):
        super().__init__()
        self.c1, self.gn = nn.Conv2d(3, 8, 3, padding=1), nn.GroupNorm(2, 8)
        self.c2, self.inorm = nn.Conv2d(8, 8, 3, padding=1), nn.InstanceNorm2d(8, affine=True)
        self.head = nn.Conv2d(8, 4, 1)

    def forward(self, x):
        y = F.silu(self.gn(self.c1(x)))
        y = F.relu(self.inorm(self.c2(y)))
        return torch.softmax(self.head(y), 1)


class SqueezeExcite(nn.Module):
    """MobileNetV3 block: BN, HardSwish, depthwise conv, squeeze-excite gate
    (GAP -> 1x1 -> ReLU -> 1x1 -> HardSigmoid) multiplied back (two activations)."""

    def __init__(self):
        super().__init__()
        self.c, self.bn = nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16)
        self.dw = nn.Conv2d(16, 16, 3, padding=1, groups=16)
        self.f1, self.f2, self.pw = nn.Conv2d(16, 4, 1), nn.Conv2d(4, 16, 1), nn.Conv2d(16, 8, 1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        y = F.hardswish(self.dw(F.hardswish(self.bn(self.c(x)))))
        g = F.hardsigmoid(self.f2(F.relu(self.f1(F.adaptive_avg_pool2d(y, 1)))))
        return self.fc(self.pw(y * g).mean((2, 3)))


class FpnDecoder(nn.Module):
    """FPN-style decoder: strided convs, 1x1 lateral + nearest upsample Add,
    ConvTranspose + BatchNorm + ReLU, a second Add."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.lat, self.up = nn.Conv2d(8, 16, 1), nn.ConvTranspose2d(16, 16, 2, stride=2)
        self.bn, self.out = nn.BatchNorm2d(16), nn.Conv2d(16, 4, 3, padding=1)

    def forward(self, x):
        a = F.relu(self.a(x))
        b = F.relu(self.b(a))
        p = self.lat(a) + F.interpolate(b, scale_factor=2.0, mode="nearest")
        return self.out(F.relu(self.bn(self.up(b))) + p)


class MathOps(nn.Module):
    """Input normalization (Sub/Div by constants), general Clip, ELU, Pow by a constant,
    Sqrt, Div by an activation, F.normalize (ReduceL2, Clip, Expand, Div)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        self.c, self.d = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(3, 8, 3, padding=1)
        self.fc = nn.Linear(8 * 4 * 4, 16)

    def forward(self, x):
        x = (x - self.mean) / self.std
        y = F.elu(torch.clamp(self.c(x), -1.0, 2.0))
        y = torch.sqrt(y.pow(2) + 1.0) / (torch.sigmoid(self.d(x)) + 0.5)
        y = self.fc(F.avg_pool2d(F.max_pool2d(y, 2), 2).flatten(1))
        return F.normalize(y, dim=1)


ZOO = {  # name: (module class, input shape)
    "resnet_tiny": (ResNetTiny, (1, 3, 16, 16)),
    "unet_tiny": (UNetTiny, (1, 3, 16, 16)),
    "smooth_acts": (SmoothActs, (1, 3, 16, 16)),
    "bn_pad_split": (BnPadSplit, (1, 3, 14, 14)),
    "selection": (Selection, (1, 3, 16, 16)),
    "conv1d": (Conv1dNet, (1, 4, 24)),
    "norm_seg": (NormSeg, (1, 3, 12, 12)),
    "squeeze_excite": (SqueezeExcite, (1, 3, 16, 16)),
    "fpn_decoder": (FpnDecoder, (1, 3, 16, 16)),
    "math_ops": (MathOps, (1, 3, 16, 16)),
}


def export(name: str, path: str, seed: int = 0, dynamo: bool = False, opset: int = 17) -> tuple:
    """Export ZOO[name] with random weights to ``path``; returns the input shape.
    ``dynamo``: torch's default exporter (torch.export, opset 20) instead of TorchScript
    (at ``opset``)."""
    cls, shape = ZOO[name]
    torch.manual_seed(seed)
    m = cls().eval()
    _randomize_bn(m, seed)
    kw = {"dynamo": True} if dynamo else {"opset_version": opset, "dynamo": False}
    with torch.no_grad():
        torch.onnx.export(m, (torch.randn(*shape),), path, input_names=["x"], output_names=["y"], **kw)
    return shape
