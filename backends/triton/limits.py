"""Limits of real GPUs that the Triton interpreter does not enforce (docs/target_triton.md).

Checked when a kernel is rendered, so a source that runs under ``TRITON_INTERPRET=1``
also compiles for an NVIDIA GPU:

* ``tl.dot`` on 8-bit operands needs a K tile of at least 32 (the NVIDIA backend's
  ``min_dot_size``); packed int4/int2 weights split the K tile into ``8/bits`` dots,
  so each of them must still be >= 32;
* M and N tiles of at least 16 (older Triton versions reject smaller dots);
* every ``tl.arange`` length is a power of two;
* ``BK * 255 * 128 < 2^31`` is implied by the int32 accumulator contract and the
  quantizer's static bound, not re-checked here.
"""

from __future__ import annotations

from qcc.errors import LoweringError

MIN_DOT_K = 32
MIN_DOT_MN = 16
DOT_FAMILIES = ("gemm",)


def _pow2(x: int) -> bool:
    return x > 0 and x & (x - 1) == 0


def check_tiles(family: str, cfg: dict) -> None:
    for key in ("BM", "BN", "BK", "BLOCK", "BR"):
        if key in cfg and not _pow2(int(cfg[key])):
            raise LoweringError(f"triton kernel {cfg.get('name')}: tile {key}={cfg[key]} "
                                f"is not a power of two")
    if family not in DOT_FAMILIES:
        return
    per = int(cfg.get("per", 1))
    if cfg["BK"] // per < MIN_DOT_K:
        raise LoweringError(f"triton kernel {cfg.get('name')}: 8-bit dot needs K tile >= "
                            f"{MIN_DOT_K} on NVIDIA GPUs (BK={cfg['BK']}, {per} per byte)")
    if min(cfg["BM"], cfg["BN"]) < MIN_DOT_MN:
        raise LoweringError(f"triton kernel {cfg.get('name')}: M/N tiles must be >= "
                            f"{MIN_DOT_MN} (BM={cfg['BM']}, BN={cfg['BN']})")
