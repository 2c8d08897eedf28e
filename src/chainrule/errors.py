"""Errors raised by chainrule.

Every error a user can trigger says *what* is wrong, *where* (``file:line`` of the
user's code when there is one) and *what to do*. Nothing here imports the engines.
"""

from __future__ import annotations

__all__ = [
    "TransformError",
    "MissingRuleError",
    "UnconnectedGradientError",
]


class TransformError(Exception):
    """Code that the source transformer cannot differentiate.

    Attributes:
        filename: the user's file (``None`` when the source has no file).
        lineno: 1-based line number in that file (``None`` when unknown).
        construct: short name of the offending construct, e.g. ``'try'``.
    """

    def __init__(
        self,
        message: str,
        *,
        filename: str | None = None,
        lineno: int | None = None,
        construct: str | None = None,
    ) -> None:
        self.filename = filename
        self.lineno = lineno
        self.construct = construct
        self.message = message
        super().__init__(self._format())

    def _format(self) -> str:
        if self.filename is not None and self.lineno is not None:
            return f"{self.filename}:{self.lineno}: {self.message}"
        if self.filename is not None:
            return f"{self.filename}: {self.message}"
        return self.message


class MissingRuleError(TransformError):
    """A function has no derivative rule for one of its arguments.

    Raised by both engines; the message names the function, the argument and how
    to register a rule with :func:`chainrule.defvjp` / :func:`chainrule.defjvp`.
    """


class UnconnectedGradientError(ValueError):
    """A gradient source is not connected to the target (``unconnected_gradients="raise"``)."""
