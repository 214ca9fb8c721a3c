"""bench/triton_gpu.py on a CPU: the GEMM measurement path runs end to end under the
interpreter with a stand-in timer (its fused result bit-exact, every baseline timed),
and the benchmark itself refuses to run without a GPU (exit 2, nothing measured)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch


def test_gemm_row_smoke_on_cpu():
    from qcc.bench.triton_gpu import bench_gemm

    calls = []

    def fake_bench(fn):  # runs the measured function once; not a timing
        fn()
        calls.append(1)
        return 1.0

    row = bench_gemm(32, 48, 64, 100.0, fake_bench, dev="cpu")
    assert row["exact"] is True
    assert {"fused_ms", "plain_ms", "int_mm_requant_ms", "int_mm_ms", "bf16_ms",
            "fused_pct_peak", "epilogue_cost_pct"} <= set(row)
    assert len(calls) == 5


def test_bench_refuses_without_gpu(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: the benchmark would run")
    r = subprocess.run([sys.executable, "-m", "qcc.bench.triton_gpu", "--out",
                        str(tmp_path / "b.json")], capture_output=True, text=True)
    assert r.returncode == 2 and "no CUDA device" in r.stderr
    assert not (tmp_path / "b.json").exists()
    r = subprocess.run([sys.executable, "-m", "qcc.cli", "bench", "--targets", "triton", "--out",
                        str(tmp_path / "o")], capture_output=True, text=True)
    assert r.returncode == 2 and "needs a CUDA GPU" in r.stderr and "Traceback" not in r.stderr
