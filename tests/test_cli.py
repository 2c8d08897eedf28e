"""``chainrule show``: every option, every error path, and the README's command.

Errors must be one line on standard error, ``chainrule: error: ...``, with exit status 1 and
no traceback; output is plain when piped and coloured on a terminal.
"""

import json
import os
import re
import resource
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import cli
from examples.loop_and_branch import f as loop_and_branch
from examples.quickstart import loss

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = "examples/quickstart.py:loss"
LOOP = "examples/loop_and_branch.py:f"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def run(capsys, *argv):
    """(status, stdout, stderr) of ``chainrule`` run in-process from the repository root."""
    old = os.getcwd()
    os.chdir(ROOT)
    try:
        status = cli.main(list(argv))
    finally:
        os.chdir(old)
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(status, out, err, *fragments):
    assert status == 1
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("chainrule: error: "), err
    assert "Traceback" not in err
    for frag in fragments:
        assert frag in lines[0], (frag, lines[0])


@pytest.fixture
def user_file(tmp_path):
    def write(text, name="user.py"):
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return str(path)

    return write


# ================================================================================ output

def test_show_prints_the_generated_gradient_plain_when_piped(capsys):
    status, out, err = run(capsys, "show", QUICKSTART)
    assert status == 0 and err == ""
    assert out == cr.source(cr.grad(loss))
    assert "for step in reversed(range(3)):" in out and "# grad of:" in out
    assert not ANSI.search(out)


class _Terminal:
    """A stand-in standard output that says it is a terminal."""

    def __init__(self):
        self.parts = []

    def isatty(self):
        return True

    def write(self, text):
        self.parts.append(text)

    def flush(self):
        pass


def test_show_highlights_on_a_terminal_unless_no_color(monkeypatch):
    monkeypatch.chdir(ROOT)
    term = _Terminal()
    monkeypatch.setattr(sys, "stdout", term)
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert cli.main(["show", QUICKSTART]) == 0
    text = "".join(term.parts)
    assert "\x1b[1;35mfor\x1b[0m" in text and "\x1b[90m# grad of:" in text
    assert ANSI.sub("", text) == cr.source(cr.grad(loss))

    term.parts.clear()
    monkeypatch.setenv("NO_COLOR", "1")
    assert cli.main(["show", QUICKSTART]) == 0
    assert "".join(term.parts) == cr.source(cr.grad(loss))


def test_argnums(capsys):
    status, out, _ = run(capsys, "show", LOOP, "--argnums", "0,1")
    assert status == 0
    assert out == cr.source(cr.grad(loop_and_branch, argnums=(0, 1)))
    assert out.rstrip().endswith("return (b_x, finalize(b_w, w))")
    status, out, _ = run(capsys, "show", LOOP, "--argnums", "1")
    assert status == 0 and out == cr.source(cr.grad(loop_and_branch, argnums=1))


def test_forward_mode(capsys):
    status, out, _ = run(capsys, "show", QUICKSTART, "--mode", "forward")
    assert status == 0
    assert out == cr.source(cr.grad(loss, mode="forward"))
    assert "# tangent of:" in out and "def forward_grad_loss" in out


def test_order_two_in_both_modes(capsys):
    status, out, _ = run(capsys, "show", QUICKSTART, "--order", "2")
    assert status == 0 and out == cr.source(cr.grad(cr.grad(loss)))
    assert "def grad_grad_loss(w, x, y):" in out
    status, out, _ = run(capsys, "show", QUICKSTART, "--order", "2", "--mode", "forward")
    assert status == 0
    assert out == cr.source(cr.grad(cr.grad(loss, mode="forward"), mode="forward"))
    # the code it prints computes the second derivative
    x = np.linspace(-1.0, 1.0, 5)
    y = np.sin(x)
    second = cr.grad(cr.grad(loss))(0.7, x, y)
    h = 1e-5
    fd = (cr.grad(loss)(0.7 + h, x, y) - cr.grad(loss)(0.7 - h, x, y)) / (2 * h)
    assert np.allclose(second, fd, rtol=1e-5)


@pytest.mark.parametrize("stage", ["parsed", "normalized", "activity", "final"])
def test_stages(capsys, stage):
    status, out, _ = run(capsys, "show", QUICKSTART, "--stage", stage)
    assert status == 0
    df = cr.grad(loss)
    assert out == (cr.source(df, stage=stage) if stage != "final" else cr.source(df))
    marks = {"parsed": "err = np.mean((h - y) ** 2)", "normalized": "t4 = t3 ** 2",
             "activity": "# active: t4", "final": "# grad of:"}
    assert marks[stage] in out


def test_stage_of_a_second_derivative_is_the_stage_of_the_first(capsys):
    status, out, _ = run(capsys, "show", QUICKSTART, "--stage", "normalized", "--order", "2")
    assert status == 0
    assert out.startswith("def grad_loss(w, x, y):")
    assert out == cr.source(cr.grad(cr.grad(loss)), stage="normalized")


def test_stage_in_forward_mode(capsys):
    status, out, _ = run(capsys, "show", QUICKSTART, "--stage", "normalized", "--mode",
                         "forward")
    assert status == 0 and out == cr.source(cr.grad(loss), stage="normalized")


def test_standalone_module_runs_with_numpy_alone(capsys, tmp_path):
    status, out, _ = run(capsys, "show", LOOP, "--argnums", "0,1", "--standalone")
    assert status == 0
    assert not re.search(r"^\s*(import|from)\s+chainrule", out, re.M)
    path = tmp_path / "exported.py"
    path.write_text(out)
    script = (f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import numpy as np; "
              "import exported; "
              "g = exported.grad_f(np.array([0.1, 0.2]), np.array([1.0, -2.0, 0.5])); "
              "import json; print(json.dumps([a.tolist() for a in g]))")
    # run where chainrule cannot be imported: an empty path besides the standard library
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONNOUSERSITE": "1"}
    numpy_dir = str(Path(np.__file__).resolve().parent.parent)
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "chainrule.py").write_text("raise ImportError('chainrule must not be needed')")
    env["PYTHONPATH"] = os.pathsep.join([str(blocker), numpy_dir])
    done = subprocess.run([sys.executable, "-s", "-c", script], capture_output=True,
                          text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    gx, gw = cr.grad(loop_and_branch, argnums=(0, 1))(np.array([0.1, 0.2]),
                                                         np.array([1.0, -2.0, 0.5]))
    got = json.loads(done.stdout)
    assert np.allclose(got[0], gx, rtol=1e-12) and np.allclose(got[1], gw, rtol=1e-12)


def test_html_writes_a_self_contained_page(capsys, tmp_path):
    target = tmp_path / "out.html"
    status, out, err = run(capsys, "show", LOOP, "--argnums", "0,1", "--html", str(target))
    assert status == 0 and out == ""
    assert err.strip() == f"chainrule: wrote {target}"
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    ET.fromstring(page.split("\n", 1)[1])  # well-formed
    assert page == cr.side_by_side(cr.grad(loop_and_branch, argnums=(0, 1)))


def test_html_to_standard_output_in_forward_mode(capsys):
    status, out, _ = run(capsys, "show", QUICKSTART, "--mode", "forward", "--html", "-")
    assert status == 0
    assert out.startswith("<!DOCTYPE html>") and "tangent of:" in out
    assert not ANSI.search(out)


def test_python_dash_m():
    done = subprocess.run([sys.executable, "-m", "chainrule", "show", QUICKSTART],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == cr.source(cr.grad(loss))
    done = subprocess.run([sys.executable, "-m", "chainrule", "show", "nope.py:f"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 1
    assert done.stderr == "chainrule: error: no such file: nope.py\n"


def test_readme_command_shows_a_gradient_with_a_loop_in_under_a_second(tmp_path):
    """The README's main command, ``chainrule show examples/quickstart.py:loss``: measured
    as the CPU time of the second run (the first one writes the bytecode caches, as any
    first run after ``pip install -e .`` does), which a busy machine barely changes."""
    readme = (ROOT / "README.md").read_text()
    assert "pip install -e . && chainrule show examples/quickstart.py:loss" in readme
    exe = shutil.which("chainrule") or None
    argv = [exe] if exe else [sys.executable, "-m", "chainrule"]
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    times = []
    for _ in range(2):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run([*argv, "show", "examples/quickstart.py:loss"], cwd=ROOT,
                              capture_output=True, text=True, env=env, timeout=120)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        assert done.returncode == 0, done.stderr
        assert "for step in reversed(range(3)):" in done.stdout
        times.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    print(f"CPU seconds: first run {times[0]:.2f}, second run {times[1]:.2f}")
    assert times[1] < 1.0, times


# ================================================================================ errors

def test_missing_file(capsys):
    assert_one_line_error(*run(capsys, "show", "missing.py:f"), "no such file: missing.py")


def test_not_a_file(capsys):
    assert_one_line_error(*run(capsys, "show", "examples:f"), "not a file: examples")


@pytest.mark.parametrize("spec", ["examples/quickstart.py", "examples/quickstart.py:"])
def test_target_without_a_function(capsys, spec):
    assert_one_line_error(*run(capsys, "show", spec), "expected FILE.py:FUNCTION")


def test_missing_function(capsys):
    assert_one_line_error(*run(capsys, "show", "examples/quickstart.py:nope"),
                          "defines no function named 'nope'")


def test_not_a_function(capsys, user_file):
    path = user_file("value = 3\n")
    assert_one_line_error(*run(capsys, "show", f"{path}:value"), "is not a function",
                          "int")


def test_dotted_function_name(capsys, user_file):
    path = user_file("""
        class Model:
            @staticmethod
            def loss(x):
                return x * x
    """)
    status, out, _ = run(capsys, "show", f"{path}:Model.loss")
    assert status == 0 and "def grad_loss(x):" in out


def test_module_that_fails_to_import(capsys, user_file):
    path = user_file("x = 1\nraise RuntimeError('boom')\n")
    assert_one_line_error(*run(capsys, "show", f"{path}:f"), "importing", "failed (line 2)",
                          "RuntimeError: boom")


def test_module_with_a_syntax_error(capsys, user_file):
    path = user_file("def f(x:\n")
    assert_one_line_error(*run(capsys, "show", f"{path}:f"), "SyntaxError")


def test_module_that_exits(capsys, user_file):
    path = user_file("import sys\nsys.exit(3)\n")
    assert_one_line_error(*run(capsys, "show", f"{path}:f"), "sys.exit(3)")


def test_module_prints_go_to_stderr(capsys, user_file):
    path = user_file("""
        print("imported!")
        def f(x):
            return x * x
    """)
    status, out, err = run(capsys, "show", f"{path}:f")
    assert status == 0 and "imported!" not in out and "imported!" in err


def test_transform_error_names_file_and_line(capsys, user_file):
    path = user_file("""
        def f(x):
            try:
                y = x * 2
            except ValueError:
                y = x
            return y
    """)
    assert_one_line_error(*run(capsys, "show", f"{path}:f"), f"{path}:3", "try")


def test_transform_error_in_a_stage(capsys, user_file):
    path = user_file("""
        def f(x):
            with open("x") as fh:
                y = x
            return y
    """)
    assert_one_line_error(*run(capsys, "show", f"{path}:f", "--stage", "normalized"),
                          "with")


@pytest.mark.parametrize("argnums", ["a", "0,b", ","])
def test_argnums_not_integers(capsys, argnums):
    assert_one_line_error(*run(capsys, "show", QUICKSTART, "--argnums", argnums),
                          "--argnums expects comma-separated integers")


def test_argnums_out_of_range(capsys):
    assert_one_line_error(*run(capsys, "show", QUICKSTART, "--argnums", "5"), "out of range")
    assert_one_line_error(*run(capsys, "show", QUICKSTART, "--argnums", "5", "--stage",
                               "parsed"), "out of range", "(w, x, y)")


def test_order_below_one(capsys):
    assert_one_line_error(*run(capsys, "show", QUICKSTART, "--order", "0"),
                          "--order must be at least 1")


def test_order_two_needs_one_argument(capsys):
    assert_one_line_error(*run(capsys, "show", LOOP, "--order", "2", "--argnums", "0,1"),
                          "single --argnums")


@pytest.mark.parametrize("argv, fragment", [
    (["--stage", "parsed", "--standalone"], "--standalone"),
    (["--stage", "activity", "--html", "-"], "--html"),
    (["--html", "-", "--standalone"], "choose one"),
    (["--stage", "activity", "--mode", "forward"], "reverse mode's activity"),
])
def test_options_that_do_not_go_together(capsys, argv, fragment):
    assert_one_line_error(*run(capsys, "show", QUICKSTART, *argv), fragment)


def test_unwritable_html_path(capsys, tmp_path):
    target = tmp_path / "missing-dir" / "out.html"
    assert_one_line_error(*run(capsys, "show", QUICKSTART, "--html", str(target)),
                          "cannot write")
    assert not target.exists()


def test_non_scalar_output_is_one_line(capsys, user_file):
    path = user_file("""
        import numpy as np
        def f(x):
            return np.sin(x)
    """)
    status, out, err = run(capsys, "show", f"{path}:f", "--order", "2")
    # generating the code works; only running grad_grad_f on arrays would complain
    assert status == 0 and "def grad_grad_f(x):" in out


def test_internal_errors_are_one_line_too(capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("oops")

    monkeypatch.setattr(cr, "grad", broken)
    status, out, err = run(capsys, "show", QUICKSTART)
    assert status == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("chainrule: internal error: KeyError")
    assert "CHAINRULE_DEBUG=1" in err
    monkeypatch.setenv("CHAINRULE_DEBUG", "1")
    with pytest.raises(KeyError):
        cli.main(["show", str(ROOT / QUICKSTART)])


def test_usage_errors_exit_with_status_two(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["show", QUICKSTART, "--mode", "sideways"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        cli.main([])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        cli.main(["show", "--help"])
    assert exc.value.code == 0
    help_text = capsys.readouterr().out
    for option in ("--argnums", "--mode", "--order", "--stage", "--standalone", "--html"):
        assert option in help_text
