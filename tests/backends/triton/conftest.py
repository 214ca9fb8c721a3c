import os

# the interpreter must be chosen before any kernel module is imported
os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest  # noqa: E402

pytest.importorskip("triton")
