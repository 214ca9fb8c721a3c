"""Cross-check of the accelerator timing model against SCALE-Sim (docs/target_accel.md §10).

For a conv/GEMM layer shape, the same array size and dataflow:

* ``scalesim_compute_cycles``: SCALE-Sim v3's compute model (its operand and demand
  matrices; one demand row per cycle), without its memory system;
* ``qcc_layer_cycles``: qcc's own lowering of the layer (tile search, instruction stream)
  run through qcc's timing model; ``compute`` is the sum of the GEMM instructions' cycles
  (the array busy time), ``total`` the simulated cycles with DMA.

SCALE-Sim has no grouped convolutions, so depthwise layers are not compared.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, replace

import numpy as np

from qcc.backends.accel.gemm_emit import choose_tiling, emit_gemm
from qcc.backends.accel.hw import HwConfig
from qcc.backends.accel.layout import DramPlan, Region
from qcc.backends.accel.lower_gemm import conv_call, prepare
from qcc.backends.accel.stream import Builder
from qcc.backends.accel.timing import gemm_cycles, simulate
from qcc.ir import DType, TensorType, Value


@dataclass(frozen=True)
class ConvShape:
    name: str
    h: int
    w: int
    c: int
    m: int
    k: int = 1
    stride: int = 1
    pad: int = 0

    @property
    def oh(self) -> int:
        return (self.h + 2 * self.pad - self.k) // self.stride + 1

    @property
    def ow(self) -> int:
        return (self.w + 2 * self.pad - self.k) // self.stride + 1

    @property
    def macs(self) -> int:
        return self.oh * self.ow * self.m * self.c * self.k * self.k


def _cfg_text(hw: HwConfig) -> str:
    # our own SCALE-Sim configuration: CALC bandwidth (no memory stalls), buffers as ours
    return "\n".join([
        "[general]", "run_name = qcc", "",
        "[architecture_presets]", f"ArrayHeight: {hw.rows}", f"ArrayWidth: {hw.cols}",
        f"IfmapSramSzkB: {hw.inp_kib}", f"FilterSramSzkB: {hw.wgt_kib}", f"OfmapSramSzkB: {hw.acc_kib}",
        "IfmapOffset: 0", "FilterOffset: 10000000", "OfmapOffset: 20000000",
        f"Dataflow: {hw.dataflow}", f"Bandwidth: {hw.dram_bytes_per_cycle}",
        "ReadRequestBuffer: 32", "WriteRequestBuffer: 32", "",
        "[layout]", "IfmapCustomLayout: False", "IfmapSRAMBankBandwidth: 16", "IfmapSRAMBankNum: 1",
        "IfmapSRAMBankPort: 1", "FilterCustomLayout: False", "FilterSRAMBankBandwidth: 16",
        "FilterSRAMBankNum: 1", "FilterSRAMBankPort: 1", "",
        "[sparsity]", "SparsitySupport: false", "SparseRep: ellpack_block", "OptimizedMapping: false",
        "BlockSize: 8", "RandomNumberGeneratorSeed: 40", "",
        "[run_presets]", "InterfaceBandwidth: CALC", "UseRamulatorTrace: False", ""])


def scalesim_compute_cycles(s: ConvShape, hw: HwConfig) -> int:
    """SCALE-Sim's compute cycles of one layer (number of rows of its demand matrices)."""
    from scalesim.layout_utils import layouts
    from scalesim.scale_config import scale_config
    from scalesim.single_layer_sim import single_layer_sim
    from scalesim.topology_utils import topologies

    with tempfile.TemporaryDirectory() as d:
        cfg, topo, lay = (os.path.join(d, f) for f in ("qcc.cfg", "topo.csv", "layout.csv"))
        with open(cfg, "w") as f:
            f.write(_cfg_text(hw))
        # SCALE-Sim has no padding parameter and rounds its output size up: give it the
        # padded input rows/columns that our output positions actually read
        hp, wp = (s.oh - 1) * s.stride + s.k, (s.ow - 1) * s.stride + s.k
        with open(topo, "w") as f:
            f.write("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
                    "Num Filter, Strides,\n")
            f.write(f"{s.name}, {hp}, {wp}, {s.k}, {s.k}, {s.c}, {s.m}, {s.stride},\n")
        with open(lay, "w") as f:
            f.write("Layer name," + ",".join(f"c{i}" for i in range(1, 22)) + ",\n")
            f.write(f"{s.name}," + ",".join(["1"] * 21) + ",\n")
        conf = scale_config()
        conf.read_conf_file(cfg)
        tp = topologies()
        tp.load_arrays(topofile=topo)
        lo = layouts()
        lo.load_arrays(layoutfile=lay)
        sim = single_layer_sim()
        sim.set_params(layer_id=0, config_obj=conf, topology_obj=tp, layout_obj=lo, verbose=False)
        om = sim.op_mat_obj
        mats = dict(ifmap_op_mat=om.get_ifmap_matrix()[1], filter_op_mat=om.get_filter_matrix()[1],
                    ofmap_op_mat=om.get_ofmap_matrix()[1])
        cs = sim.compute_system
        if hw.dataflow == "ws":
            cs.set_params(config_obj=conf, sparsity_ratio_N=1, sparsity_ratio_M=1,
                          ifmap_op_mat_original=om.ifmap_addr_matrix_original,
                          sparsity_filter_array=om.sparse_filter_array, **mats)
        else:
            cs.set_params(config_obj=conf, **mats)
        ifmap_demand, _, _ = cs.get_demand_matrices()
        return int(ifmap_demand.shape[0])


def _fake_conv(s: ConvShape):
    rng = np.random.default_rng(0)
    x = Value("x", TensorType(DType.int8, (1, s.c, s.h, s.w)))
    w = Value("w", TensorType(DType.int8, (s.m, s.c, s.k, s.k)),
              data=rng.integers(-127, 128, (s.m, s.c, s.k, s.k)).astype(np.int8))
    b = Value("b", TensorType(DType.int32, (s.m,)), data=np.zeros(s.m, np.int32))
    m = Value("m", TensorType(DType.int32, (1,)), data=np.array([1 << 30], np.int32))
    sh = Value("s", TensorType(DType.int32, (1,)), data=np.array([40], np.int32))
    y = Value("y", TensorType(DType.int8, (1, s.m, s.oh, s.ow)))
    return conv_call(s.name, x, w.data, y, (s.stride, s.stride), (s.pad, s.pad), 1, 0,
                     m.data, sh.data, b.data)


def qcc_layer_cycles(s: ConvShape, hw: HwConfig, objective: str = "total") -> dict:
    """qcc's lowering + timing model on one layer: compute (GEMM) and total cycles."""
    node = _fake_conv(s)
    plan = DramPlan()
    xb, yb = s.h * s.w * s.c, s.oh * s.ow * s.m
    plan.arena_size = xb + yb
    ly = prepare(node, plan, hw)
    xr = Region("x", 0, xb, "i8", (1, s.c, s.h, s.w), s.h * s.w, s.c)
    yr = Region("y", xb, yb, "i8", (1, s.m, s.oh, s.ow), s.oh * s.ow, s.m)
    t, _, _ = choose_tiling(ly, xr, yr, hw, objective=objective)
    b = Builder(fifo_depth=hw.fifo_depth)
    emit_gemm(ly, t, xr, yr, hw, b, ("DRAM", "x"), ("DRAM", "y"))
    prog, _ = b.finalize()
    sched = simulate(prog, hw)
    compute = sum(gemm_cycles(i.f["rows"], i.f["kblocks"], hw) for i in prog if i.op == "GEMM")
    return {"compute": compute, "total": sched.total, "tiling": t.describe(), "macs": s.macs,
            "utilization": s.macs / (hw.pe * sched.total)}


def same_folds(s: ConvShape, hw: HwConfig) -> bool:
    """qcc enumerates K per kernel tap in blocks of DIM channels; SCALE-Sim folds the
    flattened K.  The folds agree when C is a multiple of DIM, or (weight-stationary, where
    K only sets the fold count) when the kernel is 1x1."""
    return s.c % hw.dim == 0 or (s.k == 1 and hw.dataflow == "ws")


def compare(shapes, hw: HwConfig, objective: str = "compute") -> list[dict]:
    rows = []
    for s in shapes:
        ref = scalesim_compute_cycles(s, hw)
        q = qcc_layer_cycles(s, hw, objective)
        rows.append({"layer": s.name, "shape": f"{s.h}x{s.w}x{s.c}->{s.m} k{s.k} s{s.stride}",
                     "dataflow": hw.dataflow, "overlap": hw.gemm_overlap, "scalesim": ref,
                     "qcc_compute": q["compute"], "qcc_total": q["total"],
                     "ratio": q["compute"] / ref, "tiling": q["tiling"],
                     "same_folds": same_folds(s, hw)})
    return rows


# layer shapes: the example CNNs' dense convs and ResNet-style layers (no depthwise)
SHAPES = [
    ConvShape("digits.conv2", 8, 8, 16, 32, 3, 2, 1),
    ConvShape("mobilenet.stem", 16, 16, 3, 16, 3, 1, 1),
    ConvShape("mobilenet.pw", 8, 8, 16, 48, 1),
    ConvShape("mobilenet.head", 4, 4, 40, 64, 1),
    ConvShape("resnet.conv2_x", 56, 56, 64, 64, 3, 1, 1),
    ConvShape("resnet.conv3_1x1", 28, 28, 128, 512, 1),
    ConvShape("resnet.conv4_x", 14, 14, 256, 256, 3, 1, 1),
    ConvShape("resnet.conv5_x", 7, 7, 512, 512, 3, 1, 1),
    ConvShape("gemm.512x1024x256", 1, 512, 1024, 256, 1),
]


def main(argv=None) -> int:
    import argparse
    import json

    ap = argparse.ArgumentParser(prog="python -m qcc.bench.accel_scalesim",
                                 description="qcc accelerator timing model vs SCALE-Sim")
    ap.add_argument("--json", default=None)
    ap.add_argument("--exclude", action="append", default=[], metavar="LAYER",
                    help="leave out a layer of SHAPES (repeatable; e.g. the two largest)")
    args = ap.parse_args(argv)
    names = {s.name for s in SHAPES}
    bad = [n for n in args.exclude if n not in names]
    if bad:
        ap.error(f"unknown layer {bad[0]!r}; SHAPES has {', '.join(sorted(names))}")
    shapes = [s for s in SHAPES if s.name not in args.exclude]
    rows = []
    for df in ("ws", "os"):
        for overlap in (False, True):
            rows += compare(shapes, replace(HwConfig(), dataflow=df, gemm_overlap=overlap))
    print("| layer | shape | dataflow | overlap | SCALE-Sim | qcc compute | ratio | qcc total | "
          "same folds | tiling |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['layer']} | {r['shape']} | {r['dataflow']} | {r['overlap']} | {r['scalesim']:,} | "
              f"{r['qcc_compute']:,} | {r['ratio']:.3f} | {r['qcc_total']:,} | "
              f"{'yes' if r['same_folds'] else 'no'} | {r['tiling']} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
