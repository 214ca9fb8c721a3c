"""Transposed convolutions on the C backend (kernels/conv_transpose2d.c): one stride-1 conv2d
per output phase (qcc.lower.convt_phases), bit for bit with the reference interpreter in the
portable build (-DQCC_PORTABLE), the default x86 build (SSE2), -march=native (AVX2 / AVX-512
VNNI here) and on Cortex-M4 (DSP) under QEMU; the phase decomposition itself against the
interpreter's ONNX ConvTranspose in numpy; int32 edges with hypothesis."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qcc.backends.c import arm
from qcc.lower import convt_phases as cp
from qcc.lower.kernels import ConvGeometry
from qcc.ops.integer_nn import conv_transpose2d_acc

from c_testlib import Cases, add_conv_op, check_exact, check_exact_qemu, needs_gcc

BUILDS = {"portable": ("-O2", "-march=native", "-DQCC_PORTABLE"),
          "default": ("-O3",),                      # x86-64 baseline: the SSE2 variants
          "native": ("-O2", "-march=native")}       # AVX2 / AVX-512 VNNI where the CPU has them


def _out_size(n, s, d, k, p0, p1, op):
    return (n - 1) * s + d * (k - 1) + 1 + op - p0 - p1


def _geometry(c, h, w, m, k, s, d, pads, group, op):
    oh = _out_size(h, s[0], d[0], k[0], pads[0], pads[2], op[0])
    ow = _out_size(w, s[1], d[1], k[1], pads[1], pads[3], op[1])
    return ConvGeometry(1, c, h, w, m, oh, ow, k[0], k[1], s[0], s[1], d[0], d[1], pads[0],
                        pads[1], group)


def _correlate(x, wp, pg: ConvGeometry) -> np.ndarray:
    """Stride-1 grouped correlation [M, oh, ow] of centred x [C, H, W] (zero padding)."""
    cg, mg = pg.c // pg.group, pg.m // pg.group
    xp = np.zeros((pg.c, pg.h + 2 * (pg.oh + pg.kh * pg.dh), pg.w + 2 * (pg.ow + pg.kw * pg.dw)),
                  np.int64)
    oy, ox = pg.oh + pg.kh * pg.dh, pg.ow + pg.kw * pg.dw
    xp[:, oy:oy + pg.h, ox:ox + pg.w] = x
    y = np.zeros((pg.m, pg.oh, pg.ow), np.int64)
    for u in range(pg.kh):
        for v in range(pg.kw):
            r0, c0 = oy - pg.pt + u * pg.dh, ox - pg.pl + v * pg.dw
            win = xp[:, r0:r0 + pg.oh, c0:c0 + pg.ow].reshape(pg.group, cg, -1)
            ww = wp[:, :, u, v].reshape(pg.group, mg, cg).astype(np.int64)
            y += np.einsum("gmc,gcq->gmq", ww, win).reshape(pg.m, pg.oh, pg.ow)
    return y


@st.composite
def convt_geometries(draw):
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    d = (draw(st.integers(1, 3)), draw(st.integers(1, 2)))
    group = draw(st.sampled_from([1, 2, 3]))
    c, m = group * draw(st.integers(1, 3)), group * draw(st.integers(1, 2))
    h, w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    pads = [draw(st.integers(0, 4)) for _ in range(4)]
    op = (draw(st.integers(0, s[0] - 1)), draw(st.integers(0, s[1] - 1)))
    return c, h, w, m, k, s, d, pads, group, op


@settings(max_examples=150, deadline=None)
@given(geo=convt_geometries(), seed=st.integers(0, 2**16))
def test_phases_rebuild_onnx_conv_transpose(geo, seed):
    """Every output element belongs to exactly one phase, whose stride-1 conv (or bias alone)
    equals ONNX ConvTranspose's sum; geometries with pads beyond the kernel's reach are
    reported unsupported (the scatter kernel takes them)."""
    c, h, w, m, k, s, d, pads, group, op = geo
    g = _geometry(c, h, w, m, k, s, d, pads, group, op)
    if g.oh < 1 or g.ow < 1:
        return
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (1, c, h, w))
    wt = rng.integers(-128, 128, (c, m // group, k[0], k[1]))
    want = conv_transpose2d_acc(x, wt, None, s, pads, d, group, op, 0)[0]
    if not cp.supported(g):
        assert any(r.pad < 0 or cc.pad < 0 for r, cc in cp.phases(g))
        return
    got = np.full(want.shape, -(1 << 40), np.int64)
    for r, cc in cp.phases(g):
        sel = (slice(None), slice(r.first, None, g.sh), slice(cc.first, None, g.sw))
        assert got[sel].shape[1:] == (r.count, cc.count)
        if r.taps and cc.taps:
            got[sel] = _correlate(x[0], cp.phase_weights(wt, g, r, cc), cp.conv_geometry(g, r, cc))
        else:
            got[sel] = 0
    assert np.array_equal(got, want)


def _convt(cs: Cases, n, c, hw, m, k, s, pads, group, op=(0, 0), d=(1, 1), **kw):
    add_conv_op(cs, "qcc.conv_transpose2d", (n, c, hw[0], hw[1]), (c, m // group, k[0], k[1]), m,
                {"strides": list(s), "pads": list(pads), "dilations": list(d), "group": group,
                 "output_padding": list(op)}, **kw)


def _cases(seed: int) -> Cases:
    cs = Cases(seed)
    # 2x2 stride 2 (U-Net / DBNet upsampling): four pointwise phases, planes >= 64 (the SIMD
    # GEMM) and small ones, an odd channel count, int32 accumulators, a batch of two
    _convt(cs, 1, 16, (9, 8), 8, (2, 2), (2, 2), [0, 0, 0, 0], 1)
    _convt(cs, 2, 5, (3, 4), 7, (2, 2), (2, 2), [0, 0, 0, 0], 1, relu=True)
    _convt(cs, 1, 6, (5, 5), 4, (2, 2), (2, 2), [0, 0, 0, 0], 1, acc_out=True)
    _convt(cs, 1, 16, (8, 9), 1, (2, 2), (2, 2), [0, 0, 0, 0], 1)  # into one channel
    # 3x3 stride 2 pad 1 output_padding 1, 4x4 stride 2 pad 1 (two taps per phase axis), 3x3
    # stride 3, stride 1 (one phase written in place), non-square strides and kernels
    _convt(cs, 1, 8, (6, 7), 6, (3, 3), (2, 2), [1, 1, 1, 1], 1, op=(1, 1))
    _convt(cs, 1, 4, (5, 6), 5, (4, 4), (2, 2), [1, 1, 1, 1], 1, wvals=[-128, 127])
    _convt(cs, 1, 3, (4, 3), 4, (3, 3), (3, 3), [0, 1, 2, 0], 1, op=(2, 1), per_channel=False)
    _convt(cs, 1, 7, (6, 5), 3, (3, 2), (1, 1), [1, 0, 2, 1], 1)
    _convt(cs, 2, 5, (12, 11), 6, (3, 3), (1, 1), [1, 1, 1, 1], 1, acc_out=True)
    _convt(cs, 1, 6, (4, 5), 5, (1, 4), (1, 2), [0, 1, 0, 0], 1, op=(0, 1))
    # kernels shorter than the stride (phases of the bias alone), dilation 2 with stride 2 and
    # 3 (taps of one phase spaced by gcd), int32 accumulators of a bias-only phase
    _convt(cs, 1, 4, (4, 4), 3, (1, 1), (2, 2), [0, 0, 0, 0], 1, op=(1, 1))
    _convt(cs, 1, 3, (5, 4), 4, (3, 2), (2, 3), [1, 0, 0, 1], 1, d=(2, 2))
    _convt(cs, 1, 3, (3, 3), 2, (1, 2), (3, 3), [0, 0, 0, 0], 1, acc_out=True)
    # groups: 2 and 4, odd channels per group, depthwise-transposed with a multiplier
    _convt(cs, 1, 6, (5, 6), 4, (2, 2), (2, 2), [0, 0, 0, 0], 2)
    _convt(cs, 1, 12, (9, 9), 8, (3, 3), (2, 2), [1, 1, 1, 1], 4, op=(1, 1), relu=True)
    _convt(cs, 1, 9, (4, 7), 3, (4, 3), (2, 1), [1, 1, 2, 0], 3)
    _convt(cs, 1, 5, (6, 6), 10, (3, 3), (2, 2), [1, 1, 1, 1], 5, op=(1, 1))
    # pads beyond the kernel's reach: no phase conv expresses them (the scatter kernel)
    _convt(cs, 1, 3, (5, 5), 4, (2, 2), (2, 2), [2, 1, 1, 2], 1)
    return cs


def test_phased_lowering_and_scratch(tmp_path):
    """The C target lowers ConvTranspose to phases (weights as conv2d rows, a phase table)
    and its scratch is a fraction of the scatter kernel's int32 m*oh*ow."""
    cs = Cases(3)
    _convt(cs, 1, 16, (12, 12), 8, (2, 2), (2, 2), [0, 0, 0, 0], 1)
    _convt(cs, 1, 3, (5, 5), 4, (2, 2), (2, 2), [2, 1, 1, 2], 1)
    from qcc.backends.c.program import build_program
    p = build_program(cs.g, "t")
    phased, scatter = [s.call for s in p.steps]
    assert phased.phases is not None and phased.phases.data.size == 4 * cp.FIELDS
    assert phased.scratch < 4 * 8 * 24 * 24 // 4
    assert scatter.phases is None and scatter.scratch == 4 * 4 * scatter.geom.oh * scatter.geom.ow


@needs_gcc
@pytest.mark.parametrize("build", sorted(BUILDS))
def test_conv_transpose_bit_exact(tmp_path, build):
    manifest = check_exact(_cases(0), tmp_path / "c", cflags=BUILDS[build])
    assert {r["kernel"] for r in manifest["layers"]} == {"qcc_conv_transpose2d"}


@needs_gcc
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(k=st.integers(1, 4), s=st.integers(1, 3), c=st.integers(1, 9), side=st.sampled_from([-1, 1]),
       build=st.sampled_from(sorted(BUILDS)), seed=st.integers(0, 2**16))
def test_conv_transpose_int32_edges(tmp_path, k, s, c, side, build, seed):
    """Accumulators at int32's edges: biases +-(2^31 - 1) minus the room the products need
    (|w * (x - zp)| <= 128 * 255 per tap), extreme weights and zero points, multipliers from
    2^-31 to 0.99 (large and small shifts), int32 accumulator outputs."""
    cs = Cases(seed)
    room = c * k * k * 128 * 255
    edge = side * (2**31 - 1 - room)
    for zp in (-128, 127):
        _convt(cs, 1, c, (3, 4), 3, (k, k), (s, s), [0, 0, 0, 0], 1, op=(s - 1, 0),
               wvals=[-128, 127], bias=[edge, -edge, 0], ratios=[2.0**-31, 0.99, 2.0**-12],
               x_zp=zp)
    _convt(cs, 1, c, (3, 4), 3, (k, k), (s, s), [0, 0, 0, 0], 1, wvals=[-128, 127],
           bias=[edge, 0, -edge], acc_out=True, x_zp=-128)
    check_exact(cs, tmp_path / "c", cflags=BUILDS[build])


@pytest.mark.parametrize("core", ["cortex-m4", "cortex-m55"])
def test_conv_transpose_cortex_m_bit_exact(tmp_path, core):
    """The phases through the Arm DSP conv2d kernels (pointwise GEMMs, im2col, depthwise) on
    Cortex-M4 and through the Helium ones on Cortex-M55, under QEMU."""
    if not arm.available(core):
        pytest.skip(f"SKIPPED, NOT PASSED: {arm.missing_tools() or core + ' tools missing'}")
    cs = Cases(5)
    _convt(cs, 1, 8, (6, 6), 8, (2, 2), (2, 2), [0, 0, 0, 0], 1)
    _convt(cs, 1, 6, (5, 5), 4, (3, 3), (2, 2), [1, 1, 1, 1], 2, op=(1, 1), relu=True)
    _convt(cs, 1, 4, (5, 5), 8, (4, 4), (2, 2), [1, 1, 1, 1], 4)
    _convt(cs, 1, 3, (4, 4), 3, (1, 1), (2, 2), [0, 0, 0, 0], 1, acc_out=True)
    check_exact_qemu(cs, tmp_path / "c", core=core, feature="__ARM_FEATURE_DSP")
