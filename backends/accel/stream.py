"""Building instruction streams with dependency tokens derived from resource use.

The lowering appends *groups* of instructions to one engine and declares which
resources (a buffer slot, a DRAM tensor) each group reads and writes.  A
tracker turns that into waits (RAW, WAR, WAW) on groups of other engines;
``finalize`` keeps, per FIFO, only the waits that are not already implied by an
earlier one (the engines run in order), and sets the pop flag on the waiting
group's first instruction and the push flag on the awaited group's last, so
every push has exactly one pop in the same order.  Waits between LD and ST,
which share no FIFO, go through a no-op EX group.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .isa import Instr, make

# (waiting engine, awaited engine) -> (pop flag of the waiter, push flag of the awaited)
_FLAGS = {("ld", "ex"): ("pop_next", "push_prev"), ("ex", "ld"): ("pop_prev", "push_next"),
          ("ex", "st"): ("pop_next", "push_prev"), ("st", "ex"): ("pop_prev", "push_next")}


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


class Builder:
    def __init__(self):
        self.groups: list[Group] = []
        self.layer = 0
        self._writer: dict = {}
        self._readers: dict = {}
        self.also_write: dict = {}   # resource -> resources a write to it also overwrites
        self._syncs: dict = {}       # awaited engine -> (seq awaited, EX sync group)

    def group(self, engine: str, reads=(), writes=()) -> Group:
        writes = list(writes) + [x for r in writes for x in self.also_write.get(r, ())]
        waits = []
        for r in reads:
            w = self._writer.get(r)
            if w is not None:
                waits.append(w)
        for r in writes:
            w = self._writer.get(r)
            if w is not None:
                waits.append(w)
            waits.extend(self._readers.get(r, {}).values())
        direct = []
        for h in waits:  # LD<->ST waits go through a no-op EX group created first
            if h.engine == engine:
                continue
            if (engine, h.engine) not in _FLAGS:
                prev = self._syncs.get(h.engine)
                if prev is not None and prev[0] >= h.seq:
                    h = prev[1]  # an existing sync already waited for h (or a later group)
                else:
                    sync = Group("ex", len(self.groups), self.layer, [nop("ex", "sync ld<->st")], [h])
                    self.groups.append(sync)
                    self._syncs[h.engine] = (h.seq, sync)
                    h = sync
            direct.append(h)
        g = Group(engine, len(self.groups), self.layer, [], direct)
        self.groups.append(g)
        for r in reads:
            self._readers.setdefault(r, {})[engine] = g
        for r in writes:
            self._writer[r] = g
            self._readers[r] = {}
        return g

    def finalize(self) -> tuple[list[Instr], list[int]]:
        """(instructions in program order, layer index of each)."""
        order = sorted(self.groups, key=lambda g: g.seq)
        for g in order:
            if not g.instrs:
                g.instrs.append(nop(g.engine))
        last: dict = {}
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
                pop, push = _FLAGS[key]
                h = self.groups[seq]
                _flag(g.instrs[0], pop)
                _flag(h.instrs[-1], push)
        prog, tags = [], []
        for g in order:
            prog.extend(g.instrs)
            tags.extend([g.layer] * len(g.instrs))
        return prog, tags


def _flag(ins: Instr, name: str) -> None:
    if name not in ins.deps:
        ins.deps = tuple(d for d in ("pop_prev", "pop_next", "push_prev", "push_next")
                         if d in ins.deps or d == name)
