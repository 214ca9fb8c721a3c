"""A smoke set of issue 12's corpus models (tests/models/zoo: small torch modules exported
in the test, no download) through ``--target triton`` under the Triton interpreter: outputs
bit-exact with ``--engine reference`` on test samples.  The smallest run in the fast
suite; the heavier ones (under the interpreter) are slow."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
from tests.models.zoo.smoke import check_bit_exact  # noqa: E402

FAST = ["kws_tcnn", "det_head", "kws_gru"]  # a CNN, a detection head, a GRU
SLOW = ["pnet_random", "ds_cnn_kws", "fc_autoencoder", "unet_seg"]


def _check(name: str, tmp_path, rows: int) -> dict:
    return check_bit_exact(name, tmp_path, "triton", rows, "cpu")


@pytest.mark.parametrize("name", FAST)
def test_small_corpus_model_bit_exact_under_the_interpreter(name, tmp_path):
    man = _check(name, tmp_path, 2)
    assert man["layers"] and all(r["family"] and r["template"] for r in man["layers"])


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW)
def test_corpus_model_bit_exact_under_the_interpreter(name, tmp_path):
    _check(name, tmp_path, 2)
