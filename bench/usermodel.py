"""``qcc bench path/to/model.onnx``: benchmark a user's own ONNX file.

Data follows the examples' convention when it is there: ``calib.npz`` and
``test.npz`` next to the model (one array per graph input, samples along the
first axis) and optionally ``test_labels.npy`` (then top-1 is scored against
the labels).  Without them the inputs are seeded noise (8 calibration and 4
test samples; floats uniform in [0, 1), integers 0 or 1, unknown dimensions
1), the model is scored like the light models (SQNR / max error against the
float model) and the mixed-precision sweep is skipped.
"""

from __future__ import annotations

import os

import numpy as np

from qcc.errors import QccError

from .models import BenchModel

N_CALIB, N_TEST, SEED = 8, 4, 0


class UserModelError(QccError):
    """A model file given to ``qcc bench`` that cannot be benchmarked."""


def is_path(name: str) -> bool:
    return name.lower().endswith(".onnx") or os.sep in name


def _noise(shape: list[int], dtype, n: int, rng) -> np.ndarray:
    full = [n * shape[0]] + shape[1:] if shape else [n]
    if np.issubdtype(dtype, np.integer) or dtype == np.bool_:
        return rng.integers(0, 2, size=full).astype(dtype)
    return rng.random(full).astype(dtype)


def _graph_inputs(path: str) -> list[tuple[str, list[int], np.dtype]]:
    import onnx
    from onnx import helper

    m = onnx.load(path, load_external_data=False)
    inits = {t.name for t in m.graph.initializer}
    out = []
    for vi in m.graph.input:
        if vi.name in inits:
            continue
        tt = vi.type.tensor_type
        shape = [d.dim_value if d.dim_value > 0 else 1 for d in tt.shape.dim]
        out.append((vi.name, shape, np.dtype(helper.tensor_dtype_to_np_dtype(tt.elem_type))))
    return out


def _load_npz(path: str, names: list[str]) -> dict:
    with np.load(path, allow_pickle=False) as z:
        missing = [n for n in names if n not in z.files]
        if missing:
            raise UserModelError(f"'{path}' has no array for graph input(s) "
                                 f"{', '.join(repr(n) for n in missing)} (it has {', '.join(z.files)})")
        return {n: z[n] for n in names}


def from_path(path: str) -> BenchModel:
    """A :class:`BenchModel` for an ONNX file, with its own data or seeded noise."""
    if not os.path.isfile(path):
        raise UserModelError(f"model file '{path}' does not exist")
    try:
        inputs = _graph_inputs(path)
    except Exception as e:  # noqa: BLE001 - any parse failure is the file's fault
        raise UserModelError(f"'{path}' is not a readable ONNX model: "
                             f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    folder = os.path.dirname(os.path.abspath(path))
    name = os.path.splitext(os.path.basename(path))[0]
    names = [n for n, _, _ in inputs]
    calib_p, test_p = os.path.join(folder, "calib.npz"), os.path.join(folder, "test.npz")
    labels_p = os.path.join(folder, "test_labels.npy")
    if os.path.isfile(calib_p) and os.path.isfile(test_p):
        calib, test = _load_npz(calib_p, names), _load_npz(test_p, names)
        labels = np.load(labels_p) if os.path.isfile(labels_p) else None
        synthetic = False
    else:
        rng = np.random.default_rng(SEED)
        calib = {n: _noise(s, dt, N_CALIB, rng) for n, s, dt in inputs}
        test = {n: _noise(s, dt, N_TEST, rng) for n, s, dt in inputs}
        labels, synthetic = None, True
    shapes = [f"{n}={'x'.join(map(str, [1] + list(test[n].shape[1:])))}" for n in names]
    return BenchModel(name=name, path=path, calib=calib, test=test, labels=labels,
                      input_shapes=shapes, kind="classifier" if labels is not None else "encoder",
                      synthetic=synthetic)
