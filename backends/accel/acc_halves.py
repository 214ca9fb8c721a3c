"""The two halves of the accumulator taken in turn by the row-wise lowerings (pooling, the
nonlinear ops, data movement, the bilinear resize): while the ST engine stores one half, the EX engine fills
the other (docs/target_accel.md §6, double buffering through the tokens)."""

from __future__ import annotations


class AccHalves:
    def __init__(self, ctx):
        self.ctx = ctx
        self.d = ctx.hw.dim
        self.half = ctx.hw.acc_rows // 2
        self.aslot = 0

    def _slot(self):
        """(first accumulator row, resource) of the next half."""
        k = self.aslot % 2
        self.aslot += 1
        return k * self.half, ("ACC", k)
