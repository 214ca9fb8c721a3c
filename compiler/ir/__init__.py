"""The qcc intermediate representation (see docs/ir.md)."""

from .types import DType, QParams, TensorType
from .graph import Graph, Node, Value

__all__ = ["DType", "QParams", "TensorType", "Graph", "Node", "Value"]
