"""The one exception family of qcc.

Every error a user can cause is a :class:`QccError` whose message names the
model element at fault (file, node, op type, opset, tensor) and says what to
do.  The CLI prints ``qcc: error: <message>`` on one line and exits with 2.
"""

from __future__ import annotations


class QccError(Exception):
    """Base class of all user-facing qcc errors."""

    exit_code = 2


class ModelLoadError(QccError):
    """The model file is missing, not ONNX, truncated or unsafe."""


class UnsupportedOpError(QccError):
    """One or more ops cannot be imported or lowered.

    ``ops`` lists ``(op_type, node_name, opset)`` for every offender so that a
    model's unsupported ops are reported together.
    """

    def __init__(self, ops: list[tuple[str, str, int]], what: str = "unsupported op"):
        self.ops = list(ops)
        kinds = sorted({o[0] for o in self.ops})
        shown = ", ".join(f"{t} (node '{n}', opset {v})" for t, n, v in self.ops[:20])
        more = f" and {len(self.ops) - 20} more" if len(self.ops) > 20 else ""
        super().__init__(
            f"{len(self.ops)} {what}{'s' if len(self.ops) != 1 else ''} "
            f"[{', '.join(kinds)}]: {shown}{more}"
        )


class ShapeError(QccError):
    """Shapes or dtypes do not fit (missing --input-shape, wrong feed shape)."""


class InputDataError(QccError):
    """An .npz file does not match the model (keys, shapes, dtypes, NaNs, empty)."""


class VerificationError(QccError):
    """The IR verifier found a broken invariant (names the node and value)."""


class PassError(QccError):
    """A pass name is unknown or a pass precondition does not hold."""


class CalibrationError(QccError):
    """Calibration data is missing, empty or inconsistent."""


class BudgetError(QccError):
    """A mixed-precision budget cannot be met (reports the smallest feasible)."""


class LoweringError(QccError):
    """A node cannot be lowered to integer arithmetic (names the node)."""


class BuildError(QccError):
    """Building or running generated code failed (names the tool and file)."""
