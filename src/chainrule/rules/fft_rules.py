"""Rules for ``np.fft``.

Guarantees:

* ``fft``, ``ifft``, ``fft2``, ``ifft2``, ``fftn``, ``ifftn``, ``rfft``, ``irfft``, ``rfft2``,
  ``irfft2``, ``rfftn``, ``irfftn``, ``fftshift`` and ``ifftshift`` have VJP and JVP rules,
  with any ``n``/``s`` (padding or truncation), ``axis``/``axes`` and ``norm``, checked
  against central finite differences in float64 by ``tests/test_rules.py``.
* Complex cotangents follow the transpose convention (as JAX): for a real loss ``L`` of a
  complex output ``z = x + iy`` the cotangent is ``dL/dx - i dL/dy``, and the cotangent of a
  real input is real (:func:`chainrule.runtime.fit_to` takes the real part).

Every transform is linear, so each JVP applies the transform itself to the tangent. The DFT
matrix is symmetric, so each VJP applies the same transform, with the same ``norm``, to
``g``, then truncates or zero-pads it back to the input's shape. The real transforms add
one step: ``rfft`` zero-pads the half spectrum to the full length first, and ``irfft``
weights the frequencies that stand for a conjugate pair twice
(:func:`chainrule.runtime.irfft_weights`).
"""

import numpy as np

from ..runtime import fft_axes, fft_lengths, fit_to, irfft_weights
from .registry import defjvp, defvjp, nondifferentiable

# --------------------------------------------------------------------------- complex transforms

defvjp(
    np.fft.fft,
    lambda g, ans, a, n=None, axis=-1, norm=None, out=None:
        fit_to(np.fft.fft(g, axis=axis, norm=norm), a),
)
defjvp(
    np.fft.fft,
    lambda g, ans, a, n=None, axis=-1, norm=None, out=None: np.fft.fft(g, n, axis, norm),
)
defvjp(
    np.fft.ifft,
    lambda g, ans, a, n=None, axis=-1, norm=None, out=None:
        fit_to(np.fft.ifft(g, axis=axis, norm=norm), a),
)
defjvp(
    np.fft.ifft,
    lambda g, ans, a, n=None, axis=-1, norm=None, out=None: np.fft.ifft(g, n, axis, norm),
)
defvjp(
    np.fft.fft2,
    lambda g, ans, a, s=None, axes=(-2, -1), norm=None, out=None:
        fit_to(np.fft.fft2(g, axes=axes, norm=norm), a),
)
defjvp(
    np.fft.fft2,
    lambda g, ans, a, s=None, axes=(-2, -1), norm=None, out=None: np.fft.fft2(g, s, axes, norm),
)
defvjp(
    np.fft.ifft2,
    lambda g, ans, a, s=None, axes=(-2, -1), norm=None, out=None:
        fit_to(np.fft.ifft2(g, axes=axes, norm=norm), a),
)
defjvp(
    np.fft.ifft2,
    lambda g, ans, a, s=None, axes=(-2, -1), norm=None, out=None: np.fft.ifft2(g, s, axes, norm),
)
defvjp(
    np.fft.fftn,
    lambda g, ans, a, s=None, axes=None, norm=None, out=None:
        fit_to(np.fft.fftn(g, axes=fft_axes(a, s, axes), norm=norm), a),
)
defjvp(
    np.fft.fftn,
    lambda g, ans, a, s=None, axes=None, norm=None, out=None: np.fft.fftn(g, s, axes, norm),
)
defvjp(
    np.fft.ifftn,
    lambda g, ans, a, s=None, axes=None, norm=None, out=None:
        fit_to(np.fft.ifftn(g, axes=fft_axes(a, s, axes), norm=norm), a),
)
defjvp(
    np.fft.ifftn,
    lambda g, ans, a, s=None, axes=None, norm=None, out=None: np.fft.ifftn(g, s, axes, norm),
)

# --------------------------------------------------------------------------- real transforms

defvjp(
    np.fft.rfft,
    lambda g, ans, a, n=None, axis=-1, norm=None, out=None:
        fit_to(np.fft.fft(g, np.shape(a)[axis] if n is None else n, axis, norm), a),
)
defjvp(
    np.fft.rfft,
    lambda g, ans, a, n=None, axis=-1, norm=None, out=None: np.fft.rfft(g, n, axis, norm),
)
defvjp(
    np.fft.irfft,
    lambda g, ans, a, n=None, axis=-1, norm=None, out=None:
        fit_to(irfft_weights(g, axis) * np.fft.ifft(g, axis=axis, norm=norm), a),
)
defjvp(
    np.fft.irfft,
    lambda g, ans, a, n=None, axis=-1, norm=None, out=None: np.fft.irfft(g, n, axis, norm),
)
defvjp(
    np.fft.rfft2,
    lambda g, ans, a, s=None, axes=(-2, -1), norm=None, out=None:
        fit_to(np.fft.fftn(g, fft_lengths(a, s, axes), axes, norm), a),
)
defjvp(
    np.fft.rfft2,
    lambda g, ans, a, s=None, axes=(-2, -1), norm=None, out=None: np.fft.rfft2(g, s, axes, norm),
)
defvjp(
    np.fft.irfft2,
    lambda g, ans, a, s=None, axes=(-2, -1), norm=None, out=None:
        fit_to(irfft_weights(g, axes[-1]) * np.fft.ifft2(g, axes=axes, norm=norm), a),
)
defjvp(
    np.fft.irfft2,
    lambda g, ans, a, s=None, axes=(-2, -1), norm=None, out=None:
        np.fft.irfft2(g, s, axes, norm),
)
defvjp(
    np.fft.rfftn,
    lambda g, ans, a, s=None, axes=None, norm=None, out=None:
        fit_to(np.fft.fftn(g, fft_lengths(a, s, axes), fft_axes(a, s, axes), norm), a),
)
defjvp(
    np.fft.rfftn,
    lambda g, ans, a, s=None, axes=None, norm=None, out=None: np.fft.rfftn(g, s, axes, norm),
)
defvjp(
    np.fft.irfftn,
    lambda g, ans, a, s=None, axes=None, norm=None, out=None: fit_to(
        irfft_weights(g, fft_axes(g, s, axes)[-1])
        * np.fft.ifftn(g, axes=fft_axes(g, s, axes), norm=norm),
        a,
    ),
)
defjvp(
    np.fft.irfftn,
    lambda g, ans, a, s=None, axes=None, norm=None, out=None: np.fft.irfftn(g, s, axes, norm),
)

# --------------------------------------------------------------------------- shifts

defvjp(np.fft.fftshift, lambda g, ans, x, axes=None: np.fft.ifftshift(g, axes))
defjvp(np.fft.fftshift, lambda g, ans, x, axes=None: np.fft.fftshift(g, axes))
defvjp(np.fft.ifftshift, lambda g, ans, x, axes=None: np.fft.fftshift(g, axes))
defjvp(np.fft.ifftshift, lambda g, ans, x, axes=None: np.fft.ifftshift(g, axes))

nondifferentiable(np.fft.fftfreq, np.fft.rfftfreq)
