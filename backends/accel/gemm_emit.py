"""Emission of one GEMM layer for a given tiling, and the tile search.

Loop nests (docs/target_accel.md §6):

* ``sp``: for each spatial tile, for each chunk of output-channel blocks,
  for each chunk of K: LOAD inputs and weights, GEMM; STORE the chunk.  When all
  of K fits one chunk the tile's inputs are loaded once and reused by every
  channel chunk.
* ``wt``: for each channel chunk, for each spatial tile, ...; when all of K
  fits, the chunk's weights are loaded once and reused by every tile.

Every buffer is used as two alternating halves; the stream builder derives the
dependency tokens from the slots each group reads and writes.  The STOREs of a chunk (the
epilogue side) are in ``gemm_store.py``.
"""

from __future__ import annotations


from .gemm_loop2d import emit_loop2d
from .gemm_im2col import emit_im2col
from .gemm_pack import emit_pack
from .gemm_store import StoreSide
from .gemm_window import emit_window
from .hw import HwConfig
from .isa import make
from .layout import Region
from .lower_gemm import GemmLayer, Tiling, _Slots, candidates, input_loads
from .stream import Builder


def _tiles(ly: GemmLayer, t: Tiling):
    for n in range(ly.n):
        for oh0 in range(0, ly.oh, t.th):
            for ow0 in range(0, ly.ow, t.tw):
                yield n, oh0, min(t.th, ly.oh - oh0), ow0, min(t.tw, ly.ow - ow0)


def _chunks(ly: GemmLayer, t: Tiling):
    for nb0 in range(0, ly.nblocks, t.nb):
        nbs = list(range(nb0, min(ly.nblocks, nb0 + t.nb)))
        kset = sorted(set().union(*(ly.rel[nb] for nb in nbs)))
        yield nbs, kset


class _Emitter(StoreSide):
    def __init__(self, ly: GemmLayer, xreg: Region, yreg: Region, hw: HwConfig, b: Builder,
                 x_res, y_res, out_spec=None, bufs: int = 2):
        self.ly, self.x, self.y, self.hw, self.b = ly, xreg, yreg, hw, b
        self.d = hw.dim
        # the buffer halves alternate across layers too: a layer's first tile does not reuse
        # the halves that the previous layer's last GEMMs and STOREs still read
        self.slots = _Slots(hw, ly, bufs, getattr(b, "slot_phase", {}))
        # on-chip residency (resident.py): the input already in the buffer / the output
        # written into the next layer's input buffer (and to DRAM only if needed)
        self.res_in = ly.extra.get("resident_in")
        self.res_out = out_spec
        self.store_dram = out_spec is None or out_spec.keep_dram
        self.radd = ly.extra.get("radd")   # v8: a residual add fused into the STOREs (fuse_add.py)
        self.x_res, self.y_res = x_res, y_res   # DRAM resources read / written
        self.first_store = True
        self.tile_positions = 0   # positions per tile (emit_gemm; 0: K chunks alternate halves)
        self.all_params = None  # (base, resource) when the whole layer's parameters fit one half
        if 3 * ly.nblocks <= self.slots.cap["param"]:
            # loaded by the previous conv/linear with its own (prefetch_params), or now
            self.all_params = b.prefetched.pop(ly.name, None) or self.ring_params(ly)
        # row intervals of x and y per tile (stream.py) when their rows are positions
        self.x_rows = _own_rows(xreg, ly.n * ly.h * ly.w)
        self.y_rows = _own_rows(yreg, ly.n * ly.oh * ly.ow)

    def in_span(self, n: int, oh0: int, th: int) -> dict:
        """{x resource: rows} that a tile of output rows oh0..oh0+th-1 reads (all columns)."""
        ly = self.ly
        if not self.x_rows:
            return {}
        lo = max(0, oh0 * ly.stride[0] - ly.pads[0])
        hi = min(ly.h - 1, (oh0 + th - 1) * ly.stride[0] - ly.pads[0] + (ly.kh - 1) * ly.dil[0])
        if hi < lo:
            return {self.x_res: (0, 0)}
        return {self.x_res: ((n * ly.h + lo) * ly.w, (n * ly.h + hi + 1) * ly.w)}

    def out_span(self, n: int, oh0: int, th: int, ow0: int, tw: int) -> dict:
        ly = self.ly
        if not self.y_rows:
            return {}
        first = (n * ly.oh + oh0) * ly.ow + ow0
        return {self.y_res: (first, first + (th - 1) * ly.ow + tw)}

    def res_rows(self, n: int, oh0: int, th: int, cbs=None) -> dict:
        """{resident region: rows} that a tile reads from the planes of input-channel blocks
        ``cbs`` (default: all).  Row ``cb * P + q`` stands for position ``q`` of plane ``cb``
        (``P`` positions per plane), as the producer's STOREs declare them (``res_span``), so a
        tile reading one plane waits only for the STOREs of that plane's rows."""
        span = self.in_span(n, oh0, th)
        if not span:
            return {}
        lo, hi = span[self.x_res]
        npos = self.ly.n * self.ly.h * self.ly.w
        cbs = list(cbs) if cbs is not None else [0, self.res_in.blocks - 1]
        return {self.res_in.data_res: (min(cbs) * npos + lo, max(cbs) * npos + hi)}

    def kpos(self, ks) -> dict:
        """Weight block -> its input plane (resident: the channel block's plane)."""
        if self.res_in is not None:
            return {k: self.ly.kblocks[k][2] for k in ks}
        return {k: j for j, k in enumerate(ks)}

    # one LD group: the inputs of a tile for the weight blocks `ks` (order = rows in the slot)
    def load_inputs(self, tile, ks):
        n, oh0, th, ow0, tw = tile
        if self.res_in is not None:  # resident (flat): the tile's rows are where they are
            return self.res_in.base + oh0 * self.ly.w + ow0, self.res_in.data_res
        base, res = self.slots.next("INP")
        g = self.b.group("ld", reads=[self.x_res], writes=[res], rows=self.in_span(n, oh0, th))
        p = th * tw
        for j, kb in enumerate(ks):
            for ins in input_loads(self.ly, self.x, self.d, kb, n, oh0, th, ow0, tw, base + j * p):
                g.add(ins)
        return base, res

    def load_weights(self, nbs, ks_of, slot=None):
        """ks_of(nb) -> weight block indices (into ly.kblocks) for that channel block; into the
        next weight half, or into ``slot`` = (first block, resource)."""
        base, res = slot or self.slots.next("WGT")
        g = self.b.group("ld", writes=[res])
        ly, d = self.ly, self.d
        off = {}
        pos = base
        for nb in nbs:
            ks = ks_of(nb)
            off[nb] = pos
            rel = ly.rel[nb]
            i0 = rel.index(ks[0])
            bb = d if ly.extra.get("diag") else d * d  # DRAM bytes per block
            g.add(make("LOAD", buf="WGT", sram=pos, dram=ly.wreg.addr + (ly.woff[nb] + i0) * bb,
                       rows=len(ks), stride=bb, cols=d if bb == d else 0,
                       note=f"w nb={nb} k={i0}..{i0 + len(ks) - 1}"))
            pos += len(ks)
        return off, res

    def gemms(self, tile, nbs, kpos, ks, inp, wgt_off, acc_base, reset, reads, acc_res):
        n, oh0, th, ow0, tw = tile
        p = th * tw
        stride = self.res_in.plane if self.res_in is not None else p
        rows = None
        if self.res_in is not None:
            rows = self.res_rows(n, oh0, th, {self.ly.kblocks[k][2] for k in ks})
        parts = self.acc_parts(nbs, acc_base, p, acc_res)
        g = None
        for i, nb in enumerate(nbs):
            ksn = [k for k in ks if k in set(self.ly.rel[nb])]
            if not ksn:
                continue
            if g is None or parts:   # one group per channel block: its STOREs wait for it only
                g = self.b.group("ex", reads=reads, writes=[parts[nb] if parts else acc_res], rows=rows)
            g.add(make("GEMM", reset=int(reset), acc=acc_base + i * p, inp=inp + kpos[ksn[0]] * stride,
                       wgt=wgt_off[nb], rows=p, kblocks=len(ksn), inp_kstride=stride, wgt_kstride=1,
                       note=f"nb={nb} k={len(ksn)} rows={p}"))
        return parts

    def acc_parts(self, nbs, acc_base: int, p: int, acc_res) -> dict:
        """{channel block: its accumulator rows as a resource} when a chunk holds several
        channel blocks (else empty): their GEMMs form one group each, and the STOREs of a block
        wait only for its own GEMMs, so the first block's STOREs (into the next layer's input
        buffer) run while the array computes the next block instead of after the last one."""
        if len(nbs) < 2 or not (isinstance(acc_res, tuple) and acc_res[0] == "ACC"):
            return {}
        return {nb: ("ACC", acc_base + i * p, acc_base + (i + 1) * p) for i, nb in enumerate(nbs)}

    def chunk_params(self, nbs):
        """(PARAM row, resource) of the channel chunk ``nbs``: inside the layer's resident
        parameters when they were loaded once, else a LOAD of the chunk's rows."""
        if self.all_params is not None:
            return self.all_params[0] + 3 * nbs[0], self.all_params[1]
        return self.params(nbs)

    def params(self, nbs, slot=None, ly=None):
        """A LOAD of the parameter rows of channel blocks ``nbs`` (of ``ly``, default this
        layer) into the next parameter half, or into ``slot`` = (row, resource)."""
        ly = ly or self.ly
        base, res = slot or self.slots.next("PARAM")
        g = self.b.group("ex", writes=[res])
        d = self.d
        g.add(make("LOAD", buf="PARAM", dtype="i32", sram=base, dram=ly.preg.addr + nbs[0] * 3 * d * 4,
                   rows=3 * len(nbs), cols=d, stride=d * 4,
                   note=f"params {'' if ly is self.ly else ly.name + ' '}nb={nbs[0]}..{nbs[-1]}"))
        return base, res

    def ring_params(self, ly, avoid=None):
        """(row, resource) of the whole parameters of ``ly``, loaded now into the next rows of
        the parameter buffer used as a ring (``Builder.param_ring``; an interval resource, so
        the LOAD waits only for the readers of the rows it overwrites, not of a whole half);
        None if they would overlap the rows ``avoid`` = (lo, hi)."""
        n = 3 * ly.nblocks
        lo = self.b.param_ring
        if lo + n > self.hw.param_rows:
            lo = 0
        if avoid is not None and lo < avoid[1] and avoid[0] < lo + n:
            return None
        self.b.param_ring = lo + n
        return self.params(list(range(ly.nblocks)), (lo, ("PARAM", lo, lo + n)), ly)

    def prefetch_params(self, nxts) -> None:
        """Load the whole parameters of ``nxts``, the next conv/linears of the segment, now,
        before this layer's GEMMs: the EX engine issues the LOADs while it waits for this
        layer's first inputs, instead of between the previous layer's last GEMM (after its
        drain) and the next layer's first, where they delayed every short layer.  Only when
        this layer's own parameters are one LOAD and each next layer's fit the ring without
        overwriting them (the second and later only without wrapping round, so that they do not
        overwrite the first's); a later write to those rows (a call in between that uses the
        parameter buffer) cancels it (``stream.Builder.prefetched``), and the layer then loads
        its own."""
        if self.all_params is None:
            return
        mine = self.all_params[1]
        for k, nxt in enumerate(nxts or ()):
            n = 3 * nxt.nblocks
            if nxt.name in self.b.prefetched or n > self.slots.cap["param"] or \
                    (k and self.b.param_ring + n > self.hw.param_rows):
                continue
            got = self.ring_params(nxt, avoid=(mine[1], mine[2]))
            if got is not None:   # until a write to these rows cancels it (stream.Builder)
                self.b.prefetched[nxt.name] = got

    def one_half(self, nbs, kset, tk):
        """The weight half (row, resource) that holds every K chunk of an output chunk when
        the layer is one tile, its K comes in several chunks and all their blocks fit one half,
        else None.  Each K chunk then loads into its own interval of that half, so its GEMMs
        wait only for its own LOAD, and the second chunk's LOAD does not wait for the GEMMs of
        the previous layer that read the other half (a short 1x1 conv can multiply the first
        input plane while its producer still computes or stores the second)."""
        ly = self.ly
        if len(kset) <= tk or ly.n * ly.oh * ly.ow > self.tile_positions:
            return None
        blocks = sum(len([k for k in kset if k in set(ly.rel[nb])]) for nb in nbs)
        return self.slots.next("WGT") if blocks <= self.slots.cap["wgt"] else None

    # -- one output chunk of one tile -------------------------------------------------------
    def chunk(self, tile, nbs, kset, tk, shared_inp=None, shared_wgt=None):
        p_base, p_res = self.chunk_params(nbs)
        acc_base, acc_res = self.slots.next("ACC")
        half = self.one_half(nbs, kset, tk) if shared_wgt is None else None
        at = half[0] if half else 0
        for k0 in range(0, len(kset), tk):
            ks = kset[k0:k0 + tk]

            def ks_of(nb, ks=ks):
                return [k for k in ks if k in set(self.ly.rel[nb])]
            # weights first: they depend on no earlier layer, so the LD engine fetches them
            # while the inputs are still being written
            if shared_wgt is not None:
                woff, w_res = shared_wgt
            elif half:   # this K chunk's blocks in their own interval of the chunk's half
                size = sum(len(ks_of(nb)) for nb in nbs)
                woff, w_res = self.load_weights(nbs, ks_of, (at, ("WGT", at, at + size)))
                at += size
            else:
                woff, w_res = self.load_weights(nbs, ks_of)
            if callable(shared_inp):
                shared_inp = shared_inp()
            if shared_inp is not None:
                inp, inp_res, kpos = shared_inp
            else:
                inp, inp_res = self.load_inputs(tile, ks)
                kpos = self.kpos(ks)
            parts = self.gemms(tile, nbs, kpos, ks, inp, woff, acc_base, k0 == 0, [inp_res, w_res],
                               acc_res)
        self.store(tile, nbs, acc_base, acc_res, p_base, p_res, parts)


def _own_rows(reg: Region, rows: int) -> bool:
    """The region is its own buffer (not a view) whose rows are the layer's positions."""
    return reg.rows == rows and (reg.root_shape is None or tuple(reg.root_shape) == tuple(reg.shape))


def emit_gemm(ly: GemmLayer, t: Tiling, xreg: Region, yreg: Region, hw: HwConfig, b: Builder,
              x_res, y_res, out_spec=None, prefetch=None) -> None:
    """Emit layer ``ly`` with tiling ``t``; ``out_spec``: the next layer's resident region that
    the STOREs fill (resident.py); ``ly.extra["resident_in"]``: this layer's own; ``prefetch``:
    the next conv/linears whose parameters this layer loads (``_Emitter.prefetch_params``)."""
    e = _Emitter(ly, xreg, yreg, hw, b, x_res, y_res, out_spec, t.bufs)
    e.tile_positions = t.th * t.tw
    if hw.param_prefetch:
        e.prefetch_params(prefetch)
    _emit_order(e, ly, t)
    if out_spec is not None:
        # the resident region's padding rows (LD, no DRAM bytes) after the layer's own loads:
        # they touch no row the layer's STOREs write, and only the next layer reads them, so
        # they do not hold up the loads of the layer's later tiles (before the first STORE
        # they delayed the second tile of a two-tile stem by their LD cycles)
        from .resident import emit_pads
        emit_pads(e, out_spec)
    b.slot_phase = e.slots.next_phase()


def place_weights(ly: GemmLayer, order: str, plan) -> None:
    """Place in the DRAM image the one weight form that the chosen schedule ``order`` reads
    (prepare only reserves them, ``DramPlan.lazy_const``): the packed taps (``pack``, ``pkw``),
    the im2col rows (``pim``) or the plain blocks (every other order); the other forms take no
    DRAM."""
    if order in ("pack", "pkw"):
        ly.extra["pack"] = dict(ly.extra["pack"], reg=plan.place(ly.extra["pack"]["reg"]))
    elif order == "pim":
        ly.extra["im2col"] = dict(ly.extra["im2col"], reg=plan.place(ly.extra["im2col"]["reg"]))
    else:
        ly.wreg = plan.place(ly.wreg)


def prefetch_before(b: Builder, hw: HwConfig, nxts) -> None:
    """Load the whole parameters of ``nxts`` (the next conv/linears) now, in the parameter
    ring, for a layer that is no conv/linear: the global mean, whose first instruction waits
    for its producer's DRAM STORE (and DMA latency) anyway, issues them on the EX engine while
    it waits, instead of the conv/linear after it, right on its path (or the stem, in its EX
    engine's idle start, delaying its first GEMM).  Only without wrapping the ring round; a
    later write to those rows cancels it (``Builder.prefetched``)."""
    d = hw.dim
    for ly in nxts:
        n = 3 * ly.nblocks
        lo = b.param_ring
        if ly.name in b.prefetched or n > hw.param_rows // 2 or lo + n > hw.param_rows:
            continue
        b.param_ring = lo + n
        res = ("PARAM", lo, lo + n)
        b.group("ex", writes=[res]).add(make(
            "LOAD", buf="PARAM", dtype="i32", sram=lo, dram=ly.preg.addr, rows=n, cols=d,
            stride=d * 4, note=f"params {ly.name} nb=0..{ly.nblocks - 1}"))
        b.prefetched[ly.name] = (lo, res)


def _emit_order(e, ly: GemmLayer, t: Tiling) -> None:
    if t.order == "win":
        emit_window(e, t)
        return
    if t.order in ("pack", "pkw"):
        emit_pack(e, t)
        return
    if t.order == "pim":
        emit_im2col(e, t)
        return
    if t.order == "w2d":
        emit_loop2d(e, t)
        return
    chunks = list(_chunks(ly, t))
    whole = all(len(ks) <= t.tk for _, ks in chunks)
    if t.order == "sp":
        for tile in _tiles(ly, t):
            shared = None
            if whole and ly.group == 1 and len(chunks) > 1:
                ks = chunks[0][1]
                box = []

                def shared_load(tile=tile, ks=ks, box=box):  # after the first chunk's weights
                    if not box:
                        inp, res = e.load_inputs(tile, ks)
                        box.append((inp, res, e.kpos(ks)))
                    return box[0]
                shared = shared_load
            for nbs, kset in chunks:
                e.chunk(tile, nbs, kset, t.tk, shared_inp=shared)
        return
    for nbs, kset in chunks:
        shared = None
        if whole and len(list(_tiles(ly, t))) > 1:
            shared = e.load_weights(nbs, lambda nb: list(ly.rel[nb]))
        for tile in _tiles(ly, t):
            e.chunk(tile, nbs, kset, t.tk, shared_wgt=shared)


def _to_simulate(ly: GemmLayer, hw: HwConfig, max_sim: int, objective: str) -> list:
    """The candidate tilings ``choose_tiling`` simulates: the best few of each schedule
    family under a cheap pre-ranking (the extra families only for ``objective="total"``)."""
    cands = candidates(ly, hw)
    # cheap pre-ranking: fewer DRAM loads first (bigger tiles, reuse), then simulate the best few
    def est(t: Tiling):
        tiles = len(list(_tiles(ly, t)))
        nch = -(-ly.nblocks // t.nb)
        kmax = max(len(r) for r in ly.rel)
        kch = -(-kmax // t.tk)
        inp_loads = tiles * (1 if (kch == 1 and ly.group == 1 and t.order == "sp") else nch)
        w_loads = nch * (1 if (kch == 1 and t.order == "wt") else tiles)
        return inp_loads * t.th * t.tw * kmax + w_loads * t.nb * kmax * hw.dim, -t.th * t.tw
    cands.sort(key=est)
    basic = [t for t in cands if not t.extra]
    # the extra schedules (K split, padded window) are simulated besides the best basic
    # ones; the SCALE-Sim comparison (objective "compute") keeps to the basic folds
    extra = [t for t in cands if t.extra and t.order not in ("pack", "pkw", "pim", "w2d")] \
        if objective == "total" else []
    # the packed-taps tilings keep their own order (most positions per tile first)
    pack = sorted((t for t in cands if t.order in ("pack", "pkw")),
                  key=lambda t: (-t.th * t.tw, -t.nb, t.order != "pkw", t.bufs)) \
        if objective == "total" else []
    # the im2col-row tilings (ISA v9) besides them, most positions per tile first
    pim = sorted((t for t in cands if t.order == "pim"),
                 key=lambda t: (-t.th * t.tw, -t.nb, t.bufs)) if objective == "total" else []
    # the two-level window tilings: most positions and channel blocks per tile first; those
    # with K split by kernel rows besides the best few whole-K ones
    w2d = sorted((t for t in cands if t.order == "w2d"),
                 key=lambda t: (-t.th * t.nb, -t.th, -t.tk)) if objective == "total" else []
    w2d = [t for t in w2d if not t.split][:max(2, max_sim // 2)] + \
        [t for t in w2d if t.split][:max(2, max_sim // 4)]
    extra = extra[:max_sim] + pack[:max(2, max_sim)] + pim[:max(2, max_sim // 2)] + w2d
    return (basic[:max_sim] + extra) or cands[:max_sim]


def new_builder(hw: HwConfig) -> Builder:
    """An empty stream builder with this configuration's slot halves and FIFO depth (the trial
    streams of the tile search and of the global mean's schedule, lower_mean)."""
    return Builder(inp_half=hw.inp_rows // 2, fifo_depth=hw.fifo_depth, acc_half=hw.acc_rows // 2,
                   wgt_half=hw.wgt_blocks // 2, param_half=hw.param_rows // 2)


def choose_tiling(ly: GemmLayer, xreg: Region, yreg: Region, hw: HwConfig,
                  max_sim: int = 16, objective: str = "total", before=None,
                  out_spec=None, ranked: list | None = None,
                  only: list | None = None, prefetch=None) -> tuple[Tiling, int, list]:
    """The candidate tiling with the fewest simulated cycles (and the table of all tried;
    ``ranked`` receives ``(cycles, i, tiling)`` of every candidate simulated; ``only``: simulate
    just these tilings instead of the ranked candidates).

    ``objective="compute"`` minimises the array's GEMM cycles instead (ties: total cycles);
    the SCALE-Sim comparison uses it to compare array models under the same folds."""
    from .timing import gemm_cycles, simulate

    todo = list(only) if only is not None else _to_simulate(ly, hw, max_sim, objective)
    tried = []
    best = None
    for t in todo:
        b = new_builder(hw)
        if before is not None:  # the producing layer first: the tiling that overlaps it best
            before(b)
        emit_gemm(ly, t, xreg, yreg, hw, b, ("DRAM", "x"), ("DRAM", "y"), out_spec, prefetch)
        prog, _ = b.finalize()   # tokens bounded by the FIFO depth: never deadlocks
        cyc = simulate(prog, hw).total
        tried.append((t.describe(), cyc))
        if ranked is not None:
            ranked.append((cyc, len(ranked), t))
        key = (cyc,) if objective == "total" else \
            (sum(gemm_cycles(i.f["rows"], i.f["kblocks"], hw) for i in prog if i.op == "GEMM"), cyc)
        if best is None or key < best[2]:
            best = (t, cyc, key)
    return best[0], best[1], tried
