"""ISA variants of the C kernels, bit for bit with the interpreter (docs/target_c.md "ISA
variants"): the Arm DSP paths (__ARM_FEATURE_DSP: SMLAD dot products over prepared columns,
pointwise convs as im2col GEMMs, depthwise tap pairs in registers, the SMLAL requant) under
QEMU's Cortex-M4, and the host build with -march=native (AVX2 / AVX-512 here), on cases
chosen to hit each path's bodies, tails and fallbacks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qcc import arith
from qcc.backends.c import arm
from qcc.ir import DType

from c_testlib import (Cases, add_global_avgpools, check_exact, check_exact_qemu,
                       edge_biases, needs_arm, needs_gcc)

pytestmark = needs_gcc


def _params(cs: Cases, m: int, small_shift: bool, relu: bool = False, bounds=None):
    # multipliers below 2^-1 give shifts >= 32 (the SMLAL path), above it shifts < 32
    mm, ss = cs.mult(m, 0.6, 4.0) if small_shift else cs.mult(m, 1e-5, 3e-2)
    y_zp = int(cs.rng.integers(-128, 128))
    attrs = {"x_zp": int(cs.rng.choice([-128, 127, int(cs.rng.integers(-128, 128))])), "y_zp": y_zp}
    if relu:
        attrs.update(act_min=y_zp, act_max=127)
    if bounds:
        attrs.update(act_min=bounds[0], act_max=bounds[1])
    return [mm, ss], attrs


def _conv(cs: Cases, n, c, hw, m, k, s, pads, group, small_shift=False, relu=False,
          wvals=None, acc_out=False, bounds=None):
    x = cs.rand_input((n, c, hw[0], hw[1]))
    shape = (m, c // group, k[0], k[1])
    wv = cs.rng.integers(-128, 128, shape) if wvals is None else cs.rng.choice(wvals, shape)
    w = cs.const(wv.astype(np.int8))
    b = cs.const(cs.rng.integers(-20000, 20000, m).astype(np.int32))
    ms, attrs = _params(cs, m, small_shift, relu, bounds)
    attrs.update(strides=list(s), dilations=[1, 1], pads=list(pads), group=group)
    if acc_out:
        ms, attrs = [], {k2: v for k2, v in attrs.items() if k2 not in ("y_zp", "act_min", "act_max")}
    cs.op("qcc.conv2d", [x, w, b] + ms, attrs)


def _dil_conv(cs: Cases):
    """A 3x3 conv with dilation 2 along the columns (the general im2col gather)."""
    x = cs.rand_input((1, 3, 9, 12))
    w = cs.const(cs.rng.integers(-128, 128, (5, 3, 3, 3)).astype(np.int8))
    b = cs.const(cs.rng.integers(-20000, 20000, 5).astype(np.int32))
    ms, attrs = _params(cs, 5, False)
    attrs.update(strides=[1, 1], dilations=[1, 2], pads=[1, 2, 1, 2], group=1)
    cs.op("qcc.conv2d", [x, w, b] + ms, attrs)


def _pt_conv(cs: Cases, c, hw, m, bias, relu=False):
    """A pointwise conv with one multiplier for all channels (per tensor), with or without
    a bias."""
    x = cs.rand_input((1, c) + hw)
    w = cs.const(cs.rng.integers(-128, 128, (m, c, 1, 1)).astype(np.int8))
    ms, attrs = _params(cs, 1, False, relu)
    b = cs.const(cs.rng.integers(-20000, 20000, m).astype(np.int32)) if bias else None
    attrs.update(strides=[1, 1], dilations=[1, 1], pads=[0, 0, 0, 0], group=1)
    cs.op("qcc.conv2d", [x, w, b] + ms, attrs)


def _narrow_conv(cs: Cases, c, hw, m, lo, hi):
    """A pointwise conv with activation bounds [lo, hi] narrower than int8."""
    x = cs.rand_input((1, c) + hw)
    w = cs.const(cs.rng.integers(-128, 128, (m, c, 1, 1)).astype(np.int8))
    b = cs.const(cs.rng.integers(-20000, 20000, m).astype(np.int32))
    ms, attrs = _params(cs, m, False)
    attrs.update(strides=[1, 1], dilations=[1, 1], pads=[0, 0, 0, 0], group=1, act_min=lo,
                 act_max=hi)
    cs.op("qcc.conv2d", [x, w, b] + ms, attrs)


def _linear(cs: Cases, lead, k, nn, small_shift=False, acc_out=False, **extra):
    x = cs.rand_input(lead + (k,))
    w = cs.const(cs.rng.integers(-128, 128, (k, nn)).astype(np.int8))
    b = cs.const(cs.rng.integers(-5000, 5000, nn).astype(np.int32))
    ms, attrs = _params(cs, nn, small_shift)
    attrs.update(extra)
    if acc_out:
        cs.op("qcc.linear", [x, w], {"x_zp": attrs["x_zp"]})
    else:
        cs.op("qcc.linear", [x, w, b] + ms, attrs)


def _border_dil_conv(cs: Cases):
    """A 3x2 conv with dilation 2 along the rows and pads on every side (border rows skipped)."""
    x = cs.rand_input((1, 4, 7, 9))
    w = cs.const(cs.rng.integers(-128, 128, (6, 4, 3, 2)).astype(np.int8))
    b = cs.const(cs.rng.integers(-20000, 20000, 6).astype(np.int32))
    ms, attrs = _params(cs, 6, False)
    attrs.update(strides=[1, 2], dilations=[2, 1], pads=[2, 1, 2, 1], group=1)
    cs.op("qcc.conv2d", [x, w, b] + ms, attrs)


def _depthwise_cases(cs: Cases) -> None:
    """The depthwise forms: every Arm DSP / Helium form, its edges and the table kernel."""
    # depthwise: 3x3 s1/s2, 5x5, odd kernel widths, channel multiplier, 1-channel first layer,
    # rows whose width is not a multiple of four, tiny planes, int32 outputs (portable)
    _conv(cs, 1, 6, (13, 11), 6, (3, 3), (1, 1), [1, 1, 1, 1], 6)
    _conv(cs, 2, 4, (16, 17), 8, (3, 3), (2, 2), [1, 0, 1, 1], 4, small_shift=True, relu=True)
    _conv(cs, 1, 3, (12, 12), 3, (5, 5), (1, 1), [2, 2, 2, 2], 3, wvals=[-128, 127])
    _conv(cs, 1, 2, (15, 14), 2, (3, 4), (3, 2), [0, 1, 1, 0], 2)
    _conv(cs, 1, 1, (20, 20), 5, (3, 3), (2, 2), [1, 1, 1, 1], 1)
    _conv(cs, 1, 4, (4, 4), 4, (5, 5), (1, 1), [2, 2, 2, 2], 4)
    _conv(cs, 1, 6, (8, 8), 6, (5, 5), (2, 2), [2, 2, 2, 2], 6)
    _conv(cs, 1, 3, (3, 3), 3, (3, 3), (2, 2), [1, 1, 1, 1], 3)
    _conv(cs, 1, 4, (9, 9), 4, (3, 3), (1, 1), [1, 1, 1, 1], 4, acc_out=True)
    # sixth round, the whole-plane 3x3 loops: odd widths over several rows (5-byte input rows:
    # the two-word copy), both bounds narrower than int8 (SSUB8 / SEL on each), one-column planes
    _conv(cs, 1, 4, (9, 5), 4, (3, 3), (1, 1), [1, 1, 1, 1], 4, bounds=(-50, 60))
    _conv(cs, 1, 3, (11, 7), 3, (3, 3), (2, 2), [1, 1, 1, 1], 3, bounds=(-100, 20))
    _conv(cs, 1, 2, (6, 1), 2, (3, 3), (1, 1), [1, 1, 1, 1], 2)
    # ... and the 5x5 rows in assembly: odd widths, both bounds narrow, one column, extremes
    _conv(cs, 1, 3, (7, 9), 3, (5, 5), (1, 1), [2, 2, 2, 2], 3, bounds=(-90, 50))
    _conv(cs, 1, 2, (9, 13), 2, (5, 5), (2, 2), [2, 2, 2, 2], 2, relu=True, wvals=[-128, 127])
    _conv(cs, 1, 2, (5, 1), 2, (5, 5), (1, 1), [2, 2, 2, 2], 2)
    # unequal strides (the forms step rows by the vertical stride, any)
    _conv(cs, 1, 3, (13, 9), 3, (3, 3), (2, 1), [1, 1, 1, 1], 3)
    _conv(cs, 1, 2, (11, 12), 2, (3, 3), (1, 2), [1, 1, 1, 1], 2, bounds=(-60, 70))
    _conv(cs, 1, 2, (14, 7), 2, (5, 5), (3, 1), [2, 2, 2, 2], 2)
    _edge_dw(cs, 3, 1, (6, 7), [2**31 - 1 - 9 * 128 * 255, -2**31 + 9 * 128 * 255, 5],
             [0.2, 2.0 ** -22.5, 0.9], 17, lo=-20, hi=100)  # 0.9: shift 31 (table kernel)
    _edge_dw(cs, 5, 2, (9, 11), [-2**31 + 25 * 128 * 255, 2**31 - 1 - 25 * 128 * 255],
             [2.0 ** -30, 0.9], -3)
    # the 5x5 quad form (horizontal stride 1, rows of 4, 7 or 8+ outputs): int32 edges over
    # three quads and a tail of three, the clamp on packed words, a vertical stride of 2
    _edge_dw(cs, 5, 1, (5, 11), [2**31 - 1 - 25 * 128 * 255, -2**31 + 25 * 128 * 255, 9],
             [2.0 ** -30, 0.9, 2.0 ** -12], 5)
    _conv(cs, 1, 3, (6, 8), 3, (5, 5), (1, 1), [2, 2, 2, 2], 3, bounds=(-70, 40))
    _conv(cs, 1, 2, (9, 16), 2, (5, 5), (2, 1), [2, 2, 2, 2], 2, relu=True)
    # the 3x3 2x2 form (strides 1 x 1, even output widths, two output rows per pass): odd
    # heights (the last row by the pair loop), both bounds narrow, a channel multiplier of 2
    # over two samples, small shifts mixed in (the table kernel's channels), planes of two rows
    # and two columns, one row (the pair loop), int32 edges over a row pair and an odd row
    _conv(cs, 1, 3, (7, 8), 3, (3, 3), (1, 1), [1, 1, 1, 1], 3, bounds=(-60, 45))
    _conv(cs, 2, 2, (6, 10), 4, (3, 3), (1, 1), [1, 1, 1, 1], 2, relu=True)
    _conv(cs, 1, 4, (8, 6), 4, (3, 3), (1, 1), [1, 1, 1, 1], 4, small_shift=True)
    _conv(cs, 1, 2, (2, 2), 2, (3, 3), (1, 1), [1, 1, 1, 1], 2)
    _conv(cs, 1, 2, (1, 8), 2, (3, 3), (1, 1), [1, 1, 1, 1], 2)
    _edge_dw(cs, 3, 1, (5, 6), [2**31 - 1 - 9 * 128 * 255, -2**31 + 9 * 128 * 255, 7],
             [2.0 ** -30, 0.7, 2.0 ** -12], 9, lo=-30, hi=80)
    # the 5x5 two-row form (inputs of at most two rows): even and odd widths, one-row inputs,
    # one output column, strides 2 and 1 x 2, both bounds narrow, a channel multiplier of 2,
    # pads of 4 (output rows whose window holds one input row, at the kernel's first or last
    # row), int32 edges with small shifts mixed in (0.9: the table kernel's channels)
    _conv(cs, 1, 3, (2, 12), 3, (5, 5), (1, 1), [2, 2, 2, 2], 3)
    _conv(cs, 1, 2, (2, 9), 2, (5, 5), (1, 1), [2, 2, 2, 2], 2, bounds=(-80, 60))
    _conv(cs, 1, 2, (1, 7), 2, (5, 5), (1, 1), [2, 2, 2, 2], 2, relu=True)
    _conv(cs, 1, 2, (1, 1), 2, (5, 5), (1, 1), [2, 2, 2, 2], 2)
    _conv(cs, 1, 2, (2, 11), 2, (5, 5), (2, 2), [2, 2, 2, 2], 2, wvals=[-128, 127])
    _conv(cs, 1, 2, (2, 10), 4, (5, 5), (1, 2), [4, 2, 4, 2], 2, bounds=(-50, 90))
    _edge_dw(cs, 5, 1, (2, 9), [2**31 - 1 - 25 * 128 * 255, -2**31 + 25 * 128 * 255, 3],
             [2.0 ** -30, 0.9, 2.0 ** -12], 5)
    _edge_dw(cs, 5, 2, (1, 10), [-2**31 + 25 * 128 * 255, 2**31 - 1 - 25 * 128 * 255],
             [2.0 ** -12, 2.0 ** -30], -7, lo=-40, hi=70)
    # rows of more than sixteen outputs (the Helium kernel's four vectors and a second pass)
    _conv(cs, 1, 3, (6, 21), 3, (3, 3), (1, 1), [1, 1, 1, 1], 3)
    _conv(cs, 1, 2, (5, 40), 2, (3, 3), (2, 2), [1, 1, 1, 1], 2, relu=True)
    # shifts >= 33 with activation bounds narrower than int8 (the SMULL/SSAT requant), a
    # wide kernel row with stride 3 (three input words per kernel row)
    _conv(cs, 1, 5, (9, 10), 5, (3, 3), (1, 1), [1, 1, 1, 1], 5, relu=True)
    _conv(cs, 1, 3, (11, 13), 3, (2, 7), (1, 3), [0, 3, 1, 2], 3)


def _gemm_cases(cs: Cases) -> None:
    """Pointwise and general convs: the DSP GEMMs and the im2col gathers."""
    # pointwise (the DSP build's im2col reroute): reductions of 3, 13, 16 and 40 channels,
    # output channel counts not a multiple of four, extreme weights, int32 outputs
    _conv(cs, 1, 13, (8, 9), 7, (1, 1), (1, 1), [0, 0, 0, 0], 1, wvals=[-128, -127, 127])
    _conv(cs, 1, 16, (9, 8), 16, (1, 1), (1, 1), [0, 0, 0, 0], 1, small_shift=True)
    _conv(cs, 2, 3, (11, 11), 5, (1, 1), (1, 1), [0, 0, 0, 0], 1, relu=True)
    _conv(cs, 1, 40, (5, 2), 6, (1, 1), (1, 1), [0, 0, 0, 0], 1)
    _conv(cs, 1, 8, (8, 8), 4, (1, 1), (1, 1), [0, 0, 0, 0], 2, acc_out=True)
    _conv(cs, 1, 36, (6, 6), 8, (1, 1), (1, 1), [0, 0, 0, 0], 1, relu=True)
    # general convs (im2col): K = 27, 45, groups
    _conv(cs, 1, 3, (10, 9), 9, (3, 3), (1, 1), [1, 1, 1, 1], 1)
    _conv(cs, 1, 10, (7, 7), 6, (3, 3), (2, 2), [1, 1, 0, 0], 2, small_shift=True)
    # the DSP 2x2 GEMM (two channels x two columns): an odd plane and an odd channel count
    # with narrow bounds and K % 4 == 1, grouped channels with odd counts per group
    _conv(cs, 1, 5, (7, 9), 7, (3, 3), (1, 1), [1, 1, 1, 1], 1, relu=True)
    _conv(cs, 1, 6, (5, 5), 6, (1, 1), (1, 1), [0, 0, 0, 0], 2, relu=True, small_shift=True)
    # the DSP 1x4 GEMM (one channel x four columns): planes of 4q + 1, 2, 3 positions with K %
    # 4 = 1, 2, 3 (the partial quad and the partial chunk), K < 4, and planes of fewer than four
    # positions (the scratch holds no quad: the four-channel fallback), pointwise and 3x3
    _conv(cs, 1, 6, (3, 7), 5, (1, 1), (1, 1), [0, 0, 0, 0], 1, relu=True)
    _conv(cs, 1, 7, (2, 5), 3, (1, 1), (1, 1), [0, 0, 0, 0], 1, wvals=[-128, 127])
    _conv(cs, 1, 2, (3, 3), 4, (1, 1), (1, 1), [0, 0, 0, 0], 1)
    _conv(cs, 1, 4, (1, 3), 5, (3, 3), (1, 1), [1, 1, 1, 1], 1)
    _conv(cs, 1, 9, (1, 2), 6, (1, 1), (1, 1), [0, 0, 0, 0], 1, relu=True)
    _conv(cs, 1, 2, (6, 6), 5, (3, 3), (2, 2), [1, 1, 1, 1], 1, small_shift=True, acc_out=True)
    # 3x3 convs whose scratch holds exactly one quad (the column gathered slot by slot) and
    # exactly two (one dropped for the natural-order column)
    _conv(cs, 1, 4, (2, 2), 3, (3, 3), (1, 1), [1, 1, 1, 1], 1)
    _conv(cs, 1, 4, (2, 4), 5, (3, 3), (1, 1), [1, 1, 1, 1], 1, relu=True)


def _first_layer_cases(cs: Cases) -> None:
    """First layers and im2col windows read by words (the fifth and eighth rounds' forms)."""
    # fifth round: one-input-channel first layers of 256 outputs or more (the DSP build's small-K
    # GEMM), 3x3 stride 1 and 5x5 stride 2 with an odd output count; im2col windows read by
    # whole words (kw 3, 5 and 7 with K % 4 = 1, 2, 3, dilation 2 along columns: the general
    # gather), the column-quad assembly loop with both bounds narrow (SSUB8 / SEL) and a
    # lower bound only, planes of 4q + 1..3 positions
    _conv(cs, 1, 1, (18, 15), 5, (3, 3), (1, 1), [1, 1, 1, 1], 1, relu=True)
    _conv(cs, 1, 1, (35, 33), 6, (5, 5), (2, 2), [2, 1, 2, 2], 1, small_shift=True)
    # eighth round: first layers on a zero-point-padded copy of the input, kernel rows of 3
    # or 4 taps repacked (3x3 stride 2 with an odd plane and asymmetric pads, 3x3 stride 1
    # with narrow bounds, 4x3 stride (2, 1), extreme weights; small shifts and int32 outputs:
    # channel by channel), other widths on the general gather (1x2, 2x7)
    _conv(cs, 1, 1, (33, 35), 7, (3, 3), (2, 2), [1, 0, 1, 1], 1, wvals=[-128, 127])
    _conv(cs, 1, 1, (17, 16), 6, (3, 3), (1, 1), [1, 1, 1, 1], 1, bounds=(-70, 90))
    _conv(cs, 1, 1, (36, 17), 5, (4, 4), (2, 1), [1, 2, 2, 1], 1, relu=True)
    _conv(cs, 1, 1, (16, 18), 4, (3, 3), (1, 1), [1, 1, 1, 1], 1, small_shift=True)
    _conv(cs, 1, 1, (16, 16), 3, (3, 3), (1, 1), [1, 1, 1, 1], 1, acc_out=True)
    _conv(cs, 1, 1, (17, 20), 5, (1, 2), (1, 1), [0, 0, 0, 1], 1)
    _conv(cs, 1, 1, (18, 40), 4, (2, 7), (1, 2), [1, 3, 0, 3], 1, relu=True)
    # ... and kernel rows of four taps with K >= 16 from 64 outputs (keyword-spotting stems)
    _conv(cs, 1, 1, (26, 10), 9, (8, 4), (2, 2), [3, 1, 4, 2], 1, bounds=(-100, 110))
    _conv(cs, 1, 1, (20, 7), 6, (4, 4), (2, 1), [1, 2, 2, 1], 1, small_shift=True)
    _conv(cs, 1, 2, (9, 11), 5, (5, 5), (1, 1), [2, 2, 2, 2], 1)
    _conv(cs, 1, 3, (8, 13), 4, (3, 7), (1, 2), [1, 3, 1, 3], 1, relu=True)
    _conv(cs, 1, 2, (7, 9), 3, (1, 3), (2, 1), [0, 1, 0, 1], 1, wvals=[-128, 127])
    _dil_conv(cs)
    # im2col windows across the border read as words with the zero point shifted in (kw <= 4):
    # pads of 3 (windows all padding on one side), a 4-wide kernel on a 4-wide input, dilation
    # 2 along the columns' rows
    _conv(cs, 1, 3, (6, 5), 4, (3, 3), (1, 1), [3, 2, 3, 3], 1, relu=True)
    _conv(cs, 1, 2, (5, 4), 5, (4, 4), (1, 1), [2, 2, 1, 2], 1, wvals=[-128, 127])
    _border_dil_conv(cs)
    _edge_conv(cs, 9, (3, 5), [2**31 - 1 - 9 * 128 * 255, -2**31 + 9 * 128 * 255, 5, -7, 2**30],
               [0.2, 2.0 ** -22.5, 0.249, 2.0 ** -30, 0.9], 17, lo=-128)
    _narrow_conv(cs, 10, (7, 7), 6, lo=-40, hi=90)
    # four inside windows of one output row gathered at once (stride 2 and 1, rows of 15 and
    # 14 outputs: quads that straddle a row end take the column gather)
    _conv(cs, 1, 3, (9, 30), 4, (3, 3), (2, 2), [1, 1, 1, 1], 1, relu=True)
    _conv(cs, 1, 2, (6, 14), 5, (3, 3), (1, 1), [1, 1, 1, 1], 1)
    # one assembly loop over all channels: a per-tensor multiplier, no bias, a partial quad
    _pt_conv(cs, 12, (5, 5), 7, bias=False)
    _pt_conv(cs, 9, (4, 4), 5, bias=True, relu=True)
    # the row loop's computed entry: K / 4 - 1 = 0 (no loop), 1 and 4 chunks after the first
    _narrow_conv(cs, 4, (4, 5), 6, lo=-100, hi=100)
    _conv(cs, 1, 8, (3, 4), 5, (1, 1), (1, 1), [0, 0, 0, 0], 1)
    _conv(cs, 1, 20, (2, 6), 3, (1, 1), (1, 1), [0, 0, 0, 0], 1, relu=True)
    _narrow_conv(cs, 17, (5, 5), 5, lo=3, hi=127)


def _other_cases(cs: Cases) -> None:
    """Global average pools, linear rows around multiples of four, elementwise and matmul."""
    # global average pools (USADA8 over words, the plane's tail per byte, qcc_requant32):
    # planes of 42, 25, 1 and 256 bytes, shifts below and above 32, bytes at the extremes
    add_global_avgpools(cs, (((1, 3, 7, 6), 1e-3, 0.1), ((2, 2, 5, 5), 0.3, 0.9),
                             ((1, 4, 1, 1), 1e-2, 0.5), ((1, 2, 16, 16), 1e-4, 1e-3)))
    # linear rows around multiples of four (full quads, a last quad of three rows, one or two
    # rows left to the row kernel), int16 outputs in full and partial quads
    _linear(cs, (7,), 22, 5, dtype="i16", y_zp=11)
    _linear(cs, (9,), 6, 5, small_shift=True)
    _linear(cs, (11,), 3, 4, acc_out=True)
    _linear(cs, (8,), 33, 3, dtype="i16", y_zp=-9, act_min=-2000, act_max=100)
    # int32 edges: biases near +-2^31, shifts 33..53 and beyond (the SMMLA requantization)
    room = 8 * 128 * 255
    _edge_linear(cs, 5, 8, [2**31 - 1 - room, -2**31 + room, 2**31 - 1 - room, -2**31 + room, 0, 7],
                 [0.2, 0.249, 2.0 ** -22.5, 2.0 ** -21, 0.9, 2.0 ** -30], -3, lo=0)
    # linear: K and N around multiples of four, several rows, int32 accumulators
    for k, nn in ((1, 3), (4, 4), (7, 9), (37, 13), (64, 16)):
        _linear(cs, (3,), k, nn)
    _linear(cs, (2, 5), 19, 6, small_shift=True)
    _linear(cs, (6,), 130, 7)
    _linear(cs, (5,), 9, 3, acc_out=True)
    # int16 outputs (the DSP GEMM's 16-bit requant): a zero point far from 0 (large shifts fall
    # back to qcc_requant32), narrow bounds, small shifts
    _linear(cs, (4,), 20, 5, dtype="i16", y_zp=-20000)
    _linear(cs, (2,), 12, 6, dtype="i16", y_zp=7, act_min=-300, act_max=9000)
    _linear(cs, (2,), 8, 4, small_shift=True, dtype="i16", y_zp=100)
    _linear(cs, (4,), 23, 5, acc_out=True)
    # int8 add / sub (the DSP SMLAL path): broadcast operands, narrow bounds, shifts below
    # and above 32
    a, b = cs.rand_input((2, 3, 5)), cs.rand_input((3, 1))
    for op, ratios, relu in (("qcc.add", (0.7, 1.3), False), ("qcc.sub", (0.02, 0.05), True),
                             ("qcc.add", (0.0011, 0.0007), True), ("qcc.sub", (3.0, 0.5), False)):
        ms, sh = arith.quantize_multipliers_shared(list(ratios))
        y_zp = int(cs.rng.integers(-128, 128))
        attrs = {"a_zp": int(cs.rng.integers(-128, 128)), "b_zp": int(cs.rng.integers(-128, 128)),
                 "y_zp": y_zp}
        if relu:
            attrs.update(act_min=y_zp, act_max=127)
        cs.op(op, [a, b, cs.const(ms.astype(np.int32)), cs.const(np.array([sh], np.int32))], attrs)
    # matmul (activation x activation, the packed int16 path): K odd / even / around 8, N not
    # a multiple of four, uint8 (softmax) rows, large and small shifts, int32 accumulators
    for (m, k, nn), small in (((3, 7, 9), False), ((2, 16, 4), True), ((5, 21, 6), False)):
        ms, attrs = _params(cs, 1, small)
        a = cs.rand_input((2, m, k), DType.uint8 if k == 21 else DType.int8)
        cs.op("qcc.matmul", [a, cs.rand_input((2, k, nn))] + ms,
              {"a_zp": attrs["x_zp"] & 255 if k == 21 else attrs["x_zp"],
               "b_zp": int(cs.rng.integers(-128, 128)), "y_zp": attrs["y_zp"]})
    cs.op("qcc.matmul", [cs.rand_input((1, 4, 9)), cs.rand_input((1, 9, 5))], {"a_zp": 3, "b_zp": -7})


def _cases(seed: int) -> Cases:
    cs = Cases(seed)
    _depthwise_cases(cs)
    _gemm_cases(cs)
    _first_layer_cases(cs)
    _other_cases(cs)
    return cs


@pytest.mark.parametrize("seed", [0, 1])
def test_host_native_build_bit_exact(tmp_path, seed):
    """-O3 -march=native: gcc's AVX2/AVX-512 code for the portable C (the x86 variants)."""
    check_exact(_cases(seed), tmp_path / "c", cflags=("-O3", "-march=native"))


@needs_arm
@pytest.mark.parametrize("seed", [0, 1])
def test_cortex_m4_dsp_kernels_bit_exact(tmp_path, seed):
    check_exact_qemu(_cases(seed), tmp_path / "c", feature="__ARM_FEATURE_DSP")


@pytest.mark.skipif(not arm.available("cortex-m55"), reason=arm.missing_tools() or "ok")
@pytest.mark.parametrize("seed", [0, 1])
def test_cortex_m55_mve_kernels_bit_exact(tmp_path, seed):
    """The Helium (MVE) dot products and the DSP kernels under QEMU's Cortex-M55 (mps3-an547)."""
    check_exact_qemu(_cases(seed), tmp_path / "c", core="cortex-m55", feature="__ARM_FEATURE_MVE")


def _edge_linear(cs: Cases, rows: int, k: int, bias, ratios, y_zp: int, lo: int = -128):
    """A linear whose accumulators reach int32's edges: biases near +-2^31 (minus the room the
    dot products need, |w * (x - zp)| <= 128 * 255), multipliers of every shift the fast
    SMMLA requantization takes (33..53) and beyond, bounds [lo, 127]."""
    x = cs.rand_input((rows, k))
    w = cs.const(cs.rng.choice([-128, 127], (k, len(bias))).astype(np.int8))
    m, s = arith.quantize_multiplier(np.asarray(ratios, np.float64))
    attrs = {"x_zp": -128, "y_zp": y_zp, "act_min": max(lo, -128), "act_max": 127}
    cs.op("qcc.linear", [x, w, cs.const(np.asarray(bias, np.int32)),
                         cs.const(np.atleast_1d(m).astype(np.int32)),
                         cs.const(np.atleast_1d(s).astype(np.int32))], attrs)


def _edge_dw(cs: Cases, k: int, s: int, hw, bias, ratios, y_zp: int, lo: int = -128,
             hi: int = 127):
    """A k x k depthwise conv, stride s, pads k // 2 (the Arm DSP depthwise forms), whose
    accumulators reach int32's edges: extreme weights and inputs with x_zp = -128, biases near
    +-2^31 minus the taps' room, multipliers of _edge_linear, bounds [lo, hi]."""
    ch = len(bias)
    x = cs.rand_input((1, ch) + tuple(hw))
    w = cs.const(cs.rng.choice([-128, 127], (ch, 1, k, k)).astype(np.int8))
    m, sh = arith.quantize_multiplier(np.asarray(ratios, np.float64))
    attrs = {"x_zp": -128, "y_zp": y_zp, "act_min": lo, "act_max": hi, "strides": [s, s],
             "dilations": [1, 1], "pads": [k // 2] * 4, "group": ch}
    cs.op("qcc.conv2d", [x, w, cs.const(np.asarray(bias, np.int32)),
                         cs.const(np.atleast_1d(m).astype(np.int32)),
                         cs.const(np.atleast_1d(sh).astype(np.int32))], attrs)


def _edge_conv(cs: Cases, c: int, hw, bias, ratios, y_zp: int, lo: int = -128):
    """A pointwise conv (the DSP build's column-quad assembly loop) whose accumulators reach
    int32's edges, with the multipliers of _edge_linear."""
    x = cs.rand_input((1, c) + tuple(hw))
    w = cs.const(cs.rng.choice([-128, 127], (len(bias), c, 1, 1)).astype(np.int8))
    m, s = arith.quantize_multiplier(np.asarray(ratios, np.float64))
    attrs = {"x_zp": -128, "y_zp": y_zp, "act_min": max(lo, -128), "act_max": 127,
             "strides": [1, 1], "dilations": [1, 1], "pads": [0, 0, 0, 0], "group": 1}
    cs.op("qcc.conv2d", [x, w, cs.const(np.asarray(bias, np.int32)),
                         cs.const(np.atleast_1d(m).astype(np.int32)),
                         cs.const(np.atleast_1d(s).astype(np.int32))], attrs)


@pytest.mark.slow
@needs_arm
@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_cortex_m4_conv_gemm_requant_int32_edges(tmp_path, data):
    """The conv column-quad assembly loop's SMMLA requantization and SSUB8 / SEL clamp at
    int32 edges, bit for bit on QEMU's Cortex-M4."""
    cs = Cases(data.draw(st.integers(0, 2**16), label="seed"))
    c = data.draw(st.integers(4, 13), label="c")
    hw = (data.draw(st.integers(1, 5), label="h"), data.draw(st.integers(4, 7), label="w"))
    room, nn = c * 128 * 255, 6
    bias = edge_biases(data, room, nn)
    # all channels in the fast requantization's shifts (33..53: the one assembly loop over
    # every channel), or any shifts (channel by channel)
    lo_r = 2.0 ** -21 if data.draw(st.booleans(), label="fast_all") else 2.0 ** -54
    ratios = data.draw(st.lists(st.floats(lo_r, 0.24 if lo_r > 2.0 ** -22 else 0.99),
                                min_size=nn, max_size=nn), label="ratios")
    _edge_conv(cs, c, hw, bias, ratios, data.draw(st.integers(-128, 127), label="y_zp"),
               data.draw(st.sampled_from([-128, -5, 0]), label="lo"))
    check_exact_qemu(cs, tmp_path / "c")


@pytest.mark.slow
@needs_arm
@settings(max_examples=4, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_cortex_m4_gemm_requant_int32_edges(tmp_path, data):
    """The 1x4 GEMM's SMMLA requantization at int32 edges, bit for bit on QEMU's Cortex-M4."""
    cs = Cases(data.draw(st.integers(0, 2**16), label="seed"))
    rows, k = data.draw(st.integers(3, 9), label="rows"), data.draw(st.integers(1, 13), label="k")
    room = k * 128 * 255
    nn = 8
    bias = edge_biases(data, room, nn)
    ratios = data.draw(st.lists(st.floats(2.0 ** -54, 0.99), min_size=nn, max_size=nn), label="ratios")
    _edge_linear(cs, rows, k, bias, ratios, data.draw(st.integers(-128, 127), label="y_zp"),
                 data.draw(st.sampled_from([-128, -5, 0]), label="lo"))
    check_exact_qemu(cs, tmp_path / "c")


@pytest.mark.slow
@needs_arm
@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_cortex_m4_depthwise_int32_edges(tmp_path, data):
    """The depthwise forms (3x3 / 5x5, strides 1 / 2, whole planes in assembly) at int32 edges:
    SMLAD sums from biases near +-2^31, the SMMLA requantization over shifts 33..53 and
    beyond (the table kernel's channels), SSUB8 / SEL bounds; bit for bit on QEMU's M4."""
    cs = Cases(data.draw(st.integers(0, 2**16), label="seed"))
    k, s = data.draw(st.sampled_from([3, 5]), label="k"), data.draw(st.sampled_from([1, 2]), label="s")
    hw = (data.draw(st.integers(1, 9), label="h"), data.draw(st.integers(1, 12), label="w"))
    room, nn = k * k * 128 * 255, 4
    bias = edge_biases(data, room, nn)
    ratios = data.draw(st.lists(st.floats(2.0 ** -54, 0.99), min_size=nn, max_size=nn), label="ratios")
    lo = data.draw(st.sampled_from([-128, -5, 0]), label="lo")
    hi = data.draw(st.sampled_from([127, 90, 1]), label="hi")
    _edge_dw(cs, k, s, hw, bias, ratios, data.draw(st.integers(-128, 127), label="y_zp"), lo, hi)
    check_exact_qemu(cs, tmp_path / "c")


@pytest.mark.slow
@needs_arm
@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_cortex_m4_first_layer_int32_edges(tmp_path, data):
    """One-input-channel first layers on the padded plane (kernel rows of 3 or 4 taps, the
    zero-tap repack or none; the rule's 256- and 64-output planes): extreme weights and
    inputs, biases near +-2^31, shifts 33..53 and beyond (channel by channel), narrow bounds;
    bit for bit on QEMU's M4."""
    cs = Cases(data.draw(st.integers(0, 2**16), label="seed"))
    kh, kw = data.draw(st.sampled_from([(3, 3), (5, 4), (10, 4), (3, 4)]), label="k")
    s = data.draw(st.sampled_from([(1, 1), (2, 2), (2, 1)]), label="s")
    h, w = data.draw(st.integers(17, 34), label="h"), data.draw(st.integers(8, 33), label="w")
    nn = data.draw(st.integers(2, 7), label="m")
    room = kh * kw * 128 * 255
    bias = edge_biases(data, room, nn)
    lo_r = 2.0 ** -21 if data.draw(st.booleans(), label="fast_all") else 2.0 ** -54
    ratios = data.draw(st.lists(st.floats(lo_r, 0.24 if lo_r > 2.0 ** -22 else 0.99),
                                min_size=nn, max_size=nn), label="ratios")
    x = cs.input(cs.rng.choice(np.array([-128, 127, 0], np.int8), (1, 1, h, w)), DType.int8)
    wt = cs.const(cs.rng.choice([-128, 127], (nn, 1, kh, kw)).astype(np.int8))
    m, sh = arith.quantize_multiplier(np.asarray(ratios, np.float64))
    pads = [data.draw(st.integers(0, kh // 2), label="pt"), data.draw(st.integers(0, 2), label="pl"),
            data.draw(st.integers(0, kh // 2), label="pb"), data.draw(st.integers(0, 2), label="pr")]
    attrs = {"x_zp": data.draw(st.sampled_from([-128, 127, 3]), label="x_zp"),
             "y_zp": data.draw(st.integers(-128, 127), label="y_zp"),
             "act_min": data.draw(st.sampled_from([-128, -5]), label="lo"), "act_max": 127,
             "strides": list(s), "dilations": [1, 1], "pads": pads, "group": 1}
    cs.op("qcc.conv2d", [x, wt, cs.const(np.asarray(bias, np.int32)),
                         cs.const(np.atleast_1d(m).astype(np.int32)),
                         cs.const(np.atleast_1d(sh).astype(np.int32))], attrs)
    check_exact_qemu(cs, tmp_path / "c")
