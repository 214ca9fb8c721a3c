"""The Triton target on a CUDA GPU: kernels and whole models bit-exact with the reference.

Runs only where torch sees a CUDA device (marker ``gpu``); elsewhere every test is
skipped, which is not a pass.  Must run in a process where TRITON_INTERPRET is unset
(``python -m pytest tests/backends/triton/test_triton_gpu.py`` with
``TRITON_INTERPRET=0``): tests/conftest.py sets it only when it is absent.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
              pytest.mark.skipif(os.environ.get("TRITON_INTERPRET") == "1",
                                 reason="run with TRITON_INTERPRET=0 to use the GPU")]

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def test_gemm_kernels_bit_exact_on_gpu():
    from tkit import mults, run_op

    from qcc.backends.triton.calls import conv_call, linear_call
    from qcc.backends.triton.runner import run_call
    from qcc.ir import DType

    rng = np.random.default_rng(0)
    for bits, (k, n, rows) in ((8, (300, 70, 33)), (4, (256, 64, 17)), (2, (128, 40, 5))):
        lim = {8: 127, 4: 8, 2: 2}[bits]
        w = rng.integers(-lim, lim, (k, n)).astype(np.int8)
        x = rng.integers(0, 256, (rows, k)).astype(np.uint8)
        bias = rng.integers(-9000, 9000, n).astype(np.int32)
        m, s = mults(rng, n, edge=True)
        ref = run_op("qcc.linear", [x, w, bias, m, s], dict(x_zp=77), consts=range(1, 5),
                     dtypes={1: {8: DType.int8, 4: DType.int4, 2: DType.int2}[bits]})
        call = linear_call("g", x.shape, "uint8", w, bits, bias, m, s, "int8", x_zp=77)
        np.testing.assert_array_equal(run_call(call, {"a": x}, ref.shape, "int8", "cuda"), ref)
    x = rng.integers(-128, 128, (2, 8, 15, 13)).astype(np.int8)
    wt = rng.integers(-127, 128, (8, 1, 3, 3)).astype(np.int8)
    m, s = mults(rng, 8)
    attrs = dict(strides=[2, 1], pads=[1, 1, 1, 1], dilations=[1, 1], group=8, x_zp=-3)
    ref = run_op("qcc.conv2d", [x, wt, None, m, s], attrs, consts=(1, 3, 4))
    call = conv_call("c", x.shape, "int8", wt, 8, None, m, s, "int8", (2, 1), [1, 1, 1, 1],
                     (1, 1), 8, x_zp=-3)
    np.testing.assert_array_equal(run_call(call, {"a": x}, ref.shape, "int8", "cuda"), ref)


@pytest.mark.parametrize("ex,model", [("digits_cnn", "digits_cnn.onnx"),
                                      ("mobilenet_small", "mobilenet_small.onnx"),
                                      ("tiny_bert", "tiny_bert_opset17.onnx")])
def test_examples_bit_exact_on_gpu_with_cuda_graph(tmp_path, ex, model):
    from qcc.backends.triton import load_model
    from qcc.commands import run_artifact
    from qcc.driver import CompileOptions, compile_model

    d = os.path.join(ROOT, "examples", ex)
    out = str(tmp_path / "tt")
    manifest = compile_model(os.path.join(d, model), CompileOptions(
        target="triton", out_dir=out, options={"calib": os.path.join(d, "calib.npz")}))
    with np.load(os.path.join(d, "test.npz")) as z:
        data = {k: z[k][:8] for k in z.files}
    ref = run_artifact(out, data, "reference")
    got = run_artifact(out, data, "target", "cuda")
    for k in ref:
        np.testing.assert_array_equal(got[k], ref[k], err_msg=k)
    m = load_model(out, manifest, "cuda").capture()  # the CUDA graph replays the same bits
    row = {k: torch.from_numpy(v[:1]) for k, v in data.items()}
    for k, v in m(row).items():
        np.testing.assert_array_equal(v.cpu().numpy(), ref[k][:1], err_msg=k)
