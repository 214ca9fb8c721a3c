"""Per-target pipelines: plain lists of registered pass names.

``qcc passes --target T`` prints them.  The float pipeline cleans up the
imported graph; with ``--calib`` the quantizing pipeline calibrates the
cleaned graph (so every tensor a fusion hides still has a range), fuses,
lowers to integer ops and proves the result integer-only.
"""

FLOAT_CLEANUP = ["shape-fold", "constant-fold", "canonicalize", "dce"]
# fusion passes, in order; names not registered (yet) are skipped by pipeline_for
# fuse-activation last: it also folds the fused.hardswish/hardsigmoid made just before it
FLOAT_FUSION = ["fold-batchnorm", "fuse-linear", "fuse-gelu", "fuse-layernorm",
                "fuse-hardswish", "fuse-silu", "fuse-activation", "dce"]
# float-level rewrites that need calibration statistics (each a no-op unless its flag
# is given): cross-layer equalization, SmoothQuant migration, outlier channel
# reordering; then the per-layer bit-width choice (ILP) for --weight-bits mixed
PRE_QUANTIZE = ["equalize", "smoothquant", "reorder-channels", "assign-bits"]
QUANTIZE = (["import-dynamic", "import-qdq", "constant-fold", "canonicalize", "calibrate"] + FLOAT_FUSION
            + PRE_QUANTIZE + ["quantize", "dce", "check-integer-only", "widen-accumulators",
                 "check-headroom"])

PIPELINES: dict[str, list[str]] = {
    "onnx": FLOAT_CLEANUP,
    "c": FLOAT_CLEANUP,
    "triton": FLOAT_CLEANUP,
    "accel": FLOAT_CLEANUP,
}
QUANTIZED_TARGETS = {"c", "triton", "accel"}  # targets that only exist as integer code
# integer-only targets also turn quantized float chains on integer tensors into thresholds
# and data movement with constant indices into explicit index maps (meaning changes as IR),
# and an integer CumSum into shifted adds (data movement + integer Add: kernels every target has)
INTEGER_LOWERING = ["decompose-cumsum", "lower-thresholds", "lower-index-maps", "dce"]
# last, on the checked integer IR, for targets whose kernels take them: elementwise regions
# on one 8-bit tensor as one (per-channel) table; on the accelerator (no transposed-conv
# kernel) a transposed conv as a conv2d and an index map (convt-to-conv)
INTEGER_TAIL = {"c": ["fuse-tables", "dce"], "accel": ["convt-to-conv", "dce"]}


def pipeline_for(target: str, quantize: bool = False) -> list[str]:
    from qcc.errors import QccError
    from qcc.passmanager import all_passes

    if target not in PIPELINES:
        raise QccError(f"unknown target '{target}'; known targets: {', '.join(sorted(PIPELINES))}")
    pipe = list(PIPELINES[target])
    if quantize or target in QUANTIZED_TARGETS:
        pipe += QUANTIZE
        if target in QUANTIZED_TARGETS:
            at = pipe.index("quantize") + 1
            pipe[at:at] = INTEGER_LOWERING
            pipe += INTEGER_TAIL.get(target, [])
    known = all_passes()
    out = []
    for name in pipe:
        if name in known and not (name == "dce" and out and out[-1] == "dce"):
            out.append(name)
    return out
