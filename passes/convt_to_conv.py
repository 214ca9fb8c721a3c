"""convt-to-conv: an integer ``qcc.conv_transpose2d`` becomes ``qcc.conv2d`` and ``qcc.index_map``.

For targets with a conv2d kernel and data movement but no transposed-convolution kernel
(the accelerator, docs/target_accel.md §7).  Both forms compute the very integer sums of
``conv_transpose2d_acc`` and keep the node's epilogue inputs and attributes, so the outputs
are the same integers for every input:

* **kernel == stride** (no pads, no output padding, dilation 1 or a 1-wide kernel): each
  input pixel writes its own ``sH x sW`` output block, so the op is a 1x1 conv2d with
  ``sH*sW*M`` channels, channel ``gi*sH*sW*M/g + (u*sW + v)*M/g + o`` holding output channel
  ``gi*M/g + o`` at offset ``(u, v)`` of the block (bias and per-channel multipliers and
  shifts repeated per offset), followed by a pixel shuffle (an index map): ``y[n, gi*M/g +
  o, i*sH + u, j*sW + v] = t[n, that channel, i, j]``.  The multiplies are the op's own.
* **otherwise**: the input with ``s - 1`` zero-point entries between neighbours and
  ``d*(k-1) - p`` of them at the leading edge (``d*(k-1) - p' + output_padding`` at the
  trailing one; a negative count crops) as one index map with fill ``x_zp`` (a centred
  zero: it adds nothing to any sum), then a stride-1 conv2d with dilation ``d`` and the
  kernel transposed to ``[M, C/g, kH, kW]`` and flipped in both spatial axes.
"""

from __future__ import annotations

import numpy as np

from qcc.ir import DType, Graph, Node, TensorType
from qcc.passmanager import PassContext, register_pass

_GEOM = ("strides", "pads", "dilations", "output_padding", "kernel_shape", "output_shape")


def _geometry(node: Node):
    w = node.inputs[1]
    c, mg, kh, kw = w.shape
    sh, sw = node.attr("strides", [1, 1])
    pads = list(node.attr("pads", [0, 0, 0, 0]))
    dh, dw = node.attr("dilations", [1, 1])
    op = list(node.attr("output_padding", [0, 0]))
    return c, mg, kh, kw, int(sh), int(sw), pads, int(dh), int(dw), op


def block_form(node: Node) -> bool:
    """Whether the op is a 1x1 conv followed by a pixel shuffle (kernel == stride)."""
    c, mg, kh, kw, sh, sw, pads, dh, dw, op = _geometry(node)
    return ((kh, kw) == (sh, sw) and not any(pads) and not any(op)
            and (dh == 1 or kh == 1) and (dw == 1 or kw == 1))


def _conv_attrs(node: Node, dil) -> dict:
    attrs = {k: v for k, v in node.attrs.items() if k not in _GEOM}
    attrs.update(strides=[1, 1], pads=[0, 0, 0, 0], dilations=list(dil))
    return attrs


def _block(graph: Graph, node: Node) -> None:
    x, w = node.inputs[0], node.inputs[1]
    y = node.outputs[0]
    c, mg, kh, kw, sh, sw, *_ = _geometry(node)
    g = int(node.attr("group", 1))
    n, _, h, wd = x.shape
    m, ss = g * mg, sh * sw
    # conv channel (gi, u*sw + v, o) <- w[gi*cg + c', o, u, v]
    wq = np.asarray(w.data).reshape(g, c // g, mg, ss).transpose(0, 3, 2, 1)
    w1 = graph.add_const(f"{node.name}.w1x1", wq.reshape(g * ss * mg, c // g, 1, 1), w.dtype)
    rest = []
    for v in node.inputs[2:]:
        if v is not None and v.is_const and v.shape == (m,):
            rep = np.broadcast_to(np.asarray(v.data).reshape(g, 1, mg), (g, ss, mg))
            v = graph.add_const(f"{v.name}.blocks", rep.reshape(-1), v.dtype)
        rest.append(v)
    t = graph.new_value(f"{y.name}.blocks", TensorType(y.dtype, (n, m * ss, h, wd)))
    graph.add_node("qcc.conv2d", [x, w1] + rest, [t], _conv_attrs(node, (1, 1)),
                   name=f"{node.name}.conv", before=node)
    gi, u, i, v2, j, o = np.ogrid[:g, :sh, :h, :sw, :wd, :mg]
    ch = gi * ss * mg + (u * sw + v2) * mg + o          # [g, sh, h, sw, wd, mg]
    src = (ch * h + i) * wd + j
    src = src.transpose(0, 5, 2, 1, 4, 3).reshape(1, m, h * sh, wd * sw)
    src = src + (np.arange(n) * (m * ss * h * wd)).reshape(n, 1, 1, 1)
    idx = graph.add_const(f"{node.name}.shuffle.idx", src.astype(np.int32), DType.int32)
    graph.replace_node(node, "qcc.index_map", [t, idx], {"fill": 0}, name=node.name)


def _dilate(graph: Graph, node: Node) -> None:
    x, w = node.inputs[0], node.inputs[1]
    c, mg, kh, kw, sh, sw, (pt, pl, pb, pr), dh, dw, (oph, opw) = _geometry(node)
    g = int(node.attr("group", 1))
    n, _, h, wd = x.shape
    lt, ll = dh * (kh - 1) - pt, dw * (kw - 1) - pl
    hp = (h - 1) * sh + 1 + lt + dh * (kh - 1) - pb + oph
    wp = (wd - 1) * sw + 1 + ll + dw * (kw - 1) - pr + opw
    r = np.arange(hp) - lt
    q = np.arange(wp) - ll
    ri = np.where((r >= 0) & (r % sh == 0) & (r // sh < h), r // sh, -1)
    qi = np.where((q >= 0) & (q % sw == 0) & (q // sw < wd), q // sw, -1)
    plane = np.arange(n * c).reshape(n, c, 1, 1) * (h * wd)
    src = plane + ri.reshape(1, 1, hp, 1) * wd + qi.reshape(1, 1, 1, wp)
    src = np.where((ri.reshape(-1, 1) >= 0) & (qi.reshape(1, -1) >= 0), src, -1)
    idx = graph.add_const(f"{node.name}.dilate.idx", src.astype(np.int32), DType.int32)
    xd = graph.new_value(f"{x.name}.dilated", TensorType(x.dtype, (n, c, hp, wp)), x.qparams)
    graph.add_node("qcc.index_map", [x, idx], [xd], {"fill": int(node.attr("x_zp", 0))},
                   name=f"{node.name}.dilate", before=node)
    cg = c // g
    wt = np.asarray(w.data).reshape(g, cg, mg, kh, kw).transpose(0, 2, 1, 3, 4)
    wt = wt.reshape(g * mg, cg, kh, kw)[:, :, ::-1, ::-1]
    wc = graph.add_const(f"{node.name}.wconv", np.ascontiguousarray(wt), w.dtype)
    graph.replace_node(node, "qcc.conv2d", [xd, wc] + list(node.inputs[2:]),
                       _conv_attrs(node, (dh, dw)), name=node.name)


@register_pass("convt-to-conv", "qcc.conv_transpose2d -> qcc.conv2d + qcc.index_map",
               kind="integer")
def convt_to_conv(graph: Graph, ctx: PassContext) -> bool:
    done = {"block": 0, "dilate": 0}
    for node in list(graph.nodes):
        if node.op != "qcc.conv_transpose2d" or not node.inputs[1].is_const:
            continue
        if block_form(node):
            _block(graph, node)
            done["block"] += 1
        else:
            _dilate(graph, node)
            done["dilate"] += 1
    ctx.note("convt-to-conv", rewritten=sum(done.values()), forms=done)
    return any(done.values())
