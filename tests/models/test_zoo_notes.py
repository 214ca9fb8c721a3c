"""The corpus table's 'why not' cell for rows below onnxruntime: the measured cause from
tests/models/zoo/below_ort.json, never a guess (render.py ``_why``)."""

from __future__ import annotations

import pytest

from tests.models.zoo import render

ROW = {"name": "m", "import": "ok", "compile_c": "ok", "compile_onnx": "ok", "c_bit_exact": "yes",
       "qcc_sqnr": 20.0, "ort_sqnr": 21.0}
NOTE = {"gap_db": 1.0, "why": "the range estimator", "measured": "d c", "command": "x"}


def test_below_without_a_note_says_not_measured():
    assert render._why(ROW, {}) == "qcc 1.0 dB below onnxruntime; cause not measured yet"


def test_below_with_a_note_at_that_gap_gives_its_cause():
    assert render._why(ROW, {"m": NOTE}) == "qcc 1.0 dB below onnxruntime: the range estimator"


def test_a_note_measured_at_another_gap_is_shown_as_such():
    why = render._why(dict(ROW, qcc_sqnr=18.0), {"m": NOTE})
    assert why.startswith("qcc 3.0 dB below onnxruntime; at a 1.0 dB gap measured: the range")


@pytest.mark.parametrize("qcc", [21.0, 20.97, 25.0])
def test_at_or_above_onnxruntime_has_no_note(qcc):
    assert render._why(dict(ROW, qcc_sqnr=qcc), {"m": NOTE}) == ""


def test_the_data_file_names_measurement_and_command():
    notes = render.below_notes()
    assert notes
    for name, n in notes.items():
        assert set(n) == {"gap_db", "why", "measured", "command"}, name
        assert n["gap_db"] > 0 and n["why"] and n["command"] and n["measured"][:4] == "2026", name
