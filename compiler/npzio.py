"""The ``.npz`` convention: one array per graph input/output name, stacked
along axis 0 over samples; sample ``i`` is ``arr[i:i+1]``.  Arrays are
loaded with ``allow_pickle=False``; nothing untrusted is ever unpickled.
"""

from __future__ import annotations

import os
import zipfile
from typing import Iterator

import numpy as np

from .errors import InputDataError
from .ir import Graph


def load_npz(path: str, what: str = "inputs") -> dict[str, np.ndarray]:
    if not os.path.isfile(path):
        raise InputDataError(f"{what} file '{path}' does not exist")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        raise InputDataError(f"{what} file '{path}' is not a readable .npz archive "
                             f"(np.savez, no pickled objects): {e}") from None


def save_npz(path: str, arrays: dict[str, np.ndarray]) -> None:
    """Write atomically: a temporary file in the same folder, then rename."""
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    tmp = os.path.join(d, f".{os.path.basename(path)}.tmp{os.getpid()}.npz")
    try:
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def num_samples(graph: Graph, data: dict[str, np.ndarray], what: str = "inputs",
                check_nan: bool = False) -> int:
    """Check keys and per-sample shapes; return the number of samples."""
    names = [v.name for v in graph.inputs]
    missing = [n for n in names if n not in data]
    extra = [k for k in data if k not in names]
    if missing:
        raise InputDataError(f"{what}: missing array(s) {missing} (found {sorted(data)}); "
                             f"the model inputs are {names}")
    if extra:
        raise InputDataError(f"{what}: array(s) {extra} match no model input; "
                             f"the model inputs are {names}")
    counts = set()
    for v in graph.inputs:
        a = data[v.name]
        want = v.shape
        if a.ndim != len(want) or (len(want) and tuple(a.shape[1:]) != tuple(want[1:])):
            raise InputDataError(
                f"{what}: '{v.name}' has shape {list(a.shape)}; expected samples of shape "
                f"{list(want)} stacked along axis 0, i.e. [{','.join(['N', *map(str, want[1:])])}]")
        if len(want) and want[0] != 1 and a.shape[0] % want[0]:
            raise InputDataError(f"{what}: '{v.name}' has {a.shape[0]} rows, not a multiple "
                                 f"of the batch size {want[0]}")
        if check_nan and a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            raise InputDataError(f"{what}: '{v.name}' contains NaN or Inf values")
        counts.add(a.shape[0] // (want[0] if len(want) and want[0] else 1) if len(want) else 1)
    if len(counts) > 1:
        raise InputDataError(f"{what}: inputs have different sample counts {sorted(counts)}")
    n = counts.pop() if counts else 1
    if n == 0:
        raise InputDataError(f"{what}: the arrays hold zero samples")
    return n


def iter_samples(graph: Graph, data: dict[str, np.ndarray], what: str = "inputs",
                 check_nan: bool = False) -> Iterator[dict[str, np.ndarray]]:
    n = num_samples(graph, data, what, check_nan)
    for i in range(n):
        s = {}
        for v in graph.inputs:
            b = v.shape[0] if v.shape else 1
            s[v.name] = data[v.name][i * b:(i + 1) * b] if v.shape else data[v.name]
        yield s


def stack_samples(samples: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if not samples:
        return {}
    return {k: np.concatenate([np.asarray(s[k]).reshape((-1,) + np.asarray(s[k]).shape[1:])
                               if np.asarray(s[k]).ndim else np.asarray(s[k])[None]
                               for s in samples], axis=0)
            for k in samples[0]}
