"""Run the float model over calibration samples, yielding every float tensor.

The fast path exports the graph with :func:`qcc.frontend.onnx_export.to_onnx`,
adds every float intermediate value as a graph output and runs it with
onnxruntime (graph optimizations disabled so that every name survives; two
intra-op threads).  When onnxruntime cannot load or run the graph (``fused.*``
or ``qcc.*`` ops, an op ORT lacks), the qcc interpreter runs it with
``capture`` instead.  Samples are streamed: one sample's tensors live at a time.
"""

from __future__ import annotations

from typing import Iterator, Optional

import numpy as np

from ..ir import Graph, Value


def observed_values(graph: Graph) -> list[Value]:
    """Float graph inputs and node outputs (not constants): what calibration sees."""
    seen, out = set(), []
    for v in list(graph.inputs) + [o for n in graph.nodes for o in n.outputs]:
        if v.dtype.is_float and not v.is_const and v.name not in seen:
            seen.add(v.name)
            out.append(v)
    return out


class OrtRunner:
    """onnxruntime session returning every observed value by name."""

    engine = "onnxruntime"

    def __init__(self, graph: Graph, threads: int = 2):
        import onnxruntime as ort
        from onnx import helper

        from ..frontend.onnx_export import to_onnx

        model = to_onnx(graph)
        have = {o.name for o in model.graph.output}
        inputs = {v.name for v in graph.inputs}
        for v in observed_values(graph):
            if v.name not in have and v.name not in inputs:
                model.graph.output.append(
                    helper.make_tensor_value_info(v.name, v.dtype.onnx, list(v.shape)))
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 4
        self.sess = ort.InferenceSession(model.SerializeToString(), opts,
                                         providers=["CPUExecutionProvider"])
        self.names = [o.name for o in self.sess.get_outputs()]

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        res = dict(zip(self.names, self.sess.run(self.names, feeds)))
        res.update(feeds)
        return res


class InterpRunner:
    """The qcc reference interpreter with every intermediate captured."""

    engine = "interpreter"

    def __init__(self, graph: Graph):
        from ..interp import Interpreter

        self.it = Interpreter(graph)
        self.keep = {v.name for v in observed_values(graph)}

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return self.it.run(feeds, capture=self.keep, validate=False)


def make_runner(graph: Graph, engine: str = "auto", probe: Optional[dict] = None):
    """``engine``: auto (ORT, falling back to the interpreter) | onnxruntime | interpreter.

    With ``auto`` the ORT session is also tried on ``probe`` (one sample), so a
    graph ORT loads but cannot execute still falls back.
    """
    if engine == "interpreter":
        return InterpRunner(graph)
    try:
        r = OrtRunner(graph)
        if probe is not None:
            r.run(probe)
        return r
    except Exception:  # noqa: BLE001 - any ORT failure: the interpreter runs everything qcc knows
        if engine == "onnxruntime":
            raise
        return InterpRunner(graph)


def stream(runner, samples: Iterator[dict[str, np.ndarray]]) -> Iterator[dict[str, np.ndarray]]:
    for s in samples:
        yield runner.run(s)
