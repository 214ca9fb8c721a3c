"""The graphs the host SIMD variants are checked on (test_c_simd.py): linear, conv and packed /
per-group cases chosen to hit the kernels' bodies, K tails, partial lane blocks, both
activation dtypes, per-tensor and per-channel requantization and int32 accumulator outputs."""

from __future__ import annotations

import numpy as np

from qcc.ir.types import DType

from c_testlib import Cases


def _params(cs: Cases, m: int, small_shift: bool, per_channel: bool = True):
    mm, ss = cs.mult(m if per_channel else 1, 0.6, 4.0) if small_shift else cs.mult(m if per_channel else 1, 1e-5, 3e-2)
    return [mm, ss], {"x_zp": int(cs.rng.choice([-128, 127, int(cs.rng.integers(-128, 128))])),
                      "y_zp": int(cs.rng.integers(-128, 128))}


def _linear(cs: Cases, lead, k, nn, small_shift=False, acc_out=False, u8=False, per_channel=True,
            wvals=None):
    x = cs.rand_input(lead + (k,), DType.uint8 if u8 else DType.int8)
    wv = cs.rng.integers(-128, 128, (k, nn)) if wvals is None else cs.rng.choice(wvals, (k, nn))
    w = cs.const(wv.astype(np.int8))
    b = cs.const(cs.rng.integers(-5000, 5000, nn).astype(np.int32))
    ms, attrs = _params(cs, nn, small_shift, per_channel)
    if u8:
        attrs["x_zp"] = int(cs.rng.choice([0, 255, int(cs.rng.integers(0, 256))]))
    if acc_out:
        cs.op("qcc.linear", [x, w], {"x_zp": attrs["x_zp"]})
    else:
        cs.op("qcc.linear", [x, w, b] + ms, attrs)


def linear_cases(cs: Cases) -> Cases:
    for k, nn in ((1, 3), (16, 8), (31, 9), (32, 16), (33, 7), (64, 17), (100, 24)):
        _linear(cs, (3,), k, nn)
    _linear(cs, (2, 5), 19, 6, small_shift=True)
    _linear(cs, (4,), 48, 10, u8=True)
    _linear(cs, (2,), 40, 8, per_channel=False, wvals=[-128, 127])
    _linear(cs, (4,), 23, 5, acc_out=True)
    _linear(cs, (3,), 70, 9, acc_out=True, u8=True)
    # SSE2 takes the interleaved kernel for two rows or more: K with odd tails, one row, 8
    # rows of 1000 (the x batches), extreme weights at the int16 pairs
    _linear(cs, (5,), 37, 13)
    _linear(cs, (1,), 64, 8)
    _linear(cs, (8,), 1000, 9, u8=True)
    _linear(cs, (3,), 35, 8, wvals=[-128, 127], small_shift=True)
    return cs


def _conv(cs: Cases, n, c, hw, m, k, s, pads, group, small_shift=False, relu=False,
          wvals=None, acc_out=False, per_channel=True, dil=(1, 1)):
    x = cs.rand_input((n, c, hw[0], hw[1]))
    shape = (m, c // group, k[0], k[1])
    wv = cs.rng.integers(-128, 128, shape) if wvals is None else cs.rng.choice(wvals, shape)
    w = cs.const(wv.astype(np.int8))
    b = cs.const(cs.rng.integers(-20000, 20000, m).astype(np.int32))
    ms, attrs = _params(cs, m, small_shift, per_channel)
    if relu:
        attrs.update(act_min=attrs["y_zp"], act_max=127)
    attrs.update(strides=list(s), dilations=list(dil), pads=list(pads), group=group)
    if acc_out:
        ms, attrs = [], {k2: v for k2, v in attrs.items() if k2 not in ("y_zp", "act_min", "act_max")}
    cs.op("qcc.conv2d", [x, w, b] + ms, attrs)


def conv_cases(cs: Cases) -> Cases:
    # im2col: K = 27 (one tail step), 45, 90 (body + tail), 64 (no tail), groups, dilation,
    # planes not a multiple of 8, padding (the zero point's byte)
    _conv(cs, 1, 3, (10, 9), 9, (3, 3), (1, 1), [1, 1, 1, 1], 1)
    _conv(cs, 1, 10, (7, 7), 6, (3, 3), (2, 2), [1, 1, 0, 0], 2, small_shift=True)
    _conv(cs, 2, 10, (6, 5), 5, (3, 3), (1, 1), [1, 1, 1, 1], 1, relu=True, per_channel=False)
    _conv(cs, 1, 16, (5, 5), 8, (2, 2), (1, 1), [0, 0, 1, 1], 1, wvals=[-128, 127])
    _conv(cs, 1, 4, (9, 9), 6, (3, 3), (1, 1), [2, 2, 2, 2], 1, dil=(2, 2))
    _conv(cs, 1, 3, (6, 7), 4, (3, 3), (1, 1), [1, 1, 1, 1], 1, acc_out=True)
    # im2col runs (qcc_im2col_simd_runs) on planes below the GEMM's: a dilated run that leaves
    # the row on either side, stride 2 with asymmetric padding (runs inside, cut, and rows above)
    _conv(cs, 1, 4, (5, 5), 5, (3, 3), (1, 1), [2, 2, 2, 2], 1, dil=(2, 2))
    _conv(cs, 1, 16, (8, 9), 12, (3, 3), (2, 2), [1, 0, 2, 1], 1, wvals=[-128, 127])
    # pointwise: the GEMM from 16 positions (4 x 16 and 4 x 32 tiles), im2col below
    _conv(cs, 1, 13, (7, 9), 7, (1, 1), (1, 1), [0, 0, 0, 0], 1, wvals=[-128, -127, 127])
    _conv(cs, 1, 40, (4, 4), 10, (1, 1), (1, 1), [0, 0, 0, 0], 1, relu=True)
    _conv(cs, 1, 12, (3, 5), 6, (1, 1), (1, 1), [0, 0, 0, 0], 1)
    _conv(cs, 1, 33, (5, 5), 9, (1, 1), (1, 1), [0, 0, 0, 0], 1, relu=True)
    _conv(cs, 1, 64, (9, 8), 16, (1, 1), (1, 1), [0, 0, 0, 0], 1, small_shift=True)
    _conv(cs, 2, 2, (11, 11), 5, (1, 1), (1, 1), [0, 0, 0, 0], 1, relu=True)
    _conv(cs, 1, 40, (8, 10), 6, (1, 1), (1, 1), [0, 0, 0, 0], 1)
    _conv(cs, 1, 70, (8, 8), 3, (1, 1), (1, 1), [0, 0, 0, 0], 1, per_channel=False)
    _conv(cs, 1, 8, (8, 8), 4, (1, 1), (1, 1), [0, 0, 0, 0], 2, acc_out=True)
    # pointwise on planes >= 64 (qcc_conv2d_pws: positions in lanes, channel pairs): an odd
    # channel count, several position blocks with a partial last one, M not a multiple of 4,
    # extreme weights, int32 outputs, a block of few positions (many channels)
    _conv(cs, 2, 5, (17, 17), 7, (1, 1), (1, 1), [0, 0, 0, 0], 1, wvals=[-128, 127])
    _conv(cs, 1, 3, (9, 10), 6, (1, 1), (1, 1), [0, 0, 0, 0], 1, acc_out=True)
    _conv(cs, 1, 601, (8, 9), 5, (1, 1), (1, 1), [0, 0, 0, 0], 1, small_shift=True)
    # other one-group convs on planes >= 64 (the same GEMM over K-major im2col rows): stride 2
    # (gathered rows), asymmetric pads, non-square kernels, K = 576 (blocks of 48 positions
    # that split output rows), a batch of 2 with int32 outputs
    _conv(cs, 1, 5, (20, 18), 8, (3, 3), (2, 2), [1, 1, 1, 1], 1, relu=True)
    _conv(cs, 1, 6, (9, 16), 5, (1, 5), (1, 1), [0, 3, 0, 1], 1, wvals=[-128, 127])
    _conv(cs, 1, 64, (8, 12), 9, (3, 3), (1, 1), [1, 1, 1, 1], 1)
    _conv(cs, 2, 7, (4, 32), 6, (4, 1), (1, 1), [2, 0, 1, 0], 1, acc_out=True)
    # strided ones from column phases (qcc_pws_phases): a 3-channel stem on an odd width,
    # stride 3 with asymmetric pads, stride 2 with dilation, two groups, a 1x3 row of stride 2,
    # a batch of 2 with int32 outputs, and rows too wide for the phase buffer (the gather)
    _conv(cs, 1, 3, (33, 31), 8, (3, 3), (2, 2), [1, 1, 1, 1], 1)
    _conv(cs, 1, 4, (26, 29), 5, (3, 3), (3, 3), [1, 2, 0, 1], 1, wvals=[-128, 127])
    _conv(cs, 1, 6, (21, 22), 4, (3, 3), (2, 2), [2, 2, 2, 2], 1, dil=(2, 2), relu=True)
    _conv(cs, 1, 8, (18, 18), 6, (3, 3), (2, 2), [1, 1, 1, 1], 2)
    _conv(cs, 1, 8, (1, 140), 7, (1, 3), (1, 2), [0, 1, 0, 1], 1)
    _conv(cs, 2, 5, (17, 20), 6, (3, 3), (2, 2), [1, 0, 1, 1], 1, acc_out=True)
    _conv(cs, 1, 64, (6, 300), 5, (3, 3), (2, 2), [1, 1, 1, 1], 1, small_shift=True)
    # depthwise (qcc_conv2d_dws: channels in lanes, tap pairs): fewer than 8 channels, more
    # than 8 and not a multiple, strides 1 and 2, 5x5, even and non-square kernels,
    # asymmetric pads, extreme weights and zero points, per-tensor, int32 outputs, several
    # bands of rows (wide input), and a channel multiplier (the portable kernel)
    _conv(cs, 1, 6, (13, 11), 6, (3, 3), (1, 1), [1, 1, 1, 1], 6)
    _conv(cs, 1, 20, (9, 9), 20, (5, 5), (2, 2), [2, 2, 2, 2], 20, relu=True)
    _conv(cs, 2, 13, (6, 7), 13, (2, 4), (1, 2), [0, 1, 1, 2], 13, wvals=[-128, 127])
    _conv(cs, 1, 16, (4, 4), 16, (3, 3), (1, 1), [1, 1, 1, 1], 16, per_channel=False, small_shift=True)
    _conv(cs, 1, 9, (5, 6), 9, (3, 3), (2, 1), [1, 0, 1, 0], 9, acc_out=True)
    _conv(cs, 1, 8, (40, 300), 8, (3, 3), (1, 1), [1, 1, 1, 1], 8)
    _conv(cs, 1, 4, (7, 7), 8, (3, 3), (1, 1), [1, 1, 1, 1], 4)
    return cs


def _packed_linear(cs: Cases) -> None:
    """Packed int4/int2 linear layers, with and without per-group scales: K with and without a
    tail, K > 1024 (several unpacked chunks), group sizes 16/32/64/96 (16: VNNI's steps are 32,
    so it runs portable there), a last group shorter than the others, uint8 x, int32 and int16
    outputs."""
    for k, nn, bits, gsz, lead, u8, out in (
            (64, 8, 4, 32, (3,), False, "i8"), (100, 11, 4, 32, (2,), True, "i8"),
            (70, 9, 2, 64, (3,), False, "i16"), (48, 5, 4, 16, (2,), False, "i8"),
            (1300, 10, 4, 32, (2,), False, "i8"), (1100, 9, 2, 0, (2,), True, "i8"),
            (40, 6, 4, 0, (4,), False, "i8"), (200, 13, 2, 96, (2,), False, "acc"),
            # the interleaved x86 kernel (linear_simd_il.c): groups padded to the step (18, 9:
            # odd groups start mid-byte, 10 for int2), x prepared in several batches of rows
            # (20 rows x 1000), an odd row count (pairs of rows and one left), u8 with groups
            (100, 12, 4, 18, (3,), False, "i8"), (50, 9, 4, 9, (3,), True, "i16"),
            (64, 10, 2, 10, (2,), False, "acc"), (1000, 9, 4, 0, (20,), False, "i8"),
            (96, 17, 4, 32, (5,), True, "i8"), (130, 8, 2, 16, (3,), False, "i8"),
            # groups of 40 / 48 (no multiple of any step): whole-register unpacking of the first
            # 32 of each group, tables for the rest; int8 weights with groups of 24 (pairs)
            (120, 9, 4, 40, (3,), False, "i8"), (150, 11, 4, 48, (2,), True, "i16"),
            (100, 10, 8, 24, (3,), False, "i8")):
        lim = 1 << (bits - 1)
        x = cs.rand_input(lead + (k,), DType.uint8 if u8 else DType.int8)
        w = cs.const(cs.rng.integers(-lim, lim, (k, nn)).astype(np.int8), {4: DType.int4, 2: DType.int2, 8: DType.int8}[bits])
        b = cs.const(cs.rng.integers(-3000, 3000, nn).astype(np.int32))
        mm, ss = cs.mult(nn, 1e-4, 3e-2)
        zp = int(cs.rng.integers(0, 256)) if u8 else int(cs.rng.integers(-128, 128))
        attrs = {"x_zp": zp, "y_zp": int(cs.rng.integers(-100, 100))}
        gm = []
        if gsz:
            gm = [cs.const(cs.rng.integers(0, (1 << 16) + 1, (nn, -(-k // gsz))).astype(np.int32))]
            attrs.update(group_size=gsz, group_shift=16)
        if out == "acc":
            cs.op("qcc.linear", [x, w, None, None, None] + gm,
                  {a: v for a, v in attrs.items() if a != "y_zp"})
            continue
        if out == "i16":
            attrs.update(dtype="i16", y_zp=attrs["y_zp"] * 100)
        cs.op("qcc.linear", [x, w, b, mm, ss] + gm, attrs)


def _packed_conv(cs: Cases) -> None:
    # convs (all im2col with packed weights): general, grouped, pointwise, depthwise
    # (group sizes 36 and 9 are whole 3x3 kernels, as the quantizer cuts them; 20: a pointwise
    # group that is no multiple of the step: each group starts on a step of the columns)
    for c, m, kk, group, bits, gsz, hw in ((8, 6, 3, 1, 4, 32, (6, 5)), (16, 8, 3, 2, 2, 64, (5, 5)),
                                           (40, 5, 1, 1, 4, 32, (4, 6)), (6, 6, 3, 6, 4, 0, (7, 7)),
                                           (12, 9, 3, 1, 2, 0, (5, 4)), (16, 7, 3, 1, 4, 36, (5, 6)),
                                           (10, 4, 3, 1, 2, 9, (4, 4)), (50, 6, 1, 1, 4, 20, (3, 5)),
                                           # depthwise, per channel: the int8 depthwise kernel
                                           # on unpacked weights (stride 1 and 2, multiplier 2)
                                           (16, 16, 3, 16, 4, 0, (16, 15)), (8, 8, 5, 8, 2, 0, (12, 12)),
                                           (6, 12, 3, 6, 4, 0, (9, 10)),
                                           # one group, per channel, planes >= 64: the int8
                                           # GEMM on weights unpacked once (pointwise, 3x3)
                                           (20, 7, 1, 1, 4, 0, (9, 9)), (6, 5, 3, 1, 2, 0, (10, 10))):
        lim = 1 << (bits - 1)
        xc = cs.rand_input((1, c, hw[0], hw[1]))
        wc = cs.const(cs.rng.integers(-lim, lim, (m, c // group, kk, kk)).astype(np.int8),
                      DType.int4 if bits == 4 else DType.int2)
        mc, sc = cs.mult(m, 1e-4, 3e-2)
        st_ = 2 if kk == 5 else 1
        ac = {"x_zp": int(cs.rng.integers(-128, 128)), "y_zp": 5, "strides": [st_, st_],
              "dilations": [1, 1], "pads": [kk // 2] * 4, "group": group}
        gm = []
        if gsz:
            kr = c // group * kk * kk
            gm = [cs.const(cs.rng.integers(0, (1 << 16) + 1, (m, -(-kr // gsz))).astype(np.int32))]
            ac.update(group_size=gsz, group_shift=16)
        cs.op("qcc.conv2d", [xc, wc, None, mc, sc] + gm, ac)


def _lut_linear(cs: Cases) -> None:
    """Linear layers that take the table-lookup kernel (lut_pack.lut_rule: N >= 16, one row, or
    groups with up to 4 rows, or int2 groups with more rows, which the VNNI build unpacks): one
    and two blocks of 16 features and partial ones, odd groups (9, 20, 10: each padded to 8),
    a last group shorter than the others, per-channel weights, u8 x, int8 / int16 / int32
    outputs, weights and activations at their extremes, the largest padded K the tables
    hold (2 000) and one past it (unpacking); "bound": the int16 sums at their lower bound
    (every weight -2^(bits-1), the activations of each quad summing to -1 after centring, so
    that the low table byte of the negative plane is 255 and the others 0), per channel over
    K = 600 (many flushes)."""
    for k, nn, bits, gsz, rows, u8, out, extreme in (
            (600, 16, 4, 0, 1, False, "acc", "bound"), (600, 16, 2, 0, 2, True, "acc", "bound"),
            (100, 20, 4, 32, 1, True, "i8", False), (70, 33, 2, 0, 1, False, "i16", False),
            (200, 16, 4, 0, 1, False, "acc", False), (90, 24, 4, 9, 3, False, "i8", False),
            (64, 40, 4, 20, 4, True, "i16", False), (130, 18, 2, 16, 6, False, "i8", False),
            (50, 17, 2, 10, 5, True, "acc", False), (256, 32, 4, 32, 2, False, "acc", True),
            (256, 16, 2, 16, 7, True, "acc", True), (300, 16, 4, 0, 1, False, "acc", True),
            (2000, 16, 2, 16, 1, False, "i8", False), (2100, 16, 4, 32, 1, False, "i8", False)):
        lim = 1 << (bits - 1)
        if extreme == "bound":
            zp = 100
            xv = np.full((rows, k), zp, np.int64)
            xv[:, ::4] = zp - 1
            x = cs.input(xv.astype(np.uint8 if u8 else np.int8), DType.uint8 if u8 else DType.int8)
            wv = np.full((k, nn), -lim)
        elif extreme:  # every product at +-255 * 2^(bits-1): x - zp = -255 or 255
            zp = 255 if u8 else 127
            x = cs.input(np.full((rows, k), 0 if u8 else -128, np.uint8 if u8 else np.int8),
                         DType.uint8 if u8 else DType.int8)
            wv = cs.rng.choice([-lim, lim - 1], (k, nn))
        else:
            zp = int(cs.rng.integers(0, 256)) if u8 else int(cs.rng.integers(-128, 128))
            x = cs.rand_input((rows, k), DType.uint8 if u8 else DType.int8)
            wv = cs.rng.integers(-lim, lim, (k, nn))
        w = cs.const(wv.astype(np.int8), {4: DType.int4, 2: DType.int2}[bits])
        b = cs.const(cs.rng.integers(-3000, 3000, nn).astype(np.int32))
        mm, ss = cs.mult(nn, 1e-4, 3e-2)
        attrs = {"x_zp": zp, "y_zp": int(cs.rng.integers(-100, 100))}
        gm = []
        if gsz:
            gm = [cs.const(cs.rng.integers(0, (1 << 16) + 1, (nn, -(-k // gsz))).astype(np.int32))]
            attrs.update(group_size=gsz, group_shift=16)
        if out == "acc":
            cs.op("qcc.linear", [x, w, None, None, None] + gm, {a: v for a, v in attrs.items() if a != "y_zp"})
            continue
        if out == "i16":
            attrs.update(dtype="i16", y_zp=attrs["y_zp"] * 100)
        cs.op("qcc.linear", [x, w, b, mm, ss] + gm, attrs)


def packed_cases(cs: Cases) -> Cases:
    """Packed int4/int2 (and grouped int8) weights: linear layers and convs."""
    _packed_linear(cs)
    _lut_linear(cs)
    _packed_conv(cs)
    return cs


def all_cases(seed: int) -> Cases:
    cs = Cases(seed)
    for add in (linear_cases, conv_cases, packed_cases):
        add(cs)
    return cs
