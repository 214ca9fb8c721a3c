"""The low-bit weight benchmark (bench/lowbit.py): int8 against packed int4 / int2 per build."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from qcc.bench import lowbit


def test_layer_profile_of_a_packed_int4_build(tmp_path):
    """The profiling build of an int4 / group-32 compile, portable kernels: one row per layer
    of the manifest, the MACs of qcc inspect, a time for every MAC layer."""
    from qcc.bench.run import select_models
    from qcc.commands import inspect_model

    m, = select_models(["digits_cnn"], quick=True)
    import numpy as np

    import qcc

    np.savez(tmp_path / "calib.npz", **m.calib)
    out = tmp_path / "c"
    qcc.compile(m.path, calib=str(tmp_path / "calib.npz"), target="c", out_dir=out, quiet=True,
                **lowbit.WIDTHS["int4_g32"])
    sample = {k: v[:1] for k, v in m.test.items()}
    layers = lowbit.layer_profile(str(out), sample, ("-DQCC_PORTABLE",), 3)
    manifest = json.loads((out / "manifest.json").read_text())
    assert [r["node"] for r in layers] == [r["node"] for r in manifest["layers"]]
    assert sum(r["macs"] for r in layers) == inspect_model(m.path, {})["macs"]
    mac_rows = [r for r in layers if r["op"] in lowbit.MAC_OPS]
    assert mac_rows and all(r["ns"] > 0 for r in mac_rows)


@pytest.mark.slow
def test_lowbit_bench_digits_through_the_module(tmp_path):
    """python -m qcc.bench.lowbit writes the JSON and the table; each ratio is the quotient of
    its cells, each MAC-layer sum the sum of its MAC layers."""
    r = subprocess.run([sys.executable, "-m", "qcc.bench.lowbit", "digits_cnn", "--rounds", "1",
                        "--runs", "3", "--out", str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    data = json.loads((tmp_path / "lowbit.json").read_text())
    rec, = data["models"]
    assert set(rec["cells"]) == {f"{w}/{b}" for w in lowbit.WIDTHS for b in lowbit.BUILDS}
    for key, c in rec["cells"].items():
        assert c["mac_layers_us"] == pytest.approx(
            sum(x["ns"] for x in c["layers"] if x["op"] in lowbit.MAC_OPS) / 1e3, abs=0.01)
        assert c["steps_us"] == pytest.approx(sum(x["ns"] for x in c["layers"]) / 1e3, abs=0.01)
    for key, q in rec["vs_int8"].items():
        w, b = key.split("/")
        for r, field in (("model", "median_us"), ("steps", "steps_us"), ("mac_layers", "mac_layers_us")):
            assert q[r] == pytest.approx(rec["cells"][key][field] / rec["cells"][f"int8/{b}"][field], abs=0.006)
    text = (tmp_path / "lowbit.md").read_text()
    assert text.count("| digits_cnn |") == len(lowbit.BUILDS)
