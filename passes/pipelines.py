"""Per-target pipelines: plain lists of registered pass names.

``qcc passes --target T`` prints them.  Issues that add passes extend these
lists; the pass manager checks every name exists.
"""

FLOAT_CLEANUP = ["shape-fold", "constant-fold", "canonicalize", "dce"]

PIPELINES: dict[str, list[str]] = {
    "onnx": FLOAT_CLEANUP,
}


def pipeline_for(target: str, quantize: bool = False) -> list[str]:
    from qcc.errors import QccError

    if target not in PIPELINES:
        raise QccError(f"unknown target '{target}'; known targets: {', '.join(sorted(PIPELINES))}")
    return list(PIPELINES[target])
