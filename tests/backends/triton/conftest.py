import pytest

# TRITON_INTERPRET is chosen suite-wide, before anything imports triton (tests/conftest.py)
pytest.importorskip("triton")
