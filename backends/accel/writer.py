"""Writing a lowered accelerator program: stream, disassembly, DRAM image, manifest entries."""

from __future__ import annotations

import os

import jinja2

from .hw import HwConfig
from .isa import ISA_VERSION, assemble, format_instr
from .program import build_program


def _render_s(ap, name: str) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(os.path.join(os.path.dirname(__file__), "templates")),
        trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined, autoescape=False)
    by_name = {ly["name"]: ly for ly in ap.layers}
    segs = []
    for k, seg in enumerate(ap.segments):
        s = dict(seg, index=k)
        if seg["kind"] == "accel":
            blocks, pos = [], seg["first"]
            for ln in seg["layers"]:
                ly = by_name[ln]
                blocks.append({"name": ln, "op": ly["op"], "tiling": ly.get("tiling", ""),
                               "macs": ly.get("macs", 0),
                               "lines": [f"{i:6d}: {format_instr(ap.instrs[i])}"
                                         for i in range(pos, ly["last"])]})
                pos = ly["last"]
            if pos < seg["last"]:
                blocks.append({"name": "end", "op": "FINISH", "tiling": "", "macs": 0,
                               "lines": [f"{i:6d}: {format_instr(ap.instrs[i])}"
                                         for i in range(pos, seg["last"])]})
            s["blocks"] = blocks
        segs.append(s)
    plan = ap.plan
    return env.get_template("stream.s.j2").render(
        isa_version=ISA_VERSION, name=name, n_instr=len(ap.instrs), n_bytes=16 * len(ap.instrs),
        hw=ap.hw, arena=plan.arena_size, const_base=plan.const_base,
        image=plan.const_base + plan.const_size, segments=segs)


def write_files(graph, out_dir: str, name: str, hw: HwConfig, search: int) -> dict:
    ap = build_program(graph, hw, search, name)
    files = [f"{name}.bin", f"{name}.s", f"{name}_dram.bin"]
    with open(os.path.join(out_dir, files[0]), "wb") as f:
        f.write(assemble(ap.instrs))
    with open(os.path.join(out_dir, files[1]), "w") as f:
        f.write(_render_s(ap, name))
    ap.plan.image().tofile(os.path.join(out_dir, files[2]))
    tensors = {k: {"addr": r.addr, "nbytes": r.nbytes, "dtype": r.dtype, "shape": list(r.shape),
                   "rows": r.rows, "lanes": r.lanes, "root_shape": list(r.root_shape), "cl": r.cl}
               for k, r in ap.regions.items()}
    layers = [{k: v for k, v in ly.items() if k != "tiling_tried"} for ly in ap.layers]
    return {
        "files": files,
        "accel": {"name": name, "isa_version": ISA_VERSION, "hw": hw.to_dict(),
                  "instructions": len(ap.instrs), "segments": ap.segments, "layers": layers,
                  "host_ops": ap.host_ops, "tensors": tensors,
                  "dram": {"arena_bytes": ap.plan.arena_size, "io_bytes": ap.plan.io_size,
                           "const_bytes": ap.plan.const_size,
                           "image_bytes": ap.plan.const_base + ap.plan.const_size},
                  "tiling_search": {ly["name"]: ly.get("tiling_tried", []) for ly in ap.layers
                                    if ly["kind"] == "gemm"}},
    }
