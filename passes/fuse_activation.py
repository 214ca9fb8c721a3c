"""fuse-activation: fold an activation into the preceding fused conv/linear.

Relu, Clip (``[0, 6]`` -> ``relu6``, ``[0, inf)`` -> ``relu``, other constant
bounds -> ``clip``), LeakyRelu, HardSwish / ``fused.hardswish`` and
HardSigmoid / ``fused.hardsigmoid`` that read a ``fused.conv``,
``fused.conv_transpose`` or ``fused.linear`` (activation ``none``) which has
no other reader set that op's ``activation`` attributes.  The fused node
takes the activation's output value (name kept for calibration).

Activations the integer epilogue cannot express as a clamp (LeakyRelu,
HardSwish, HardSigmoid) also get ``pre_act``: the name of the host's former
output value.  Calibration ran before fusion, so ``graph.meta["ranges"]`` holds
that pre-activation range; the quantizer requantizes the accumulator to it and
applies the activation with a 256-entry ``qcc.lut``.
"""

from __future__ import annotations

import math
from typing import Optional

from qcc.ir import Graph, Node
from qcc.passmanager import PassContext, register_pass

from .fusion_match import only_user, scalar

HOSTS = ("fused.conv", "fused.conv_transpose", "fused.linear")
CLAMPS = ("none", "relu", "relu6", "clip")


def _clip_bounds(node: Node) -> Optional[tuple[float, float]]:
    if node.opset < 11 or "min" in node.attrs or "max" in node.attrs:
        return float(node.attrs.get("min", -math.inf)), float(node.attrs.get("max", math.inf))
    lo = hi = None
    bounds = []
    for i, default in ((1, -math.inf), (2, math.inf)):
        v = node.inputs[i] if len(node.inputs) > i else None
        if v is None:
            bounds.append(default)
            continue
        c = scalar(v)
        if c is None:
            return None
        bounds.append(c)
    lo, hi = bounds
    return lo, hi


def activation_of(node: Node) -> Optional[dict]:
    """The ``activation`` attributes equivalent to ``node``, else None."""
    op = node.op
    if op == "onnx.Relu":
        return {"activation": "relu"}
    if op == "onnx.LeakyRelu":
        return {"activation": "leaky_relu", "alpha": float(node.attrs.get("alpha", 0.01))}
    if op in ("onnx.HardSwish", "fused.hardswish"):
        return {"activation": "hardswish"}
    if op in ("onnx.HardSigmoid", "fused.hardsigmoid"):
        return {"activation": "hardsigmoid", "alpha": float(node.attrs.get("alpha", 0.2)),
                "beta": float(node.attrs.get("beta", 0.5))}
    if op == "onnx.Clip":
        b = _clip_bounds(node)
        if b is None:
            return None
        lo, hi = b
        if lo == 0 and hi == 6:
            return {"activation": "relu6"}
        if lo == 0 and math.isinf(hi):
            return {"activation": "relu"}
        return {"activation": "clip", "min": lo, "max": hi}
    return None


@register_pass("fuse-activation", "Relu/Clip/LeakyRelu/HardSwish/HardSigmoid after a single-user "
                                  "fused.conv/linear -> its activation attribute")
def fuse_activation(graph: Graph, ctx: PassContext) -> bool:
    count = 0
    for node in list(graph.nodes):
        if node not in graph.nodes or node.op not in HOSTS or \
                node.attrs.get("activation", "none") != "none":
            continue
        act = only_user(node.outputs[0], graph)
        if act is None or act.inputs[0] is not node.outputs[0]:
            continue
        attrs = activation_of(act)
        if attrs is None or act.outputs[0].dtype != node.outputs[0].dtype or \
                len(act.outputs) != 1:
            continue
        new_attrs = {k: v for k, v in node.attrs.items()
                     if k not in ("alpha", "beta", "min", "max", "pre_act")}
        new_attrs.update(attrs)
        if attrs["activation"] not in CLAMPS:
            new_attrs["pre_act"] = node.outputs[0].name
        inputs, name = list(node.inputs), node.name
        graph.remove_node(node)
        graph.replace_node(act, node.op, inputs, new_attrs, name=name)
        count += 1
    ctx.note("fuse-activation", fused=count)
    return count > 0
