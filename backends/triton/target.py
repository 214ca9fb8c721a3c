"""What the Triton backend tells the lowering (docs/lowering.md, docs/target_triton.md):
its :class:`~qcc.lower.Target` description and its :class:`~qcc.lower.Support` table."""

from __future__ import annotations

from qcc.lower import Support, Target
from qcc.lower.support import dtypes

# 64-byte aligned workspace; GEMM-family epilogues take a residual add; temporaries stay in
# registers (no per-call scratch); the RNN's x-path gate terms of all time steps are one
# GEMM per direction into scratch before the recurrence; no packed-b matmul (tl.dot reads b
# directly); the row kernel takes softmax over any axis (offset tables)
TARGET_DESC = Target(name="triton", align=64, vector_bytes=16, matmul_pack_bytes=0,
                     weight_bits=(8, 4, 2),
                     fuse_residual=("conv2d", "conv_transpose2d", "linear", "matmul"),
                     tile_temporaries=True, rnn_xpath="sequence", softmax_any_axis=True)

_Q8 = dtypes("int8", "uint8")
_I8 = dtypes("int8")
_OUT = dtypes("int8", "uint8", "int16", "int32")
_INT = dtypes("int8", "uint8", "int16", "int32", "int64", "bool")
SUPPORT = Support({
    "conv2d": {"x": _Q8, "y": _OUT},
    "conv_transpose2d": {"x": _Q8, "y": _OUT},
    "linear": {"x": _Q8, "y": _OUT},
    "matmul": {"a": _Q8, "b": _Q8, "y": _OUT},
    "binary": {"a": dtypes("int8", "uint8", "int16"), "b": dtypes("int8", "uint8", "int16"),
               "y": _OUT},
    "requant": {"x": dtypes("int8", "uint8", "int16", "int32"), "y": _OUT},
    "lut": {"x": _Q8, "table": _Q8},
    "concat": {"x": dtypes("int8", "uint8", "int16"), "y": dtypes("int8", "int16")},  # int16: wide concats
    "pool": {"x": _I8, "y": _I8},
    "global_avgpool": {"x": _I8, "y": _I8},
    "reduce": {"x": _I8, "y": _I8},
    "argmax": {"x": dtypes("int8", "uint8", "int16", "int32", "int64")},
    "resize": {"x": _I8},
    "copy": {"x": _INT}, "gather_table": {"x": _INT},
    "gather": {"data": _INT, "indices": dtypes("int32", "int64")},
    "logic": {"y": _INT}, "threshold": {},
    "isoftmax": {"mask": dtypes("int8", "uint8", "bool")},
    "igelu": {}, "ilayernorm": {},
    "lstm": {"x": _Q8}, "gru": {"x": _Q8},
}, wide=frozenset({"conv2d", "linear", "matmul", "pool", "global_avgpool", "reduce"}))
# wide: the int64-accumulator form (acc_bits=64): the gemm template sums each K tile's int32
# dot in int64; the taps and row kernels accumulate in int64 anyway
