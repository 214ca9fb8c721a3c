"""The C kernel benchmark (bench/kernels.py): fair onnxruntime timing and the table."""

from __future__ import annotations

import numpy as np
import pytest

from qcc.bench import kernels


def test_iobound_call_runs_the_model_and_fills_the_bound_output(tmp_path):
    path = kernels._identity(str(tmp_path))
    x = np.array([3.5], np.float32)
    call = kernels._iobound(path, {"x": x, "unused": np.zeros(2)})
    call()
    np.testing.assert_array_equal(call.io.copy_outputs_to_cpu()[0], x)
    x[0] = -1.25  # inputs are bound by reference once: the next call sees the new value
    call()
    np.testing.assert_array_equal(call.io.copy_outputs_to_cpu()[0], [-1.25])
    assert kernels._time_fn(call, 5) > 0


@pytest.mark.slow
def test_bench_model_digits_side_by_side(tmp_path):
    from qcc.bench.run import select_models

    m, = select_models(["digits_cnn"], quick=True)
    rec = kernels.bench_model(m, str(tmp_path), rounds=2, runs=5, m4=True)
    md, fair = rec["median_us"], rec["ort_minus_call_us"]
    assert set(md) == {"qcc_c", "qcc_c_fixed", "qcc_c_portable", "qcc_c_native", "qcc_c_native_portable", "qcc_c_avx2", "ort_fp32",
                       "ort_int8", "ort_empty"}
    assert all(len(v) == 2 for v in rec["rounds_us"].values())
    for k in ("ort_fp32", "ort_int8"):
        assert fair[k] == pytest.approx(max(md[k] - md["ort_empty"], 0), abs=0.02)
        assert rec["speedup"][f"{k}/qcc_c"] == pytest.approx(fair[k] / md["qcc_c"], rel=0.01)
    m4 = rec["cortex_m4"]
    from qcc.commands import inspect_model

    assert m4["macs"] == inspect_model(m.path, {})["macs"]
    assert m4["insns_per_mac"] == pytest.approx(m4["instructions"] / m4["macs"], abs=0.01)
    sz = rec["runner_text_bytes"]
    assert sz["qcc_c_fixed"] > 0 and sz["qcc_c"] >= sz["qcc_c_fixed"]
    text = kernels.table([rec])
    assert text.count("\n") == 6 and text.count("digits_cnn") == 2
