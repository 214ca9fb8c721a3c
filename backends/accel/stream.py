"""Building instruction streams with dependency tokens derived from resource use.

The lowering appends *groups* of instructions to one engine and declares which
resources (a buffer slot, a DRAM tensor) each group reads and writes.  A
tracker turns that into waits (RAW, WAR, WAW) on groups of other engines;
``finalize`` keeps, per FIFO, only the waits that are not already implied by an
earlier one (the engines run in order), and sets the pop flag on the waiting
group's first instruction that is not a CONFIG (a register write touches no buffer, so it
issues ahead of the data) and the push flag on the awaited group's last, so
every push has exactly one pop in the same order.  LD and ST wait for each other
through the FIFOs that close the ring (ST -> LD, LD -> ST).

Bounded FIFOs (``fifo_depth``): a push waits for a free slot, so an engine that runs ahead
can block on a full FIFO while the engine that would pop it waits, in its own program
order, for something behind that push: a deadlock.  Every token goes forward in group
order (a group waits only for earlier groups), so executing the groups one by one in that
order is a valid schedule *if* no FIFO ever holds more than ``fifo_depth`` tokens on the
way; then the engines can never deadlock (the first unexecuted group of that order can
always issue).  ``finalize`` enforces exactly that bound: when a push would exceed it,
the latest waiting token's pop is moved to the new push (that waiter waits a little longer:
for a later group of the same engine, which implies the one it needed), and the new push's
own waiter, now implied by it, pops nothing.  Without it, a consumer whose tiles each wait
for a different store of a producer with many small tiles deadlocked: those ST -> LD
tokens are popped only by loads that come after all of the producer's loads, which wait
(buffer halves) for the producer's GEMMs, which wait (accumulator halves) for its stores.

A group may read or write only an interval of a DRAM tensor's rows (``rows=``): a
read of rows ``[lo, hi)`` waits only for the latest partial write that overlaps them
(or, when none does, for the last whole write), so the next layer's first tile can
load while the current layer still stores its last ones.  A partial write waits like
a whole write and becomes the tensor's last writer, so whole reads wait for it.  An
interval may also name the lanes it touches (``(lo, hi, lane_lo, lane_hi)``): a read of
one channel block of a channels-last tensor then does not wait for a partial write of
another block of the same positions (a fused residual add written in place, block by block,
over the residual it reads).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .isa import Instr, make

# (waiting engine, awaited engine) -> (pop flag of the waiter, push flag of the awaited)
_FLAGS = {("ld", "ex"): ("pop_next", "push_prev"), ("ex", "ld"): ("pop_prev", "push_next"),
          ("ex", "st"): ("pop_next", "push_prev"), ("st", "ex"): ("pop_prev", "push_next"),
          ("ld", "st"): ("pop_prev", "push_next"), ("st", "ld"): ("pop_next", "push_prev")}


@dataclass
class Group:
    engine: str
    seq: int                     # creation index among all groups
    layer: int
    instrs: list = field(default_factory=list)
    waits: list = field(default_factory=list)

    def add(self, ins: Instr) -> Instr:
        if ins.engine != self.engine:
            raise ValueError(f"{ins.op} belongs to the {ins.engine} engine, not {self.engine}")
        self.instrs.append(ins)
        return ins


def nop(engine: str, note: str = "") -> Instr:
    if engine == "ld":
        return make("LOAD", buf="INP", note=note or "nop")
    if engine == "st":
        return make("STORE", mode="raw", dtype="i32", note=note or "nop")
    return make("ALU", alu_op="ADD", use_imm=1, note=note or "nop")


def _span(r, halves: dict):
    """(buffer, lo, hi, tag) of an input-buffer, accumulator or weight resource: a slot half
    ``(buf, k)`` (rows of ``halves[buf]``), an interval ``(buf, lo, hi)`` (a slot of four, a
    layer's slot beside a resident region, the weights of one K chunk inside a half) or a
    resident region's part ``("INP", lo, hi, tag)``."""
    if not (isinstance(r, tuple) and r and r[0] in ("INP", "ACC", "WGT", "PARAM")):
        return None
    if len(r) == 2:
        h = halves.get(r[0])
        return None if h is None else (r[0], r[1] * h, (r[1] + 1) * h, None)
    return r[0], r[1], r[2], (r[3] if len(r) > 3 else None)


_ALL_LANES = (0, 1 << 62)


def _lanes(span) -> tuple:
    """``(lo, hi, lane_lo, lane_hi)`` of a DRAM row interval (all lanes when not given)."""
    return tuple(span) if len(span) == 4 else (*span, *_ALL_LANES)


def _meets(span, part) -> bool:
    """Whether a read of ``span`` touches the partial write ``part`` (rows and lanes)."""
    lo, hi, l0, l1 = _lanes(span)
    return part[0] < hi and lo < part[1] and part[2] < l1 and l0 < part[3]


def _overlap(a, b) -> bool:
    if a[0] != b[0]:
        return False
    if (a[1], a[2]) == (b[1], b[2]) and a[3] and b[3] and a[3] != b[3]:
        return False   # the data and padding rows of one resident region are disjoint
    return a[1] < b[2] and b[1] < a[2]


class Builder:
    def __init__(self, inp_half: int | None = None, fifo_depth: int | None = None,
                 acc_half: int | None = None, wgt_half: int | None = None,
                 param_half: int | None = None):
        # rows of an input-buffer / accumulator / parameter slot half ("INP", k) / ("ACC", k) /
        # ("PARAM", k), blocks of a weight half ("WGT", k)
        self.halves = {"INP": inp_half, "ACC": acc_half, "WGT": wgt_half, "PARAM": param_half}
        self._inp: dict = {}         # buffer-row resources seen -> (buffer, lo, hi, tag)
        self.fifo_depth = fifo_depth  # None: unbounded FIFOs (no token bound at render time)
        self.groups: list[Group] = []
        self.layer = 0
        self._writer: dict = {}
        self._readers: dict = {}
        self.also_write: dict = {}   # resource -> resources a write to it also overwrites
        self.prefetched: dict = {}   # layer name -> (PARAM row, resource) loaded ahead of it
        self.param_ring = 0          # the next row of the parameter ring (gemm_emit)
        self._parts: dict = {}       # resource -> [(lo, hi, group)] partial writes since the
        self._base: dict = {}        # last whole write (its group in _base)

    def _read_waits(self, r, span) -> list:
        parts = self._parts.get(r)
        if span is None or not parts:
            w = self._writer.get(r)
            return [] if w is None else [w]
        hit = [p[-1] for p in parts if _meets(span, p)]
        if hit:
            return [max(hit, key=lambda g: g.seq)]
        w = self._base.get(r)
        return [] if w is None else [w]

    def group(self, engine: str, reads=(), writes=(), rows=None) -> Group:
        """A group of ``engine`` reading and writing resources; ``rows`` maps a DRAM resource
        to the interval of its rows that this group reads or writes (default: all), as
        ``(lo, hi)`` (every lane of those rows) or ``(lo, hi, lane_lo, lane_hi)`` (only those
        lanes: the channel blocks of a tile whose STOREs write one block of an interleaved
        channels-last tensor)."""
        rows = rows or {}
        writes = list(writes) + [x for r in writes for x in self.also_write.get(r, ())]
        near = self._inp_overlaps(list(reads) + writes, writes)
        waits = []
        for r in reads:
            waits.extend(self._read_waits(r, rows.get(r)))
        for r in writes + near:  # WAW and WAR, also on the other resources of those rows
            w = self._writer.get(r)
            if w is not None:
                waits.append(w)
            waits.extend(self._readers.get(r, {}).values())
        g = Group(engine, len(self.groups), self.layer, [], [h for h in waits if h.engine != engine])
        self.groups.append(g)
        if self.prefetched:
            self._cancel_prefetch(writes)
        for r in reads:
            self._readers.setdefault(r, {})[engine] = g
        for r in writes:
            self._writer[r] = g
            self._readers[r] = {}
            if r in rows:
                self._parts.setdefault(r, []).append((*_lanes(rows[r]), g))
            else:
                self._base[r] = g
                self._parts[r] = []
        return g

    def _cancel_prefetch(self, writes) -> None:
        """Forget every prefetched layer's parameters (``prefetched``: layer name -> (row,
        resource)) whose rows a write overlaps: that layer then loads its own."""
        spans = [sp for sp in (_span(r, self.halves) for r in writes) if sp is not None]
        for name, (_, res) in list(self.prefetched.items()):
            mine = _span(res, self.halves)
            if any(_overlap(mine, sp) for sp in spans):
                del self.prefetched[name]

    def _inp_overlaps(self, seen, writes) -> list:
        """Input-buffer resources that overlap a written one (slot halves of different sizes,
        resident regions): the write also waits for their last writer and readers."""
        for r in seen:
            if r not in self._inp:
                sp = _span(r, self.halves)
                if sp is not None:
                    self._inp[r] = sp
        out = []
        for r in writes:
            sp = self._inp.get(r)
            if sp is not None:
                out += [o for o, so in self._inp.items()
                        if o != r and o not in writes and o not in out and _overlap(sp, so)]
        return out

    def finalize(self) -> tuple[list[Instr], list[int]]:
        """(instructions in program order, layer index of each)."""
        order = sorted(self.groups, key=lambda g: g.seq)
        for g in order:
            if g.engine == "ld":
                g.instrs = merge_outer(g.instrs)
            elif g.engine == "st":
                g.instrs = merge_outer(g.instrs, "STORE")
            if not g.instrs:
                g.instrs.append(nop(g.engine))
        drop_repeated_configs(order)
        pairs = _bound_tokens(self._token_pairs(order), self.fifo_depth)
        for key, lst in pairs.items():
            pop, push = _FLAGS[key]
            for h, w in lst:
                _flag(_first_work(self.groups[w].instrs), pop)
                _flag(self.groups[h].instrs[-1], push)
        prog, tags = [], []
        for g in order:
            prog.extend(g.instrs)
            tags.extend([g.layer] * len(g.instrs))
        return prog, tags


    @staticmethod
    def _token_pairs(order) -> dict:
        """(waiting engine, awaited engine) -> [(pushing group seq, popping group seq)] in
        order: per waiter only its latest wait on each engine, and only if no earlier waiter
        of its engine already waited for that group or a later one (engines run in order)."""
        last: dict = {}
        pairs: dict = {}
        for g in order:
            best: dict = {}
            for h in g.waits:
                if h.seq > best.get(h.engine, -1):
                    best[h.engine] = h.seq
            for src, seq in best.items():
                key = (g.engine, src)
                if seq <= last.get(key, -1):
                    continue
                last[key] = seq
                pairs.setdefault(key, []).append((seq, g.seq))
        return pairs


def _bound_tokens(pairs: dict, depth: int | None) -> dict:
    """The token pairs of each FIFO with at most ``depth`` tokens in flight when the groups
    run one by one in order (see the module docstring).  Sweeping the pushes in order, a
    push that finds ``depth`` tokens not yet popped by the time it runs takes over the pop of
    the latest of them (that waiter runs after this push and waits for a later group of the
    same engine, which implies the one it waited for); the push's own waiter comes after that
    one, so its wait is implied and it pops nothing."""
    if not depth:
        return pairs
    out = {}
    for key, lst in pairs.items():
        kept: list = []          # [push seq, pop seq]
        pending: list = []       # indices into kept: pushed, not yet popped, in order
        for h, w in lst:
            # the pops of groups before this push have run
            while pending and kept[pending[0]][1] < h:
                pending.pop(0)
            if len(pending) >= depth:
                kept[pending[-1]][0] = h   # the latest waiter waits for this push instead
                continue                   # and this push's waiter is implied by it
            kept.append([h, w])
            pending.append(len(kept) - 1)
        out[key] = [tuple(p) for p in kept]
    return out


def _same_but_addresses(a: Instr, b: Instr) -> bool:
    return b.op == a.op and not b.deps and all(b.f[k] == v for k, v in a.f.items()
                                                if k not in ("sram", "dram"))


def merge_outer(instrs: list, op: str = "LOAD") -> list:
    """ISA v4: each run of two or more LD-engine LOADs that differ only in their addresses,
    at constant non-negative DRAM and (positive) buffer-row steps, becomes CONFIG LOAD_OUTER
    + one ``outer`` LOAD (one DMA issue instead of one per LOAD; the same rows land).
    ISA v7, ``op = "STORE"``: the same for the STOREs of one ST group (positive accumulator-row
    steps, non-negative destination steps), with CONFIG STORE_OUTER."""
    reg = f"{op}_OUTER"
    out, i = [], 0
    while i < len(instrs):
        a = instrs[i]
        j = i + 1
        if a.op == op and a.engine in ("ld", "st") and not a.deps and not a.f.get("outer"):
            step = None
            while j < len(instrs) and _same_but_addresses(a, instrs[j]):
                d = (instrs[j].f["sram"] - instrs[j - 1].f["sram"],
                     instrs[j].f["dram"] - instrs[j - 1].f["dram"])
                if (step is None and (d[0] <= 0 or d[1] < 0)) or (step is not None and d != step):
                    break
                step = d
                j += 1
        if j - i < 2:
            out.append(a)
            i += 1
            continue
        out.append(make("CONFIG", reg=reg, a=j - i, b=step[1], d=step[0],
                        note=f"{j - i} copies, {'dst' if op == 'STORE' else 'dram'} +{step[1]}, "
                             f"rows +{step[0]}"))
        out.append(Instr(op, dict(a.f, outer=1), (), f"{a.note} (x{j - i})"))
        i = j
    return out


def drop_repeated_configs(groups: list) -> None:
    """Drop each CONFIG that writes a register the value it already holds: the last CONFIG
    of that register before it in program order (every register belongs to one engine, which
    runs in program order, and keeps its value until the next CONFIG of it) wrote the same
    fields.  A tile's STORE_OUTER or LOAD_OUTER repeated for every tile of the same shape,
    a layer's CLAMP equal to the previous layer's, cost their engine a cycle each.  VERSION is
    kept (it states what the stream needs), and so is a CONFIG that is the last instruction of
    its group (it may carry the group's push)."""
    held: dict = {}
    for g in groups:
        keep = []
        for k, ins in enumerate(g.instrs):
            if ins.op == "CONFIG" and ins.f["reg"] != "VERSION":
                val = (ins.f["a"], ins.f["b"], ins.f["c"], ins.f["d"])
                if held.get(ins.f["reg"]) == val and not ins.deps and k < len(g.instrs) - 1:
                    continue
                held[ins.f["reg"]] = val
            keep.append(ins)
        g.instrs = keep


def _first_work(instrs: list) -> Instr:
    """The instruction of a group that pops its tokens: the first that is not a CONFIG (a
    register write reads no buffer, so it issues before the data it does not touch), or the
    first when all are."""
    return next((i for i in instrs if i.op != "CONFIG"), instrs[0])


def _flag(ins: Instr, name: str) -> None:
    if name not in ins.deps:
        ins.deps = tuple(d for d in ("pop_prev", "pop_next", "push_prev", "push_next")
                         if d in ins.deps or d == name)
