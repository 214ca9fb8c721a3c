"""Exporter patterns beyond the examples: a model mixing GroupNorm, reflect padding,
MultiheadAttention with a key-padding mask computed from a ``lengths`` input,
scaled_dot_product_attention(is_causal), tanh-GELU, masked_fill, chunk, einsum,
cumsum, pixel_shuffle and ConvTranspose, exported by torch and compared by qcc's
import + interpreter with onnxruntime and with torch itself.

The exporters write these as InstanceNormalization (GroupNorm), Where/Equal/Range
masks, Trilu or a constant causal mask, Einsum, CumSum, DepthToSpace, Split ...
The TorchScript exporter runs in the fast suite, the dynamo exporter in the slow one.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import onnx
import pytest

from tests.models.light_testlib import ort_run

torch = pytest.importorskip("torch")


class Mixed(torch.nn.Module):
    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.conv, self.gn = nn.Conv2d(3, 16, 3, padding=1), nn.GroupNorm(4, 16)
        self.mha = nn.MultiheadAttention(16, 4, batch_first=True)
        self.lin, self.ps = nn.Linear(16, 16), nn.Conv2d(16, 16, 1)
        self.ct = nn.ConvTranspose2d(16, 8, 2, stride=2)

    def forward(self, x, lengths):
        f = torch.nn.functional
        y = f.pad(f.silu(self.gn(self.conv(x))), (1, 1, 0, 2), mode="reflect")
        y = f.avg_pool2d(y[:, :, :16, :24], 4)
        b, c, h, w = y.shape
        seq = y.flatten(2).transpose(1, 2)
        t = seq.shape[1]
        pad_mask = torch.arange(t)[None, :] >= lengths[:, None]
        att, _ = self.mha(seq, seq, seq, key_padding_mask=pad_mask, need_weights=False)
        q = att.view(b, t, 4, 4).transpose(1, 2)
        o = f.scaled_dot_product_attention(q, q, q, is_causal=True).transpose(1, 2)
        o = f.gelu(self.lin(o.reshape(b, t, 16)), approximate="tanh")
        o = o.masked_fill(pad_mask[..., None], 0.0)
        a1, a2 = torch.chunk(o, 2, dim=-1)
        img = o.transpose(1, 2).reshape(b, 16, h, w)
        return (torch.einsum("btc,btd->bcd", a1, a2).flatten(1), torch.cumsum(o, 1)[:, -1],
                f.pixel_shuffle(self.ps(img), 2).mean((2, 3)), self.ct(img).amax((2, 3)))


def _check(dynamo: bool) -> None:
    from qcc.frontend.onnx_import import import_model
    from qcc.interp import Interpreter

    torch.manual_seed(0)
    m = Mixed().eval()
    x = torch.randn(1, 3, 16, 24)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, (x, torch.tensor([20])), buf, input_names=["x", "lengths"],
                          dynamo=dynamo, opset_version=18 if dynamo else 17,
                          **({"verbose": False} if dynamo else {}))
    model = onnx.load_from_string(buf.getvalue())
    it = Interpreter(import_model(model))
    names = [o.name for o in model.graph.output]
    for length in (24, 13, 1):  # the mask comes from the data: one graph serves all
        lengths = torch.tensor([length])
        feeds = {"x": x.numpy(), "lengths": lengths.numpy()}
        feeds = {i.name: feeds[i.name] for i in model.graph.input if i.name in feeds}
        ref, got = ort_run(model, feeds), it.run(feeds)
        with torch.no_grad():
            want = m(x, lengths)
        for name, t in zip(names, want):
            scale = float(np.abs(ref[name]).max())
            assert float(np.abs(got[name] - ref[name]).max()) <= 1e-5 * scale, (name, length)
            assert float(np.abs(got[name] - t.numpy()).max()) <= 1e-5 * scale, (name, length)


def test_torchscript_export_of_mixed_ops():
    _check(dynamo=False)


@pytest.mark.slow
def test_dynamo_export_of_mixed_ops():
    _check(dynamo=True)
