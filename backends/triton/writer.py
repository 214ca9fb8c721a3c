"""Writing the Triton target's files from a rendered program (docs/target_triton.md):
``NAME_kernels.py`` (rendered kernels), ``NAME.py`` (the ``Model`` class),
``NAME_weights.npz`` (constants, no pickle) and the manifest entries."""

from __future__ import annotations

import os

import numpy as np

from .program import Program, ws_dtype
from .render import _ENV, module_source


def grid_of(call) -> list:
    c, p = call.cfg, call.params
    cdiv = lambda a, b: -(-int(a) // int(b))  # noqa: E731
    if call.family == "gemm":
        return [cdiv(p["M"], c["BM"]), cdiv(p["N"], c["BN"]), int(p.get("B", 1))]
    if call.family == "row":
        return [int(p["R"])]
    if call.family == "rnn":
        return [int(p["B"]), int(p["D"])]
    return [cdiv(p["TOTAL"], c["BLOCK"])]


def _esize(v) -> int:
    return max(v.dtype.bits, 8) // 8


def _store(a) -> np.ndarray:
    a = np.ascontiguousarray(a)
    return a.astype(np.uint8) if a.dtype == np.bool_ else a


class _Tensors:
    """Resolves launch operands to ``("ws", byte offset, dtype, shape)`` / ``("w", key)``
    and collects the weights (IR constants once, by kernel program buffer)."""

    def __init__(self, prog: Program):
        self.prog, self.weights, self.keys = prog, {}, {}

    def const_value(self, v) -> str:
        c = self.prog.kp.const_of(v)
        if c.key not in self.keys:
            key = f"k{len(self.keys)}"
            self.keys[c.key] = key
            self.weights[key] = _store(np.asarray(c.data).reshape(v.shape))
        return self.keys[c.key]

    def act(self, j: int, act) -> tuple:
        p = self.prog
        if act.value is None:  # the call's scratch
            off = p.kp.scratch_offset(p.launches[j].index) + act.offset
            return ("ws", off, act.dtype, list(act.shape))
        v = act.value
        if v.is_const:
            return ("w", self.const_value(v))
        shape = list(act.shape) if act.shape is not None else list(v.shape)
        return ("ws", p.offset_of(v) + act.offset * _esize(v), ws_dtype(v), shape)


def _steps(prog: Program):
    """Step records for the template, the weights to store and the manifest layers."""
    res = _Tensors(prog)
    steps, layers, n_err = [], [], 0
    for j, launch in enumerate(prog.launches):
        c, kc = launch.kernel, launch.call
        tensors = {}
        for role, arr in c.consts.items():
            key = f"s{j}_{role}"
            res.weights[key] = _store(arr)
            tensors[role] = repr(("w", key))
        for role, a in c.tensors.items():
            tensors[role] = repr(res.act(j, a))
        if c.cfg.get("needs_err"):
            tensors["err"] = repr(("err", n_err))
            n_err += 1
        node = kc.node
        steps.append(dict(kernel=c.cfg["name"], tensors=tensors, params=repr(c.params),
                          node=f"{node.op} {node.name}"[:100]))
        out = c.tensors["c"].value
        layers.append({"step": j, "call": launch.index, "node": node.name, "op": node.op,
                       "kernel": c.cfg["name"], "family": kc.family, "template": c.family,
                       "grid": grid_of(c),
                       "tiles": {k: c.cfg[k] for k in ("BM", "BN", "BK", "BLOCK", "BR", "TB", "HB")
                                 if k in c.cfg},
                       "out": out.name if out is not None else "scratch",
                       **({"out_offset": prog.offset_of(out)} if out is not None else {}),
                       "out_bytes": (out.type.numel * _esize(out) if out is not None
                                     else int(np.prod(c.tensors["c"].shape)) * 4),
                       **({"fused": c.fused} if c.fused else {})})
    return steps, res.weights, layers, n_err


def _io(io) -> dict:
    v = io.value
    return dict(name=io.name, shape=list(v.shape), offset=io.offset, dtype=io.dtype,
                ws_dtype=ws_dtype(v), scale=io.scale, zero_point=io.zero_point, qmin=io.qmin,
                qmax=io.qmax)


def write_files(prog: Program, out_dir: str, source: str = "") -> dict:
    name = prog.name
    steps, weights, layers, n_err = _steps(prog)
    src = module_source([(ln.kernel.family, ln.kernel.cfg) for ln in prog.launches],
                        os.path.basename(source))
    files = {"kernels": f"{name}_kernels.py", "model": f"{name}.py",
             "weights": f"{name}_weights.npz"}
    with open(os.path.join(out_dir, files["kernels"]), "w") as f:
        f.write(src)
    np.savez(os.path.join(out_dir, files["weights"]), **weights)
    ins, outs = [_io(io) for io in prog.inputs], [_io(io) for io in prog.outputs]
    model = _ENV.get_template("model.py.j2").render(
        name=name, source=os.path.basename(source) or "qcc", workspace=prog.workspace,
        inputs=ins, outputs=outs, steps=steps, n_err=n_err)
    with open(os.path.join(out_dir, files["model"]), "w") as f:
        f.write(model)
    wbytes = int(sum(a.nbytes for a in weights.values()))
    return {"files": files, "layers": layers, "weight_bytes": wbytes,
            "io": {"inputs": ins, "outputs": outs}}
