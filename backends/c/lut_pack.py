"""Compile-time repacking of int4 / int2 linear weights into the bit planes that the
table-lookup kernel reads (templates/kernels/linear_lut.c, docs/target_c_log.md "Table lookup").

Layout, for weights ``rows`` [N, K] (values in the int4 / int2 range) and group size ``gs``
(K for per-channel weights): every group is padded to ``gsp = roundup(gs, 8)`` with zero
weights, the features to a multiple of 16; then per block of 16 features, group, pair of
quads (8 activations) and pair of bit planes, 32 bytes: byte ``2i + e`` belongs to feature
``i`` and plane ``2pp + e`` of the two's-complement weight bits; its low nibble holds the
plane's bits of the pair's first four weights (bit t for weight t), its high nibble those of
the next four.  The bytes per weight are those of the packed rows (4 or 2 bits) plus the
padding.
"""

from __future__ import annotations

import numpy as np

KP_MAX = 2048  # padded K the kernel's tables hold (QCC_WLUT_KP)


def lut_geometry(k: int, gs: int) -> tuple[int, int, int]:
    """(gsp, ng, kp): the padded group, the number of groups, the padded K."""
    gsp = -(-gs // 8) * 8
    ng = -(-k // gs)
    return gsp, ng, ng * gsp


N_MIN = 16     # the kernel's block of features: below it, half a block or more is padding
ROWS_FEW = 4   # up to this many rows of x, grouped int4 weights also take the tables


def lut_rule(bits: int, rows: int, k: int, n: int, gs: int, grouped: bool) -> bool:
    """Whether a linear layer gets the bit planes, and so the table-lookup kernel in the x86
    AVX2 builds (docs/target_c_log.md "Table lookup", from ``python -m qcc.bench.lut_shapes``):
    int4 / int2 weights, padded K within the tables, N >= 16, and one row of x (any weights),
    or per-group weights with up to 4 rows (int4) or any number of rows (int2). Layers of
    more than 4 rows get them only without AVX-512 VNNI / AVX-VNNI (:func:`lut_guard`), where
    VPDPBUSD on unpacked bytes measured faster."""
    if bits not in (4, 2) or n < N_MIN or lut_geometry(k, gs)[2] > KP_MAX:
        return False
    return rows == 1 or (grouped and (rows <= ROWS_FEW or bits == 2))


def lut_guard(rows: int) -> str:
    """The macro of NAME_weights.h under which a layer's planes exist (templates/weights.h.j2):
    x86 with AVX2, and for more than ROWS_FEW rows without VNNI."""
    return "QCC_LUT_WEIGHTS" if rows <= ROWS_FEW else "QCC_LUT_WEIGHTS_ROWS"


def unpack_rows(packed: np.ndarray, bits: int, n: int, k: int) -> np.ndarray:
    """The int8 values [N, K] of weight rows packed by ``qcc.lower.rules_nn.pack_rows``."""
    per = 8 // bits
    b = np.asarray(packed).astype(np.uint8).reshape(n, -(-k // per)).astype(np.int64)
    u = ((b[:, :, None] >> (np.arange(per) * bits)) & ((1 << bits) - 1)).reshape(n, -1)[:, :k]
    return np.where(u >= 1 << (bits - 1), u - (1 << bits), u).astype(np.int8)


def lut_planes(rows: np.ndarray, bits: int, gs: int) -> np.ndarray:
    """The bit planes of ``rows`` [N, K] as a flat uint8 array (layout above)."""
    rows = np.asarray(rows, np.int64)
    n, k = rows.shape
    gsp, ng, kp = lut_geometry(k, gs)
    nb = -(-n // 16)
    w = np.zeros((nb * 16, ng, gsp), np.int64)
    for g in range(ng):
        part = rows[:, g * gs:min(k, (g + 1) * gs)]
        w[:n, g, :part.shape[1]] = part
    u = w & ((1 << bits) - 1)
    planes = (u[..., None] >> np.arange(bits)) & 1           # [F, ng, gsp, bits]
    # gsp = (pair qq, half e4, weight t); bits = (plane pair pp, e)
    planes = planes.reshape(nb, 16, ng, gsp // 8, 2, 4, bits // 2, 2)
    nibbles = (planes << np.arange(4).reshape(4, 1, 1)).sum(axis=5)  # [nb, 16, ng, qq, half, pp, e]
    byte = nibbles[:, :, :, :, 0] | (nibbles[:, :, :, :, 1] << 4)   # [nb, 16, ng, qq, pp, e]
    out = byte.transpose(0, 2, 3, 4, 1, 5)                           # [nb, ng, qq, pp, 16, e]
    return np.ascontiguousarray(out).reshape(-1).astype(np.uint8)


def lut_gmult(gmult: np.ndarray, n: int) -> np.ndarray:
    """Per-group multipliers [N, ng] as [N/16, ng, 16] (the features of a block side by side;
    those past N repeat the last), so that the kernel loads a group's 16 with two loads."""
    g = np.asarray(gmult, np.int64).reshape(n, -1)
    nb = -(-n // 16)
    idx = np.minimum(np.arange(nb * 16), n - 1)
    return np.ascontiguousarray(g[idx].reshape(nb, 16, -1).transpose(0, 2, 1)).reshape(-1).astype(np.int32)


def lut_reference(planes: np.ndarray, bits: int, gs: int, n: int, k: int) -> np.ndarray:
    """The weights [N, K] read back from the planes (the inverse of :func:`lut_planes`)."""
    gsp, ng, _ = lut_geometry(k, gs)
    nb = -(-n // 16)
    b = np.asarray(planes, np.int64).reshape(nb, ng, gsp // 8, bits // 2, 16, 2)
    nib = np.stack([b & 15, b >> 4], axis=3)                     # [nb, ng, qq, half, pp, 16, e]
    t = (nib[..., None] >> np.arange(4)) & 1                     # [..., e, t]
    u = (t.transpose(0, 5, 1, 2, 3, 7, 4, 6)                     # [nb, 16, ng, qq, half, t, pp, e]
         .reshape(nb * 16, ng, gsp, bits) << np.arange(bits)).sum(axis=3)
    w = np.where(u >= 1 << (bits - 1), u - (1 << bits), u)
    out = np.zeros((n, k), np.int64)
    for g in range(ng):
        ln = min(k, (g + 1) * gs) - g * gs
        out[:, g * gs:g * gs + ln] = w[:n, g, :ln]
    return out.astype(np.int8)
