"""``Variable``: mutable state that tapes watch (``tf.Variable`` over NumPy).

Guarantees:

* A Variable owns a private NumPy array whose dtype and shape never change; ``assign``,
  ``assign_add`` and ``assign_sub`` update it in place (the Variable object, and anything
  holding it, sees the new value) and are never differentiated through.
* Reading a Variable in an operation inside a recording tape is recorded: a trainable,
  floating-point Variable is watched automatically unless the tape was created with
  ``watch_accessed_variables=False``; a non-trainable one only when watched explicitly.
* A value already handed to an operation is never overwritten: reads mark the buffer as
  shared and the next assignment writes a fresh buffer instead (copy on write), so recorded
  values and tensors returned by ``value()`` keep the value they were computed with.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..rules.registry import defjvp, defvjp
from .record import _escape, unary
from .state import STATE, new_id
from .tensor import Tensor, _TensorLike

__all__ = ["Variable", "read_variable"]


def read_variable(x: Any) -> Any:
    """The primitive recorded by ``Variable.value()``: the identity on the variable's value."""
    return x


_READ = defvjp(read_variable, lambda g, ans, x: g, name="chainrule.Variable.value")
defjvp(read_variable, lambda g, ans, x: g, name="chainrule.Variable.value")


class Variable(_TensorLike):
    """A mutable, named array that :class:`GradientTape` watches when it is read.

    ``Variable(initial_value, trainable=True, name=None, dtype=None)``: ``initial_value`` may
    be a value, a Tensor or a callable returning one; Python floats become float64.
    Operators and NumPy functions read it (and the read is recorded on recording tapes).
    """

    __slots__ = ("_value", "_id", "_trainable", "_name", "_shared", "__weakref__")

    def __init__(self, initial_value: Any, trainable: bool = True, name: str | None = None,
                 dtype: Any = None) -> None:
        if callable(initial_value) and not isinstance(initial_value, _TensorLike):
            initial_value = initial_value()
        if isinstance(initial_value, _TensorLike):
            initial_value = initial_value._value
        self._value = np.array(initial_value, dtype=dtype)  # a private, writable copy
        self._id = new_id()
        self._trainable = bool(trainable)
        self._name = "Variable" if name is None else str(name)
        self._shared = False

    # ------------------------------------------------------------------ reading
    def _read(self) -> np.ndarray:
        self._shared = True
        tapes, _, reads = STATE.ctx
        if tapes and self._trainable:
            uid = self._id
            for rec in tapes:
                if rec.watch_accessed and uid not in rec.ids:
                    watch_variable(rec, self)
        if reads is not None:
            reads.append(self)
        return self._value

    def value(self) -> Tensor:
        """The current value as a Tensor; inside a tape the read is recorded."""
        return unary(read_variable, _READ, self)

    read_value = value

    def _as_tensor(self) -> Tensor:
        return self.value()

    def numpy(self) -> Any:
        """A copy of the current value (a NumPy scalar for 0-d variables)."""
        _escape(self, ".numpy()")
        value = self._value
        return value[()] if value.ndim == 0 else value.copy()

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """A copy of the current value (later assignments do not show through it)."""
        _escape(self, "np.asarray()")
        return np.array(self._value, dtype=dtype, copy=True)

    @property
    def trainable(self) -> bool:
        return self._trainable

    @property
    def name(self) -> str:
        return self._name

    # ---------------------------------------------------------------- assigning
    def assign(self, value: Any, use_locking: Any = None, name: Any = None,
               read_value: bool = True) -> Variable | None:
        """Set the value in place; shape and dtype stay fixed (``ValueError`` / ``TypeError``
        otherwise). Not recorded: gradients never flow through an assignment."""
        del use_locking, name
        new = value._value if isinstance(value, _TensorLike) else value
        if type(new) is not np.ndarray:
            new = np.asarray(new)
        if new.shape != self._value.shape:
            raise ValueError(
                f"Cannot assign value to variable '{self._name}': Shape mismatch. The variable "
                f"shape {self._value.shape}, and the assigned value shape {new.shape} are "
                "incompatible.")
        if new.dtype != self._value.dtype and \
                not np.can_cast(new.dtype, self._value.dtype, "same_kind"):
            raise TypeError(
                f"Cannot assign a value of dtype {new.dtype.name} to variable '{self._name}' "
                f"of dtype {self._value.dtype.name}")
        if self._shared:  # a recorded value or a tensor holds the old buffer: do not touch it
            self._value = new.astype(self._value.dtype, copy=True)
            self._shared = False
        else:
            np.copyto(self._value, new, casting="same_kind")
        return self if read_value else None

    def assign_add(self, delta: Any, use_locking: Any = None, name: Any = None,
                   read_value: bool = True) -> Variable | None:
        """``self.assign(self + delta)``, not recorded."""
        d = delta._value if isinstance(delta, _TensorLike) else delta
        return self.assign(self._value + d, read_value=read_value)

    def assign_sub(self, delta: Any, use_locking: Any = None, name: Any = None,
                   read_value: bool = True) -> Variable | None:
        """``self.assign(self - delta)``, not recorded."""
        d = delta._value if isinstance(delta, _TensorLike) else delta
        return self.assign(self._value - d, read_value=read_value)

    # -------------------------------------------------------------------- misc
    def __repr__(self) -> str:
        body = str(self._value)
        if "\n" in body:
            body = "\n" + body
        return (f"<Variable '{self._name}' shape={self._value.shape} "
                f"dtype={self._value.dtype.name}, numpy={body}>")

    __str__ = __repr__

    def __copy__(self) -> Variable:
        return Variable(self._value, self._trainable, self._name)

    def __deepcopy__(self, memo: dict[int, Any]) -> Variable:
        return Variable(self._value, self._trainable, self._name)

    def __reduce__(self) -> Any:
        return (Variable, (self._value, self._trainable, self._name))


def watch_variable(rec: Any, var: Variable) -> None:
    """Make ``var`` a watched leaf of the recorder ``rec`` (floating-point variables only)."""
    if var._value.dtype.kind in "fc":
        rec.ids[var._id] = None
        rec.leaves[var._id] = var
        rec.variables[var._id] = var

