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
mean. tests/backends/c/test_c_dispatch.py builds with dispatch (plain ``make``, CMake)."""

import os

os.environ.setdefault("TRITON_INTERPRET", "1")
os.environ.setdefault("QCC_C_DISPATCH", "off")

from hypothesis import settings  # noqa: E402

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
