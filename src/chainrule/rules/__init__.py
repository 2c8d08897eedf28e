"""The shared rule library. Importing this package registers every built-in rule."""

from . import operators as _operators  # noqa: F401  (registers rules)
from .registry import (
    Primitive,
    Rule,
    defattr,
    defjvp,
    defmethod,
    defvjp,
    is_nondifferentiable,
    nondifferentiable,
    primitive_of,
    registered_primitives,
)

__all__ = [
    "Primitive",
    "Rule",
    "defattr",
    "defjvp",
    "defmethod",
    "defvjp",
    "is_nondifferentiable",
    "nondifferentiable",
    "primitive_of",
    "registered_primitives",
]
