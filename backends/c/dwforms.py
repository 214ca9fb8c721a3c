"""Which Arm DSP depthwise forms (templates/kernels/conv2d_dw*_dsp.c) a program's convs take.

The forms are picked per call from a conv's parameters, so the linker cannot drop those no
conv takes; the kernels are rendered with ``QCC_DW_FORMS``, the mask of the forms this
program's convs reach, and ``qcc_dws_have`` sends a conv whose form is left out to the table
kernel. The mask mirrors ``qcc_conv2d``'s route to ``qcc_conv2d_dwd`` and the forms' rules
(``qcc_dws_takes``, ``qcc_dws_quad``, ``qcc_dw22_takes``); a form missing from it by mistake
costs speed, never correctness. Bits: 0-7 the pair forms (``1 << form``, form = 4 (kw == 5) +
2 (stride 2) + narrow, as ``qcc_dwa_rows``), 8-10 the 5x5 quads (stride 1 wide / narrow,
stride 2), 11-12 the 3x3 2x2 form (wide / narrow), 13-16 the 5x5 two-row form (stride 1 wide /
narrow, stride 2 wide / narrow: ``qcc_dw5r2_takes``, inputs of at most two rows)."""

from __future__ import annotations

ALL = (1 << 17) - 1
Q5S1W, Q5S1N, Q5S2, D22W, D22N, R2S1W, R2S1N, R2S2W, R2S2N = (1 << b for b in range(8, 17))


def _pair(kw: int, s: int, narrow: int) -> int:
    return 1 << (4 * (kw == 5) + 2 * (s == 2) + narrow)


def _quad(ow: int, s: int) -> bool:  # qcc_dw5q_takes
    return ow >= 4 and (s == 2 or 3 * ((ow + 3) // 4) < 2 * ((ow + 1) // 2))


def conv_forms(q: dict) -> int:
    """The forms one conv's parameters (a qcc_conv2d_p initializer) reach: 0 when it does not
    take qcc_conv2d_dwd's forms."""
    kh, kw, sh, sw = (int(q[k]) for k in ("kh", "kw", "sh", "sw"))
    if (int(q.get("pb", 0)) > 0 or q["c"] != q["group"] or q["dh"] != 1 or q["dw"] != 1
            or 2 * sw + kw + 3 > 32 or kh != kw or kw not in (3, 5) or sw not in (1, 2)):
        return 0
    narrow = int(int(q["lo"]) > -128 or int(q["hi"]) < 127)
    ow, oh = int(q["ow"]), int(q["oh"])
    if kw == 5 and int(q["h"]) <= 2:
        return ((R2S2N if narrow else R2S2W) if sw == 2 else (R2S1N if narrow else R2S1W))
    if kw == 5 and _quad(ow, sw):
        return Q5S2 if sw == 2 else (Q5S1N if narrow else Q5S1W)
    if kw == 3 and sw == 1 and sh == 1 and ow % 2 == 0 and oh >= 2:
        return (D22N if narrow else D22W) | (_pair(3, 1, narrow) if oh % 2 else 0)
    return _pair(kw, sw, narrow)


def program_forms(p) -> int:
    """The mask for a cprogram.Program: every form when a kernel calls qcc_conv2d with
    parameters of its own (the transposed convs' phases)."""
    if "conv_transpose2d" in p.kernels:
        return ALL
    mask = 0
    for st in p.steps:
        if st.struct == "qcc_conv2d_p":
            mask |= conv_forms(st.params)
    return mask
