"""Data movement in the C backend: views, strided copies, index tables, run-time gathers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qcc.passes  # noqa: F401  (registers the passes)
from qcc.errors import BuildError
from qcc.ir import DType
from qcc.passmanager import PassContext, get_pass

from c_testlib import Cases, check_exact, needs_gcc, run_c

pytestmark = needs_gcc


def _i64(*v):
    return np.array(v, np.int64)


@pytest.mark.parametrize("as_index_maps", [False, True])
def test_data_movement_exact(tmp_path, as_index_maps):
    """Each move op, and (``as_index_maps``) the ``qcc.index_map`` nodes the
    lower-index-maps pass makes of them: the C code equals the interpreter on both."""
    cs = Cases(5)
    x = cs.rand_input((2, 3, 4, 4))
    cs.op("onnx.Transpose", [x], {"perm": [0, 2, 3, 1]})
    cs.op("onnx.Transpose", [x], {"perm": [3, 1, 0, 2]})
    cs.op("onnx.Slice", [x, cs.const(_i64(1, 3)), cs.const(_i64(3, 0)), cs.const(_i64(2, 3)),
                         cs.const(_i64(-1, -2))])
    cs.op("onnx.Pad", [x, cs.const(_i64(0, 0, 1, 2, 0, 1, 2, 0)), cs.const(np.array(-7, np.int8))])
    cs.op("onnx.Split", [x, cs.const(_i64(1, 2))], {"axis": 1}, n_out=2)
    cs.op("onnx.Tile", [x, cs.const(_i64(1, 2, 1, 3))])
    cs.op("onnx.Expand", [cs.rand_input((3, 1, 4)), cs.const(_i64(2, 3, 5, 4))])
    cs.op("onnx.DepthToSpace", [cs.rand_input((1, 8, 2, 3))], {"blocksize": 2, "mode": "CRD"})
    cs.op("onnx.SpaceToDepth", [x], {"blocksize": 2})
    cs.op("onnx.Gather", [x, cs.const(_i64(2, 0, -1))], {"axis": 3})
    cs.op("onnx.Concat", [x, cs.rand_input((2, 1, 4, 4))], {"axis": 1})
    cs.op("onnx.GatherElements", [x, cs.const(np.zeros((2, 3, 4, 2), np.int64))], {"axis": 3})
    r = cs.op("onnx.Reshape", [x, cs.const(_i64(6, 16))], output=False)
    cs.op("onnx.Transpose", [r], {"perm": [1, 0]})
    cs.op("onnx.Flatten", [x], {"axis": 2})  # output view of an input: must be a copy
    if as_index_maps:
        ctx = PassContext()
        assert get_pass("lower-index-maps").fn(cs.g, ctx)
        assert {n.op for n in cs.g.nodes} == {"qcc.index_map", "onnx.Concat", "onnx.Reshape",
                                               "onnx.Flatten"}
    manifest = check_exact(cs, tmp_path / "c")
    kernels = {row["kernel"] for row in manifest["layers"]}
    assert {"qcc_copy_nd", "qcc_gather_table", "qcc_concat_part"} <= kernels


@pytest.mark.parametrize("dt", [DType.int8, DType.int16, DType.int32])
def test_strided_copies_per_element_size(tmp_path, dt):
    """Transposes and reversed slices of 1-, 2- and 4-byte elements as index maps (the strided
    loops of qcc_copy_nd, positive and negative steps), equal to the interpreter."""
    cs = Cases(8)
    x = cs.rand_input((3, 5, 7), dt)
    cs.op("onnx.Transpose", [x], {"perm": [2, 1, 0]})
    cs.op("onnx.Transpose", [x], {"perm": [0, 2, 1]})
    cs.op("onnx.Slice", [x, cs.const(_i64(6, 4)), cs.const(_i64(-8, 0)), cs.const(_i64(2, 1)),
                         cs.const(_i64(-2, -1))])
    assert get_pass("lower-index-maps").fn(cs.g, PassContext())
    manifest = check_exact(cs, tmp_path / "c")
    assert {row["kernel"] for row in manifest["layers"]} == {"qcc_copy_nd"}


def test_runtime_gather_token_ids(tmp_path):
    """int64 token ids index a constant int8 table; out-of-range ids return an error code."""
    cs = Cases(6)
    table = cs.const(cs.rng.integers(-128, 128, (11, 4)).astype(np.int8))
    ids = cs.input(np.array([[3, 0, 10, -1, 5]], np.int64))
    e = cs.op("onnx.Gather", [table, ids], {"axis": 0})
    m, s = cs.mult(1, 0.5, 1.5)
    cs.op("qcc.requant", [e, m, s], {"x_zp": 3, "y_zp": -4})
    manifest = check_exact(cs, tmp_path / "c")
    assert manifest["c"]["inputs"][0]["file_dtype"] == "int64"
    bad = dict(cs.feeds, x0=np.array([[3, 0, 11, 1, 2]], np.int64))
    with pytest.raises(BuildError, match="out of range"):
        run_c(cs.g, [bad], str(tmp_path / "c2"))


def test_reshape_chain_output_bound_to_out_pointer(tmp_path):
    """A view chain ending in an output makes its producer write the output buffer directly."""
    cs = Cases(7)
    x = cs.rand_input((1, 4, 2, 2))
    m, s = cs.mult(1, 0.5, 1.5)
    y = cs.op("qcc.requant", [x, m, s], {"x_zp": 1, "y_zp": 2}, output=False)
    f = cs.op("onnx.Flatten", [y], {"axis": 1}, output=False)
    cs.op("onnx.Reshape", [f, cs.const(_i64(2, 8))])
    manifest = check_exact(cs, tmp_path / "c")
    assert manifest["memory"]["arena_bytes"] == 0
    assert len(manifest["layers"]) == 1


def test_uint8_and_int16_dtypes_in_requant_chain(tmp_path):
    cs = Cases(8)
    x = cs.rand_input((3, 5), DType.uint8)
    m, s = cs.mult(1, 0.5, 60.0)
    y = cs.op("qcc.requant", [x, m, s], {"x_zp": 7, "dtype": "i16"})
    m2, s2 = cs.mult(1, 1e-3, 1e-2)
    cs.op("qcc.requant", [y, m2, s2], {"dtype": "u8", "y_zp": 128})
    check_exact(cs, tmp_path / "c")


def test_large_transpose_and_gather_index_maps(tmp_path):
    """Index maps beyond the int8/int16 range (the op casts to its output dtype: the map
    must still be computed in int64): attention head transposes, a 5-D permutation, a
    constant-index gather over a large tensor."""
    cs = Cases(9)
    q = cs.rand_input((1, 32, 4, 32))
    cs.op("onnx.Transpose", [q], {"perm": [0, 2, 1, 3]})
    cs.op("onnx.Transpose", [q], {"perm": [0, 2, 3, 1]})
    big = cs.rand_input((2, 3, 40, 50, 6), DType.int16)
    cs.op("onnx.Transpose", [big], {"perm": [4, 2, 0, 3, 1]})
    h = cs.rand_input((1, 300, 128))
    cs.op("onnx.Gather", [h, cs.const(np.array(299, np.int64))], {"axis": 1})
    check_exact(cs, tmp_path / "c")


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=st.lists(st.integers(1, 5), min_size=2, max_size=5), data=st.data())
def test_random_transpose_slice_exact(tmp_path, shape, data):
    """Random permutations and strided (also negative-step) slices become copies or tables."""
    cs = Cases(len(shape))
    x = cs.rand_input(tuple(shape))
    perm = data.draw(st.permutations(range(len(shape))))
    cs.op("onnx.Transpose", [x], {"perm": list(perm)})
    starts, ends, steps = [], [], []
    for d in shape:
        step = data.draw(st.sampled_from([1, 2, -1, -2]))
        lo = data.draw(st.integers(0, d - 1))
        starts.append(lo if step > 0 else d - 1 - lo)
        ends.append(d if step > 0 else -d - 1)
        steps.append(step)
    cs.op("onnx.Slice", [x, cs.const(_i64(*starts)), cs.const(_i64(*ends)),
                         cs.const(_i64(*range(len(shape)))), cs.const(_i64(*steps))])
    check_exact(cs, tmp_path / "c")
