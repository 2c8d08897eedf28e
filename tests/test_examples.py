"""Every training and tape example runs as a script, and prints the numbers its document
promises (examples/*.py; the seed documents are TensorFlow 2 autodiff tutorials).

The plotting example computes and checks its numbers without matplotlib and only skips
saving its PNGs (a test forces that path even where matplotlib is installed). The digits
example needs scikit-learn's bundled data set: its test is the only one skipped when
scikit-learn is missing (``pip install ".[examples]"``).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def run_example(name, *args, env=None, timeout=120):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args], capture_output=True, text=True,
        timeout=timeout, cwd=ROOT, env=env)
    assert result.returncode == 0, f"{name} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def number(pattern, text):
    """The float captured by ``pattern`` (a regex with one group) in ``text``."""
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not found in:\n{text}"
    return float(match.group(1))


FLOAT = r"(-?\d+(?:\.\d*)?(?:e[-+]?\d+)?)"


def test_tape_square():
    out = run_example("tape_square.py")
    assert out.splitlines() == ["Tensor(9.0, shape=(), dtype=float32)",
                                "Tensor(6.0, shape=(), dtype=float32)"]


def test_tape_quadratic():
    out = run_example("tape_quadratic.py")
    assert "dy_dx = Tensor(-2.0, shape=(), dtype=float32)" in out
    assert number(rf"dy_da = Tensor\({FLOAT},", out) == 0.0
    assert number(rf"dy_db = Tensor\({FLOAT},", out) == 0.0
    assert number(rf"dy_dc = Tensor\({FLOAT},", out) == 1.0
    assert number(rf"dy2_dx2 = Tensor\({FLOAT},", out) == 2.0
    assert "f(0.0) = (dy_dx, y) = (-2.0, 1.0)" in out
    assert "f(1.0) = (dy_dx, y) = (0.0, 0.0)" in out
    for how in ["apply_gradients", "minimize", "function with apply_gradients",
                "function with minimize"]:
        y = number(rf"(?m)^{how}: y = {FLOAT};", out)
        x = number(rf"(?m)^{how}: y = \S+; x = {FLOAT}", out)
        assert abs(y) < 1e-4 and abs(x - 1.0) < 1e-4, how


def test_tape_autodiff_guide():
    out = run_example("tape_autodiff_guide.py")
    assert "dz_dx = [[8.0, 8.0], [8.0, 8.0]]" in out
    assert "dz_dy = 8.0" in out
    assert "persistent tape: dz_dx = 108.0 dy_dx = 6.0" in out
    assert "control flow: grad(x, 6) = 12.0 grad(x, 5) = 12.0 grad(x, 4) = 4.0" in out
    assert "higher order: dy_dx = 3.0 d2y_dx2 = 6.0" in out
    assert "power loop: f(3, 2) = 9.0 g(3, 2) = 6.0 f(4, 3) = 64.0 g(4, 3) = 48.0" in out
    assert "one persistent tape: dz_dy = 8.0 dz_dx = [[8.0, 8.0], [8.0, 8.0]]" in out
    assert "higher order of a constant: dy_dx = 3.0 d2y_dx2 = 6.0" in out


def _check_sin_numbers(out):
    assert number(rf"f\(pi/2\) = {FLOAT}", out) == 1.0
    assert abs(number(rf"f'\(pi/2\) = {FLOAT}", out)) < 1e-7
    for engine in ["tape", "elementwise_grad"]:
        line = re.search(rf"(?m)^{engine}: max error of f, f', f'', f''' = (.*)$", out)
        assert line, out
        errors = [float(e) for e in line.group(1).split(",")]
        assert len(errors) == 4 and max(errors) < 1e-12, line.group(0)
    assert number(rf"tape vs elementwise_grad: max difference {FLOAT}", out) < 1e-12


def test_sin_squared_derivatives(tmp_path):
    out = run_example("sin_squared_derivatives.py", "--out", str(tmp_path))
    _check_sin_numbers(out)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert out.count("matplotlib is not installed: skipping the plot") == 2
        return
    for name in ["sin_squared_tape.png", "sin_squared_elementwise_grad.png"]:
        path = tmp_path / name
        assert f"saved {path}" in out
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sin_squared_derivatives_without_matplotlib(tmp_path):
    # A package named matplotlib that fails to import, first on the path: the example
    # still computes and checks everything, and says why it draws nothing.
    fake = tmp_path / "fake" / "matplotlib"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('no matplotlib here')\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(tmp_path / "fake")] + [p for p in [env.get("PYTHONPATH")] if p])
    out = run_example("sin_squared_derivatives.py", "--out", str(tmp_path / "png"), env=env)
    _check_sin_numbers(out)
    assert out.count("matplotlib is not installed: skipping the plot") == 2
    assert 'pip install "chainrule[examples]"' in out
    assert not list((tmp_path / "png").glob("*.png"))


def test_simple_net():
    out = run_example("simple_net.py")
    losses = [float(v) for v in re.findall(rf"(?m)^Epoch \d+/\d+: Loss={FLOAT}$", out)]
    assert len(losses) == 30
    assert losses[0] / losses[-1] >= 100
    assert "trainable variables: ['dense" in out


def test_digits_mlp():
    pytest.importorskip("sklearn")  # the data set ships with scikit-learn
    out = run_example("digits_mlp.py", timeout=60)
    bars = re.findall(r"(?m)^43/43 \[=+\] \d+\.\ds - loss: \S+ - accuracy: \S+$", out)
    assert len(bars) == 15  # one progress bar per epoch
    assert number(rf"final test accuracy: {FLOAT}", out) >= 0.95
    assert number(rf"trained in {FLOAT} s", out) < 30
