"""Seeded hostile inputs for qcc: mutated ONNX models (byte and protobuf level),
abusive calibration data and abusive flags.

``generate(seed, count)`` yields :class:`Case` objects deterministically; each case
knows its files (written by ``Case.write(folder)``) and the ``qcc`` command line to
run.  The base models are small (a conv net, a matmul/add/softmax net, a
layernorm/reduce net) so that one case runs in a second or two.
"""

from __future__ import annotations

import copy
import os
import random
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


# ------------------------------------------------------------------------ base models
def _model(nodes, inputs, outputs, inits) -> onnx.ModelProto:
    m = helper.make_model(helper.make_graph(nodes, "g", inputs, outputs, inits),
                          opset_imports=[helper.make_opsetid("", OPSET)], producer_name="fuzz")
    m.ir_version = 8
    return m


def _vi(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def conv_net() -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "b"),
             numpy_helper.from_array(np.array([0, -1], np.int64), "shp")]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("AveragePool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2],
                              name="pool"),
             helper.make_node("Reshape", ["p", "shp"], ["f"], name="reshape"),
             helper.make_node("Softmax", ["f"], ["y"], axis=1, name="softmax")]
    return _model(nodes, [_vi("x", [1, 3, 6, 6])], [_vi("y", [1, 36])], inits)


def mlp_net() -> onnx.ModelProto:
    rng = np.random.default_rng(1)
    inits = [numpy_helper.from_array(rng.standard_normal((8, 16)).astype(np.float32), "w1"),
             numpy_helper.from_array(rng.standard_normal(16).astype(np.float32), "b1"),
             numpy_helper.from_array(rng.standard_normal((16, 4)).astype(np.float32), "w2")]
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"], name="mm1"),
             helper.make_node("Add", ["h", "b1"], ["hb"], name="add1"),
             helper.make_node("Sigmoid", ["hb"], ["s"], name="sig"),
             helper.make_node("MatMul", ["s", "w2"], ["z"], name="mm2"),
             helper.make_node("Softmax", ["z"], ["y"], axis=-1, name="softmax")]
    return _model(nodes, [_vi("x", [1, 8])], [_vi("y", [1, 4])], inits)


def norm_net() -> onnx.ModelProto:
    rng = np.random.default_rng(2)
    inits = [numpy_helper.from_array(rng.standard_normal(8).astype(np.float32), "gamma"),
             numpy_helper.from_array(rng.standard_normal(8).astype(np.float32), "beta"),
             numpy_helper.from_array(np.array([1], np.int64), "axes")]
    nodes = [helper.make_node("LayerNormalization", ["x", "gamma", "beta"], ["n"], axis=-1,
                              name="ln"),
             helper.make_node("ReduceMean", ["n", "axes"], ["y"], keepdims=1, name="mean")]
    return _model(nodes, [_vi("x", [1, 4, 8])], [_vi("y", [1, 1, 8])], inits)


BASES: dict[str, Callable[[], onnx.ModelProto]] = {"conv": conv_net, "mlp": mlp_net,
                                                   "norm": norm_net}


def sample_inputs(model: onnx.ModelProto, n: int = 4, seed: int = 0) -> dict[str, np.ndarray]:
    """Calibration-style data for the model's (unmutated) inputs: n stacked samples."""
    rng = np.random.default_rng(seed)
    inits = {t.name for t in model.graph.initializer}
    out = {}
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        dims = [max(d.dim_value, 1) for d in vi.type.tensor_type.shape.dim]
        out[vi.name] = rng.standard_normal([n] + dims[1:]).astype(np.float32)
    return out


# ---------------------------------------------------------------------------- a case
@dataclass
class Case:
    name: str
    kind: str  # "bytes" | "proto" | "npz" | "flags"
    base: str
    model: Optional[onnx.ModelProto] = None
    model_bytes: Optional[bytes] = None
    calib: Optional[dict] = None        # arrays for calib.npz (None: no --calib)
    calib_raw: Optional[bytes] = None   # or raw bytes of the calibration file
    calib_name: str = "calib.npz"
    flags: list[str] = field(default_factory=list)
    target: str = "onnx"

    def write(self, folder: str) -> dict[str, str]:
        os.makedirs(folder, exist_ok=True)
        paths = {"model": os.path.join(folder, "model.onnx")}
        blob = self.model_bytes if self.model_bytes is not None else self.model.SerializeToString()
        with open(paths["model"], "wb") as f:
            f.write(blob)
        if self.calib is not None or self.calib_raw is not None:
            paths["calib"] = os.path.join(folder, self.calib_name)
            if self.calib_raw is not None:
                with open(paths["calib"], "wb") as f:
                    f.write(self.calib_raw)
            elif self.calib_name.endswith(".npy"):
                np.save(paths["calib"], next(iter(self.calib.values())))
            else:
                np.savez(paths["calib"], **self.calib)
        return paths

    def argv(self, paths: dict[str, str], out: str) -> list[str]:
        a = ["compile", paths["model"], "--target", self.target, "-o", out, "--quiet"]
        if "calib" in paths:
            a += ["--calib", paths["calib"]]
        return a + list(self.flags)


# ------------------------------------------------------------------ byte-level mutations
def _bytes_mutant(rng: random.Random, blob: bytes) -> bytes:
    b = bytearray(blob)
    how = rng.choice(["flip", "truncate", "insert", "dup", "zero"])
    if how == "flip":
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
    elif how == "truncate":
        del b[rng.randrange(1, len(b)):]
    elif how == "insert":
        i = rng.randrange(len(b))
        b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    elif how == "dup":
        i = rng.randrange(len(b))
        j = min(len(b), i + rng.randint(1, 64))
        b[j:j] = b[i:j]
    else:
        i = rng.randrange(len(b))
        b[i:i + rng.randint(1, 32)] = bytes(min(32, len(b) - i))
    return bytes(b)


# ---------------------------------------------------------------- protobuf-level mutations
def _pick(rng, seq):
    return seq[rng.randrange(len(seq))] if len(seq) else None


def _m_dims(rng, m):
    t = _pick(rng, m.graph.initializer)
    if t is not None and len(t.dims):
        t.dims[rng.randrange(len(t.dims))] = rng.choice([-1, 0, 2, 7, 1 << 20, 1 << 40])


def _m_dtype(rng, m):
    t = _pick(rng, m.graph.initializer)
    if t is not None:
        t.data_type = rng.choice([0, 2, 3, 6, 7, 9, 10, 11, 16, 99])


def _m_raw_len(rng, m):
    t = _pick(rng, m.graph.initializer)
    if t is not None and t.raw_data:
        t.raw_data = t.raw_data[: rng.randrange(len(t.raw_data))]


def _m_nonfinite(rng, m):
    t = _pick(rng, [x for x in m.graph.initializer if x.data_type == TensorProto.FLOAT])
    if t is not None:
        a = numpy_helper.to_array(t).copy()
        a.flat[rng.randrange(a.size)] = rng.choice([np.nan, np.inf, -np.inf, 3e38])
        t.CopyFrom(numpy_helper.from_array(a, t.name))


def _m_attr(rng, m):
    n = _pick(rng, m.graph.node)
    choices = [helper.make_attribute("axis", rng.choice([10, -10, "bogus", 1.5])),
               helper.make_attribute("auto_pad", rng.choice(["WHATEVER", "VALID", "SAME_UPPER"])),
               helper.make_attribute("kernel_shape", rng.choice([[0, 0], [9, 9], [-1, 2]])),
               helper.make_attribute("pads", rng.choice([[-1, 0, 0, 0], [5, 5, 5, 5], [1]])),
               helper.make_attribute("strides", rng.choice([[0, 1], [100, 100]])),
               helper.make_attribute("epsilon", rng.choice([-1.0, 0.0, float("nan")])),
               helper.make_attribute("keepdims", rng.choice([0, 5, "x"]))]
    a = rng.choice(choices)
    kept = [x for x in n.attribute if x.name != a.name]
    del n.attribute[:]
    n.attribute.extend(kept + [a])


def _m_rewire(rng, m):
    n = _pick(rng, m.graph.node)
    names = [o for x in m.graph.node for o in x.output] + [i.name for i in m.graph.input] + \
        [t.name for t in m.graph.initializer] + ["nowhere"]
    if rng.random() < 0.5 and len(n.input):
        n.input[rng.randrange(len(n.input))] = rng.choice(names)
    elif len(n.output):
        n.output[0] = rng.choice(names)


def _m_drop_node(rng, m):
    if len(m.graph.node) > 1:
        del m.graph.node[rng.randrange(len(m.graph.node))]


def _m_dup_node(rng, m):
    n = _pick(rng, m.graph.node)
    m.graph.node.append(copy.deepcopy(n))


def _m_op_type(rng, m):
    n = _pick(rng, m.graph.node)
    n.op_type = rng.choice(["Relu", "Tanh", "Conv", "MatMul", "Gemm", "Softmax", "NotAnOp",
                            "Loop", "Reshape", "Concat"])


def _m_header(rng, m):
    how = rng.randrange(3)
    if how == 0:
        m.ir_version = rng.choice([0, 1, 2, 99])
    elif how == 1:
        m.opset_import[0].version = rng.choice([0, 1, 7, 22, 99])
    else:
        m.opset_import.append(helper.make_opsetid("", rng.choice([13, 17])))


def _m_names(rng, m):
    how = rng.randrange(3)
    if how == 0 and len(m.graph.node) > 1:
        m.graph.node[1].name = m.graph.node[0].name
    elif how == 1:
        m.graph.initializer.append(copy.deepcopy(m.graph.initializer[0]))
    else:
        m.graph.output.append(copy.deepcopy(m.graph.output[0]))


def _m_io(rng, m):
    how = rng.randrange(4)
    if how == 0:
        del m.graph.output[:]
    elif how == 1:
        d = m.graph.input[0].type.tensor_type.shape.dim
        d[rng.randrange(len(d))].dim_value = rng.choice([-3, 0, 1 << 30])
    elif how == 2:
        m.graph.input[0].type.tensor_type.elem_type = rng.choice([0, 7, 9, 99])
    else:
        m.graph.output[0].name = "not_produced"


def _m_external(rng, m):
    t = _pick(rng, m.graph.initializer)
    if t is None:
        return
    t.ClearField("raw_data")
    t.ClearField("float_data")
    t.ClearField("int64_data")
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", rng.choice(["w.bin", "../../etc/passwd", "/dev/zero", ""])),
                 ("offset", rng.choice(["0", "-5", "abc", str(10 ** 15)])),
                 ("length", rng.choice(["4", "-1", str(10 ** 15), "x"]))):
        e = t.external_data.add()
        e.key, e.value = k, v


def _m_invalid_utf8_name(rng, m):
    m.graph.node[rng.randrange(len(m.graph.node))].name = "qqqq_utf"


PROTO_MUTATIONS = [_m_dims, _m_dtype, _m_raw_len, _m_nonfinite, _m_attr, _m_rewire,
                   _m_drop_node, _m_dup_node, _m_op_type, _m_header, _m_names, _m_io,
                   _m_external, _m_invalid_utf8_name]


# ----------------------------------------------------------------- data and flag abuse
def _npz_bomb() -> bytes:
    import io
    import zipfile

    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(head, {"descr": "<f4", "fortran_order": False,
                                                "shape": (1 << 29, 3, 6, 6)})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("x.npy", head.getvalue())
    return buf.getvalue()


def _npz_case(rng: random.Random, base: str, m: onnx.ModelProto) -> Case:
    data = sample_inputs(m)
    k0 = next(iter(data))
    how = rng.randrange(11)
    c = Case("", "npz", base, model=m, calib=data, target=rng.choice(["onnx", "c"]))
    if how == 0:
        c.calib = {"wrong_key": data[k0]}
    elif how == 1:
        c.calib = {k0: data[k0][..., :1]}
    elif how == 2:
        a = data[k0].copy()
        a.flat[0] = rng.choice([np.nan, np.inf])
        c.calib = {k0: a}
    elif how == 3:
        c.calib = {k0: np.zeros_like(data[k0])}
    elif how == 4:
        c.calib = {k0: np.full_like(data[k0], 1e-40)}
    elif how == 5:
        c.calib = {k0: np.full_like(data[k0], 3e38)}
    elif how == 6:
        c.calib, c.calib_raw = None, _npz_bomb()
    elif how == 7:
        c.calib, c.calib_raw = None, b"PK\x03\x04 not really a zip"
    elif how == 8:
        c.calib = {k0: data[k0][:0]}
    elif how == 9:
        c.calib_name = "calib.npy"
    else:
        c.calib = {k0: data[k0].astype(np.int64)}
    return c


FLAG_SETS = [
    ["--percentile", "0"], ["--percentile", "-5"], ["--percentile", "nan"],
    ["--max-calib-samples", "0"], ["--max-calib-samples", "-1"], ["--weight-bits", "3"],
    ["--weight-bits", "mixed", "--size-budget", "1"], ["--group-size", "0"],
    ["--group-size", "-4"], ["--allow-float", "NotAnOp"], ["--keep-8bit", "nothing*"],
    ["--name", "qcc_run"], ["--name", "n" * 5000], ["--name", "../../x"], ["--name", ""],
    ["--input-shape", "x=0x3"], ["--input-shape", "bogus"], ["--input-shape", "zz=1x2"],
    ["--disable-pass", "check-headroom"], ["--disable-pass", "nope"], ["--stop-after", "nope"],
    ["--smoothquant", "5"], ["--outlier-8bit", "-1"], ["--calib-method", "entropy"],
    ["--calib-method", "percentile", "--percentile", "100"], ["--equalize"],
]


def _flags_case(rng: random.Random, base: str, m: onnx.ModelProto) -> Case:
    return Case("", "flags", base, model=m, calib=sample_inputs(m),
                flags=list(rng.choice(FLAG_SETS)), target=rng.choice(["onnx", "c"]))


# ---------------------------------------------------------------------------- generate
def generate(seed: int, count: int) -> list[Case]:
    """``count`` cases from ``seed``: about 30% byte-level, 45% protobuf-level, 12% data
    abuse and 13% flag abuse, round-robin over the base models."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        base = list(BASES)[i % len(BASES)]
        m = BASES[base]()
        r = rng.random()
        if r < 0.30:
            c = Case("", "bytes", base, model_bytes=_bytes_mutant(rng, m.SerializeToString()))
        elif r < 0.75:
            muts = [rng.choice(PROTO_MUTATIONS) for _ in range(rng.randint(1, 2))]
            for mut in muts:
                mut(rng, m)
            c = Case("", "proto", base, model=m)
            if any(mut is _m_invalid_utf8_name for mut in muts):
                c.model_bytes = m.SerializeToString().replace(b"qqqq_utf", b"\xff\xfeq_utf")
            c.name = "+".join(mut.__name__[3:] for mut in muts)
        elif r < 0.87:
            c = _npz_case(rng, base, m)
        else:
            c = _flags_case(rng, base, m)
        if c.kind in ("bytes", "proto") and rng.random() < 0.3:
            c.calib = sample_inputs(BASES[base]())  # the quantizing pipeline too
            c.target = rng.choice(["onnx", "c"])
        c.name = f"{i:04d}_{c.kind}_{base}" + (f"_{c.name}" if c.name else "")
        out.append(c)
    return out
