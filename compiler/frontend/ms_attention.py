"""onnxruntime's fused self-attention (``com.microsoft`` Attention, and QAttention, the
form ``quantize_dynamic`` gives it) as the standard ONNX subgraph it stands for:

    qkv = input @ W + bias;  q, k, v = split(qkv)           # [B, S, H] each
    heads: Reshape [0, 0, N, h] -> Transpose                # [B, N, S, h]
    scores = q @ k^T * scale (+ (1 - mask) * mask_filter_value) (+ attention_bias)
    output = Reshape(Transpose(Softmax(scores) @ v), [0, 0, -1])

QAttention computes ``qkv`` as ``MatMulInteger(input, W, zp_in, zp_w) * s_in * s_w +
bias`` (the chain the ``import-dynamic`` pass maps back to float).  The forms imported:
no ``past``/``present``, no ``unidirectional``, ``mask_index`` absent or the raw
``[B, S]`` 0/1 mask (what BERT-style exports feed); other forms are refused in one line
naming the node.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..errors import ModelLoadError
from .ms_qops import _attrs, _expander, _inp


def _c(name: str, value, dtype=np.float32) -> onnx.NodeProto:
    return helper.make_node("Constant", [], [name], name=name,
                            value=numpy_helper.from_array(np.array(value, dtype)))


def _refuse(n: onnx.NodeProto, why: str):
    raise ModelLoadError(f"com.microsoft::{n.op_type} node '{n.name}': {why} is not imported "
                         f"(qcc imports self-attention without past/present, unidirectional or "
                         f"non-raw masks)")


def _check(n: onnx.NodeProto, ranks: dict, mask_slot: int, past_slots: tuple) -> None:
    a = _attrs(n)
    if a.get("unidirectional", 0):
        _refuse(n, "unidirectional (causal) attention")
    if any(_inp(n, i) for i in past_slots) or (len(n.output) > 1 and n.output[1]):
        _refuse(n, "a past/present state")
    if a.get("do_rotary", 0):
        _refuse(n, "rotary embedding")
    m = _inp(n, mask_slot)
    if m and ranks.get(m) != 2:
        _refuse(n, f"mask_index '{m}' of rank {ranks.get(m, 'unknown')} (only the raw [B, S] mask)")


def _heads(n: onnx.NodeProto, name: str, qkv: str) -> tuple[list[onnx.NodeProto], str]:
    """Everything after the projection: split, heads, scaled scores, mask, softmax."""
    a = _attrs(n)
    heads = int(a["num_heads"])
    sizes = [int(s) for s in a.get("qkv_hidden_sizes", [])]
    p = f"{name}."
    nodes = [_c(p + "heads_shape", [0, 0, heads, -1], np.int64), _c(p + "out_shape", [0, 0, -1], np.int64)]
    if sizes:
        nodes.append(_c(p + "split", sizes, np.int64))
    else:  # three equal parts of the projection's last axis
        nodes += [_c(p + "last", [-1], np.int64), _c(p + "three", [3], np.int64),
                  helper.make_node("Shape", [qkv], [p + "qkv_shape"], name=p + "qkv_shape"),
                  helper.make_node("Gather", [p + "qkv_shape", p + "last"], [p + "width"], name=p + "width"),
                  helper.make_node("Div", [p + "width", p + "three"], [p + "part"], name=p + "part"),
                  helper.make_node("Concat", [p + "part"] * 3, [p + "split"], name=p + "split", axis=0)]
    nodes.append(helper.make_node("Split", [qkv, p + "split"], [p + "q", p + "k", p + "v"], name=p + "Split",
                                  axis=-1))
    for t, perm in (("q", [0, 2, 1, 3]), ("k", [0, 2, 3, 1]), ("v", [0, 2, 1, 3])):
        nodes += [helper.make_node("Reshape", [p + t, p + "heads_shape"], [p + t + "4"], name=p + t + "_heads"),
                  helper.make_node("Transpose", [p + t + "4"], [p + t + "h"], name=p + t + "_t", perm=perm)]
    scores = p + "scores"
    nodes.append(helper.make_node("MatMul", [p + "qh", p + "kh"], [p + "qk"], name=p + "qk"))
    scale = a.get("scale")
    if not scale:  # 1 / sqrt(head size)
        nodes += [_c(p + "hlast", [-1], np.int64),
                  helper.make_node("Shape", [p + "qh"], [p + "qshape"], name=p + "qshape"),
                  helper.make_node("Gather", [p + "qshape", p + "hlast"], [p + "hsize_i"], name=p + "hsize_i"),
                  helper.make_node("Cast", [p + "hsize_i"], [p + "hsize"], name=p + "hsize",
                                   to=onnx.TensorProto.FLOAT),
                  helper.make_node("Sqrt", [p + "hsize"], [p + "sqrt_h"], name=p + "sqrt_h"),
                  helper.make_node("Div", [p + "qk", p + "sqrt_h"], [scores], name=p + "scale")]
    else:
        nodes += [_c(p + "scale_c", float(scale)),
                  helper.make_node("Mul", [p + "qk", p + "scale_c"], [scores], name=p + "scale")]
    return nodes, scores


def _mask_and_out(n: onnx.NodeProto, name: str, scores: str, mask: str, bias: str) -> list[onnx.NodeProto]:
    p = f"{name}."
    nodes = []
    if mask:
        filt = float(_attrs(n).get("mask_filter_value", -10000.0))
        nodes += [helper.make_node("Cast", [mask], [p + "maskf"], name=p + "maskf", to=onnx.TensorProto.FLOAT),
                  _c(p + "one", 1.0), _c(p + "filter", filt), _c(p + "mask_axes", [1, 2], np.int64),
                  helper.make_node("Sub", [p + "one", p + "maskf"], [p + "masked"], name=p + "masked"),
                  helper.make_node("Mul", [p + "masked", p + "filter"], [p + "madd"], name=p + "madd"),
                  helper.make_node("Unsqueeze", [p + "madd", p + "mask_axes"], [p + "m4"], name=p + "m4"),
                  helper.make_node("Add", [scores, p + "m4"], [p + "scores_m"], name=p + "mask_add")]
        scores = p + "scores_m"
    if bias:
        nodes.append(helper.make_node("Add", [scores, bias], [p + "scores_b"], name=p + "bias_add"))
        scores = p + "scores_b"
    nodes += [helper.make_node("Softmax", [scores], [p + "probs"], name=p + "Softmax", axis=-1),
              helper.make_node("MatMul", [p + "probs", p + "vh"], [p + "ctx"], name=p + "ctx"),
              helper.make_node("Transpose", [p + "ctx"], [p + "ctx_t"], name=p + "ctx_t", perm=[0, 2, 1, 3]),
              helper.make_node("Reshape", [p + "ctx_t", p + "out_shape"], [n.output[0]], name=p + "merge")]
    return nodes


@_expander("Attention")
def _attention(n: onnx.NodeProto, name: str, ranks: dict) -> list[onnx.NodeProto]:
    """input, weights [In, 3H], bias [3H], mask_index, past, attention_bias, past_seq_len."""
    _check(n, ranks, 3, (4, 6))
    p = f"{name}."
    nodes = [helper.make_node("MatMul", [n.input[0], n.input[1]], [p + "proj"], name=p + "proj")]
    qkv = p + "proj"
    if _inp(n, 2):
        nodes.append(helper.make_node("Add", [qkv, n.input[2]], [p + "qkv"], name=p + "proj_bias"))
        qkv = p + "qkv"
    rest, scores = _heads(n, name, qkv)
    return nodes + rest + _mask_and_out(n, name, scores, _inp(n, 3), _inp(n, 5))


@_expander("QAttention")
def _qattention(n: onnx.NodeProto, name: str, ranks: dict) -> list[onnx.NodeProto]:
    """input (uint8), weight, bias, input_scale, weight_scale, mask_index, input_zp,
    weight_zp, past."""
    _check(n, ranks, 5, (8,))
    p = f"{name}."
    ins = [n.input[0], n.input[1], _inp(n, 6), _inp(n, 7)]
    while not ins[-1]:
        ins.pop()
    nodes = [helper.make_node("MatMulInteger", ins, [p + "acc"], name=p + "MatMulInteger"),
             helper.make_node("Cast", [p + "acc"], [p + "accf"], name=p + "cast", to=onnx.TensorProto.FLOAT),
             helper.make_node("Mul", [n.input[3], n.input[4]], [p + "s"], name=p + "scales_mul"),
             helper.make_node("Mul", [p + "accf", p + "s"], [p + "proj"], name=p + "rescale"),
             helper.make_node("Add", [p + "proj", n.input[2]], [p + "qkv"], name=p + "proj_bias")]
    rest, scores = _heads(n, name, p + "qkv")
    return nodes + rest + _mask_and_out(n, name, scores, _inp(n, 5), "")


_attention.needs_ranks = True
_qattention.needs_ranks = True
