"""Hostile model files (issue 18): every broken rule is one ``qcc: error:`` line naming
the tensor, node or attribute, exit code 2, never an internal error, never partial
output.  A few cases run the real console script; the rest call ``qcc.cli.main``
in-process (same code path) to keep the suite fast."""

from __future__ import annotations

import copy
import os
import stat

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from qcc_testlib import (assert_error, assert_ok, conv_model, f32_input, make_model, qcc,
                         qcc_inproc)


def _mutant(tmp_path, fn, name="m.onnx"):
    m = conv_model(17)
    fn(m)
    path = tmp_path / name
    path.write_bytes(m.SerializeToString())
    return path


def _fails(capsys, tmp_path, path, *needles, script=False):
    out = tmp_path / "out"
    args = ("compile", path, "-o", out)
    line = assert_error(qcc(*args) if script else qcc_inproc(capsys, *args), *needles)
    assert not out.exists()
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".")], os.listdir(tmp_path)
    return line


def _set_dim(i, v):
    def fn(m):
        m.graph.initializer[0].dims[i] = v
    return fn


def _set(attr, v, where="model"):
    def fn(m):
        setattr(m if where == "model" else m.graph.initializer[0], attr, v)
    return fn


def _opset(v):
    def fn(m):
        m.opset_import[0].version = v
    return fn


def _node_attr(idx, attr):
    def fn(m):
        node = m.graph.node[idx]
        kept = [a for a in node.attribute if a.name != attr.name]
        del node.attribute[:]
        node.attribute.extend(kept + [attr])
    return fn


def _no_outputs(m):
    del m.graph.output[:]


def _dup_init(m):
    m.graph.initializer.append(copy.deepcopy(m.graph.initializer[0]))


def _dup_node_name(m):
    m.graph.node[1].name = m.graph.node[0].name


def _dup_output(m):
    m.graph.node[0].output[0] = m.graph.node[1].output[0]


def _io_type(which, v):  # found by the fuzzer (exit 3 from onnx's shape inference)
    def fn(m):
        getattr(m.graph, which)[0].type.tensor_type.elem_type = v
    return fn


CASES = {
    "dims_vs_raw": (_set_dim(3, 2), ["initializer 'w'", "[4, 3, 3, 2]", "holds 432"]),
    "zero_dim_with_data": (_set_dim(3, 0), ["initializer 'w'", "[4, 3, 3, 0]"]),
    "negative_dim": (_set_dim(3, -3), ["initializer 'w'", "negative dims"]),
    "data_type_99": (_set("data_type", 99, "init"), ["initializer 'w'", "data type 99"]),
    "data_type_0": (_set("data_type", 0, "init"), ["initializer 'w'", "data type 0"]),
    "ir_version_0": (_set("ir_version", 0), ["ir_version 0"]),
    "ir_version_99": (_set("ir_version", 99), ["ir_version 99"]),
    "opset_99": (_opset(99), ["opset 99", "the ONNX opsets are 1 to"]),
    "no_outputs": (_no_outputs, ["no graph outputs"]),
    "dup_initializer": (_dup_init, ["initializer 'w'", "twice"]),
    "dup_node_name": (_dup_node_name, ["node name 'conv'", "unique"]),
    "dup_output_name": (_dup_output, ["tensor 'r' is produced twice", "'conv'", "'relu'"]),
    "auto_pad": (_node_attr(0, helper.make_attribute("auto_pad", "WHATEVER")),
                 ["'conv'", "auto_pad 'WHATEVER'"]),
    "attr_type": (_node_attr(3, helper.make_attribute("axis", "bogus")),
                  ["softmax", "axis", "Mismatched attribute type"]),
    "softmax_axis": (_node_attr(3, helper.make_attribute("axis", 10)), ["Softmax", "'axis'"]),
    "input_type_99": (_io_type("input", 99), ["graph input 'x'", "element type 99"]),
    "output_type_99": (_io_type("output", 99), ["graph output", "element type 99"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_broken_rule_is_named(tmp_path, capsys, case):
    fn, needles = CASES[case]
    _fails(capsys, tmp_path, _mutant(tmp_path, fn), *needles, script=case == "dims_vs_raw")


def _layernorm(axis_attr) -> onnx.ModelProto:
    g = numpy_helper.from_array(np.ones(8, np.float32), "gamma")
    node = helper.make_node("LayerNormalization", ["x", "gamma"], ["y"], name="ln")
    node.attribute.append(axis_attr)
    return make_model([node], [f32_input("x", [1, 4, 8])], [f32_input("y", [1, 4, 8])], [g])


@pytest.mark.parametrize("attr", [helper.make_attribute("axis", 10),
                                  helper.make_attribute("axis", 1.5)], ids=["10", "float"])
def test_layernorm_bad_axis(tmp_path, capsys, attr):
    (tmp_path / "ln.onnx").write_bytes(_layernorm(attr).SerializeToString())
    _fails(capsys, tmp_path, tmp_path / "ln.onnx", "ln", "axis")


def test_invalid_utf8_node_name_is_accepted(tmp_path):
    """onnxruntime and onnx.checker accept such names; qcc shows them escaped."""
    m = conv_model(17)
    m.graph.node[0].name = "qqqqnode"
    path = tmp_path / "utf.onnx"
    path.write_bytes(m.SerializeToString().replace(b"qqqqnode", b"\xff\xfeqqnode"))
    p = qcc("compile", path, "-o", tmp_path / "out", "--target", "onnx")
    assert_ok(p)
    names = [n.name for n in onnx.load(str(tmp_path / "out" / "model.onnx")).graph.node]
    assert "\\xff\\xfeqqnode" in names, names


def test_device_and_fifo_are_refused(tmp_path, capsys):
    assert_error(qcc("inspect", "/dev/zero", timeout=60), "/dev/zero", "not a regular file")
    fifo = tmp_path / "fifo.onnx"
    os.mkfifo(fifo)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert_error(qcc_inproc(capsys, "compile", fifo, "-o", tmp_path / "o"), "fifo.onnx",
                 "not a regular file")


# ------------------------------------------------------------------------ external data
def _external(tmp_path, **fields):
    w = numpy_helper.from_array(np.ones((8, 8), np.float32), "weight")
    m = make_model([helper.make_node("MatMul", ["x", "weight"], ["y"], name="mm")],
                   [f32_input("x", [1, 8])], [f32_input("y", [1, 8])], [w])
    onnx.save(m, str(tmp_path / "m.onnx"), save_as_external_data=True, location="m.bin",
              size_threshold=0)
    m = onnx.load(str(tmp_path / "m.onnx"), load_external_data=False)
    t = m.graph.initializer[0]
    kept = {e.key: e.value for e in t.external_data}
    kept.update(fields)
    del t.external_data[:]
    for k, v in kept.items():
        e = t.external_data.add()
        e.key, e.value = k, str(v)
    onnx.save(m, str(tmp_path / "m.onnx"))
    return tmp_path / "m.onnx"


@pytest.mark.parametrize("fields,needles", [
    ({"offset": "-5"}, ["'weight'", "offset"]),
    ({"offset": "abc"}, ["'weight'", "external data"]),
    ({"length": "-1"}, ["'weight'", "length"]),
    ({"length": str(10 ** 15)}, ["'weight'", "truncated", str(10 ** 15)]),
    ({"offset": "200"}, ["'weight'", "truncated"]),
    ({"length": "16"}, ["'weight'", "16 bytes", "need 256"]),
], ids=["neg_offset", "text_offset", "neg_length", "huge_length", "past_end", "short"])
def test_external_data_fields_are_checked(tmp_path, capsys, fields, needles):
    path = _external(tmp_path, **fields)
    assert_error(qcc_inproc(capsys, "compile", path, "-o", tmp_path / "out"), *needles)
    assert not (tmp_path / "out").exists()


def test_external_data_that_is_a_fifo(tmp_path, capsys):
    path = _external(tmp_path)
    os.unlink(tmp_path / "m.bin")
    os.mkfifo(tmp_path / "m.bin")
    assert_error(qcc_inproc(capsys, "inspect", path), "'weight'", "not a regular file")
