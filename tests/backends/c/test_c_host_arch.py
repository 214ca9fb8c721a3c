"""The generated Makefile's `make HOST_ARCH=...` builds (-O3 with -Werror, as a user runs
them) of a one-group strided convolution on a plane of >= 64 outputs: the SIMD GEMM's
implicit im2col path (kernels/conv2d_pw_simd.c), where gcc 12 -O3 with AVX2 vectors raised a
false -Wstringop-overflow that -Werror turned into a failed build (found by the corpus speed
benchmark on two corpus models); the build runs bit-exact with the interpreter."""

from __future__ import annotations

import platform
import subprocess

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from c_testlib import needs_gcc

pytestmark = needs_gcc


def _strided_conv(path: str) -> None:
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array((0.2 * rng.standard_normal((32, 16, 3, 3))).astype(np.float32), "w")
    g = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], strides=[2, 2], pads=[1, 1, 1, 1])], "m",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, 32, 32])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 32, 16, 16])], [w])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


def _avx2() -> bool:
    try:
        return "avx2" in open("/proc/cpuinfo").read()
    except OSError:
        return False


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="SKIPPED, NOT PASSED: not x86-64")
def test_make_host_arch_avx2_builds_a_strided_conv_bit_exact(tmp_path):
    import qcc

    _strided_conv(str(tmp_path / "m.onnx"))
    x = np.random.default_rng(1).uniform(-1, 1, (2, 16, 32, 32)).astype(np.float32)
    np.savez(tmp_path / "calib.npz", x=x)
    out = str(tmp_path / "c")
    art = qcc.compile(str(tmp_path / "m.onnx"), calib=str(tmp_path / "calib.npz"), target="c", out_dir=out,
                      quiet=True)
    p = subprocess.run(["make", "-s", "-C", out, "HOST_ARCH=-mavx2"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-1500:]
    if not _avx2():
        pytest.skip("SKIPPED, NOT PASSED (build checked): this CPU cannot run AVX2 code")
    import json
    import os

    from qcc.backends.c.build import run_samples

    manifest = json.load(open(os.path.join(out, "manifest.json")))
    got = run_samples(out, [{"x": x[:1]}], manifest, binary=os.path.join(out, "qcc_run"))[0]
    want = art.run({"x": x[:1]}, engine="reference")
    assert set(got) == set(want) and all(np.array_equal(got[k], want[k]) for k in want)
