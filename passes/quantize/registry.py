"""The quantizer's rule table: float op -> lowering rule, filled here and only here.

A rule ``fn(st, node) -> bool`` lowers one float node into the integer graph
held by :class:`~qcc.passes.quantize.state.QState` and returns False to decline
(the node then stays float, or is reported when it has quantized inputs).
Where a specialised rule falls back to a generic one it calls it by name
(``rules_transformer.residual_add`` ends in ``rules_elementwise.add_sub``); no entry
is wrapped or replaced after the fact.  An op listed twice is an error at
import time.
"""

from __future__ import annotations

from . import (rules_concat, rules_elementwise, rules_math, rules_nn, rules_norm, rules_rnn, rules_select,
               rules_transformer)
from .state import QRule

_TABLE: list[tuple[tuple[str, ...], QRule]] = [
    # convolutions, linear layers, pooling (rules_nn); rank-3 convs run as 2-D ones
    (("onnx.Conv", "fused.conv"), rules_select.conv_1d_or_2d),
    (("onnx.ConvTranspose", "fused.conv_transpose"), rules_select.conv_transpose_1d_or_2d),
    (("fused.linear",), rules_transformer.linear_gelu),  # linear -> GELU as one int16 step
    (("onnx.MatMul",), rules_transformer.attention_scores),  # attention scores -> integer softmax
    (("onnx.MaxPool", "onnx.GlobalMaxPool"), rules_nn.maxpool),
    (("onnx.AveragePool",), rules_select.avgpool_1d_or_2d),
    (("onnx.GlobalAveragePool", "onnx.ReduceMean", "onnx.ReduceSum"), rules_nn.mean),
    # recurrent layers
    (("onnx.LSTM",), rules_rnn.lstm),
    (("onnx.GRU",), rules_rnn.gru),
    # elementwise arithmetic
    (("onnx.Add",), rules_transformer.residual_add),  # masks, 16-bit residual stream
    (("onnx.Sub",), rules_elementwise.add_sub),
    (("onnx.Mul",), rules_transformer.mul),
    (("onnx.Div",), rules_transformer.div),
    (("onnx.Sum", "onnx.Mean"), rules_math.sum_mean),
    (("onnx.Pow",), rules_math.pow_const),
    (("onnx.ReduceL2",), rules_math.reduce_l2),
    (("onnx.Relu", "onnx.Clip"), rules_elementwise.relu_clip),
    (tuple(sorted(set(rules_elementwise.LUT_OPS) - {"fused.gelu"})), rules_elementwise.unary_lut),
    (("fused.gelu",), rules_transformer.gelu),
    (("onnx.Max", "onnx.Min"), rules_select.max_min),
    (("onnx.ReduceMax", "onnx.ReduceMin"), rules_select.reduce_select),
    (("onnx.PRelu",), rules_select.prelu),
    # data movement
    (tuple(sorted(rules_elementwise.MOVE_OPS)), rules_elementwise.data_movement),
    (("onnx.Concat",), rules_concat.concat),  # int16 out for wide spreads
    (("onnx.Gather",), rules_elementwise.gather),
    (("onnx.Pad",), rules_elementwise.pad),
    (("onnx.Resize",), rules_elementwise.resize),
    # normalization, softmax, transformer patterns
    (("onnx.Softmax",), rules_norm.softmax_any_axis),
    (("onnx.LogSoftmax",), rules_norm.log_softmax_any_axis),
    (("fused.layernorm",), rules_transformer.layernorm),
    (("onnx.InstanceNormalization",), rules_norm.instance_norm),
    (("onnx.LRN",), rules_norm.lrn),
    (("onnx.Where",), rules_transformer.masked_fill),
    (("onnx.IsNaN",), rules_transformer.isnan),
]


def _build() -> dict[str, QRule]:
    rules: dict[str, QRule] = {}
    for ops, fn in _TABLE:
        for op in ops:
            if op in rules:
                raise ValueError(f"quantize rule table lists '{op}' twice")
            rules[op] = fn
    return rules


RULES: dict[str, QRule] = _build()
