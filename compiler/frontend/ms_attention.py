"""onnxruntime's fused self-attention (``com.microsoft`` Attention, and QAttention, the
form ``quantize_dynamic`` gives it) as the standard ONNX subgraph it stands for:

    qkv = input @ W + bias;  q, k, v = split(qkv)           # [B, S, H] each
    heads: Reshape [0, 0, N, h] -> Transpose                # [B, N, S, h]
    scores = q @ k^T * scale (+ (1 - mask) * mask_filter_value) (+ attention_bias)
    output = Reshape(Transpose(Softmax(scores) @ v), [0, 0, -1])

QAttention computes ``qkv`` as ``MatMulInteger(input, W, zp_in, zp_w) * s_in * s_w +
bias`` (the chain the ``import-dynamic`` pass maps back to float).  The forms imported:
no ``past``/``present``, no ``unidirectional``, ``mask_index`` absent, the raw
``[B, S]`` 0/1 mask or ``[B]`` valid lengths (EmbedLayerNormalization's mask_index);
other forms are refused in one line naming the node.  ``EmbedLayerNormalization``
(and its quantized form) becomes the three Gathers, their sum and a LayerNormalization.
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


def _mask_kind(n: onnx.NodeProto, shapes: dict, mask: str) -> str:
    """'' (none), 'raw' ([B, S] 0/1) or 'end' ([B] valid lengths: keys at or past it are
    masked, as EmbedLayerNormalization's mask_index gives them)."""
    if not mask:
        return ""
    shape, batch = shapes.get(mask), (shapes.get(n.input[0]) or (None,))[0]
    if shape is not None and len(shape) == 2:
        return "raw"
    if shape is not None and len(shape) == 1 and (not isinstance(shape[0], int) or not isinstance(batch, int)
                                                  or shape[0] == batch):
        return "end"  # [B]; a symbolic length is taken as B (the [2B] start/end form is not)
    _refuse(n, f"mask_index '{mask}' of shape {list(shape) if shape is not None else 'unknown'} "
               f"(only the raw [B, S] mask and [B] lengths)")


def _check(n: onnx.NodeProto, past_slots: tuple) -> None:
    a = _attrs(n)
    if a.get("unidirectional", 0):
        _refuse(n, "unidirectional (causal) attention")
    if any(_inp(n, i) for i in past_slots) or (len(n.output) > 1 and n.output[1]):
        _refuse(n, "a past/present state")
    if a.get("do_rotary", 0):
        _refuse(n, "rotary embedding")


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


def _end_mask(name: str, lengths: str, qkv: str) -> list[onnx.NodeProto]:
    """[B] valid lengths -> the raw [B, S] 0/1 mask (key j kept where j < length)."""
    p = f"{name}."
    return [_c(p + "seq_axis", [1], np.int64), _c(p + "zero", 0, np.int64), _c(p + "step", 1, np.int64),
            _c(p + "len_axes", [1], np.int64),
            helper.make_node("Shape", [qkv], [p + "qkv_dims"], name=p + "qkv_dims"),
            helper.make_node("Gather", [p + "qkv_dims", p + "seq_axis"], [p + "seq_len1"], name=p + "seq_len1"),
            helper.make_node("Squeeze", [p + "seq_len1"], [p + "seq_len"], name=p + "seq_len"),
            helper.make_node("Range", [p + "zero", p + "seq_len", p + "step"], [p + "pos"], name=p + "pos"),
            helper.make_node("Cast", [lengths], [p + "len64"], name=p + "len64", to=onnx.TensorProto.INT64),
            helper.make_node("Unsqueeze", [p + "len64", p + "len_axes"], [p + "len2"], name=p + "len2"),
            helper.make_node("Less", [p + "pos", p + "len2"], [p + "raw_mask"], name=p + "raw_mask")]


def _mask_and_out(n: onnx.NodeProto, name: str, scores: str, mask: str, kind: str, qkv: str,
                  bias: str) -> list[onnx.NodeProto]:
    p = f"{name}."
    nodes = []
    if kind == "end":
        nodes += _end_mask(name, mask, qkv)
        mask = p + "raw_mask"
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
def _attention(n: onnx.NodeProto, name: str, shapes: dict) -> list[onnx.NodeProto]:
    """input, weights [In, 3H], bias [3H], mask_index, past, attention_bias, past_seq_len."""
    _check(n, (4, 6))
    kind = _mask_kind(n, shapes, _inp(n, 3))
    p = f"{name}."
    nodes = [helper.make_node("MatMul", [n.input[0], n.input[1]], [p + "proj"], name=p + "proj")]
    qkv = p + "proj"
    if _inp(n, 2):
        nodes.append(helper.make_node("Add", [qkv, n.input[2]], [p + "qkv"], name=p + "proj_bias"))
        qkv = p + "qkv"
    rest, scores = _heads(n, name, qkv)
    return nodes + rest + _mask_and_out(n, name, scores, _inp(n, 3), kind, qkv, _inp(n, 5))


@_expander("QAttention")
def _qattention(n: onnx.NodeProto, name: str, shapes: dict) -> list[onnx.NodeProto]:
    """input (uint8), weight, bias, input_scale, weight_scale, mask_index, input_zp,
    weight_zp, past."""
    _check(n, (8,))
    kind = _mask_kind(n, shapes, _inp(n, 5))
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
    return nodes + rest + _mask_and_out(n, name, scores, _inp(n, 5), kind, p + "qkv", "")


_attention.needs_shapes = True
_qattention.needs_shapes = True


def _embed_ln(n: onnx.NodeProto, name: str, ins: list[str]) -> list[onnx.NodeProto]:
    """ins: input_ids, segment_ids, word, position, segment tables, gamma, beta, mask,
    position_ids (float tables; '' where absent)."""
    p = f"{name}."
    ids, seg_ids, word, pos, seg, gamma, beta, mask, pos_ids = ins
    nodes = [helper.make_node("Gather", [word, ids], [p + "word"], name=p + "word")]
    if not pos_ids:  # 0 .. S-1 for every row
        nodes += [_c(p + "one_axis", [1], np.int64), _c(p + "zero", 0, np.int64), _c(p + "step", 1, np.int64),
                  helper.make_node("Shape", [ids], [p + "ids_shape"], name=p + "ids_shape"),
                  helper.make_node("Gather", [p + "ids_shape", p + "one_axis"], [p + "seq1"], name=p + "seq1"),
                  helper.make_node("Squeeze", [p + "seq1"], [p + "seq"], name=p + "seq"),
                  helper.make_node("Range", [p + "zero", p + "seq", p + "step"], [p + "pos_ids"], name=p + "pos_ids")]
        pos_ids = p + "pos_ids"
    nodes += [helper.make_node("Gather", [pos, pos_ids], [p + "pos"], name=p + "pos"),
              helper.make_node("Add", [p + "word", p + "pos"], [p + "wp"], name=p + "wp")]
    total = p + "wp"
    if seg and seg_ids:
        nodes += [helper.make_node("Gather", [seg, seg_ids], [p + "seg"], name=p + "seg"),
                  helper.make_node("Add", [total, p + "seg"], [p + "sum"], name=p + "sum")]
        total = p + "sum"
    if len(n.output) > 2 and n.output[2]:
        nodes.append(helper.make_node("Identity", [total], [n.output[2]], name=p + "embedding_sum"))
    ln = [total, gamma] + ([beta] if beta else [])
    nodes.append(helper.make_node("LayerNormalization", ln, [n.output[0]], name=p + "LayerNorm", axis=-1,
                                  epsilon=float(_attrs(n).get("epsilon", 1e-12))))
    if len(n.output) > 1 and n.output[1]:  # the valid length of each row
        if not mask:
            raise ModelLoadError(f"com.microsoft::{n.op_type} node '{n.name}': a mask_index output "
                                 f"without a mask input is not imported")
        nodes += [_c(p + "row_axis", [1], np.int64),
                  helper.make_node("ReduceSum", [mask, p + "row_axis"], [n.output[1]], name=p + "mask_index",
                                   keepdims=0)]
    return nodes


@_expander("EmbedLayerNormalization")
def _embed_layer_norm(n: onnx.NodeProto, name: str) -> list[onnx.NodeProto]:
    return _embed_ln(n, name, [_inp(n, i) for i in range(9)])


@_expander("QEmbedLayerNormalization")
def _qembed_layer_norm(n: onnx.NodeProto, name: str) -> list[onnx.NodeProto]:
    """Its tables, gamma and beta as uint8 with (scale, zero point) at slots 8-12 and
    13-17: DequantizeLinear each, then EmbedLayerNormalization's subgraph."""
    nodes, ins = [], [_inp(n, 0), _inp(n, 1)]
    for k, slot in enumerate((2, 3, 4, 5, 6)):
        x = _inp(n, slot)
        if not x:
            ins.append("")
            continue
        out = f"{name}.dq{slot}"
        nodes.append(helper.make_node("DequantizeLinear", [x, n.input[8 + k]] + ([_inp(n, 13 + k)] if _inp(n, 13 + k)
                                      else []), [out], name=out))
        ins.append(out)
    return nodes + _embed_ln(n, name, ins + [_inp(n, 7), ""])
