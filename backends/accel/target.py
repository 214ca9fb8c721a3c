"""What the accelerator tells the shared lowering (``qcc.lower``): its :class:`Target`
(alignment of the DRAM arena, the on-chip memories of the hardware description) and its
:class:`Support` (the kernel families and operand dtypes the streams implement).

The accelerator lowers every call of the kernel program that its renderers implement; a
call outside ``SUPPORT`` (or one its renderer cannot express, see ``program.why_host``)
runs on the host as a fallback listed in the manifest with its reason, so the program is
lowered without a ``Support`` filter and classified call by call.
"""

from __future__ import annotations

from qcc.ir import Graph
from qcc.lower import Support, Target
from qcc.lower.adapt_unsigned import adapt_unsigned_inputs
from qcc.lower.support import dtypes

from .hw import HwConfig
from .layout import ALIGN

_I8 = dtypes("int8")
_ISA = dtypes("int8", "uint8", "int16", "int32")
_BYTE = dtypes("int8", "uint8")

SUPPORT = Support({
    "conv2d": {"x": _I8, "y": _ISA},
    "linear": {"x": _I8, "y": _ISA},
    "matmul": {"a": _BYTE, "b": _BYTE, "y": _ISA},
    "binary": {"a": _ISA, "b": _ISA, "y": _ISA},
    "requant": {"x": _ISA, "y": _ISA},
    "lut": {"x": _BYTE, "y": _ISA},
    "concat": {"x": _ISA, "y": _ISA},
    "global_avgpool": {"x": _ISA, "y": _ISA},
    "reduce": {"x": _ISA, "y": _ISA},
    "pool": {"x": _ISA, "y": _ISA},
    "copy": {"x": _ISA, "y": _ISA},
    "resize": {"x": _ISA, "y": _ISA},
    "gather_table": {"x": _ISA, "y": _ISA},
    "threshold": {"x": _ISA + dtypes("int64"), "y": _ISA},
    "igelu": {"x": _ISA, "y": _ISA},
    "isoftmax": {"x": _ISA, "mask": _BYTE, "y": _ISA},
    "ilayernorm": {"x": _ISA, "y": _ISA},
    "gather": {"data": _ISA, "indices": dtypes("int32", "int64"), "y": _ISA},
    "lstm": {"x": _I8, "y": _I8},
    "gru": {"x": _I8, "y": _I8},
}, wide=frozenset({"conv2d", "linear"}))  # when int32-exact (lower_gemm.int32_plan), else host


def accel_target(hw: HwConfig) -> Target:
    """The lowering's description of an accelerator configuration: DRAM buffers aligned to
    ALIGN bytes (one DMA burst), int8/int4/int2 weights (unpacked into int8 weight blocks),
    the sizes of the on-chip memories, and an LSTM/GRU scratch of the "sequence" size (at
    least one step's int32 gate terms for every batch row, which ``lower_rnn`` stages)."""
    return Target(name="accel", align=ALIGN, vector_bytes=hw.dim, weight_bits=(8, 4, 2),
                  matmul_block=hw.dim, rnn_xpath="sequence",
                  onchip_bytes={"input": hw.inp_kib * 1024, "weight": hw.wgt_kib * 1024,
                                "accumulator": hw.acc_kib * 1024, "param": hw.param_kib * 1024,
                                "lut": 4 * 256 * hw.lut_tables})


# Why a family stays on the host (the manifest lists this reason for each such call).
HOST_REASONS = {
    "argmax": "an index search across lanes, which the ISA cannot express",
    "conv_transpose2d": "a graph that skipped the accel pipeline's convt-to-conv pass (which "
                        "makes it a conv2d and an index map)",
}


# The IR ops whose accelerator kernels read int8 only (the INP buffer holds int8, §3 LOAD;
# pooling: lower_pool.check_pool); a max pool then gives int8, shifted back to its uint8.
INT8_ONLY = frozenset({"qcc.conv2d", "qcc.conv_transpose2d", "qcc.linear", "onnx.MaxPool",
                       "qcc.avgpool"})


def adapt_unsigned(graph: Graph) -> list[str]:
    """A uint8 input of an ``INT8_ONLY`` op becomes int8 by an exact ``qcc.requant`` (the
    code minus 128, its zero point minus 128: ``qcc.lower.adapt_unsigned``), a LOAD/STORE
    pass on the accelerator, and the op's ``x_zp`` moves by -128; the graph is rewritten in
    place (``model.qcc`` is saved after it, so the reference runs the same graph).  Returns
    the adapted nodes' names."""
    return adapt_unsigned_inputs(graph, INT8_ONLY)
