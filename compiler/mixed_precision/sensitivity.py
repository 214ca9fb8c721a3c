"""Label-free per-layer sensitivity to weight quantization, with a cache.

``measure(graph, layers, bits, samples)`` returns ``omega[l, j]``: how much the
model output moves when only layer ``l``'s weights are fake-quantized to
``bits[j]`` (symmetric, per output channel or per group, as the quantizer
does) and everything else stays float.  The output change is

* ``kl``: mean KL(softmax(reference) || softmax(perturbed)) over the samples,
  for classifiers (one output of shape [N, C]; a Softmax output is used as is);
* ``mse``: mean squared change of every output divided by the reference's
  mean square (a relative error; 10*log10(1/mse) is the SQNR in dB).

``mode="hessian"`` instead estimates HAWQ's ``Tr(H_l)/n_l * ||W - Q_b(W)||^2``
with forward passes only: the divergence ``D(theta)`` above is 0 with zero
gradient at the float weights, so for a Rademacher probe ``v`` and step
``eps``, ``v^T H v ~ (D(W + eps v) + D(W - eps v)) / eps^2`` (Hutchinson).

Results are cached in ``<cache dir>/sensitivity/<key>.json`` where the key
hashes the graph (structure and constants), the samples, the widths, the
metric, the mode and the group size, so another budget only re-runs the solve.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from typing import Callable, Optional

import numpy as np

from qcc.errors import QccError
from qcc.ir import Graph
from qcc.quant_scheme import group_weight_qparams, weight_qparams

from .costs import Layer
from .ortgraph import make_evaluator

EPS = 1e-12


# -- fake quantization ----------------------------------------------------------------------
def fake_quant(w: np.ndarray, axis: int, bits: int, group_size: Optional[int] = None) -> np.ndarray:
    """``w`` quantized symmetrically to ``bits`` and back exactly as the quantizer
    does it (one scale per slice along ``axis``, or per ``group_size`` run of the
    flattened reduction dims; clipped ranges below 8 bits), so the sensitivity
    measures the error that will be deployed."""
    a = np.moveaxis(np.asarray(w, np.float32), axis, 0)
    if not group_size:
        q, qp = weight_qparams(a, 0, bits)
        out = q.astype(np.float64) * qp.scale.reshape((-1,) + (1,) * (a.ndim - 1))
    else:
        flat = a.reshape(a.shape[0], -1)
        q, s_eff, _, _ = group_weight_qparams(flat, bits, int(group_size))
        k = flat.shape[1]
        out = (q.astype(np.float64) * np.repeat(s_eff, int(group_size), axis=1)[:, :k]).reshape(a.shape)
    return np.moveaxis(out, 0, axis).astype(w.dtype)


# -- output divergence ------------------------------------------------------------------------
def default_metric(graph: Graph) -> str:
    outs = graph.outputs
    if len(outs) == 1 and outs[0].type.rank == 2 and outs[0].shape[-1] >= 2:
        return "kl"
    return "mse"


def _probs(y: np.ndarray, is_softmax: bool) -> np.ndarray:
    y = np.asarray(y, np.float64)
    if is_softmax:
        return np.clip(y, EPS, None) / np.clip(y, EPS, None).sum(-1, keepdims=True)
    z = np.exp(y - y.max(-1, keepdims=True))
    return z / z.sum(-1, keepdims=True)


def divergence(ref: list, out: list, metric: str, is_softmax: bool = False) -> float:
    if metric == "kl":
        p, q = _probs(ref[0], is_softmax), _probs(out[0], is_softmax)
        return float(np.mean(np.sum(p * (np.log(p + EPS) - np.log(q + EPS)), axis=-1)))
    total = 0.0
    for r, o in zip(ref, out):
        r, o = np.asarray(r, np.float64), np.asarray(o, np.float64)
        total += float(np.mean((o - r) ** 2) / max(float(np.mean(r * r)), EPS))
    return total


# -- hashing and cache --------------------------------------------------------------------------
def graph_hash(graph: Graph) -> str:
    h = hashlib.sha256()
    for v in graph.inputs:
        h.update(f"in {v.name} {v.type}\n".encode())
    for n in graph.nodes:
        attrs = sorted((k, repr(v)) for k, v in n.attrs.items())
        h.update(f"{n.op} {n.name} {[x.name if x else '' for x in n.inputs]} {attrs}\n".encode())
    for name in sorted(graph.constants):
        v = graph.constants[name]
        h.update(f"c {name} {v.type}\n".encode())
        h.update(np.ascontiguousarray(v.data).tobytes())
    return h.hexdigest()


def samples_hash(samples: list[dict]) -> str:
    h = hashlib.sha256()
    for s in samples:
        for k in sorted(s):
            a = np.ascontiguousarray(s[k])
            h.update(f"{k} {a.dtype} {a.shape}\n".encode())
            h.update(a.tobytes())
    return h.hexdigest()


def cache_dir(explicit: Optional[str] = None) -> str:
    if explicit:
        return explicit
    if os.environ.get("QCC_CACHE_DIR"):
        return os.environ["QCC_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "qcc")


def _cache_path(directory: str, key: str) -> str:
    return os.path.join(directory, "sensitivity", f"{key[:32]}.json")


def _load_cache(path: str, names: list[str], bits: tuple) -> Optional[np.ndarray]:
    try:
        with open(path) as f:
            d = json.load(f)
        return np.array([[float(d["omega"][n][str(b)]) for b in bits] for n in names])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _save_cache(path: str, names: list[str], bits: tuple, omega: np.ndarray, info: dict) -> None:
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        d = {"omega": {n: {str(b): float(omega[i, j]) for j, b in enumerate(bits)}
                       for i, n in enumerate(names)}, **info}
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(d, f)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache only costs the re-measurement next time


# -- measurement ----------------------------------------------------------------------------------
def _measure_output(ev, layers, bits, samples, metric, is_softmax, group_size, progress):
    refs = [ev.run(s, {}) for s in samples]
    omega = np.zeros((len(layers), len(bits)))
    for i, lay in enumerate(layers):
        if lay.shares_weight_with is not None:
            continue  # measured (and tied) with the first layer using this weight
        w = ev_weight(ev, lay)
        for j, b in enumerate(bits):
            wq = {lay.weight: fake_quant(w, lay.axis, b, group_size)}
            omega[i, j] = np.mean([divergence(r, ev.run(s, wq), metric, is_softmax)
                                   for r, s in zip(refs, samples)])
        progress(i)
    return omega


def _measure_hessian(ev, layers, bits, samples, metric, is_softmax, group_size, progress,
                     probes: int = 4, rel_eps: float = 0.05, seed: int = 0):
    rng = np.random.default_rng(seed)
    refs = [ev.run(s, {}) for s in samples]
    omega = np.zeros((len(layers), len(bits)))
    for i, lay in enumerate(layers):
        if lay.shares_weight_with is not None:
            continue
        w = ev_weight(ev, lay).astype(np.float64)
        eps = rel_eps * max(float(np.sqrt(np.mean(w * w))), EPS)
        vhv = []
        for _ in range(probes):
            v = rng.choice([-1.0, 1.0], size=w.shape)
            d = [np.mean([divergence(r, ev.run(s, {lay.weight: (w + sgn * eps * v).astype(np.float32)}),
                                     metric, is_softmax) for r, s in zip(refs, samples)])
                 for sgn in (1.0, -1.0)]
            vhv.append((d[0] + d[1]) / eps ** 2)
        trace_per_param = float(np.mean(vhv))  # E[v^T H v] = Tr(H); per parameter below
        trace_per_param /= max(lay.params, 1)
        for j, b in enumerate(bits):
            dw = fake_quant(w, lay.axis, b, group_size) - w
            omega[i, j] = trace_per_param * float(np.sum(dw * dw))
        progress(i)
    return omega


def ev_weight(ev, lay: Layer) -> np.ndarray:
    return ev.defaults[lay.weight] if hasattr(ev, "defaults") else ev.graph.constants[lay.weight].data


def measure(graph: Graph, layers: list[Layer], bits: tuple[int, ...], samples: list[dict],
            metric: Optional[str] = None, mode: str = "output", group_size: Optional[int] = None,
            cache: Optional[str] = None, engine: str = "auto",
            progress: Optional[Callable[[int], None]] = None) -> tuple[np.ndarray, dict]:
    """``(omega [L, len(bits)], info)``; ``info["cache"]`` is ``"hit"``, ``"miss"`` or
    ``"off"`` (``cache=""`` disables the cache)."""
    if mode not in ("output", "hessian"):
        raise QccError(f"unknown sensitivity mode '{mode}'; use 'output' or 'hessian'")
    if not samples:
        raise QccError("mixed precision needs calibration samples to measure layer sensitivity "
                       "(give --calib CALIB.npz)")
    metric = metric or default_metric(graph)
    if metric not in ("kl", "mse"):
        raise QccError(f"unknown sensitivity metric '{metric}'; use 'kl' or 'mse'")
    names = [lay.name for lay in layers]
    key = hashlib.sha256(json.dumps([graph_hash(graph), samples_hash(samples), list(bits), metric,
                                     mode, group_size]).encode()).hexdigest()
    info = {"metric": metric, "mode": mode, "samples": len(samples), "key": key[:16]}
    path = None if cache == "" else _cache_path(cache_dir(cache), key)
    if path:
        hit = _load_cache(path, names, bits)
        if hit is not None:
            return hit, {**info, "cache": "hit", "cache_file": path, "seconds": 0.0}
    t0 = time.perf_counter()
    ev = make_evaluator(graph, sorted({lay.weight for lay in layers}), engine)
    is_softmax = bool(graph.outputs and graph.outputs[0].producer is not None
                      and graph.outputs[0].producer.op_type == "Softmax")
    fn = _measure_hessian if mode == "hessian" else _measure_output
    omega = fn(ev, layers, bits, samples, metric, is_softmax, group_size, progress or (lambda i: None))
    info.update(engine="onnxruntime" if hasattr(ev, "sess") else "interpreter",
                seconds=round(time.perf_counter() - t0, 3))
    if path:
        _save_cache(path, names, bits, omega, info)
    return omega, {**info, "cache": "miss" if path else "off", "cache_file": path}
