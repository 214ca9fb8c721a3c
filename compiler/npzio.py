"""The ``.npz`` convention: one array per graph input/output name, stacked
along axis 0 over samples; sample ``i`` is ``arr[i:i+1]``.  Arrays are
loaded with ``allow_pickle=False``; nothing untrusted is ever unpickled.
"""

from __future__ import annotations

import os
import zipfile
from typing import Iterator, Optional

import numpy as np

from .errors import InputDataError
from .ir import Graph


MAX_BYTES_ENV = "QCC_MAX_INPUT_BYTES"
DEFAULT_MAX_BYTES = 1 << 30  # 1 GiB of declared array data per file
SINGLE = "\0single"  # key of the one array of an .npy file, bound to a one-input model
_NPY_MAGIC = b"\x93NUMPY"


def max_bytes() -> int:
    try:
        return int(os.environ.get(MAX_BYTES_ENV, DEFAULT_MAX_BYTES))
    except ValueError:
        raise InputDataError(f"{MAX_BYTES_ENV} must be a number of bytes") from None


def load_npz(path: str, what: str = "inputs", max_rows: Optional[int] = None) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` (or the one array of an ``.npy``, under key ``SINGLE``).

    Array headers are read first: their declared sizes must stay under
    ``QCC_MAX_INPUT_BYTES`` (1 GiB by default), so a small file declaring huge arrays
    is refused before anything is allocated.  ``max_rows`` reads only the first rows
    of each array (``--max-calib-samples``) and counts only those."""
    if not os.path.exists(path):
        raise InputDataError(f"{what} file '{path}' does not exist")
    if not os.path.isfile(path):
        raise InputDataError(f"{what} file '{path}' is not a regular file")
    try:
        with open(path, "rb") as f:
            if f.read(len(_NPY_MAGIC)) == _NPY_MAGIC:
                f.seek(0)
                return {SINGLE: _read_npy(f, path, what, max_rows, max_bytes())}
        out, budget = {}, max_bytes()
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                with zf.open(info) as f:
                    out[key] = _read_npy(f, f"{path}:{key}", what, max_rows, budget)
                budget -= out[key].nbytes
        return out
    except (ValueError, OSError, zipfile.BadZipFile, EOFError, RuntimeError) as e:
        raise InputDataError(f"{what} file '{path}' is not a readable .npz archive "
                             f"(np.savez, no pickled objects): {e}") from None


def _read_npy(f, where: str, what: str, max_rows: Optional[int], budget: int) -> np.ndarray:
    """One .npy stream: header, size check, then only the rows asked for."""
    fmt = np.lib.format
    version = fmt.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = fmt.read_array_header_1_0(f)
    else:
        shape, fortran, dtype = fmt.read_array_header_2_0(f)
    if dtype.hasobject:
        raise InputDataError(f"{what} '{where}' holds Python objects (pickles), which qcc "
                             f"never loads")
    rows = shape[0] if shape else None
    take = rows if (max_rows is None or rows is None or fortran) else min(rows, max_rows)
    count = 1
    for d in ((take,) + tuple(shape[1:])) if shape else ():
        count *= int(d)
    nbytes = count * dtype.itemsize
    if nbytes > budget:
        raise InputDataError(f"{what} '{where}' declares {list(shape)} {dtype} "
                             f"({nbytes:,} bytes to read), over the limit of "
                             f"{max_bytes():,} bytes per file; raise {MAX_BYTES_ENV} or "
                             f"use fewer samples")
    data = f.read(nbytes)
    if len(data) != nbytes:
        raise InputDataError(f"{what} '{where}' is truncated ({len(data)} of {nbytes} bytes)")
    arr = np.frombuffer(data, dtype=dtype).copy()
    if not shape:
        return arr.reshape(())
    if fortran:
        return arr.reshape(shape[::-1]).transpose()
    return arr.reshape((take,) + tuple(shape[1:]))


def array_shapes(path: str) -> dict[str, tuple]:
    """Declared shapes of an .npz / .npy without reading the data ({} if unreadable)."""
    try:
        with open(path, "rb") as f:
            if f.read(len(_NPY_MAGIC)) == _NPY_MAGIC:
                f.seek(0)
                return {SINGLE: _header_shape(f)}
        with zipfile.ZipFile(path) as zf:
            out = {}
            for info in zf.infolist():
                with zf.open(info) as f:
                    out[info.filename[:-4] if info.filename.endswith(".npy")
                        else info.filename] = _header_shape(f)
            return out
    except (ValueError, OSError, zipfile.BadZipFile, EOFError, RuntimeError):
        return {}


def _header_shape(f) -> tuple:
    fmt = np.lib.format
    version = fmt.read_magic(f)
    read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
    return tuple(read(f)[0])


def bind_single(graph: Graph, data: dict, what: str = "inputs") -> dict:
    """The array of an .npy file belongs to the model's only input."""
    if SINGLE not in data:
        return data
    names = [v.name for v in graph.inputs]
    if len(names) != 1:
        raise InputDataError(f"{what}: an .npy file holds one array, but the model has "
                             f"{len(names)} inputs {names}; use an .npz with one array per "
                             f"input (np.savez)")
    return {names[0]: data[SINGLE]}


def rows_for(graph: Graph, samples: Optional[int]) -> Optional[int]:
    """Rows of each array that ``samples`` samples take (batch dims of the inputs)."""
    if samples is None or samples < 1:
        return None
    return samples * max([v.shape[0] for v in graph.inputs if v.shape and v.shape[0] > 0] or [1])


def save_npz(path: str, arrays: dict[str, np.ndarray]) -> None:
    """Write atomically: a temporary file in the same folder, then rename."""
    from .outdir import OutputError, os_error

    d = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(d, f".{os.path.basename(path)}.tmp{os.getpid()}.npz")
    try:
        if os.path.isdir(path):
            raise OutputError(f"output file '{path}' is a folder")
        os.makedirs(d, exist_ok=True)
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    except OSError as e:
        raise os_error(e, path, "output file") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def num_samples(graph: Graph, data: dict[str, np.ndarray], what: str = "inputs",
                check_nan: bool = False) -> int:
    """Check keys and per-sample shapes; return the number of samples."""
    data = bind_single(graph, data, what)
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
        if not len(want) and a.ndim == 1:  # a scalar input given per sample: [N]
            counts.add(a.shape[0])
            continue
        if a.ndim != len(want) or (len(want) and tuple(a.shape[1:]) != tuple(want[1:])):
            raise InputDataError(
                f"{what}: '{v.name}' has shape {list(a.shape)}; expected samples of shape "
                f"{list(want)} stacked along axis 0, i.e. [{','.join(['N', *map(str, want[1:])])}]")
        if len(want) and want[0] != 1 and a.shape[0] % want[0]:
            raise InputDataError(f"{what}: '{v.name}' has {a.shape[0]} rows, not a multiple "
                                 f"of the batch size {want[0]}")
        if check_nan and a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            raise InputDataError(f"{what}: '{v.name}' contains NaN or Inf values")
        if len(want):  # a 0-d array for a scalar input serves every sample
            counts.add(a.shape[0] // (want[0] if want[0] else 1))
    if len(counts) > 1:
        raise InputDataError(f"{what}: inputs have different sample counts {sorted(counts)}")
    n = counts.pop() if counts else 1
    if n == 0:
        raise InputDataError(f"{what}: the arrays hold zero samples")
    return n


def iter_samples(graph: Graph, data: dict[str, np.ndarray], what: str = "inputs",
                 check_nan: bool = False) -> Iterator[dict[str, np.ndarray]]:
    n = num_samples(graph, data, what, check_nan)
    data = bind_single(graph, data, what)
    for i in range(n):
        s = {}
        for v in graph.inputs:
            b = v.shape[0] if v.shape else 1
            a = data[v.name]
            if not v.shape:  # a scalar: one for all samples, or one per sample ([N])
                s[v.name] = a[i] if a.ndim == 1 else a
            else:
                s[v.name] = a[i * b:(i + 1) * b]
        yield s


def stack_samples(samples: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if not samples:
        return {}
    return {k: np.concatenate([np.asarray(s[k]).reshape((-1,) + np.asarray(s[k]).shape[1:])
                               if np.asarray(s[k]).ndim else np.asarray(s[k])[None]
                               for s in samples], axis=0)
            for k in samples[0]}
