"""A transposed convolution as stride-1 convolutions, one per output phase.

Output row ``oy`` of a ConvTranspose (stride ``s``, dilation ``d``, kernel ``k``, leading
pad ``p``) sits at row ``f = oy + p`` of the uncropped output, which input row ``i`` reaches
through tap ``u`` when ``f = i*s + u*d``.  The rows of one phase ``a = f mod s`` (every
``s``-th output row) take the taps ``u`` with ``u*d = a (mod s)`` only, an arithmetic
progression ``u0, u0 + L, ...`` (``L = s / gcd(s, d)``) whose input rows step by
``D = d / gcd(s, d)``: read backwards it is an ordinary correlation of the input with
stride 1, dilation ``D`` and a leading pad, written to every ``s``-th output row.  Along both
axes that makes ``sh*sw`` small convolutions with no scatter and no wasted multiply
(a 2x2 stride-2 upsampling: four pointwise GEMMs); a phase without taps is the bias alone.

:func:`phase_table` gives the geometry of every phase and :func:`phase_weights` its weight
rows ``[M, C/group * kh_p * kw_p]`` in the order ``qcc.conv2d`` reads; the C kernel
(``kernels/conv_transpose2d.c``) runs each phase through the conv2d kernels and interleaves
the results.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .kernels import ConvGeometry

FIELDS = 12  # int32 per phase in the table: == QCC_CONVT_FIELDS (kernels/conv_transpose2d.h)


@dataclass(frozen=True)
class AxisPhase:
    """One phase along one axis: output rows ``first, first + s, ...`` (``count`` of them),
    input taps ``taps`` (ascending) read with dilation ``dil`` from leading pad ``pad``."""

    first: int
    count: int
    taps: tuple
    dil: int
    pad: int


def axis_phases(s: int, d: int, k: int, p: int, out: int) -> list[AxisPhase]:
    """The ``s`` phases of one axis (stride ``s``, dilation ``d``, kernel ``k``, leading pad
    ``p``, ``out`` output rows)."""
    res = []
    for a in range(s):
        first = (a - p) % s                  # the first output row with (oy + p) % s == a
        count = max(0, (out - first + s - 1) // s)
        y0 = (first + p - a) // s            # its row in the phase grid
        taps = tuple(u for u in range(k) if (u * d - a) % s == 0)
        if not taps:
            res.append(AxisPhase(first, count, (), 1, 0))
            continue
        t0 = (taps[0] * d - a) // s
        dil = (taps[1] - taps[0]) * d // s if len(taps) > 1 else 1
        res.append(AxisPhase(first, count, taps, dil, t0 + (len(taps) - 1) * dil - y0))
    return res


def phases(g: ConvGeometry) -> list[tuple[AxisPhase, AxisPhase]]:
    """Every (row phase, column phase) pair, row phases outer."""
    rows = axis_phases(g.sh, g.dh, g.kh, g.pt, g.oh)
    cols = axis_phases(g.sw, g.dw, g.kw, g.pl, g.ow)
    return [(r, c) for r in rows for c in cols]


def supported(g: ConvGeometry) -> bool:
    """Whether every phase is a convolution with pads >= 0 (pads larger than the kernel's
    reach crop more than a phase's leading pad covers: the kernel then scatters)."""
    return all(r.pad >= 0 and c.pad >= 0 for r, c in phases(g))


def conv_geometry(g: ConvGeometry, r: AxisPhase, c: AxisPhase) -> ConvGeometry:
    """The stride-1 convolution of one phase over one image (n = 1)."""
    return ConvGeometry(1, g.c, g.h, g.w, g.m, r.count, c.count, len(r.taps), len(c.taps), 1, 1,
                        r.dil, c.dil, r.pad, c.pad, g.group)


def phase_weights(w: np.ndarray, g: ConvGeometry, r: AxisPhase, c: AxisPhase) -> np.ndarray:
    """Rows ``[M, C/group, kh_p, kw_p]`` of one phase from the ConvTranspose weight
    ``[C, M/group, kH, kW]``: output channel ``o`` of group ``o // (M/group)``, its taps
    reversed (the phase reads its input rows upwards)."""
    cg, mg = g.c // g.group, g.m // g.group
    wm = np.asarray(w).reshape(g.group, cg, mg, g.kh, g.kw).transpose(0, 2, 1, 3, 4)
    wm = wm.reshape(g.m, cg, g.kh, g.kw)
    return wm[:, :, list(r.taps[::-1])][:, :, :, list(c.taps[::-1])]


def phase_table(g: ConvGeometry, w: np.ndarray, block) -> tuple[np.ndarray, np.ndarray, list]:
    """(int32 table ``[phases, FIELDS]``, int8 weight rows of all phases back to back, the
    conv2d scratch bytes of each phase).  Per phase: first output row and column, phase rows
    and columns, kernel rows and columns, dilations, pads, the im2col block and the offset of
    its weight rows.  ``block(geometry)`` returns (im2col block, scratch bytes) of a conv2d."""
    table, rows, scratch, off = [], [], [], 0
    for r, c in phases(g):
        pg = conv_geometry(g, r, c)
        live = bool(r.taps and c.taps and r.count and c.count)
        pb, sb = block(pg) if live else (0, 0)
        table.append([r.first, c.first, r.count, c.count, len(r.taps), len(c.taps), r.dil,
                      c.dil, r.pad, c.pad, pb, off])
        scratch.append(sb)
        if live:
            wp = phase_weights(w, g, r, c).reshape(-1)
            rows.append(wp)
            off += wp.size
    data = np.concatenate(rows) if rows else np.zeros(1, np.int64)
    return np.asarray(table, np.int32).reshape(-1, FIELDS), data.astype(np.int8), scratch
