"""The weight array literals of NAME_weights.c: the fast table/str paths of ``array_body``
write exactly what the general ``c_int`` formatting writes (INT32_MIN and int64 values
included), 16 values a line."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from qcc.backends.c.render import array_body, c_int


def _reference(arr: np.ndarray) -> str:
    vals = [c_int(x) for x in np.asarray(arr).astype(np.int64).ravel().tolist()]
    lines = ["    " + ", ".join(vals[i:i + 16]) + "," for i in range(0, len(vals), 16)]
    return "\n".join(lines) if lines else "    0,"


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(st.sampled_from([np.int8, np.uint8, np.int16, np.int32, np.int64]),
                  st.integers(0, 70)))
def test_array_body_matches_c_int(arr):
    assert array_body(arr) == _reference(arr)


def test_array_body_extremes():
    for arr in (np.array([-(1 << 31), 0, (1 << 31) - 1], np.int64), np.array([-(1 << 63), 1 << 40]),
                np.array([-(1 << 31) + 1, (1 << 31) - 1]), np.arange(-70000, 70000, 997)):
        assert array_body(arr) == _reference(arr)
    assert "(-2147483647 - 1)" in array_body(np.array([-(1 << 31)], np.int32))


@settings(max_examples=30, deadline=None)
@given(hnp.arrays(st.sampled_from([np.int8, np.uint8]), st.integers(1, 300)))
def test_bytes_body_string_literals_hold_the_bytes(arr):
    """Large int8/uint8 arrays are written as octal-escape string literals: each line a
    literal of at most 64 escapes, decoding to the two's complement bytes in order."""
    import re

    from qcc.backends.c.render import bytes_body

    body = bytes_body(arr)
    lines = body.split("\n")
    assert all(re.fullmatch(r'    "(\\[0-7]{3}){1,64}"', ln) for ln in lines)
    got = [int(o, 8) for o in re.findall(r"\\([0-7]{3})", body)]
    assert got == arr.astype(np.int64).astype(np.uint8).tolist()


def test_bytes_body_across_its_chunks():
    """Past one chunk (64 x 16384 bytes) and with a partial last line: the same bytes."""
    import re

    from qcc.backends.c.render import bytes_body

    arr = np.random.default_rng(0).integers(-128, 128, 64 * 16384 + 70).astype(np.int8)
    body = bytes_body(arr)
    lines = body.split("\n")
    assert len(lines) == 16384 + 2 and lines[-1].count("\\") == 6
    got = np.array([int(o, 8) for o in re.findall(r"\\([0-7]{3})", body)], np.int64)
    assert np.array_equal(got, arr.astype(np.int64).astype(np.uint8))
