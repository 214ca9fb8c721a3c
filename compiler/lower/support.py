"""What a backend implements: kernel families and the element types of their operands.

A backend hands a :class:`Support` to :func:`qcc.lower.lower`; every call the lowering
makes is checked against it and everything missing is reported together, one line per
offending node.  ``families`` maps a family (``Kernel.family``) to the allowed dtypes of
its operands by field name (``"y"`` is the output; fields not listed are not checked);
``wide`` lists the families whose kernels implement the int64 accumulator of a node with
``acc_bits=64`` (docs/arithmetic.md §5.1): any other family refuses such a node.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qcc.ir import DType, Value

from .kernels import Const, Kernel


def wide_acc_problem(node) -> str:
    """The one line refusing a node with the int64 accumulator (``acc_bits=64``) on a
    target whose kernel for it only has int32 accumulators."""
    return (f"{node.op} node '{node.name}' needs an int64 accumulator (its int32 sum is not "
            f"proved to fit; see the widen-accumulators note), which this target's kernel does "
            f"not implement; the c target does")


def needs_wide_acc(node) -> bool:
    return int(node.attrs.get("acc_bits", 32) or 32) == 64


@dataclass(frozen=True)
class Support:
    families: dict = field(default_factory=dict)   # family -> {field: tuple of DType}
    wide: frozenset = frozenset()                  # families with an int64-accumulator form

    def problems(self, call: Kernel) -> list[str]:
        """Why ``call`` is not implemented (empty when it is)."""
        node = call.node
        if call.family not in self.families:
            return [f"{node.op} node '{node.name}' needs a {call.family} kernel, which this "
                    f"target does not implement"]
        if call.acc_bits == 64 and call.family not in self.wide:
            return [wide_acc_problem(node)]
        out = []
        for name, allowed in self.families[call.family].items():
            v = getattr(call, name, None)
            if isinstance(v, (Value, Const)) and v.dtype not in allowed:
                what = f"'{v.name}'" if isinstance(v, Value) else f"'{v.source}'"
                role = "output" if name == "y" else name
                out.append(f"{node.op} node '{node.name}' has {role} {what} of dtype "
                           f"{v.dtype.short}; the {call.family} kernel takes "
                           f"{'/'.join(d.short for d in allowed)}")
        return out


def dtypes(*names: str) -> tuple:
    return tuple(DType[n] for n in names)
