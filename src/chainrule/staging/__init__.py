"""``@chainrule.function``: GradientTape code staged into generated adjoint source.

Modules, in the order a staged call goes through them:

* :mod:`.function` — the decorator, input signatures and tracing, the wrapper that replaces
  each tape block by a call into generated code;
* :mod:`.blocks` — tape blocks planned, extracted into functions of NumPy values and
  differentiated by the source transformer (nested tapes included);
* :mod:`.lower` — the block's code (and the functions it calls) rewritten for NumPy values
  with the eager tape's meaning;
* :mod:`.deps` — connectivity masks: which sources the eager tape would link to a target;
* :mod:`.tape` — the run-time :class:`StagedTape` answering ``gradient``/``jacobian``;
* :mod:`.primitives` — the few functions generated code calls that have rules.

The guarantees are stated in each module; ``docs/function.md`` is the guide.
"""

from .function import ConcreteFunction, StagedFunction, function
from .tape import StagedTape

__all__ = ["function", "StagedFunction", "ConcreteFunction", "StagedTape"]
