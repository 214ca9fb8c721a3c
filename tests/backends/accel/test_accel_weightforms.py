"""A conv's weights take DRAM only in the form its chosen schedule reads (docs/target_accel.md
§5): the plain blocks, the packed taps (``pack``/``pkw``) or the im2col rows (``pim``) are
prepared before the tiling is chosen, and only the one that the stream loads is placed in
the image; bit-exact whichever schedule is chosen, and the example's image is smaller."""

from __future__ import annotations

import numpy as np
import pytest

from qcc.backends.accel import layout
from qcc.backends.accel.layout import DramPlan

from accel_testlib import G, compile_and_compare
from test_accel_resident import conv

FORM = {"pack": ".wpack", "pkw": ".wpack", "pim": ".wim2col"}
SUFFIXES = (".wpack", ".wim2col", ".wblocks", ".wdiag")


def _placed(monkeypatch) -> list:
    names: list = []
    real = DramPlan.add_const

    def spy(self, name, *a, **k):
        names.append(name)
        return real(self, name, *a, **k)
    monkeypatch.setattr(layout.DramPlan, "add_const", spy)
    return names


def _weights(names, layer) -> list:
    return [n for n in names if n.startswith(layer + ".") and n.endswith(SUFFIXES)]


def test_a_lazy_constant_takes_dram_once_placed():
    plan = DramPlan()
    a = plan.lazy_const("a", np.arange(40, dtype=np.int8))
    b = plan.lazy_const("b", np.arange(24, dtype=np.int8))
    assert plan.const_size == 0 and a.nbytes == 40
    pb = plan.place(b)
    assert plan.place(b) is pb and [r.name for r, _ in plan.const_blobs] == ["b"]
    img = plan.image()
    assert img[pb.addr:pb.addr + 24].view(np.int8).tolist() == list(range(24))
    only_b = DramPlan()
    only_b.add_const("b", np.arange(24, dtype=np.int8))
    assert "a" in plan.lazy and len(img) == len(only_b.image())   # "a" takes no byte


@pytest.mark.parametrize("order", ["pim", "pkw", "sp"])
def test_only_the_weight_form_of_the_chosen_schedule_is_placed(order, tmp_path, monkeypatch):
    """A 1-channel 3x3 stem (eligible for all three forms) forced onto each schedule: its one
    placed weight constant is that schedule's form; bit-exact."""
    from qcc.backends.accel import gemm_emit

    real = gemm_emit.candidates

    def only(ly, hw_):
        cands = real(ly, hw_)
        keep = [t for t in cands if t.order == order]
        return keep if ly.c == 1 else cands

    monkeypatch.setattr(gemm_emit, "candidates", only)
    names = _placed(monkeypatch)
    g = G(21)
    x = g.input((1, 1, 6, 6))
    a = conv(g, x, 8, 3, x_zp=-5, y_zp=4, pads=[1, 1, 1, 1])
    conv(g, a, 8, 1, x_zp=4, output=True)
    acc = compile_and_compare(g, tmp_path)
    stem = acc["layers"][0]
    assert f"order={order}" in stem["tiling"], stem["tiling"]
    (form,) = _weights(names, stem["name"])
    assert form == stem["name"] + FORM.get(order, ".wblocks")


def test_example_places_one_weight_form_per_conv(tmp_path, monkeypatch):
    """digits_cnn: every conv/linear places exactly the weight form of its schedule, and the
    image holds no other weight constant; bit-exact on the first rows of its test set."""
    from test_accel_models import _subset, assert_target_equals_reference, compile_accel

    names = _placed(monkeypatch)
    man = compile_accel("digits_cnn", tmp_path / "out")
    gemms = [ly for ly in man["accel"]["layers"] if ly["kind"] == "gemm"]
    for ly in gemms:
        order = ly["tiling"].split("order=")[1].split()[0]
        got = _weights(names, ly["name"])
        assert len(got) == 1 and (got[0].endswith(FORM[order]) if order in FORM
                                  else got[0].endswith((".wblocks", ".wdiag"))), (ly["tiling"], got)
    assert len([n for n in names if n.endswith(SUFFIXES)]) == len(gemms)
    assert_target_equals_reference(tmp_path / "out", _subset("digits_cnn", tmp_path, 8), tmp_path)
