"""Per-layer comparison of a float graph and its integer version (see the package doc)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .. import arith
from ..interp import Interpreter
from ..ir import Graph, Node, Value
from ..ops import lookup

BOUNDARY = {"qcc.quantize", "qcc.dequantize"}


@dataclass
class LayerStat:
    """One integer tensor against the float tensor it stands for (all samples pooled)."""

    node: str                 # the float node that made the tensor (ONNX name after fusion)
    op: str                   # its op (e.g. onnx.Conv, fused.conv)
    tensor: str               # the float tensor's name
    int_node: str             # the integer node that makes the integer tensor
    int_op: str
    scale: float
    zero_point: int
    index: int                # position in the integer schedule
    qmin: int = -128
    qmax: int = 127
    inherited_sqnr_db: float = 0.0   # the whole quantized network up to here
    introduced_sqnr_db: float = 0.0  # this layer alone, on ideally quantized inputs
    cosine: float = 0.0
    max_err_lsb: float = 0.0         # max |dequantized - float| / scale
    clip_rate: float = 0.0           # share of float values outside the int range
    float_absmax: float = 0.0
    _acc: dict = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}


def sqnr_db(ref: np.ndarray, err_sq: float, sig_sq: Optional[float] = None) -> float:
    sig = float(np.sum(np.square(ref, dtype=np.float64))) if sig_sq is None else sig_sq
    if err_sq == 0.0:
        return float("inf")
    if sig == 0.0:
        return float("-inf")
    return float(10.0 * np.log10(sig / err_sq))


class _Acc:
    """Running sums over samples for SQNR, cosine, max error and clipping."""

    def __init__(self):
        self.sig = self.err = self.dot = self.nq = 0.0
        self.max_err = self.absmax = 0.0
        self.clipped = self.count = 0

    def add(self, f: np.ndarray, dq: np.ndarray, lo: float, hi: float) -> None:
        f = np.asarray(f, np.float64).ravel()
        dq = np.asarray(dq, np.float64).ravel()
        e = dq - f
        self.sig += float(f @ f)
        self.err += float(e @ e)
        self.dot += float(f @ dq)
        self.nq += float(dq @ dq)
        if e.size:
            self.max_err = max(self.max_err, float(np.abs(e).max()))
            self.absmax = max(self.absmax, float(np.abs(f).max()))
        self.clipped += int(np.count_nonzero((f < lo) | (f > hi)))
        self.count += f.size

    @property
    def sqnr(self) -> float:
        return sqnr_db(np.zeros(0), self.err, self.sig)

    @property
    def cosine(self) -> float:
        d = np.sqrt(self.sig * self.nq)
        return float(self.dot / d) if d > 0 else (1.0 if self.err == 0 else 0.0)


def provenance(qgraph: Graph) -> dict[str, dict]:
    """integer value name -> {"float": float tensor name, "node": .., "op": ..}."""
    return dict(qgraph.meta.get("provenance") or {})


def _qrange(v: Value) -> tuple[float, float, float, int]:
    q = v.qparams
    s, zp = float(q.scale[0]), int(q.zero_point[0])
    return s, zp, (v.dtype.min - zp) * s, (v.dtype.max - zp) * s


def _measurable(v: Value, prov: dict) -> bool:
    q = v.qparams
    return (v.name in prov and q is not None and q.scale.size == 1 and v.dtype.is_int
            and not v.is_const)


def _ideal(v: Value, fvals: dict, prov: dict) -> np.ndarray:
    """The float tensor ``v`` stands for, quantized with ``v``'s own parameters."""
    s, zp, _, _ = _qrange(v)
    f = fvals[prov[v.name]["float"]]
    return arith.quantize(f, s, zp, v.dtype.min, v.dtype.max).astype(v.dtype.np)


class _Layer:
    """The integer nodes that implement one float node: walked back from the integer tensor
    to the nearest tensors that stand for float ones (the layer's inputs), constants and
    graph inputs; run alone on ideally quantized inputs."""

    def __init__(self, v: Value, prov: dict, fvals_names: set, order: dict):
        self.nodes, self.leaves = [], []
        seen, todo = set(), [v.producer]
        while todo:
            n = todo.pop()
            if n is None or id(n) in seen:
                continue
            seen.add(id(n))
            self.nodes.append(n)
            for u in n.inputs:
                if u is None or u.is_const:
                    continue
                if (_measurable(u, prov) and prov[u.name]["float"] in fvals_names) or u.producer is None:
                    self.leaves.append(u)
                else:
                    todo.append(u.producer)
        self.nodes.sort(key=lambda n: order[id(n)])

    def run(self, target: Value, fvals: dict, qvals: dict, prov: dict) -> np.ndarray:
        env = {}
        for u in self.leaves:
            env[u.name] = _ideal(u, fvals, prov) if u.name in prov else qvals[u.name]
        for n in self.nodes:
            args = [None if u is None else u.data if u.is_const else env.get(u.name, qvals.get(u.name))
                    for u in n.inputs]
            for o, r in zip(n.outputs, lookup(n.op).run(n, args)):
                env[o.name] = r
        return env[target.name]


def _float_ref(fnode: Node, idx: int, fvals: dict, rev: dict, qvalue: dict,
               prov: dict) -> np.ndarray:
    """The float node on the dequantized ideal inputs (what the layer should compute)."""
    args = []
    for u in fnode.inputs:
        if u is None:
            args.append(None)
        elif u.is_const:
            args.append(u.data)
        elif u.name in rev:
            q = qvalue[rev[u.name]]
            s, zp, _, _ = _qrange(q)
            args.append(arith.dequantize(_ideal(q, fvals, prov), s, zp).astype(u.dtype.np))
        else:
            args.append(fvals[u.name])
    return lookup(fnode.op).run(fnode, args)[idx]


def compare_graphs(fgraph: Graph, qgraph: Graph, samples: list[dict]) -> list[LayerStat]:
    """Layer statistics of ``qgraph`` against ``fgraph`` over ``samples`` (feeds dicts)."""
    prov = provenance(qgraph)
    qvalue = qgraph.value_map()
    fvalue = fgraph.value_map()
    rev: dict[str, str] = {}
    for iname, p in prov.items():
        if iname in qvalue and _measurable(qvalue[iname], prov):
            rev.setdefault(p["float"], iname)
    order = {id(n): i for i, n in enumerate(qgraph.nodes)}
    fint, qint = Interpreter(fgraph), Interpreter(qgraph)
    stats: dict[str, LayerStat] = {}
    alone: dict[str, _Acc] = {}
    layers: dict[str, _Layer] = {}
    for feeds in samples:
        fvals = fint.run(feeds, capture=True)
        qvals = qint.run(feeds, capture=True)
        for i, node in enumerate(qgraph.nodes):
            if node.op in BOUNDARY:
                continue
            for v in node.outputs:
                fv = fvalue.get(prov.get(v.name, {}).get("float", ""))
                if not _measurable(v, prov) or fv is None or fv.producer is None \
                        or fv.name not in fvals:
                    continue
                f = fvals[fv.name]
                s, zp, lo, hi = _qrange(v)
                st = stats.get(v.name)
                if st is None:
                    p = prov[v.name]
                    st = stats[v.name] = LayerStat(p.get("node", ""), p.get("op", ""), fv.name,
                                                   node.name, node.op, s, zp, i,
                                                   v.dtype.min, v.dtype.max)
                    st._acc["net"], alone[v.name] = _Acc(), _Acc()
                    layers[v.name] = _Layer(v, prov, set(fvals), order)
                st._acc["net"].add(f, arith.dequantize(qvals[v.name], s, zp), lo, hi)
                y = layers[v.name].run(v, fvals, qvals, prov)
                ref = _float_ref(fv.producer, fv.producer.outputs.index(fv), fvals, rev, qvalue,
                                 prov)
                alone[v.name].add(ref, arith.dequantize(y, s, zp), lo, hi)
    out = []
    for name, st in stats.items():
        net = st._acc["net"]
        st.inherited_sqnr_db, st.cosine = net.sqnr, net.cosine
        st.introduced_sqnr_db = alone[name].sqnr
        st.max_err_lsb = net.max_err / st.scale if st.scale > 0 else 0.0
        st.clip_rate = net.clipped / max(net.count, 1)
        st.float_absmax = net.absmax
        out.append(st)
    out.sort(key=lambda s: s.index)
    return out


def end_to_end_sqnr(fgraph: Graph, qgraph: Graph, samples: list[dict]) -> float:
    """Worst output SQNR (dB) of ``qgraph`` against ``fgraph`` over the samples."""
    fint, qint = Interpreter(fgraph), Interpreter(qgraph)
    acc: dict[str, list[float]] = {}
    for feeds in samples:
        fo, qo = fint.run(feeds), qint.run(feeds)
        for k, ref in fo.items():
            if k in qo:
                ref = np.asarray(ref, np.float64)
                e = np.asarray(qo[k], np.float64) - ref
                a = acc.setdefault(k, [0.0, 0.0])
                a[0] += float(np.sum(ref * ref))
                a[1] += float(np.sum(e * e))
    return min((sqnr_db(np.zeros(0), e, s) for s, e in acc.values()), default=float("inf"))
