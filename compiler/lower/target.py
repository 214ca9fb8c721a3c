"""What a backend tells the lowering about its machine: one small dataclass per target.

The lowering reads it for the memory plan (alignment), for tiling and scratch sizes (the
im2col block, the packed matmul operand) and for what it may emit (weight bit widths).
A backend owns its instance (``qcc.backends.c.TARGET_DESC``, ...); :data:`DEFAULT` holds
the values the C backend has always used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass(frozen=True)
class Target:
    """``name``: used in error messages ("target c: ...").
    ``align``: byte alignment of every planned buffer (activations, scratch).
    ``vector_bytes``: the widest vector the kernels use (informative for tilings).
    ``im2col_bytes``: scratch budget of one im2col block (int16 columns) of a conv.
    ``pw_direct_plane``: pointwise convs on planes at least this large use the direct kernel.
    ``matmul_pack_bytes``: a matmul's b operand is transposed into int16 scratch when the
    copy (plus one row of a) fits this budget.
    ``weight_bits``: weight widths the kernels take (8, 4, 2: packed rows).
    ``onchip_bytes``: on-chip memories by name (an accelerator's SRAMs), empty otherwise.
    ``arena_limit``: largest activation arena the target can hold, None for no limit.
    ``fuse_residual``: kernel families whose epilogue can also add a residual operand
    (:class:`~qcc.lower.kernels.Residual`): a requantized add/sub of such a call's output
    read by nothing else is folded into that call (:mod:`qcc.lower.fuse`); empty: never.
    ``tile_temporaries``: the kernels keep their temporaries (im2col columns, packed
    operands, accumulators) in registers/tiles, so calls get no per-call scratch except a
    buffer their algorithm records as needed (``Lstm.xpath``).
    ``softmax_any_axis``: the integer softmax kernel takes a normalized axis other than the
    last (elements at a stride, ``ISoftmax.inner``); else such a node is a lowering error.
    ``rnn_xpath``: ``"step"`` (the recurrence computes each time step's x-path gate terms
    into a one-step scratch) or ``"sequence"`` (the x-path terms of every time step and
    direction first, as one GEMM per direction into an int32 scratch
    ``[dirs, seq, batch, gates*hidden]``, then the recurrence).
    ``convt_phases``: a transposed convolution runs as one stride-1 conv2d per output phase
    (:mod:`qcc.lower.convt_phases`): its weight operand is the phases' conv2d rows and
    ``ConvTranspose2d.phases`` their geometry; else the IR weight ``[C, M/g, kH, kW]``.
    ``lut_per_channel``: the table-lookup kernel takes one table per channel (a ``qcc.lut``
    with a ``[C, 256]`` table, made by the ``fuse-tables`` pass); else such a node is a
    lowering error.
    ``pw_wide_cols``: column counts (largest first) of a pointwise conv's GEMM scratch that
    the memory plan grants where its arena has room at the call (the Arm DSP build runs
    pointwise convs as im2col GEMMs in that scratch, ``PW_DSP_COLS`` columns otherwise:
    fewer blocks, less per-block loop state); empty: never.
    ``matmul_block``: 0, or the edge of an accelerator's square weight blocks: a matmul's
    scratch then holds its ``b`` operand staged as ``[batch, N/blk, K/blk, blk, blk]`` int8
    blocks, followed (when ``a`` is uint8) by ``a - 128`` as int8 ``[batch, M, K]``.
    """

    name: str = "c"
    align: int = 16
    vector_bytes: int = 16
    im2col_bytes: int = 8192
    pw_direct_plane: int = 64
    matmul_pack_bytes: int = 32768
    weight_bits: tuple = (8, 4, 2)
    onchip_bytes: dict = field(default_factory=dict)
    arena_limit: Optional[int] = None
    fuse_residual: tuple = ()
    tile_temporaries: bool = False
    rnn_xpath: str = "step"
    softmax_any_axis: bool = False
    matmul_block: int = 0
    convt_phases: bool = False
    lut_per_channel: bool = False
    pw_wide_cols: tuple = ()


DEFAULT = Target()
