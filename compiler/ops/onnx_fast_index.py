"""GatherElements by numpy indexing.

``onnx.reference``'s GatherElements goes through ``np.choose``, which takes at most
32 (numpy < 2: 32, later 64) choices, and its fallback reshapes a wrong-sized list:
the position / token-type id paths of Hugging Face BERT exports (``torch.gather`` on
an expanded ``[1, 512]`` buffer) fail or fold to wrong values there.  ONNX semantics:
output shape = indices shape; ``out[i][j][k] = data[index[i][j][k]][j][k]`` along
``axis`` (the other coordinates are the output's own, which the spec allows to be
smaller than data's); negative indices count from the end; an index out of range is
an error.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..errors import QccError
from ..ir import Node
from .onnx_fast import _kernel


@_kernel("GatherElements")
def _gather_elements(node: Node, args: list) -> Optional[list]:
    data, idx = np.asarray(args[0]), np.asarray(args[1]).astype(np.int64)
    axis = int(node.attrs.get("axis", 0))
    if data.ndim != idx.ndim or data.ndim == 0:
        return None
    axis = axis + data.ndim if axis < 0 else axis
    n = data.shape[axis]
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise QccError(f"GatherElements node '{node.name}': index out of range [-{n}, {n - 1}]")
    if any(i > d for a, (i, d) in enumerate(zip(idx.shape, data.shape)) if a != axis):
        return None
    grid = list(np.indices(idx.shape, sparse=True))
    grid[axis] = np.where(idx < 0, idx + n, idx)
    return [data[tuple(grid)]]
