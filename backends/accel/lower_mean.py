"""The global mean (GlobalAveragePool, ReduceMean over H, W) on the ALU (docs/target_accel.md §6,
§7): a mixin of ``lower_elem.ElemLowering``.  The same rows-folded-into-one-row scheme runs every
``reduce`` call that is the reduction over the middle axis of an ``[outer, k, inner]`` view of its
input's DRAM bytes (``elem_operands.reduce_view``: a temporal mean, a mean over the batch, ...),
and with the ALU's MAX / MIN instead of ADD (and the identity epilogue) ReduceMax / ReduceMin.  A
reduction over the last DRAM axis (``inner = 1``) instead reduces each output's DRAM row across
its lanes: one REDUCE over the row's planes of DIM lanes (``_lane_reduce``).

Each channel block's ``H*W`` rows land side by side in one accumulator slot, the first row of a
block being its sum row (an ALU ADD adds the others into it), and the STORE's epilogue centres
(the bias ``-x_zp * H*W``) and scales the sums.  The rows come from DRAM (LOADs into the
accumulator, issued back to back so the blocks pay one DMA latency) or, when the conv/linear
before wrote the mean's input into the input buffer (``resident.mean_in``), through the array
by an identity weight block, one EX group per block that waits only for the STOREs of its own
plane.

With the input on chip the order of those groups is chosen by simulating both behind the
conv/linears that produced the input (``lookahead.before_chain``), like a conv's tile search:
all GEMMs, then all ADDs (one drain), or the earlier blocks' ADDs before the last block's GEMM,
in the EX engine's wait for that block's STOREs, at the price of a second drain and fill.
"""

from __future__ import annotations

import numpy as np

from .elem_operands import REDUCE_OPS, Mat, reduce_view
from .isa import make

MAX_ROWS = 1023
BIAS_FOLD_ROWS = 1 << 23   # a mean's centring folds into the STORE bias below this many rows


class MeanSide:
    # for a mean whose input is on chip: what emits the conv/linears that produced it into a
    # trial stream (``lookahead.before_chain``; None when they are too large to re-simulate);
    # set by the program lowering around the call
    mean_before = None
    mean_op = "ADD"   # the ALU op folding the rows (ADD; MAX / MIN for a ReduceMax / ReduceMin)

    def global_avgpool(self, call) -> None:
        before = self.mean_before if self.onchip_in is not None else None
        self._mean(call, self._mean_split(call, before) if before is not None else False)

    def _mean_split(self, call, before) -> bool:
        """Whether the on-chip mean finishes sooner behind its producers with the earlier
        blocks' ADDs before the last block's GEMM (ties: all GEMMs first)."""
        from .gemm_emit import new_builder
        from .timing import simulate

        if min(-(-self._view(call)[2] // self.d), self._per_slot(call)) < 2:
            return False
        cycles = []
        for split in (False, True):
            b = new_builder(self.hw)
            before(b)
            aslot, self.trial_b = self.aslot, b
            try:
                self._mean(call, split)
            finally:
                self.aslot, self.trial_b = aslot, None
            cycles.append(simulate(b.finalize()[0], self.hw).total)
        return cycles[1] < cycles[0]

    def _view(self, call) -> tuple[int, int, int]:
        """``(outer, k, inner)``: the input as ``outer*k x inner`` DRAM rows, each ``k`` of
        them reduced into one of the ``outer x inner`` output (a global mean: ``(N, H*W, C)``
        channels-last)."""
        if call.family == "reduce":
            return reduce_view(self.ctx, call)
        n, c, h, w = (int(d) for d in call.x.shape)
        return n, h * w, c

    def _mats(self, call) -> tuple[Mat, Mat]:
        outer, k, inner = self._view(call)
        rx, ry = self.ctx.region(call.x), self.ctx.region(call.y)
        return (Mat(rx.name, rx.addr, outer * k, inner, rx.dtype, inner * rx.esize),
                Mat(ry.name, ry.addr, outer, inner, ry.dtype, inner * ry.esize))

    def _lane_members(self, call) -> int:
        """For a reduction over the last DRAM axis (``inner = 1``) from DRAM: the planes of
        ``DIM`` lanes each output row's ``k`` elements make (REDUCE members); 0 when the row
        scheme runs it instead (an operand on chip, one element per output, more than 255
        planes)."""
        if call.family != "reduce" or self.onchip_in is not None or self.onchip is not None:
            return 0
        _, k, inner = self._view(call)
        nb = -(-k // self.d)
        return nb if inner == 1 and k > 1 and nb <= 255 and (nb + 1) < self.acc_half else 0

    def _lane_reduce(self, call, nb: int) -> None:
        """``outer`` output elements, each the reduction of one DRAM row of ``k`` elements:
        per chunk of ``n`` rows, the ``nb`` planes of DIM lanes (LOADs at the row pitch),
        one REDUCE SUM / MAX / MIN over each row's planes (the last plane's lanes past ``k``
        excluded) and one STORE of lane 0 of the ``n`` results (the STORE's epilogue as for
        the row scheme)."""
        outer, k, _ = self._view(call)
        rx, ry = self.ctx.region(call.x), self.ctx.region(call.y)
        mx = Mat(rx.name, rx.addr, outer, k, rx.dtype, k * rx.esize)
        red = {"ADD": "SUM", "MAX": "MAX", "MIN": "MIN"}[self.mean_op]
        step = min(MAX_ROWS, self.acc_half // (nb + 1))
        for r0 in range(0, outer, step):
            n = min(step, outer - r0)
            base, slot = self._acc()
            g = self.b.group("ex", reads=[self.ctx.res(call.x)], writes=[slot])
            for lb in range(nb):
                self._load(g, mx, r0, n, lb, base + lb * n)
            dst = base + nb * n
            g.add(make("REDUCE", red_op=red, dst=dst, src=base, rows=n, gstride=1, members=nb,
                       mstride=n, lanes=(k - (nb - 1) * self.d) % self.d,
                       note=f"{call.op} of {k} lanes"))
            if not self.mean_fold:
                g.add(make("ALU", alu_op="ADD", use_imm=1, dst=dst, rows=n, dst_inc=1,
                           imm=-int(call.x_zp) * k, note="centre"))
            st = self._st_group([slot], [self.ctx.res(call.y)])
            st.add(make("STORE", dtype=ry.dtype, mode="tensor", sram=dst,
                        dram=ry.addr + r0 * ry.esize, rows=n, cols=1, stride=ry.esize,
                        note=f"{ry.name} elements {r0}+{n}"))

    def _mean(self, call, split: bool) -> None:
        y = call.y
        mx, my = self._mats(call)
        n_, hw_, c = self._view(call)
        epi = call.epi
        self.mean_op = REDUCE_OPS[getattr(call, "op", "mean")]
        if self.mean_op != "ADD":   # max / min: a value of the input, unscaled
            self.mean_fold = True
            self._config_st(0, y.dtype.min, y.dtype.max, 1 << 30, 30,
                            note=f"{call.op} {call.node.name}")
        else:
            # the centring (-x_zp per element) as the STORE's bias instead of an ALU ADD per
            # block, where the sum cannot leave int32 either way (wrap32 and sat32 then agree)
            self.mean_fold = hw_ < BIAS_FOLD_ROWS
            self._config_st(epi.zero_point, epi.lo, epi.hi, epi.mult.values[0],
                            epi.shift.values[0],
                            bias=-int(call.x_zp) * hw_ if self.mean_fold else 0,
                            note=f"mean {call.node.name}")
        nb = self._lane_members(call)
        if nb:
            self._lane_reduce(call, nb)
            return
        # start in the accumulator half the conv/linear before did not use last: the identity
        # GEMMs of the first blocks then need not wait for its last STORE to read its rows
        phase = getattr(self.b, "slot_phase", {}).get("ACC")
        if phase is not None and self.aslot % 2 != phase:
            self.aslot += 1
        nb = -(-c // self.d)
        step = min(MAX_ROWS, self.acc_half - 1)
        per = self._per_slot(call)
        for n in range(n_):
            for lb0 in range(0, nb, per):
                self._mean_blocks(call, mx, my, n, list(range(lb0, min(nb, lb0 + per))), step,
                                  split)

    def _per_slot(self, call) -> int:
        """Channel blocks per accumulator slot: those whose rows all fit one slot load together
        (their DMA latencies overlap); a block longer than a slot runs alone, in chunks."""
        hw_ = self._view(call)[1]
        return max(1, self.acc_half // (hw_ + 1)) if hw_ <= min(MAX_ROWS, self.acc_half - 1) else 1

    def _mean_blocks(self, call, mx, my, n, lbs, step, split: bool) -> None:
        """The global mean of channel blocks ``lbs`` of image ``n`` in one accumulator slot:
        block ``j``'s rows from ``base + j*span``, the first row its sum (no MOV: the first row
        loaded is the first addend), all LOADs before the first ADD; on chip, the identity
        GEMMs and ADDs in the order ``split`` says."""
        x, (_, hw_, c) = call.x, self._view(call)
        zx = 0 if self.mean_fold else int(call.x_zp)
        src = self.onchip_in
        base, slot = self._acc()
        span = hw_ + 1 if len(lbs) > 1 else 0
        sums = [base + j * span for j in range(len(lbs))]
        if src is None:
            g = self.b.group("ex", reads=[self.ctx.res(x)], writes=[slot])
            for q0 in range(0, hw_, step):
                k = min(step, hw_ - q0)
                at = 0 if q0 == 0 else 1   # the first chunk starts at the sum row
                for j, lb in enumerate(lbs):
                    self._load(g, mx, n * hw_ + q0, k, lb, sums[j] + at)
                self._sums(g, sums, k, at, self.mean_op)
        else:
            self._mean_onchip(call, src, lbs, sums, slot, step, split)
            g = self.b.group("ex", writes=[slot]) if zx else None
        for s0 in sums:
            if zx:
                g.add(make("ALU", alu_op="ADD", use_imm=1, dst=s0, rows=1, imm=-zx * hw_,
                           note="centre"))
        st = self._st_group([slot], [self.ctx.res(call.y)])
        for j, lb in enumerate(lbs):
            self._store(st, my, n, 1, lb * self.d, min(self.d, c - lb * self.d), sums[j])

    @staticmethod
    def _sums(g, sums, k: int, at: int, op: str = "ADD") -> None:
        """ALU ADDs (MAX / MIN) of a chunk of ``k`` rows into each block's sum row (``at``: the
        chunk's rows start right after the sum row instead of at it)."""
        for s0 in sums:
            if k - 1 + at > 0:
                g.add(make("ALU", alu_op=op, dst=s0, src=s0 + 1, rows=k - 1 + at, src_inc=1,
                           note="sum" if op == "ADD" else op.lower()))

    def _mean_onchip(self, call, src, lbs, sums, slot, step, split: bool) -> None:
        """The identity GEMMs (x * I = x: the plane's rows from the input buffer through the
        array), one group per block reading only its plane's rows, and the ADDs; with ``split``
        the earlier blocks' ADDs before the last block's GEMM."""
        x, hw_ = call.x, self._view(call)[1]
        ident = self._identity()
        for q0 in range(0, hw_, step):
            k = min(step, hw_ - q0)
            at = 0 if q0 == 0 else 1
            for j, lb in enumerate(lbs):
                if split and j and j == len(lbs) - 1:
                    self._sums(self.b.group("ex", writes=[slot]), sums[:-1], k, at,
                               self.mean_op)
                rows = {src.data_res: (lb * src.plane + q0, lb * src.plane + q0 + k)}
                gg = self.b.group("ex", reads=[src.data_res, ident[1]], writes=[slot], rows=rows)
                gg.add(make("GEMM", reset=1, acc=sums[j] + at, inp=src.base + lb * src.plane + q0,
                            wgt=ident[0], rows=k, kblocks=1, inp_kstride=1, wgt_kstride=1,
                            note=f"{x.name} rows {q0}+{k} lb={lb} (on chip, identity)"))
            done = sums[-1:] if split and len(lbs) > 1 else sums
            self._sums(self.b.group("ex", writes=[slot]), done, k, at, self.mean_op)

    def _identity(self) -> tuple[int, tuple]:
        """The LD group loading an identity weight block (the DRAM constant is shared) into the
        last block of the weight half that the conv/linear before did not use last, so that its
        LOAD does not wait for that layer's last GEMMs (its weights may be declared as a whole
        half); the next conv/linear then starts in the other half (``Builder.slot_phase``).
        Without a layer before: the weight buffer's last block.  (block, resource)."""
        d = self.d
        reg = self.ctx.plan.const_once("identity.block", np.eye(d, dtype=np.int8), "i8")
        phases = getattr(self.b, "slot_phase", None)
        wb = self.hw.wgt_blocks - 1
        if phases and phases.get("WGT") is not None:
            wb = (phases["WGT"] + 1) * (self.hw.wgt_blocks // 2) - 1
            self.b.slot_phase = dict(phases, WGT=1 - phases["WGT"])
        res = ("WGT", wb, wb + 1)
        self.b.group("ld", writes=[res]).add(make(
            "LOAD", buf="WGT", sram=wb, dram=reg.addr, rows=1, cols=0, stride=d * d,
            note="identity block"))
        return wb, res
