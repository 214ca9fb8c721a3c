"""A smoke set of issue 12's corpus models (tests/models/zoo: small torch modules exported
in the test, no download) through ``--target triton`` under the Triton interpreter: outputs
bit-exact with ``--engine reference`` on test samples.  The smallest run in the fast
suite; the heavier ones (under the interpreter) are slow."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from qcc.commands import run_artifact
from qcc.driver import CompileOptions, compile_model
from qcc.frontend.onnx_import import parse_input_shapes

pytest.importorskip("torch")
from tests.models.zoo import fetch  # noqa: E402

FAST = ["kws_tcnn", "det_head", "kws_gru"]  # a CNN, a detection head, a GRU
SLOW = ["pnet_random", "ds_cnn_kws", "fc_autoencoder", "unet_seg"]


def _check(name: str, tmp_path, rows: int) -> dict:
    e = next(e for e in fetch.CORPUS if e.name == name)
    d = fetch.build_one(e, str(tmp_path))
    meta = json.load(open(os.path.join(d, "meta.json")))
    out = str(tmp_path / "tt")
    man = compile_model(os.path.join(d, "model.onnx"), CompileOptions(
        target="triton", out_dir=out, input_shapes=parse_input_shapes(meta["input_shapes"]),
        options={"calib": os.path.join(d, "calib.npz"), "quiet": True}))
    with np.load(os.path.join(d, "test.npz")) as z:
        test = {k: z[k][:rows] for k in z.files}
    got, want = run_artifact(out, test, "target", "cpu"), run_artifact(out, test, "reference")
    assert sorted(got) == sorted(want)
    for k in want:
        assert got[k].dtype == want[k].dtype and np.array_equal(got[k], want[k]), (name, k)
    return man


@pytest.mark.parametrize("name", FAST)
def test_small_corpus_model_bit_exact_under_the_interpreter(name, tmp_path):
    man = _check(name, tmp_path, 2)
    assert man["layers"] and all(r["family"] and r["template"] for r in man["layers"])


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW)
def test_corpus_model_bit_exact_under_the_interpreter(name, tmp_path):
    _check(name, tmp_path, 2)
