"""Sub-byte packing (little-end first) and the packed .npz round trip of the IR."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from qcc import packing
from qcc.errors import QccError
from qcc.interp import run
from qcc.ir import DType, Graph, TensorType
from qcc.ir.serialize import load, save


@settings(max_examples=60, deadline=None)
@given(bits=st.sampled_from([4, 2]), data=st.data())
def test_pack_unpack_round_trip(bits, data):
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=9))
    q = data.draw(hnp.arrays(np.int8, shape, elements=st.integers(lo, hi)))
    p = packing.pack(q, bits)
    assert p.dtype == np.uint8 and p.size == -(-q.size // (8 // bits))
    assert np.array_equal(packing.unpack(p, bits, q.shape), q)


def test_layout_is_little_end_first():
    # int4: first element in the low nibble; int2: first element in bits 0-1
    assert packing.pack(np.array([-8, 7], np.int8), 4).tolist() == [0x78]
    assert packing.pack(np.array([1, -1, 3], np.int8), 4).tolist() == [0xF1, 0x03]
    assert packing.pack(np.array([-2, 1, 0, -1, 1], np.int8), 2).tolist() == [0b11000110, 0b01]


def test_out_of_range_and_wrong_size_are_clear_errors():
    with pytest.raises(QccError, match=r"outside the int4 range \[-8, 7\]"):
        packing.pack(np.array([8], np.int8), 4)
    with pytest.raises(QccError, match="cannot hold"):
        packing.unpack(np.zeros(3, np.uint8), 2, (16,))
    with pytest.raises(QccError, match="only 4- and 2-bit"):
        packing.pack(np.zeros(2, np.int8), 3)


def _graph_with(dtype: DType, q: np.ndarray) -> Graph:
    g = Graph("t")
    x = g.add_input("x", TensorType(DType.int8, (2, q.shape[0])))
    w = g.add_const("w", q, dtype)
    out = g.new_value("y", TensorType(DType.int32, (2, q.shape[1])))
    g.add_node("qcc.linear", [x, w], [out])
    g.outputs.append(out)
    return g


@pytest.mark.parametrize("dtype", [DType.int4, DType.int2])
def test_ir_stores_sub_byte_constants_packed_and_loads_them_back(tmp_path, dtype):
    rng = np.random.default_rng(0)
    q = rng.integers(dtype.min, dtype.max + 1, (37, 5)).astype(np.int8)
    g = _graph_with(dtype, q)
    p = str(tmp_path / "m.qcc")
    save(g, p)
    with np.load(p + ".npz") as z:
        stored = z["const/w"]
    assert stored.dtype == np.uint8 and stored.size == -(-q.size * dtype.bits // 8)
    g2 = load(p)
    assert np.array_equal(g2.constants["w"].data, q) and g2.constants["w"].dtype is dtype
    x = rng.integers(-128, 128, (2, 37)).astype(np.int8)
    assert np.array_equal(run(g2, {"x": x})["y"], run(g, {"x": x})["y"])


def test_unpacked_int4_files_of_older_versions_still_load(tmp_path):
    q = np.array([[-8, 7], [1, 0]], np.int8)
    p = str(tmp_path / "m.qcc")
    save(_graph_with(DType.int4, q), p)
    with np.load(p + ".npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["const/w"] = q  # the old layout: int8 values, unpacked
    np.savez(p + ".npz", **arrays)
    assert np.array_equal(load(p).constants["w"].data, q)
