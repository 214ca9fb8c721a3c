"""A smoke set of the model corpus (tests/models/zoo: small torch modules exported in the
test, no download) through ``--target accel``: the functional simulator's outputs are
bit-exact with ``--engine reference`` on test samples and the stream passes the checker
(bounds, deadlock freedom, races: run by every compile).  The small ones run in the fast
suite, the heavier ones are slow; the whole corpus is ``python -m qcc.bench.corpus_accel``
(docs/target_accel.md §12)."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
from tests.models.zoo.smoke import check_bit_exact  # noqa: E402

# a 1-D CNN, a detection head, a GRU, a U-Net, an MLP autoencoder, a P-Net (each under 3 s)
FAST = ["kws_tcnn", "det_head", "kws_gru", "unet_seg", "fc_autoencoder", "pnet_random"]
SLOW = ["ds_cnn_kws", "mobilenet_v1"]


def _check(name: str, tmp_path, rows: int) -> dict:
    return check_bit_exact(name, tmp_path, "accel", rows)


@pytest.mark.parametrize("name", FAST)
def test_small_corpus_model_bit_exact_on_the_simulator(name, tmp_path):
    man = _check(name, tmp_path, 2)
    acc = man["accel"]
    assert acc["layers"] and all(h["reason"] for h in acc["host_ops"]), acc["host_ops"]


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW)
def test_corpus_model_bit_exact_on_the_simulator(name, tmp_path):
    _check(name, tmp_path, 2)
