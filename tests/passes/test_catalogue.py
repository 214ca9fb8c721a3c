"""docs/passes.md stays the catalogue of what is registered and what runs."""

from __future__ import annotations

import os
import re

import pytest

from qcc.passes.pipelines import INTEGER_TAIL, PIPELINES, QUANTIZED_TARGETS, pipeline_for
from qcc.passmanager import all_passes

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC = os.path.join(ROOT, "docs", "passes.md")


def _doc() -> str:
    with open(DOC, encoding="utf-8") as f:
        return f.read()


def _entries(text: str) -> list[str]:
    return re.findall(r"^### `([a-z0-9-]+)`\s*$", text, flags=re.M)


def test_every_registered_pass_has_an_entry():
    entries = set(_entries(_doc()))
    missing = sorted(set(all_passes()) - entries)
    assert not missing, f"docs/passes.md has no '### `name`' entry for registered pass(es): {missing}"


def test_every_entry_is_a_registered_pass_and_appears_once():
    entries = _entries(_doc())
    stale = sorted(set(entries) - set(all_passes()))
    assert not stale, f"docs/passes.md documents passes that are not registered: {stale}"
    dups = sorted({e for e in entries if entries.count(e) > 1})
    assert not dups, f"docs/passes.md documents these passes twice: {dups}"


def test_every_entry_says_something():
    sections = re.split(r"^### ", _doc(), flags=re.M)[1:]
    thin = [s.split("\n", 1)[0] for s in sections if len(s.split("\n", 1)[-1].split()) < 12]
    assert not thin, f"entries with (almost) no text: {thin}"


@pytest.mark.parametrize("target", sorted(PIPELINES))
def test_documented_quantizing_pipeline_is_the_real_one(target):
    label = "pipeline-integer" if target in QUANTIZED_TARGETS else "pipeline"
    blocks = re.findall(rf"```{label}\n(.*?)```", _doc(), flags=re.S)
    assert len(blocks) == 1, f"docs/passes.md needs exactly one ```{label} block"
    documented = blocks[0].split() + INTEGER_TAIL.get(target, [])  # the doc says which
    assert documented == pipeline_for(target, quantize=True), (
        f"the pipeline in docs/passes.md differs from pipeline_for('{target}', quantize=True) "
        f"= {pipeline_for(target, quantize=True)}")
