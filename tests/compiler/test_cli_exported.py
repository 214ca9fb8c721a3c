"""A recognizer-style model exported by torch with dynamic batch, height and width,
compiled and run through the real ``qcc`` console script as the foundation issue
describes: ``qcc compile M.onnx --input-shape x=1x3x48x192``.

The model has the shape arithmetic real exporters write: ``x.shape`` feeding an
``F.interpolate(size=(2h, 2w))`` (Resize with sizes), a ``view`` (Shape -> Gather ->
Concat -> Reshape), ``torch.arange(w)`` (Range) and a causal mask from
``torch.triu(torch.full((w, w), -1e4))`` (ConstantOfShape/Expand/Trilu).  The legacy
TorchScript exporter runs in the fast suite; the dynamo exporter (torch's default,
which also moves the weights to an external data file) in the slow one.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import onnx
import pytest

from qcc_testlib import assert_error, assert_ok, ort_run, qcc, qcc_inproc, rel_err

torch = pytest.importorskip("torch")
SHAPE = (1, 3, 48, 192)


class Recognizer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.c1, self.bn = nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.c2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.up = nn.Conv2d(16, 4, 1)
        self.ln, self.fc = nn.LayerNorm(16), nn.Linear(16, 11)

    def forward(self, x):
        f = torch.nn.functional
        y = f.hardswish(self.c2(f.relu(self.bn(self.c1(x)))))
        b, c, h, w = y.shape
        z = f.interpolate(self.up(y), size=(h * 2, w * 2), mode="bilinear", align_corners=False)
        seq = self.ln(y.mean(2).permute(0, 2, 1))  # B, W, C
        pos = torch.arange(w, dtype=seq.dtype).view(1, w, 1)
        mask = torch.triu(torch.full((w, w), -1e4), 1)
        att = torch.softmax(seq @ seq.transpose(1, 2) / 4.0 + mask, -1)
        return self.fc(att @ seq + pos * 0.01), z.reshape(b, -1).sum(1, keepdim=True)


def _export(path, dynamo: bool) -> None:
    torch.manual_seed(0)
    m = Recognizer().eval()
    x = torch.randn(*SHAPE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            dim = torch.export.Dim
            dyn = {"x": {0: dim("B"), 2: 8 * dim("h8", max=32), 3: 8 * dim("w8", max=128)}}
            torch.onnx.export(m, (x,), str(path), input_names=["x"], output_names=["logits", "z"],
                              dynamic_shapes=dyn, dynamo=True, opset_version=18,
                              external_data=True, verbose=False)
        else:
            torch.onnx.export(m, (x,), str(path), input_names=["x"], output_names=["logits", "z"],
                              dynamic_axes={"x": {0: "B", 2: "H", 3: "W"}}, dynamo=False,
                              opset_version=14)


def _compile_and_run(tmp_path, model, capsys) -> dict:
    src = onnx.load(str(model), load_external_data=False)
    dims = [d.dim_param or d.dim_value for d in src.graph.input[0].type.tensor_type.shape.dim]
    assert isinstance(dims[2], str) and isinstance(dims[3], str), dims  # H and W are dynamic
    # without the binding: one line naming the input and the open dimension (in-process:
    # the same code path as the script, without another interpreter start-up)
    line = assert_error(qcc_inproc(capsys, "compile", model, "-o", tmp_path / "nobind"), "'x'",
                        "--input-shape")
    assert str(dims[2]) in line
    assert not (tmp_path / "nobind").exists()
    out = tmp_path / "build"
    assert_ok(qcc("compile", model, "-o", out, "--input-shape", "x=1x3x48x192"))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["inputs"][0]["shape"] == list(SHAPE)
    assert {o["name"]: o["shape"] for o in manifest["outputs"]} == {"logits": [1, 96, 11],
                                                                  "z": [1, 1]}
    ir_text = (out / "model.qcc").read_text()
    for shape_op in ("onnx.Shape", "onnx.Gather", "onnx.ConstantOfShape", "onnx.Range",
                     "onnx.Expand", "onnx.Trilu"):
        assert shape_op not in ir_text  # every shape subgraph folded to constants
    x = np.random.default_rng(0).standard_normal((2,) + SHAPE[1:]).astype(np.float32)
    np.savez(tmp_path / "in.npz", x=x)
    want = {k: np.concatenate([ort_run(str(model), {"x": x[i:i + 1]})[k] for i in range(2)])
            for k in ("logits", "z")}
    errs = {}
    for engine in ("target", "reference"):
        res = tmp_path / f"{engine}.npz"
        assert_ok(qcc("run", out, "--inputs", tmp_path / "in.npz", "-o", res, "--engine", engine))
        with np.load(res, allow_pickle=False) as z:
            errs[engine] = rel_err({k: z[k] for k in want}, want)
    assert max(errs.values()) <= 1e-5, errs
    return errs


def test_torchscript_export_with_dynamic_hw(tmp_path, capsys):
    model = tmp_path / "rec.onnx"
    _export(model, dynamo=False)
    _compile_and_run(tmp_path, model, capsys)


@pytest.mark.slow
def test_dynamo_export_with_dynamic_hw_and_external_data(tmp_path, capsys):
    model = tmp_path / "rec.onnx"
    _export(model, dynamo=True)
    src = onnx.load(str(model), load_external_data=False)
    assert any(t.data_location == onnx.TensorProto.EXTERNAL for t in src.graph.initializer)
    _compile_and_run(tmp_path, model, capsys)
