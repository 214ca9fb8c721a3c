"""Running a compiled accelerator folder: the simulator behind ``qcc run --engine target``.

For each sample the host copies the DRAM image, executes the segments in order
(an accelerator segment on the functional simulator in the timing model's
issue order, a host/boundary op with the reference op on tensors read from
DRAM), and reads the graph outputs back.
"""

from __future__ import annotations

import json
import os

import numpy as np

from qcc.errors import QccError
from qcc.ops import lookup

from .funcsim import Machine
from .floor import layer_floors
from .hw import make_hw
from .isa import disassemble
from .layout import Region, from_rows, rows_lanes, to_rows
from .timing import layer_stats, simulate


class Artifact:
    def __init__(self, out_dir: str, manifest: dict):
        acc = manifest.get("accel")
        if not acc:
            raise QccError(f"'{out_dir}' has no accelerator section in manifest.json; recompile it "
                           f"with --target accel")
        self.dir = out_dir
        self.info = acc
        self.hw = make_hw(acc["hw"])
        name = acc["name"]
        try:
            with open(os.path.join(out_dir, f"{name}.bin"), "rb") as f:
                self.instrs = disassemble(f.read())
            self.image = np.fromfile(os.path.join(out_dir, f"{name}_dram.bin"), np.uint8)
        except OSError as e:
            raise QccError(f"'{out_dir}': cannot read the accelerator stream or image: {e}") from None
        self.regions = {k: Region(k, v["addr"], v["nbytes"], v["dtype"], tuple(v["shape"]),
                                  v["rows"], v["lanes"], tuple(v.get("root_shape", v["shape"])),
                                  bool(v.get("cl", True)))
                        for k, v in acc["tensors"].items()}
        self.segments = acc["segments"]
        self._orders: dict = {}

    def schedule(self, k: int):
        if k not in self._orders:
            seg = self.segments[k]
            self._orders[k] = simulate(self.instrs[seg["first"]:seg["last"]], self.hw)
        return self._orders[k]

    # -- tensors in DRAM ----------------------------------------------------------------------
    def read(self, dram: np.ndarray, v) -> np.ndarray:
        """Tensor ``v`` from DRAM: its root buffer's bytes in the root's layout, reshaped
        (a view shares its root's bytes)."""
        r = self.regions[v.name]
        rs = r.root_shape
        n = int(np.prod(rs, dtype=np.int64)) * np.dtype(v.dtype.np).itemsize
        rr, rl = rows_lanes(rs, r.cl)
        m = dram[r.addr:r.addr + n].view(v.dtype.np).reshape(rr, rl)
        return from_rows(m, rs, r.cl).reshape(v.shape)

    def write(self, dram: np.ndarray, v, a: np.ndarray) -> None:
        r = self.regions[v.name]
        raw = to_rows(np.asarray(a, v.dtype.np).reshape(r.root_shape), r.cl).tobytes()
        dram[r.addr:r.addr + len(raw)] = np.frombuffer(raw, np.uint8)

    # -- execution ------------------------------------------------------------------------------
    def run_sample(self, graph, nodes: dict, feeds: dict) -> dict:
        dram = self.image.copy()
        host: dict = dict(feeds)
        for v in graph.inputs:
            if v.name in self.regions:
                self.write(dram, v, feeds[v.name])
        producer = {o.name: n for n in graph.nodes for o in n.outputs}
        for k, seg in enumerate(self.segments):
            if seg["kind"] == "accel":
                sched = self.schedule(k)
                prog = self.instrs[seg["first"]:seg["last"]]
                Machine(self.hw, dram).run(prog, sched.order)
                continue
            if seg["kind"] == "boundary":  # the quantize of an input / dequantize of an output
                node = producer[seg["value"] if seg["op"] == "quantize" else seg["graph_name"]]
            else:
                node = nodes[seg["node"]]
            args = [None if v is None else v.data if v.is_const else
                    host[v.name] if v.name in host else self.read(dram, v) for v in node.inputs]
            res = lookup(node.op).run(node, args)
            for v, r in zip(node.outputs, res):
                if v.name in self.regions:
                    self.write(dram, v, r)
                else:
                    host[v.name] = r
        out = {}
        for v in graph.outputs:
            if v.is_const:
                out[v.name] = v.data
            elif v.name in host:
                out[v.name] = host[v.name]
            else:
                out[v.name] = self.read(dram, v)
        return out

    def profile(self) -> dict:
        """Cycles, utilisation and roofline per layer and in total (timing model only)."""
        layers, total, busy, stall, nbytes = [], 0, 0, 0, 0
        by_name = {ly["name"]: ly for ly in self.info["layers"]}
        for k, seg in enumerate(self.segments):
            if seg["kind"] != "accel":
                continue
            sched = self.schedule(k)
            prog = self.instrs[seg["first"]:seg["last"]]
            lys = [dict(by_name[n], first=by_name[n]["first"] - seg["first"],
                        last=by_name[n]["last"] - seg["first"]) for n in seg["layers"]]
            rows = layer_stats(prog, sched, lys, self.hw)
            for r, fl in zip(rows, layer_floors(prog, sched, lys, self.hw)):
                r.update(fl, floor_eff=fl["floor_cycles"] / r["cycles"] if r["cycles"] else 0.0)
            for r, ly in zip(rows, lys):
                r.update(step=len(layers), node=r.pop("name"), kind=ly["kind"],
                         kernel=ly.get("tiling", ly["kind"]), pe=self.hw.pe)
                layers.append(r)
            total += sched.total
            busy += sched.busy["ex"]
            stall += sched.ex_data_stall
            nbytes += sum(r["dram_bytes"] for r in rows)
        macs = sum(r["macs"] for r in layers)
        hw = self.hw
        return {"engine": "accel", "unit": "cycles", "hw": hw.to_dict(),
                "host_ops": self.info.get("host_ops", []),
                "total": {"cycles": total, "macs": macs, "pe": hw.pe,
                          "utilization": macs / (hw.pe * total) if total else 0.0,
                          "ex_busy_frac": busy / total if total else 0.0,
                          "dma_stall_cycles": stall, "dram_bytes": nbytes,
                          "time_us": total / hw.freq_mhz,
                          "host_ops": len(self.info.get("host_ops", []))},
                "layers": layers}


def load(out_dir: str, manifest: dict | None = None) -> Artifact:
    if manifest is None:
        with open(os.path.join(out_dir, "manifest.json")) as f:
            manifest = json.load(f)
    return Artifact(out_dir, manifest)
