"""Writing the Triton target's files from a kernel program (docs/target_triton.md):
``NAME_kernels.py`` (rendered kernels), ``NAME.py`` (the ``Model`` class),
``NAME_weights.npz`` (constants, no pickle) and the manifest entries."""

from __future__ import annotations

import os

import numpy as np

from qcc.ir import DType

from .program import TORCH_DTYPES, Program
from .render import _ENV, module_source


def ws_dtype(v) -> str:
    return "uint8" if v.dtype is DType.bool else TORCH_DTYPES[v.dtype]


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


def _io(prog: Program, io) -> dict:
    v = io.value
    return dict(name=io.name, shape=list(v.shape), offset=prog.offsets[prog.root[id(v)]],
                dtype=io.dtype, ws_dtype=ws_dtype(v), scale=io.scale,
                zero_point=io.zero_point, qmin=io.qmin, qmax=io.qmax)


def _steps(prog: Program):
    """Step records for the template, the weights to store and the manifest layers."""
    weights, steps, layers, n_err = {}, [], [], 0
    esize = lambda v: max(v.dtype.bits, 8) // 8  # noqa: E731
    for i, st in enumerate(prog.steps):
        c = st.call
        tensors = {}
        for role, arr in c.consts.items():
            key = f"s{i}_{role}"
            weights[key] = np.ascontiguousarray(arr)
            tensors[role] = repr(("w", key))
        for role, v in st.reads.items():
            tensors[role] = repr(("ws", prog.offsets[prog.root[id(v)]], ws_dtype(v),
                                  list(v.shape)))
        out = st.out
        if st.out_offset:  # a slab of a concat destination: a flat view from the offset
            n = out.type.numel - st.out_offset
            tensors["c"] = repr(("ws", prog.offsets[prog.root[id(out)]] + st.out_offset * esize(out),
                                 ws_dtype(out), [n]))
        else:
            tensors["c"] = repr(("ws", prog.offsets[prog.root[id(out)]], ws_dtype(out),
                                 list(out.shape)))
        for role, v in st.extra_outs.items():
            tensors[role] = repr(("ws", prog.offsets[prog.root[id(v)]], ws_dtype(v), list(v.shape)))
        if getattr(c, "needs_err", False):
            tensors["err"] = repr(("err", n_err))
            n_err += 1
        steps.append(dict(kernel=c.cfg["name"], tensors=tensors, params=repr(c.params),
                          node=f"{st.node.op} {st.node.name}"[:100]))
        layers.append({"step": i, "node": st.node.name, "op": st.node.op, "kernel": c.cfg["name"],
                       "family": c.family, "grid": grid_of(c),
                       "tiles": {k: c.cfg[k] for k in ("BM", "BN", "BK", "BLOCK", "BR", "TB", "HB")
                                 if k in c.cfg},
                       "out": out.name, "out_bytes": out.type.numel * esize(out),
                       **({"fused": c.cfg["fused"]} if c.cfg.get("fused") else {})})
    return steps, weights, layers, n_err


def write_files(prog: Program, out_dir: str, source: str = "") -> dict:
    name = prog.name
    steps, weights, layers, n_err = _steps(prog)
    kernels = [(st.call.family, st.call.cfg) for st in prog.steps]
    src = module_source(kernels, os.path.basename(source))
    files = {"kernels": f"{name}_kernels.py", "model": f"{name}.py",
             "weights": f"{name}_weights.npz"}
    with open(os.path.join(out_dir, files["kernels"]), "w") as f:
        f.write(src)
    np.savez(os.path.join(out_dir, files["weights"]), **weights)
    model = _ENV.get_template("model.py.j2").render(
        name=name, source=os.path.basename(source) or "qcc", workspace=prog.workspace,
        inputs=[_io(prog, io) for io in prog.inputs], outputs=[_io(prog, io) for io in prog.outputs],
        steps=steps, n_err=n_err)
    with open(os.path.join(out_dir, files["model"]), "w") as f:
        f.write(model)
    wbytes = int(sum(a.nbytes for a in weights.values()))
    return {"files": files, "layers": layers, "weight_bytes": wbytes,
            "io": {"inputs": [_io(prog, io) for io in prog.inputs],
                   "outputs": [_io(prog, io) for io in prog.outputs]}}
