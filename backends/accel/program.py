"""The whole-model rendering: the kernel program of ``qcc.lower`` -> segments of
instruction streams + the DRAM image.

``build_program`` lowers the integer IR with the accelerator's :class:`~qcc.lower.Target`
(``target.accel_target``) and renders the :class:`~qcc.lower.KernelProgram`: the DRAM image
is the shared memory plan's activation arena, then the caller's input/output buffers,
then the constants.  Every call is classified (``why_host``): a family this backend
renders (``target.SUPPORT`` and the renderer's own check) runs on the accelerator, any
other call runs its IR node's reference op on the host between two segments (listed in
the manifest with its reason).  Consecutive accelerator calls form one segment that ends
in FINISH.  The rendering reads only the kernel program: calls, their operands (IR
``Value`` shapes and dtypes, constant buffers) and the plan, never the IR nodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from qcc.ir import Graph
from qcc.lower import KernelProgram, buffer_nbytes, lower

from .check import check_stream
from . import fuse_add, lookahead, resident
from .gemm_im2col import im2col_usable
from .gemm_emit import choose_tiling, emit_gemm, new_builder, place_weights, prefetch_before
from .hw import HwConfig
from .isa import ISA_VERSION, make
from .layout import ISA_DTYPE, DramPlan, Region, canonical, rows_lanes
from .elem_operands import Mat, check_elem, concat_mats, const_image
from .lower_elem import ElemLowering
from .lower_gemm import check_gemm, int32_plan, prepare
from .lower_matmul import MatmulLowering, check_matmul
from .lower_move import MoveLowering, check_move
from .lower_nonlin import NonlinLowering, check_nonlin
from .lower_gather import GatherLowering, check_gather
from .lower_rnn import RnnLowering, check_rnn, rnn_macs
from .lower_rowwise import RowwiseLowering, check_rowwise
from .lower_pool import PoolLowering, check_pool
from .target import HOST_REASONS, SUPPORT, accel_target, adapt_unsigned

GEMM_FAMILIES = ("conv2d", "linear")
SPATIAL_FAMILIES = ("conv2d", "pool", "global_avgpool", "resize", "conv_transpose2d")
ELEMENTWISE_FAMILIES = ("binary", "requant", "lut", "concat", "threshold", "logic")


@dataclass
class AccelProgram:
    hw: HwConfig
    instrs: list = field(default_factory=list)
    layers: list = field(default_factory=list)      # dicts: name, op, kind, first, last, macs, ...
    segments: list = field(default_factory=list)    # dicts: kind accel|host|boundary, ...
    plan: DramPlan = None
    regions: dict = field(default_factory=dict)     # value name -> Region (absolute address)
    host_ops: list = field(default_factory=list)    # fallbacks: {node, op, reason}
    kernel_program: KernelProgram = None


def _groups(kp: KernelProgram) -> list[list]:
    """The calls grouped by the IR node they implement (a node's calls are consecutive)."""
    out: list[list] = []
    for call in kp.calls:
        if out and out[-1][0].node is call.node:
            out[-1].append(call)
        else:
            out.append([call])
    return out


class _Lowering:
    def __init__(self, kp: KernelProgram, hw: HwConfig, search: int):
        self.kp, self.hw, self.search = kp, hw, search
        self.resident = hw.onchip_store
        self._prepared: dict = {}     # id(call) -> GemmLayer (a consumer prepared ahead)
        self._pending = None          # (consumer call, its resident input, builder)
        self.ap = AccelProgram(hw, plan=DramPlan(), kernel_program=kp)
        self.b = None
        self.written: set = set()
        self._const_mats: dict = {}

    # -- memory: the shared plan ---------------------------------------------------------
    def plan_memory(self) -> None:
        kp, plan = self.kp, self.ap.plan
        plan.arena_size = kp.plan.arena
        base = {}
        for kind, bounds in (("input", kp.inputs), ("output", kp.outputs)):
            for bd in bounds:
                base[(kind, bd.index)] = plan.add_io(buffer_nbytes(bd.value))
        self._io_base = base
        self._cl = self._channels_last()
        values = [bd.value for bd in kp.inputs + kp.outputs]
        for call in kp.calls:
            values += [v for v, _ in call.tensors() if not v.is_const]
        for v in values:
            if v.name not in self.ap.regions:
                self.ap.regions[v.name] = self._region(v)
        self._lifetimes()

    def _region(self, v) -> Region:
        kp = self.kp
        root = kp.root(v)
        loc = kp.location(v)
        addr = loc.offset if loc.space == "arena" else self._io_base[(loc.space, loc.index)]
        shape = self._cl.get(root.name)
        cl = shape is not None
        rows, lanes = rows_lanes(v.shape, cl)
        dt = ISA_DTYPE.get(v.dtype, np.dtype(v.dtype.np).name)
        return Region(v.name, addr, buffer_nbytes(root), dt, tuple(v.shape), rows, lanes,
                      shape if cl else tuple(root.shape), cl)

    def _channels_last(self) -> dict:
        """Root buffers stored channels-last, each with the 4-D shape whose NHWC order its
        bytes follow: a conv/pool operand's shape (the root's own, or that of a view of it,
        e.g. the Reshape back to NCHW after a channel shuffle), and every buffer of that
        size tied to one by an elementwise call (operands of one layout)."""
        kp = self.kp
        parent: dict = {}

        def find(a):
            while parent.get(a, a) != a:
                a = parent[a]
            return a

        seeds: dict = {}
        for call in kp.calls:
            vals = [v for v, _ in call.tensors() if not v.is_const]
            if call.family in SPATIAL_FAMILIES:
                for v in vals:
                    if canonical(v.shape):
                        seeds.setdefault(kp.root(v).name, tuple(v.shape))
            elif call.family in ELEMENTWISE_FAMILIES and vals:
                r0 = find(kp.root(vals[0]).name)
                for v in vals[1:]:
                    parent[find(kp.root(v).name)] = r0
        group_shape: dict = {}
        for n, shp in seeds.items():
            group_shape.setdefault(find(n), shp)
        roots = {kp.root(v) for call in kp.calls for v, _ in call.tensors() if not v.is_const}
        roots |= {kp.root(b.value) for b in kp.inputs + kp.outputs}
        out = {}
        for r in roots:
            shp = seeds.get(r.name)
            if shp is None and find(r.name) in group_shape:  # tied to a channels-last buffer
                shp = tuple(r.shape) if canonical(r.shape) else group_shape[find(r.name)]
            if shp is not None and int(np.prod(shp)) == r.type.numel:
                out[r.name] = shp
        return out

    def _lifetimes(self) -> None:
        """First/last call index of every root buffer; a write to a buffer also overwrites
        the arena bytes of buffers that died before it was born (DRAM WAR/WAW hazards)."""
        kp = self.kp
        life: dict = {}
        for bd in kp.inputs:
            life[kp.root(bd.value).name] = [-1, -1]
        for i, call in enumerate(kp.calls):
            for v, w in call.tensors():
                if v.is_const:
                    continue
                r = kp.root(v).name
                lo_hi = life.setdefault(r, [i, i])
                lo_hi[1] = max(lo_hi[1], i)
        for bd in kp.outputs:
            life.setdefault(kp.root(bd.value).name, [len(kp.calls), len(kp.calls)])
        spans = {kp.root(self._values[n]).name: (r.addr, r.nbytes)
                 for n, r in self.ap.regions.items()}
        over = {}
        for a, (oa, sa) in spans.items():
            for b, (ob, sb) in spans.items():
                if a != b and oa < ob + sb and ob < oa + sa and life[b][1] <= life[a][0]:
                    over.setdefault(("DRAM", a), []).append(("DRAM", b))
        self._overlaps = over

    @property
    def plan(self) -> DramPlan:
        return self.ap.plan

    def region(self, v) -> Region:
        return self.ap.regions[v.name]

    def res(self, v):
        return ("DRAM", self.kp.root(v).name)

    def const_mat(self, v, out) -> Mat:
        """An IR-constant operand broadcast to ``out``'s shape, as a matrix of the constant
        image in ``out``'s layout."""
        key = (id(v), tuple(out.shape))
        if key not in self._const_mats:
            data = np.asarray(self.kp.const_of(v).data).reshape(v.shape)
            full = np.broadcast_to(data, tuple(out.shape)).astype(v.dtype.np)
            dt = ISA_DTYPE[v.dtype]
            data = const_image(self.region(out), full)
            rows, lanes = data.shape
            reg = self.ap.plan.add_const(f"{v.name}.{'x'.join(map(str, out.shape))}",
                                         data, dt, rows, lanes)
            self._const_mats[key] = Mat(reg.name, reg.addr, rows, lanes, dt,
                                        lanes * reg.esize)
        return self._const_mats[key]

    # -- classification ------------------------------------------------------------------
    def why_host(self, call) -> str | None:
        if call.family not in SUPPORT.families:
            return HOST_REASONS.get(call.family, f"no {call.family} kernel on the accelerator")
        if call.acc_bits == 64 and not (call.family in GEMM_FAMILIES and check_gemm(call) is None
                                        and int32_plan(call) is not None):
            # docs/arithmetic.md 5.1: the array and ALU sum in int32
            return "int64 accumulator (acc_bits=64): the GEMM and ALU accumulate in int32"
        problems = SUPPORT.problems(call)
        if problems:  # "<op> node '<name>' has ...": the node is listed beside the reason
            return problems[0].split("' ", 1)[-1]
        for v, _ in call.tensors():  # (a gather's int64 indices are read as 32-bit words)
            if not v.is_const and v.dtype not in ISA_DTYPE and \
                    not (call.family == "gather" and v is call.indices) and \
                    not (call.family == "threshold" and v is call.x and v.dtype.name == "int64"):
                return f"operand '{v.name}' of dtype {v.dtype.name} is outside int8/uint8/int16/int32"
        if call.family in GEMM_FAMILIES:
            for v in (call.x, call.y):
                r = self.region(v)
                if not r.compat:
                    return f"'{v.name}' is a view whose DRAM layout differs"
            if call.family == "linear" and self.region(call.x).rows != call.rows:
                return "linear over a channels-last tensor"
            if call.family == "conv2d" and not all(self.region(v).layout == "cl" or
                                                   self.region(v).rows == v.shape[0] * v.shape[2]
                                                   * v.shape[3] for v in (call.x, call.y)):
                return "conv2d over a row-major tensor"
            return check_gemm(call)
        if call.family in MoveLowering.FAMILIES:
            return check_move(self, call)
        if call.family == "matmul":
            return check_matmul(self, call)
        if call.family == "pool":
            return check_pool(self, call)
        if call.family in NonlinLowering.FAMILIES:
            return check_nonlin(self, call)
        if call.family in RowwiseLowering.FAMILIES:
            return check_rowwise(self, call)
        if call.family in GatherLowering.FAMILIES:
            return check_gather(self, call)
        if call.family in RnnLowering.FAMILIES:
            return check_rnn(self, call)
        return check_elem(self, call)

    # -- segments ------------------------------------------------------------------------
    def _open(self):
        if self.b is None:
            self.b = new_builder(self.hw)
            self.b.also_write = self._overlaps
            self.written = set()
            self._seg_layers = []
            if not self.ap.instrs:  # the stream states the ISA version it needs (§2.1)
                self.b.group("ex").add(make("CONFIG", reg="VERSION", a=ISA_VERSION,
                                            note=f"qcc-accel ISA v{ISA_VERSION}"))

    def _close(self):
        if self.b is None:
            return
        b = self.b
        g = b.group("ex", reads=sorted(self.written))
        g.add(make("FINISH", note="end of segment"))
        prog, tags = b.finalize()
        base = len(self.ap.instrs)
        self.ap.instrs.extend(prog)
        for ly in self._seg_layers:
            idx = [i for i, t in enumerate(tags) if t == ly["_tag"]]
            ly["first"], ly["last"] = base + min(idx), base + max(idx) + 1
            del ly["_tag"]
        self.ap.segments.append({"kind": "accel", "first": base, "last": base + len(prog),
                                 "layers": [ly["name"] for ly in self._seg_layers]})
        self.b = None

    def _boundary(self, bounds, what: str) -> None:
        for bd in bounds:
            if bd.scale is None:
                continue
            v = bd.value
            self.ap.segments.append({"kind": "boundary", "value": v.name, "node": bd.graph_name,
                                     "graph_name": bd.graph_name, "op": what, "scale": bd.scale,
                                     "zero_point": bd.zero_point,
                                     "reason": f"float {'input -> int' if what == 'quantize' else 'output <- int'} on the host"})

    def run(self) -> AccelProgram:
        kp = self.kp
        self._values = {}
        for bd in kp.inputs + kp.outputs:
            self._values[bd.value.name] = bd.value
        for call in kp.calls:
            for v, _ in call.tensors():
                self._values.setdefault(v.name, v)
        self.plan_memory()
        self._elem = ElemLowering(self)
        self._move = MoveLowering(self)
        self._matmul = MatmulLowering(self)
        self._pool = PoolLowering(self)
        self._nonlin = NonlinLowering(self, self._elem)
        self._rowwise = RowwiseLowering(self, self._elem)
        self._gather = GatherLowering(self, self._elem)
        self._rnn = RnnLowering(self)
        index = {id(c): i for i, c in enumerate(kp.calls)}
        self._boundary(kp.inputs, "quantize")
        tag = 0
        groups = _groups(kp)
        fused: set = set()     # group indices lowered as part of the previous one
        for gi, calls in enumerate(groups):
            if gi in fused:
                continue
            node = calls[0].node
            why = next((w for w in map(self.why_host, calls) if w), None)
            if why:
                self._close()
                self.ap.segments.append({"kind": "host", "node": node.name, "op": node.op,
                                         "reason": why})
                self.ap.host_ops.append({"node": node.name, "op": node.op, "reason": why})
                continue
            self._open()
            self.b.layer = tag
            kind = "gemm" if calls[0].family in GEMM_FAMILIES + ("matmul",) else \
                "rnn" if calls[0].family in RnnLowering.FAMILIES else \
                "dma" if calls[0].family in MoveLowering.FAMILIES + GatherLowering.FAMILIES else "elem"
            entry = {"name": node.name, "op": node.op, "kind": kind, "_tag": tag, "macs": 0,
                     "families": sorted({c.family for c in calls})}
            tag += 1
            self._lower_calls(calls, kind, entry, groups, gi, index, fused)
            self._seg_layers.append(entry)
            self.ap.layers.append(entry)
        self._close()
        self._boundary(kp.outputs, "dequantize")
        check_stream(self.ap)
        return self.ap

    def _lower_calls(self, calls, kind, entry, groups, gi, index, fused) -> None:
        """Lower the calls of one IR node (group ``gi``); a conv/linear may take the next
        group's LUT into its STORE epilogue (adding ``gi + 1`` to ``fused``)."""
        def after(k):
            return groups[k] if k < len(groups) else None
        for call in calls:
            if call.family == "matmul":
                self._matmul.lower(call, index[id(call)])
                entry["macs"] += call.batch * call.m * call.k * call.n
            elif kind == "gemm":
                self._gemm_fused(call, len(calls) == 1, entry, after, gi, fused)
            elif call.family == "pool":
                self._pool.lower(call)
            elif call.family in NonlinLowering.FAMILIES:
                self._nonlin.lower(call)
            elif call.family in RowwiseLowering.FAMILIES:
                self._rowwise.lower(call)
            elif call.family in GatherLowering.FAMILIES:
                self._gather.lower(call)
            elif kind == "rnn":
                self._rnn.lower(call, index[id(call)])
                entry["macs"] += rnn_macs(call)
            elif kind == "dma":
                self._move.lower(call)
            elif call.family == "concat" and concat_mats(self, call) is None:
                self._pending = None          # as _elem_call: a concat fills no resident input
                self._move.concat(call)       # its address map, in 2-D DMA blocks
            else:
                mean = call.family in lookahead.MEAN_FAMILIES and len(calls) == 1
                onchip = self._pending is not None and self._pending[0] is call
                if mean:
                    self._mean_prefetch(call, onchip, gi, after)
                try:
                    self._elem_call(call, after(gi + 1) if len(calls) == 1 else None)
                finally:
                    self._elem.mean_before = None
            self.written.add(self.res(call.out))

    def _mean_prefetch(self, call, onchip, gi, after) -> None:
        """The parameters of the conv/linear after the global mean of group ``gi``, loaded by
        the mean before its first instruction, which waits for its producer's DRAM STORE (and
        DMA latency) anyway.  Not when the mean's input is on chip (resident.mean_in): there
        the LOAD would hold up its ALU instructions (they wait for the EX engine's loads), and
        the conv/linear loads its own; the mean then gets the producers to simulate its
        schedule behind (``lower_mean``)."""
        if onchip:
            self._elem.mean_before = lookahead.before_chain(self, call.x)
            return
        later = [g for g in (after(j) for j in range(gi + 1, gi + 1 + lookahead.PREFETCH_SCAN)) if g]
        prefetch_before(self.b, self.hw, lookahead.next_gemms(self, later, 1))

    def _gemm_fused(self, call, alone, entry, after, gi, fused) -> None:
        """A conv/linear with the next group's LUT (v5) and/or the residual add/sub after it
        (v8, fuse_add.py) in its STORE epilogue: those groups go into ``fused``."""
        k = gi + 1
        lut = resident.fusable_lut(self, call, after(k)) if alone else None
        if lut is not None:
            k += 1
        add = fuse_add.fusable(self, call, call.y if lut is None else lut.y, after(k)) \
            if alone else None
        if add is not None:
            k += 1
        names = [u.node.name for u in (lut, add and add[0]) if u is not None]
        for j, u in enumerate(u for u in (lut, add and add[0]) if u is not None):
            fused.add(gi + 1 + j)
            self.written.add(self.res(u.y))
        if names:
            entry["fused"] = names
        self._later = [g for g in (after(j) for j in range(k, k + lookahead.PREFETCH_SCAN)) if g]
        self._gemm(call, self._prepare(call), entry, after(k), lut, add)

    def _place(self, ly, in_spec, out_spec, add) -> None:
        """The input-buffer rows of ``ly`` for an output region (or none): its own input
        slots below the region, the operand area of a fused add (fuse_add.place)."""
        ly.extra.pop("inp_range", None)
        ly.extra.pop("radd", None)
        if out_spec is not None and in_spec is None:
            ly.extra["inp_range"] = (0, out_spec.base)
        if add is not None:   # the operand rows mirror the accumulator
            base, rng = fuse_add.place(self.hw, in_spec, out_spec, add[1].area_rows(self.hw))
            ly.extra["radd"] = replace(add[1], base=base,
                                       hoff=self.hw.acc_rows if add[1].wide else 0)
            if rng is not None:
                ly.extra["inp_range"] = rng

    def _elem_call(self, call, nxt) -> None:
        """An elementwise call; its STOREs fill the next conv/linear's resident input when
        that qualifies (resident.elem_out)."""
        pend, self._pending = self._pending, None
        src = pend[1] if pend is not None and pend[0] is call and pend[2] is self.b else None
        spec = resident.elem_out(self, call, nxt, src) if self.resident else None
        self._elem.lower(call, spec, src)
        if spec is not None:
            self._pending = (nxt[0], spec, self.b)

    def _prepare(self, call):
        ly = self._prepared.pop(id(call), None)
        return ly if ly is not None else prepare(call, self.ap.plan, self.hw)

    def _gemm(self, call, ly, entry, nxt=None, lut=None, add=None):
        x, y = call.x, (call.y if lut is None else lut.y)
        if add is not None:   # the residual add in the STORE epilogue: its output
            y = add[0].y
        xr, yr = self.region(x), self.region(y)
        if lut is not None:  # the activation in the STORE epilogue: its table, its output
            tbase, tres = self._elem.load_table(lut.node.name, lut.table.values)
            ly.extra["lut"] = (tbase // self.hw.lut_rows_per_table, tres)
            ly.out_dtype = ISA_DTYPE[lut.y.dtype]
        in_spec = None
        if self._pending is not None and self._pending[0] is call and self._pending[2] is self.b:
            in_spec = self._pending[1]
        ly.extra["resident_in"] = in_spec
        self._pending = None
        reserve = add[1].area_rows(self.hw) if add is not None else 0
        out_spec = (resident.resident_out(self, call, ly, nxt, in_spec, y, reserve)
                    or resident.mean_in(self, call, ly, nxt, in_spec, y, reserve)) \
            if self.resident else None
        self._place(ly, in_spec, out_spec, add)
        before = lookahead.before_chain(self, x)
        # small layers are cheap to simulate: twice the candidates
        search = 2 * self.search if ly.macs <= PAIR_SEARCH_MACS else self.search
        ranked: list = []
        pfs = lookahead.next_gemms(self, self._later)  # their parameters may load with this layer's
        pf = pfs[:1]                                   # the tile search sees the next one's
        t, cyc, tried = choose_tiling(ly, xr, yr, self.hw, search, before=before,
                                      out_spec=out_spec, ranked=ranked, prefetch=pf)
        t, cyc = lookahead.pick(self, ly, ranked, xr, yr, out_spec, before,
                                lookahead.consumer(self, nxt, y), pf)
        pf = lookahead.worth_prefetch(self, ly, t, xr, yr, out_spec, before, pfs)
        pf = lookahead.far_prefetch(self, ly, t, xr, yr, out_spec, before, self._later, pf)
        if out_spec is not None:
            self._pending = (nxt[0], out_spec, self.b)
        place_weights(ly, t.order, self.ap.plan)   # only the weight form it reads takes DRAM
        emit_gemm(ly, t, xr, yr, self.hw, self.b, self.res(x), self.res(y), out_spec, pf)
        prev = getattr(self, "_prev_gemm", None)
        self._prev_gemm = (self.b, ly, t, xr, yr, self.res(y), out_spec, pf, prev, self.res(x))
        if in_spec is not None or out_spec is not None:
            entry["onchip"] = {k: v.describe() for k, v in (("input", in_spec), ("output", out_spec))
                               if v is not None}
        es_y = yr.esize
        forms = (ly.extra.get("pack"), ly.extra.get("im2col") if im2col_usable(ly, self.hw) else None)
        wbytes = min([ly.wreg.nbytes] + [pk["reg"].nbytes for pk in forms if pk])
        out_bytes = ly.n * ly.oh * ly.ow * ly.m * es_y
        res_bytes = 0 if add is None else ly.n * ly.oh * ly.ow * ly.m * (2 if add[1].wide else 1)
        min_load = ly.n * ly.h * ly.w * ly.c + wbytes + res_bytes
        entry.update(macs=ly.macs, tiling=t.describe(), tiling_tried=tried, est_cycles=cyc,
                     min_bytes=int(min_load + ly.preg.nbytes + out_bytes),
                     min_load_bytes=int(min_load), min_param_bytes=int(ly.preg.nbytes),
                     min_store_bytes=int(out_bytes),
                     shape={"n": ly.n, "h": ly.h, "w": ly.w, "c": ly.c, "oh": ly.oh, "ow": ly.ow,
                            "m": ly.m, "kh": ly.kh, "kw": ly.kw, "stride": list(ly.stride),
                            "group": ly.group})


PAIR_SEARCH_MACS = 1 << 23   # larger: searched alone, with the base budget


def lower_for(graph: Graph, hw: HwConfig, name: str = "model") -> KernelProgram:
    """The kernel program of ``graph`` for this accelerator configuration; first the uint8
    inputs of the int8-only GEMM families become int8 (``target.adapt_unsigned``)."""
    adapt_unsigned(graph)
    return lower(graph, name, accel_target(hw))


def render(kp: KernelProgram, hw: HwConfig, search: int = 16) -> AccelProgram:
    """Instruction streams and DRAM image of a kernel program (reads no IR node).  The
    streams' tokens are bounded by the FIFO depth as they are built (``stream.Builder``),
    and the checker proves every segment deadlock-free (``check.check_tokens``)."""
    return _Lowering(kp, hw, search).run()


def build_program(graph: Graph, hw: HwConfig, search: int = 16, name: str = "model") -> AccelProgram:
    return render(lower_for(graph, hw, name), hw, search)
