"""`qcc profile`: per-layer ns (host) and instructions (Cortex-M4 and Cortex-M55 under QEMU icount) of a
profiling build of the generated C (backends/c/profile.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qcc.backends.c import arm

from c_testlib import needs_arm
from qcc.backends.c.build import build, run_samples

ROOT = Path(__file__).resolve().parents[3]
DIGITS = ROOT / "examples" / "digits_cnn"
QCC = [sys.executable, "-m", "qcc.cli"]


def _qcc(*args, check=True):
    r = subprocess.run([*QCC, *map(str, args)], capture_output=True, text=True)
    if check:
        assert r.returncode == 0, r.stderr
    return r


@pytest.fixture(scope="module")
def digits(tmp_path_factory, digits_c):
    return digits_c(tmp_path_factory.mktemp("prof") / "c")


@pytest.fixture(scope="module")
def onnx_macs():
    """The MACs `qcc inspect` counts on the ONNX model (an independent import of the source
    graph), once per module."""
    return json.loads(_qcc("inspect", DIGITS / "digits_cnn.onnx", "--json").stdout)["macs"]


def _layers_check(res: dict, digits: Path, unit: str, onnx_macs: int) -> None:
    manifest = json.loads((digits / "manifest.json").read_text())
    assert res["unit"] == unit and set(res["total"]) == {unit, "macs"}
    assert [(r["node"], r["op"], r["kernel"]) for r in res["layers"]] == \
        [(r["node"], r["op"], r["kernel"]) for r in manifest["layers"]]
    assert all(r[unit] >= 0 for r in res["layers"])
    # MACs: only the conv/linear layers have them, and they add up to what `qcc inspect`
    # counts on the ONNX model (an independent import of the source graph)
    assert res["total"]["macs"] == onnx_macs == sum(r["macs"] for r in res["layers"])
    for r in res["layers"]:
        assert (r["macs"] > 0) == (r["op"] in ("qcc.conv2d", "qcc.linear", "qcc.matmul"))


def test_qcc_profile_host_table_and_json(digits, onnx_macs, tmp_path):
    r = _qcc("profile", digits, "--inputs", DIGITS / "test.npz", "--runs", "50",
             "--json", tmp_path / "p.json")
    res = json.loads((tmp_path / "p.json").read_text())
    assert res["engine"] == "host"
    # the test suite builds without run-time dispatch (tests/conftest.py; with it:
    # test_c_dispatch.py)
    assert res["isa"] == "fixed" and "isa fixed" in r.stdout
    _layers_check(res, digits, "ns", onnx_macs)
    steps = sum(r["ns"] for r in res["layers"])
    assert res["total"]["ns"] > 0 and 0.3 * res["total"]["ns"] <= steps <= 3 * res["total"]["ns"]
    for row in res["layers"]:
        assert row["node"] in r.stdout
    assert "total" in r.stdout and "ns/MAC" in r.stdout


def test_profiling_build_computes_the_same_outputs(digits):
    """The profiling build only adds the marks: outputs equal the plain build bit for bit."""
    manifest = json.loads((digits / "manifest.json").read_text())
    with np.load(DIGITS / "test.npz") as z:
        samples = [{"input": z["input"][i:i + 1]} for i in range(8)]
    plain = run_samples(str(digits), samples, manifest)
    prof = run_samples(str(digits), samples, manifest,
                       binary=build(str(digits), extra_cflags=("-DQCC_PROFILE",)))
    for a, b in zip(plain, prof):
        assert all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("args, msg", [
    (["profile", "no/such/dir", "--inputs", DIGITS / "test.npz"], "is not a folder"),
    (["profile", "{d}", "--inputs", DIGITS / "test.npz", "--row", "100000"], "out of range"),
    (["profile", "{d}", "--inputs", DIGITS / "test.npz", "--runs", "0"], "--runs"),
])
def test_qcc_profile_bad_arguments_are_one_line_errors(digits, args, msg):
    r = _qcc(*[str(a).replace("{d}", str(digits)) for a in args], check=False)
    assert r.returncode == 2
    assert msg in r.stderr and len(r.stderr.strip().splitlines()) == 1 and not r.stdout


@needs_arm
def test_qcc_profile_cortex_m4_instructions_add_up(digits, onnx_macs, tmp_path):
    _qcc("profile", digits, "--inputs", DIGITS / "test.npz", "--engine", "cortex-m4",
         "--json", tmp_path / "m4.json")
    res = json.loads((tmp_path / "m4.json").read_text())
    assert res["engine"] == "cortex-m4"
    _layers_check(res, digits, "instructions", onnx_macs)
    with np.load(DIGITS / "test.npz") as z:
        whole = arm.count_instructions(digits, [{"input": z["input"][:1]}])[0]
    # the steps cover the whole run but the call and return, each exact to one SysTick tick;
    # the marks' calls cost the instrumented code a few register moves (0.2 % on this model)
    slack = (len(res["layers"]) + 2) * res["instructions_per_tick"] + 0.005 * whole
    assert abs(res["total"]["instructions"] - whole) <= slack


@pytest.mark.skipif(not arm.available("cortex-m55"), reason=arm.missing_tools() or "ok")
def test_cortex_m55_engine_through_the_console_script(digits, tmp_path):
    """`qcc run --engine cortex-m55` gives the reference outputs bit for bit."""
    with np.load(DIGITS / "test.npz") as z:
        x = z["input"][:3]
    np.savez(tmp_path / "in.npz", input=x)
    _qcc("run", digits, "--inputs", tmp_path / "in.npz", "-o", tmp_path / "m55.npz",
         "--engine", "cortex-m55")
    _qcc("run", digits, "--inputs", tmp_path / "in.npz", "-o", tmp_path / "ref.npz",
         "--engine", "reference")
    with np.load(tmp_path / "m55.npz") as a, np.load(tmp_path / "ref.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for k in a.files:
            assert np.array_equal(a[k], b[k]), k


@pytest.mark.slow  # the profile path of the M4 test above, on the other core
@pytest.mark.skipif(not arm.available("cortex-m55"), reason=arm.missing_tools() or "ok")
def test_qcc_profile_cortex_m55_instructions_add_up(digits, onnx_macs, tmp_path):
    """`qcc profile --engine cortex-m55` adds up to the plain M55 build's instruction count."""
    with np.load(DIGITS / "test.npz") as z:
        x = z["input"][:3]
    np.savez(tmp_path / "in.npz", input=x)
    _qcc("profile", digits, "--inputs", tmp_path / "in.npz", "--engine", "cortex-m55",
         "--json", tmp_path / "m55.json")
    res = json.loads((tmp_path / "m55.json").read_text())
    assert res["engine"] == "cortex-m55"
    _layers_check(res, digits, "instructions", onnx_macs)
    whole = arm.count_instructions(digits, [{"input": x[:1]}], core="cortex-m55")[0]
    slack = (len(res["layers"]) + 2) * res["instructions_per_tick"] + 0.005 * whole
    assert abs(res["total"]["instructions"] - whole) <= slack
    # (no ordering against the M4 build: since the fifth round of Cortex-M4 kernels its DSP
    # depthwise forms and conv row loop take fewer instructions on digits_cnn than the
    # Helium build, docs/target_c.md)
