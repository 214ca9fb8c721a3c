"""Helpers of the Triton kernel tests (interpreter mode, CPU tensors)."""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "compiler"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "c"))

from integer_helpers import run_op  # noqa: E402,F401

from qcc import arith  # noqa: E402
from qcc.backends.triton.runner import run_call  # noqa: E402,F401

NP_NAME = {np.dtype(np.int8): "int8", np.dtype(np.uint8): "uint8", np.dtype(np.int16): "int16",
           np.dtype(np.int32): "int32", np.dtype(np.int64): "int64", np.dtype(np.bool_): "bool"}


def dname(a) -> str:
    return NP_NAME[np.asarray(a).dtype]


def mults(rng, n: int, lo: float = 1e-4, hi: float = 0.9, edge: bool = False):
    """Multipliers/shifts of random factors (log-uniform); ``edge`` mixes in extremes:
    r = 0, the largest m (2^31 - 1), the smallest shifts."""
    r = np.exp(rng.uniform(np.log(lo), np.log(hi), n))
    if edge:  # 0, the largest m, a factor below 2^-32, powers of two (exact ties)
        pick = rng.integers(0, 5, n)
        r = np.where(pick == 3, 0.5 ** rng.integers(1, 8, n), r)
        r = np.where(pick == 0, 0.0, r)
        r = np.where(pick == 1, (2.0**31 - 1) / 2.0**31 * 0.5 ** rng.integers(0, 20, n), r)
        r = np.where(pick == 2, 2.0 ** -33, r)
    m, s = arith.quantize_multiplier(r)
    return np.atleast_1d(m).astype(np.int32), np.atleast_1d(s).astype(np.int32)


def run_graph(graph, feeds: dict, out_dir, name: str = "t") -> dict:
    """Compile ``graph`` with the Triton backend into ``out_dir``, run its ``Model`` on the
    CPU (interpreter) and return numpy outputs keyed by graph output name."""
    import json
    from types import SimpleNamespace

    import torch

    from qcc.backends.triton import emit, load_model

    os.makedirs(out_dir, exist_ok=True)
    extra = emit(graph, str(out_dir), SimpleNamespace(options={"model_name": name}))
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(dict(extra, target="triton"), f, default=str)
    model = load_model(str(out_dir), extra, "cpu")
    res = model({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in feeds.items()})
    return {k: v.numpy() for k, v in res.items()}


def check_cases(cases, tmp_path) -> None:
    """Every output of a ``Cases`` graph equals the reference interpreter bit for bit."""
    from qcc.interp import Interpreter
    from qcc.ir.verifier import verify

    verify(cases.g)
    ref = Interpreter(cases.g).run(cases.feeds)
    got = run_graph(cases.g, cases.feeds, tmp_path / "tt")
    for k, v in ref.items():
        assert got[k].dtype == v.dtype, k
        np.testing.assert_array_equal(got[k], v, err_msg=k)
