"""f(x) = sin(x)**2 and its first three derivatives, with both engines (seed document 004).

The TF 1.x eager tutorial checked that f(pi/2) = 1 with a derivative of 0 there, then
plotted f, f', f'' and f''' over 100 points in [-2 pi, 2 pi] by differentiating three
times. This example does both twice:

* with the GradientTape: ``grad(f)`` differentiates on a tape, and ``grad(grad(f))`` nests
  the tapes (the inner gradient is recorded by the outer tape);
* with the source transformer: ``chainrule.elementwise_grad`` applied three times to the
  NumPy version of f (it generates derivative code from the function's source).

It prints the largest error of each derivative against the closed forms (f' = sin 2x,
f'' = 2 cos 2x, f''' = -4 sin 2x) and saves one PNG per engine. Plotting needs matplotlib
(``pip install "chainrule[examples]"``); without it the numbers are still computed and
printed, and the plots are skipped with a message.

Run ``python examples/sin_squared_derivatives.py [--out DIRECTORY]``.
"""

import argparse
import os
from math import pi

import numpy as np

import chainrule as cr


def f(x):
    return cr.square(cr.sin(x))


def gradients_function(f):
    """TF 1.x's ``tfe.gradients_function``: the derivatives of f, as a list, by a tape."""

    def df(x):
        x = cr.convert_to_tensor(x)
        with cr.GradientTape() as t:
            t.watch(x)
            y = f(x)
        return [t.gradient(y, x)]

    return df


def grad(f):
    return lambda x: gradients_function(f)(x)[0]


def f_numpy(x):
    # The same function written with NumPy, for the source transformer.
    return np.square(np.sin(x))


def derivatives_on_the_tape(x):
    return [f(x).numpy(), grad(f)(x).numpy(), grad(grad(f))(x).numpy(),
            grad(grad(grad(f)))(x).numpy()]


def derivatives_by_source_transformation(x):
    d1 = cr.elementwise_grad(f_numpy)
    d2 = cr.elementwise_grad(d1)
    d3 = cr.elementwise_grad(d2)
    return [f_numpy(x), d1(x), d2(x), d3(x)]


def plot(x, values, title, path):
    """Save the four curves to ``path``; False (with a message) without matplotlib."""
    try:
        import matplotlib
    except ImportError:
        print(f"matplotlib is not installed: skipping the plot {os.path.basename(path)} "
              '(pip install "chainrule[examples]" to draw it)')
        return False
    matplotlib.use("Agg")  # draw to a file, no window
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for v, label in zip(values, ["f", "first derivative", "second derivative",
                                 "third derivative"]):
        ax.plot(x, v, label=label)
    ax.set_title(title)
    ax.set_xlabel("x")
    ax.legend()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    print(f"saved {path}")
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=".", help="directory for the PNG files")
    args = parser.parse_args(argv)

    # The tutorial's first checks: f(pi/2) = 1 and its derivative vanishes there.
    grad_f = gradients_function(f)
    assert f(pi / 2).numpy() == 1.0
    assert cr.abs(grad_f(pi / 2)[0]).numpy() < 1e-7
    print("f(pi/2) =", f(pi / 2).numpy())
    print("f'(pi/2) =", grad_f(pi / 2)[0].numpy())

    x = np.linspace(-2 * pi, 2 * pi, 100)  # 100 points between -2 pi and +2 pi
    exact = [np.sin(x) ** 2, np.sin(2 * x), 2 * np.cos(2 * x), -4 * np.sin(2 * x)]
    tape = derivatives_on_the_tape(cr.constant(x))
    source = derivatives_by_source_transformation(x)
    for name, values in (("tape", tape), ("elementwise_grad", source)):
        errors = [float(np.max(np.abs(v - e))) for v, e in zip(values, exact)]
        print(f"{name}: max error of f, f', f'', f''' = " +
              ", ".join(f"{e:.1e}" for e in errors))
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(tape, source))
    print(f"tape vs elementwise_grad: max difference {diff:.1e}")

    os.makedirs(args.out, exist_ok=True)
    plot(x, tape, "sin(x)**2 and its derivatives (GradientTape)",
         os.path.join(args.out, "sin_squared_tape.png"))
    plot(x, source, "sin(x)**2 and its derivatives (elementwise_grad)",
         os.path.join(args.out, "sin_squared_elementwise_grad.png"))


if __name__ == "__main__":
    main()
