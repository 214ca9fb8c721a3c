"""The STORE side of a conv/linear's emission (docs/target_accel.md §6): a tile's STOREs with
the requantization epilogue (and a fused LUT or residual add, ISA v5 / v8) into the next layer's
resident input and/or DRAM, one group per channel block.  A mixin of ``gemm_emit._Emitter``,
whose attributes (``ly``, ``b``, ``res_out``, ``radd``, spans) it reads."""

from __future__ import annotations

from .isa import make
from .lower_gemm import MAX_DMA_ROWS


class StoreSide:
    def _st_group(self, reads, writes, rows) -> "object":
        g = self.b.group("st", reads=reads, writes=writes, rows=rows)
        if self.first_store:
            zp, lo, hi = self.ly.clamp
            g.add(make("CONFIG", reg="CLAMP", a=zp, b=lo, d=hi, note=f"clamp {self.ly.name}"))
            if self.radd is not None:
                from .fuse_add import config
                config(g, self.radd)
            self.first_store = False
        return g

    def emit_stores(self, tile, reads, segs, parts=None) -> None:
        """The ST groups of a tile's STOREs; ``segs``: ``(acc, pos, rows, step, nb, param,
        note)``, accumulator rows ``acc..`` to output positions ``pos + r*step`` of channel
        block ``nb`` (``store_rows``).  Into the next layer's resident input first, one group
        per channel block (its plane's rows: the consumer's GEMMs of that plane wait only for
        it; the LD engine writes the region's padding rows once, before the first STORE),
        then to DRAM in one group, whose DMA latency the resident consumer does not wait for.
        ``parts``: the accumulator rows of each channel block (``acc_parts``): its groups read
        them instead of the whole slot ``reads[0]``, and the DRAM STOREs form one group per
        block as well (their row intervals name the block's lanes).  With an on-chip write
        path slower than DRAM (``sram_latency > dma_latency``) the DRAM groups come first: a
        later group of the ST engine must land no earlier than the ones its token stands for."""
        n, oh0, th, ow0, tw = tile
        out = self.res_out
        span = self.out_span(n, oh0, th, ow0, tw)
        lut = self.ly.extra.get("lut")   # (table, resource): an activation fused into the STORE
        if lut is not None:
            reads = list(reads) + [lut[1]]
        if self.radd is not None:   # the operand rows of every STORE first (LD, fuse_add.py)
            reads = list(reads) + self._operand_loads(reads[0], span, segs)
        whole = [x for x in reads if x != reads[0]]   # (with parts: besides a block's own rows)
        # the groups in order of their latency: a consumer waits only for the latest group of
        # the ST engine it needs (stream._token_pairs), whose data then lands last
        onchip_first = self.hw.sram_latency <= self.hw.dma_latency
        if not onchip_first:
            self._dram_groups(span, segs, reads, whole, parts)
        if out is not None:
            npos = self.ly.n * self.ly.oh * self.ly.ow
            for nb in dict.fromkeys(s[4] for s in segs):
                rows = {}
                if span:
                    lo, hi = span[self.y_res]
                    rows[out.data_res] = (nb * npos + lo, nb * npos + hi)
                g = self._st_group([parts[nb]] + whole if parts else reads, [out.data_res], rows)
                for s in segs:
                    if s[4] == nb:
                        self.store_rows(g, *s, dram=False)
        if onchip_first:
            self._dram_groups(span, segs, reads, whole, parts)

    def _dram_groups(self, span, segs, reads, whole, parts) -> None:
        if self.store_dram:   # one group, or one per channel block (parts)
            for part in ([[s for s in segs if s[4] == nb] for nb in dict.fromkeys(s[4] for s in segs)]
                         if parts else [segs]):
                rows = {k: (*v, *self._lanes(part)) for k, v in span.items()}
                if self.radd is not None and self.radd.alias and span:
                    rows[self.radd.res] = rows[self.y_res]   # in place: only these rows overwritten
                g = self._st_group([parts[part[0][4]]] + whole if parts else reads, [self.y_res], rows)
                for s in part:
                    self.store_rows(g, *s, res=False)

    def _lanes(self, segs) -> tuple:
        """The channels ``(lo, hi)`` that the STOREs ``segs`` write (their channel blocks): a
        DRAM row interval names them (stream.py), so the operand LOAD of one block of a fused
        add written in place does not wait for the STOREs of another block of the same
        positions.  All channels when the sum's elements are wider than the int8 residual's
        (their bytes would not line up)."""
        if self.radd is not None and self.radd.alias and self.y.esize != 1:
            return 0, self.ly.m
        nbs = [s[4] for s in segs]
        return min(nbs) * self.d, min(self.ly.m, (max(nbs) + 1) * self.d)

    def _operand_loads(self, acc_res, span, segs) -> list:
        """The LD group loading the fused add's operand rows of the STOREs ``segs`` into the
        input-buffer rows that mirror their accumulator rows (v8 STORE ``radd``); returns those
        slots (the accumulator slot's mirror; an int16 operand, v10 ``rwide``, has two: the
        bytes of channels ``< DIM/2`` and of the others, each a plain int8 LOAD of raw bytes)."""
        from .fuse_add import acc_span

        ra, ly, d = self.radd, self.ly, self.d
        lo, hi = acc_span(acc_res, self.hw)
        halves = [(0, 0, d)] if not ra.wide else [(0, 0, d // 2), (ra.hoff, d // 2, d)]
        slots = [("INP", ra.base + off + lo, ra.base + off + hi) for off, _, _ in halves]
        g = self.b.group("ld", reads=[ra.res], writes=slots,
                         rows={ra.res: (*span[self.y_res], *self._lanes(segs))} if span else None)
        es = 2 if ra.wide else 1
        for acc, pos, rows, step, nb, _, _ in segs:
            for off, c0, c1 in halves:
                cols = min(c1, ly.m - nb * d) - c0
                if cols <= 0:
                    continue
                for s0 in range(0, rows, MAX_DMA_ROWS):
                    k = min(MAX_DMA_ROWS, rows - s0)
                    g.add(make("LOAD", buf="INP", dtype="i8", sram=ra.base + off + acc + s0,
                               dram=ra.addr + (pos + s0 * step) * ra.pitch + (nb * d + c0) * es,
                               rows=k, cols=cols * es, stride=step * ra.pitch,
                               note=f"{ra.node} operand pos={pos + s0 * step} nb={nb}"
                                    + (f" ch+{c0} (int16 bytes)" if ra.wide else "")))
        return slots

    def store_rows(self, g, acc: int, pos: int, rows: int, step: int, nb: int, param: int,
                   note: str, dram: bool = True, res: bool = True) -> None:
        """STOREs of accumulator rows ``acc..acc+rows-1``, the output positions ``pos + r*step``
        of channel block ``nb``: to DRAM and/or into the resident region (ISA v5)."""
        ly, d, y = self.ly, self.d, self.y
        cols = min(d, ly.m - nb * d)
        kw = dict(dtype=ly.out_dtype, mode=ly.mode, cols=cols, param=param)
        if ly.extra.get("lut") is not None:
            kw.update(lut=1, table=ly.extra["lut"][0])
        if self.radd is not None:   # v8: the fused add (its operand rows: _operand_loads)
            kw.update(radd=1, rwide=int(self.radd.wide))
        if self.store_dram and dram:
            for s0 in range(0, rows, MAX_DMA_ROWS):
                k = min(MAX_DMA_ROWS, rows - s0)
                g.add(make("STORE", sram=acc + s0, rows=k, stride=step * y.pitch,
                           dram=y.addr + (pos + s0 * step) * y.pitch + nb * d * y.esize,
                           note=f"{note} pos={pos + s0 * step}", **kw))
        if self.res_out is not None and res:
            for a, r0, cnt, st in self.res_out.runs(nb, pos, rows, step):
                g.add(make("STORE", sram=acc + r0, rows=cnt, stride=st, dram=a, inp=1,
                           note=f"{note} pos={pos + r0 * step} -> INP", **kw))

    def store(self, tile, nbs, acc_base, acc_res, p_base, p_res, parts=None):
        """The STOREs of a chunk's accumulator rows; ``parts``: the per-block accumulator
        resources its GEMM groups wrote (``gemms``), if they wrote them so."""
        n, oh0, th, ow0, tw = tile
        ly = self.ly
        p = th * tw
        segs = []
        for i, nb in enumerate(nbs):
            runs = [(0, p, ((n * ly.oh + oh0) * ly.ow + ow0))] if tw == ly.ow else \
                [(r * tw, tw, ((n * ly.oh + oh0 + r) * ly.ow + ow0)) for r in range(th)]
            for r0, cnt, pos in runs:
                segs.append((acc_base + i * p + r0, pos, cnt, 1, nb, p_base + 3 * i, f"out nb={nb}"))
        self.emit_stores(tile, [acc_res, p_res], segs, parts)
