"""onnx's light architecture models: qcc import + interpreter against onnxruntime.

Each model runs twice: as shipped (every weight 0.02, built by ConstantOfShape)
and with deterministic random weights (``light_testlib.randomize``), which is the
variant that catches numerical bugs.  Both the outputs and the logits (input of
the final Softmax) are compared; see ``light_testlib.compare`` for the bound on
the Softmax outputs.  All nine models are slow (VGG19 alone builds 550 MB of
weights); SqueezeNet is the fast smoke test.
"""

from __future__ import annotations

import pytest

from tests.models.light_testlib import LIGHT_MODELS, compare

LOGITS_RTOL = 1e-4  # float32 sums of up to 25088 terms, in a different order than onnxruntime


def _check(name: str, randomized: bool) -> dict:
    r = compare(name, randomized)
    assert r["max_abs"] <= r["out_bound"], r
    if "logits_rel" in r:
        assert r["logits_rel"] <= LOGITS_RTOL, r
    if randomized:
        assert r["spread"] > 1e-3 or r.get("logits_rel", 1.0) <= LOGITS_RTOL, r
    return r


@pytest.mark.parametrize("randomized", [False, True])
def test_squeezenet_matches_onnxruntime(randomized):
    r = _check("squeezenet", randomized)
    if randomized:  # the randomized outputs spread out, and agree tightly
        assert r["spread"] > 1e-2 and r["max_abs"] <= 1e-6, r


@pytest.mark.slow
@pytest.mark.parametrize("randomized", [False, True])
@pytest.mark.parametrize("name", [m for m in LIGHT_MODELS if m != "squeezenet"])
def test_light_model_matches_onnxruntime(name, randomized):
    _check(name, randomized)
