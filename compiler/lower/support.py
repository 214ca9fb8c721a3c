"""What a backend implements: kernel families and the element types of their operands.

A backend hands a :class:`Support` to :func:`qcc.lower.lower`; every call the lowering
makes is checked against it and everything missing is reported together, one line per
offending node.  ``families`` maps a family (``Kernel.family``) to the allowed dtypes of
its operands by field name (``"y"`` is the output; fields not listed are not checked).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qcc.ir import DType, Value

from .kernels import Const, Kernel


@dataclass(frozen=True)
class Support:
    families: dict = field(default_factory=dict)   # family -> {field: tuple of DType}

    def problems(self, call: Kernel) -> list[str]:
        """Why ``call`` is not implemented (empty when it is)."""
        node = call.node
        if call.family not in self.families:
            return [f"{node.op} node '{node.name}' needs a {call.family} kernel, which this "
                    f"target does not implement"]
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
