"""A small CNN with one planted bad layer: conv2 reads input channel 3 with weights
``outlier`` times larger than its other weights (and conv1 makes that channel ``outlier``
times smaller, so the function is unchanged).  conv2's per-output-channel weight scales are
set by that one column, so its other weights round to a few levels: conv2 itself loses the
accuracy.  Cross-layer equalization (ReLU between conv1 and conv2) fixes it."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def planted_cnn(path: str, outlier: float = 200.0, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    w1 = (rng.standard_normal((8, 3, 3, 3)) * 0.3).astype(np.float32)
    w2 = (rng.standard_normal((8, 8, 3, 3)) * 0.15).astype(np.float32)
    w3 = (rng.standard_normal((4, 8, 1, 1)) * 0.3).astype(np.float32)
    b = lambda n: (rng.standard_normal(n) * 0.05).astype(np.float32)  # noqa: E731
    b1 = b(8)
    w1[3] /= outlier
    b1[3] /= outlier
    w2[:, 3] *= outlier
    inits = [numpy_helper.from_array(a, n) for a, n in
             ((w1, "w1"), (b1, "b1"), (w2, "w2"), (b(8), "b2"), (w3, "w3"), (b(4), "b3"))]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
             helper.make_node("Conv", ["r2", "w3", "b3"], ["y"], name="conv3")]
    g = helper.make_graph(nodes, "planted", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def images(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 3, 8, 8)).astype(np.float32)
