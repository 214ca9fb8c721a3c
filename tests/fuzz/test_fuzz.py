"""The seeded mutation fuzzer (issue 18): no internal error, no traceback, no hang, no
silent wrong output, no stray file on any hostile input.

The fast set (CI) runs a few dozen cases in-process (``qcc.cli.main``, same code path
as the console script); the slow set runs several hundred through the real ``qcc``
script.  ``python -m tests.fuzz.report`` reruns the slow set and writes the counts
table of docs/reliability.md."""

from __future__ import annotations

import pytest

from .mutants import generate
from .runner import BUGS, run_case, totals

FAST_SEED, FAST_COUNT = 18, 36
SLOW_SEED, SLOW_COUNT = 1818, 400


def _assert_clean(outcomes) -> None:
    bad = [f"{o.name}: {o.cls} (rc {o.rc}) {o.detail}" for o in outcomes if o.cls in BUGS]
    assert not bad, "\n".join(bad)


def test_fast_fuzz_set(tmp_path):
    cases = generate(FAST_SEED, FAST_COUNT)
    assert {c.kind for c in cases} == {"bytes", "proto", "npz", "flags"}
    outcomes = [run_case(c, str(tmp_path), timeout=120) for c in cases]
    t = totals(outcomes)
    assert t["ok"] + t["refused"] == FAST_COUNT, t
    assert t["refused"] > 0 and t["ok"] > 0  # the set exercises both answers
    _assert_clean(outcomes)


def test_cases_are_seeded():
    a = [(c.name, c.model_bytes, c.flags) for c in generate(5, 12)]
    b = [(c.name, c.model_bytes, c.flags) for c in generate(5, 12)]
    assert a == b


@pytest.mark.slow
def test_slow_fuzz_set_through_the_script(tmp_path):
    outcomes = [run_case(c, str(tmp_path), timeout=300, script=True)
                for c in generate(SLOW_SEED, SLOW_COUNT)]
    _assert_clean(outcomes)
