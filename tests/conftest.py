"""Suite-wide test settings.

In CI (``CI`` set, as the CI runner does) hypothesis runs derandomized: the examples it
tries are a fixed function of each test, so a green run stays green and a red one is
reproducible; locally it keeps exploring new examples on every run.

``TRITON_INTERPRET=1`` is set here, before any test module is imported: ``triton.language``
decorates its own helpers (``tl.zeros``, ...) once, when it is first imported, and only an
interpreter chosen by then runs a kernel on the CPU. Tests outside tests/backends/triton
(the dynamo exporter of tests/passes, for one) import torch's Triton integration, so a
setting made later -- in a test body or in a sub-folder's conftest -- came too late in some
orders. GPU runs set ``TRITON_INTERPRET=0`` in the environment (tests/backends/triton/
test_triton_gpu.py); ``setdefault`` keeps that.

The C host builds made through ``qcc.backends.c.build`` (and the ``qcc`` commands the tests
run) skip the generated Makefile's run-time dispatch (``QCC_C_DISPATCH=off``): one build of
each model instead of three, and the default build's kernels are the SSE2 ones those tests
mean. tests/backends/c/test_c_dispatch.py builds with dispatch (plain ``make``, CMake).

``digits_c`` gives the modules that build, run or profile examples/digits_cnn's C folder a copy
of one compile per ``--name`` in the session instead of a compile each (the compile is
deterministic: tests/compiler/test_output_folder.py)."""

import os
import shutil
from pathlib import Path

os.environ.setdefault("TRITON_INTERPRET", "1")
os.environ.setdefault("QCC_C_DISPATCH", "off")

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


DIGITS = Path(__file__).resolve().parents[1] / "examples" / "digits_cnn"


@pytest.fixture(scope="session")
def digits_c(tmp_path_factory):
    """``digits_c(dest, name=None)``: digits_cnn compiled for target c (with ``--name name``
    where given) copied into ``dest`` (a new folder); ``dest`` returned as a Path."""
    compiled = {}

    def copy(dest, name: str = None) -> Path:
        if name not in compiled:
            from qcc.cli import main

            out = tmp_path_factory.mktemp("digits_c") / "c"
            extra = ["--name", name] if name else []
            assert main(["compile", str(DIGITS / "digits_cnn.onnx"), "--calib", str(DIGITS / "calib.npz"),
                         "--target", "c", "-o", str(out), "--quiet", *extra]) == 0
            compiled[name] = out
        shutil.copytree(compiled[name], dest)
        return Path(dest)

    return copy
