"""Quantizable layers of a float graph and their cost per candidate weight width.

A *layer* is a node whose weights the quantizer stores at ``layer_bits``:
``onnx.Conv``/``fused.conv``, ``onnx.ConvTranspose``/``fused.conv_transpose``,
``fused.linear`` and ``onnx.MatMul`` with a constant rank-2 right operand.

Costs of layer ``l`` at ``b`` weight bits (activations are always int8):

* ``size``: weight payload ``ceil(params * b / 8)`` bytes plus 4 bytes per
  scale (one per output channel, or per group with ``group_size``) — the
  scales cost the same at every width;
* ``bops``: ``MACs * b * 8`` bit operations;
* ``latency``: a per-target model ``MACs * mac_cost[b] + bytes * byte_cost
  + layer_cost`` in modelled cycles (:data:`LATENCY_MODELS`, see
  docs/mixed_precision.md for where the numbers come from).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from qcc.errors import BudgetError
from qcc.ir import Graph, Node

CONV_OPS = {"onnx.Conv", "fused.conv"}
CONVT_OPS = {"onnx.ConvTranspose", "fused.conv_transpose"}
LINEAR_OPS = {"fused.linear", "onnx.MatMul"}


@dataclass
class Layer:
    name: str  # node name (the key of ctx.options["layer_bits"])
    op: str
    weight: str  # name of the weight constant
    input: str  # name of the activation input
    axis: int  # output-channel axis of the weight
    params: int
    macs: int
    n_scales: int
    shares_weight_with: Optional[int] = None  # index of an earlier layer with the same weight


def _weight_axis(node: Node) -> Optional[int]:
    if node.op in CONV_OPS and node.inputs[1].is_const and node.inputs[0].type.rank == 4:
        return 0
    if node.op in CONVT_OPS and node.inputs[1].is_const and node.inputs[0].type.rank == 4:
        return 1
    if node.op == "fused.linear" and node.inputs[1].is_const and node.inputs[1].type.rank == 2:
        return 1
    if node.op == "onnx.MatMul" and node.inputs[1].is_const and node.inputs[1].type.rank == 2 \
            and not node.inputs[0].is_const:
        return 1
    return None


def _macs(node: Node, axis: int) -> int:
    w = node.inputs[1].shape
    if node.op in CONV_OPS:
        return int(np.prod(node.outputs[0].shape)) * int(np.prod(w[1:]))
    if node.op in CONVT_OPS:
        return int(np.prod(node.inputs[0].shape)) * int(np.prod(w[1:]))
    return int(np.prod(node.outputs[0].shape)) * int(w[0])


def _n_scales(node: Node, axis: int, group_size: Optional[int]) -> int:
    w = node.inputs[1].shape
    out_ch = w[axis] if node.op not in CONVT_OPS else w[1] * int(node.attrs.get("group", 1))
    if not group_size:
        return int(out_ch)
    k = int(np.prod(w)) // int(w[axis])  # reduction length per output channel
    return int(out_ch) * -(-k // int(group_size))


def find_layers(graph: Graph, group_size: Optional[int] = None) -> list[Layer]:
    """The quantizable layers in topological order."""
    layers: list[Layer] = []
    first_use: dict[int, int] = {}
    for node in graph.nodes:
        axis = _weight_axis(node)
        if axis is None:
            continue
        w = node.inputs[1]
        lay = Layer(node.name, node.op, w.name, node.inputs[0].name, axis, int(w.type.numel),
                    _macs(node, axis), _n_scales(node, axis, group_size))
        if id(w) in first_use:
            lay.shares_weight_with = first_use[id(w)]
        else:
            first_use[id(w)] = len(layers)
        layers.append(lay)
    return layers


# -- latency models -------------------------------------------------------------------------
@dataclass(frozen=True)
class LatencyModel:
    """Modelled cycles of one layer: ``MACs*mac[b] + bytes*byte + layer``."""

    mac: dict  # bits -> cycles per MAC
    byte: float  # cycles per weight byte fetched
    layer: float  # fixed cycles per layer (call, loop set-up, requant tables)
    note: str


LATENCY_MODELS: dict[str, LatencyModel] = {
    # scalar C kernels on a Cortex-M4-class MCU: an int8 MAC is a load, a sign
    # extension and an SMLA (~2 cycles); int4/int2 add a shift and a mask per
    # weight in the inner loop; weights stream from flash with wait states.
    "c": LatencyModel({8: 2.0, 4: 2.25, 2: 2.5}, 1.0, 200.0,
                      "scalar C on a Cortex-M4-class MCU; unpacking costs cycles, flash reads too"),
    # GPU int8/int4 tensor cores: int4 has twice the int8 MMA throughput; int2 is
    # unpacked to int4 in the kernel; per-layer launch overhead dominates tiny layers.
    "triton": LatencyModel({8: 1.0, 4: 0.5, 2: 0.55}, 0.02, 4000.0,
                           "GPU tensor cores; int4 MMA at twice the int8 rate"),
    # systolic int8 PE array: narrow weights only cut the DMA of weight tiles.
    "accel": LatencyModel({8: 1 / 256, 4: 1 / 256, 2: 1 / 256}, 0.125, 100.0,
                          "16x16 int8 PE array; narrow weights only save weight DMA"),
    # onnxruntime runs the QDQ model in float (weights dequantized once): width-blind.
    "onnx": LatencyModel({8: 1.0, 4: 1.0, 2: 1.0}, 0.01, 1000.0,
                         "onnxruntime QDQ: weights dequantized at load, so width does not matter"),
}


def latency_model(target: str) -> LatencyModel:
    return LATENCY_MODELS.get(target, LATENCY_MODELS["c"])


def layer_bytes(lay: Layer, bits: int) -> int:
    return -(-lay.params * int(bits) // 8) + 4 * lay.n_scales


def _modelled(lay: Layer, b: int, lm: LatencyModel) -> float:
    return lay.macs * lm.mac.get(b, lm.mac[8]) + layer_bytes(lay, b) * lm.byte + lm.layer


def cost_tables(layers: list[Layer], bits: tuple[int, ...], target: str,
                table: Optional["LatencyTable"] = None) -> dict[str, np.ndarray]:
    """``{"size", "bops", "latency"}`` -> ``[L, len(bits)]`` tables.  A layer that
    reuses an earlier layer's weight adds no size (it is tied to that layer).
    ``table`` (``--latency-table``) replaces the target's latency model."""
    size = np.array([[0 if lay.shares_weight_with is not None else layer_bytes(lay, b) for b in bits]
                     for lay in layers], np.float64).reshape(len(layers), len(bits))
    bops = np.array([[lay.macs * b * 8 for b in bits] for lay in layers],
                    np.float64).reshape(len(layers), len(bits))
    if table is not None:
        lat = table.costs(layers, bits)
    else:
        lm = latency_model(target)
        lat = np.array([[_modelled(lay, b, lm) for b in bits] for lay in layers],
                       np.float64).reshape(len(layers), len(bits))
    return {"size": size, "bops": bops, "latency": lat}


UNITS = {"size": "bytes", "bops": "BOPs", "latency": "cycles"}


def parse_budget(text, kind: str, all8: float, flag: str) -> Optional[float]:
    """``"60%"`` (of the all-8-bit cost), ``"12000"``, ``"1.5e9"`` or ``"12k"``/``"3M"``/``"2G"``."""
    if text is None or text == "":
        return None
    s = str(text).strip().replace("_", "").replace(",", "")
    try:
        if s.endswith("%"):
            val = float(s[:-1]) / 100.0 * all8
        else:
            mult = {"k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}.get(s[-1], 1.0)
            val = float(s[:-1] if mult != 1.0 else s) * mult
    except ValueError:
        raise BudgetError(f"{flag} '{text}' is not a number or a percentage "
                          f"(e.g. 60% of the all-int8 {kind}, or an absolute {UNITS[kind]} count)") from None
    if not np.isfinite(val) or val <= 0:
        raise BudgetError(f"{flag} '{text}' must be positive")
    return float(val)
