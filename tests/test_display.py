"""Teaching and inspection: the side-by-side HTML page (valid, self-contained, aligned),
``chainrule.render`` with and without Graphviz, data-flow DOT, notebook display."""

import html.parser
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import chainrule as cr
from chainrule.display import GraphvizNotFoundError, dataflow_dot, render, side_by_side
from chainrule.display.align import align, parse_blocks
from chainrule.display.highlight import ansi, segments, to_html
from examples.loop_and_branch import f as loop_and_branch
from examples.quickstart import loss


def twice(x):
    y = x * 2.0
    y = y * x
    y = y * x
    return np.sum(y)


def calls_helper(x):
    z = helper(x)
    return np.sum(z * z)


def helper(v):
    return np.sin(v) * v


# ============================================================================ HTML checks

VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "wbr", "source"}


class Checker(html.parser.HTMLParser):
    """Collects ids, links, the element tree of rows and blocks, and nesting errors."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []
        self.errors = []
        self.ids = set()
        self.hrefs = []
        self.external = []
        self.rows = {}  # data-line -> primal text
        self.blocks = []  # (row data-line, block data-line, block data-text, block text)
        self._row = None
        self._cell = None
        self._block = None
        self._text = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag not in VOID:
            self.stack.append(tag)
        if "id" in a:
            if a["id"] in self.ids:
                self.errors.append(f"duplicate id {a['id']}")
            self.ids.add(a["id"])
        for key in ("href", "src"):
            if key in a:
                if key == "src" or not a[key].startswith("#"):
                    self.external.append(a[key])
                else:
                    self.hrefs.append(a[key][1:])
        if tag in ("script", "link", "iframe", "img", "object", "embed"):
            self.external.append(tag)
        cls = a.get("class", "")
        if tag == "tr" and "cr-row" in cls:
            self._row = a["data-line"]
        if tag == "td" and self._row is not None:
            self._cell = cls
            self._text = []
        if tag == "div" and "cr-block" in cls:
            self._block = [self._row, a["data-line"], a["data-text"], []]

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unbalanced </{tag}> (open: {self.stack[-3:]})")
            return
        self.stack.pop()
        if tag == "td" and self._cell == "cr-primal":
            self.rows[self._row] = "".join(self._text)
        if tag == "td":
            self._cell = None
        if tag == "tr":
            self._row = None
        if tag == "div" and self._block is not None and self.stack.count("div") < 2:
            pass

    def handle_data(self, data):
        if self._cell is not None:
            self._text.append(data)
        if self._block is not None:
            self._block[3].append(data)
            if "# grad of:" in data or "# tangent of:" in data:
                row, line, text, parts = self._block
                self.blocks.append((row, line, text, data))
                self._block = None


def check_page(page):
    assert page.startswith("<!DOCTYPE html>\n")
    root = ET.fromstring(page.split("\n", 1)[1])  # well-formed XML, so well-formed HTML
    assert root.tag == "html"
    checker = Checker()
    checker.feed(page)
    checker.close()
    assert not checker.errors, checker.errors
    assert not checker.stack
    # self-contained: no script, no external resource, every link inside the page
    assert checker.external == []
    assert not re.search(r"https?:|@import|url\(|<script", page)
    missing = [h for h in checker.hrefs if h not in checker.ids]
    assert not missing, missing
    return checker


def primal_lines(checker):
    return {line: text.splitlines()[0].strip() for line, text in checker.rows.items()}


# ========================================================================= side by side

def test_page_is_valid_self_contained_and_aligned():
    df = cr.grad(loop_and_branch, argnums=(0, 1))
    page = side_by_side(df)
    checker = check_page(page)
    rows = primal_lines(checker)
    markers = [m for m in cr.source(df).splitlines() if "# grad of:" in m]
    assert len(checker.blocks) == len(markers) == 3
    for row, line, text, comment in checker.blocks:
        assert row == line  # the block sits in the row of the line it differentiates
        assert rows[row] == text  # whose text its comment quotes
        assert comment.strip() == f"# grad of: {text}"
    by_text = {text: int(row) for row, _, text, _ in checker.blocks}
    first = loop_and_branch.__code__.co_firstlineno
    assert by_text == {"h = np.tanh(x * w[i])": first + 3, "s = s + np.sum(h)": first + 5,
                       "s = s - 0.5 * np.sum(h * h)": first + 7}
    # each block links to its line in the full listing, which links back to the row
    for row, *_ in checker.blocks:
        assert f'href="#L{row}"' in page
    assert "seed of the adjoint sweep" in page and "(b_x, finalize(b_w, w))" in page


def test_page_is_deterministic():
    df = cr.grad(loop_and_branch, argnums=(0, 1))
    assert side_by_side(df) == side_by_side(df)


def test_alignment_rows_and_context():
    a = align(cr.grad(loop_and_branch, argnums=(0, 1)))
    assert a.mode == "reverse" and a.derivative_name == "grad_f" and not a.unmatched
    by_text = {b.text: b for b in a.blocks}
    assert by_text["s = s + np.sum(h)"].context == ["for i in reversed(range(3))", "if cond1"]
    assert by_text["s = s - 0.5 * np.sum(h * h)"].context[-1] == "else"
    assert by_text["h = np.tanh(x * w[i])"].code.startswith("# grad of: h = np.tanh(")
    ret = next(r for r in a.rows if r.first_line == "return s")
    assert ret.extra[0][0] == "seed of the adjoint sweep"
    assert ret.extra[0][1].startswith("b_s = ")
    deff = next(r for r in a.rows if r.first_line.startswith("def f("))
    assert deff.extra == [("returned", "return (b_x, finalize(b_w, w))")]


def test_repeated_lines_are_matched_last_to_first_in_reverse_mode():
    a = align(cr.grad(twice))
    repeated = [b for b in a.blocks if b.text == "y = y * x"]
    assert len(repeated) == 2
    # the adjoint visits the second occurrence first
    assert repeated[0].lineno > repeated[1].lineno
    assert len({b.lineno for b in a.blocks}) == len(a.blocks)


def test_forward_mode_page_aligns_tangent_blocks():
    df = cr.grad(loss, mode="forward")
    a = align(df)
    assert a.mode == "forward" and a.derivative_name == "loss_jvp"
    texts = {b.text for b in a.blocks}
    assert "h = np.tanh(h * w + 0.5)" in texts
    # the operands of `if` belong to the `if`, not to the block before it
    err = next(b for b in a.blocks if b.text.startswith("err = np.mean"))
    assert not any("cond" in line for line in err.lines)
    checker = check_page(side_by_side(df))
    rows = primal_lines(checker)
    for row, line, text, comment in checker.blocks:
        assert row == line and rows[row] == text and "# tangent of:" in comment


def test_second_order_page_aligns_with_the_generated_gradient():
    df = cr.grad(cr.grad(loss))
    a = align(df)
    assert a.primal_name == "grad_loss" and a.blocks and not a.unmatched
    checker = check_page(side_by_side(df))
    rows = primal_lines(checker)
    for row, line, text, _ in checker.blocks:
        assert row == line and rows[row] == text


def test_calls_to_user_functions_and_value_and_grad():
    for df in (cr.grad(calls_helper), cr.value_and_grad(twice), cr.elementwise_grad(helper)):
        checker = check_page(side_by_side(df))
        assert checker.blocks
        rows = primal_lines(checker)
        for row, line, text, _ in checker.blocks:
            assert row == line and rows[row] == text


def test_page_fragment_for_notebooks():
    df = cr.grad(loss)
    fragment = df._repr_html_()
    assert fragment.startswith("<style>") and "<html" not in fragment
    assert 'class="cr-sbs"' in fragment and "<details>" in fragment
    ET.fromstring(f"<div>{fragment}</div>")


def test_notebook_display_of_helpers_and_plain_functions():
    df = cr.grad(calls_helper)
    helper_fwd = next(g.fn for g in df.__chainrule_request__.generated if g.name == "helper_fwd")
    text = helper_fwd._repr_html_()
    assert 'class="cr-sbs"' not in text and "helper_fwd" in text
    with pytest.raises(TypeError, match="not generated"):
        side_by_side(loss)


def test_parse_blocks_ends_blocks_at_compound_statements():
    source = (
        "def g(x):\n"
        "    a = 1\n"
        "    # grad of: y = f(x)\n"
        "    b_x = b_y * 2\n"
        "    cond1 = stack.pop()\n"
        "    if cond1:\n"
        "        # grad of: z = y\n"
        "        b_y = b_z\n"
        "    # grad of: w = 3\n"
        "    b = 0\n"
        "    return b_x\n")
    blocks = parse_blocks(source)
    assert [b.text for b in blocks] == ["y = f(x)", "z = y", "w = 3"]
    assert blocks[0].lines[1:] == ["    b_x = b_y * 2"]  # cond1 = ... goes with the `if`
    assert blocks[1].lines[1:] == ["        b_y = b_z"] and blocks[1].context == ["if cond1"]
    assert blocks[2].lines[1:] == ["    b = 0"]


# ============================================================================ highlight

@pytest.mark.parametrize("source", [
    "x = 1  # one\nfor i in range(3):\n    s = 'a' + \"b\"\n",
    'def f():\n    """doc\n    string"""\n    return 1.5e3\n',
    "f(x, (1,\n",  # does not tokenize: comes back whole
    "",
])
def test_highlight_keeps_the_text(source):
    assert "".join(text for _, text in segments(source)) == source
    assert re.sub(r"\x1b\[[0-9;]*m", "", ansi(source)) == source
    import html as _html
    assert _html.unescape(re.sub(r"<[^>]+>", "", to_html(source))) == source


# ================================================================================ render

def record_tape():
    x = cr.Variable(np.array([1.0, 2.0]), name="x")
    with cr.GradientTape(persistent=True) as tape:
        y = np.sum(np.tanh(x * 3.0))
    return tape, y, x


def no_dot(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)


class FakeDot:
    """Stands in for Graphviz: records the command and answers like ``dot -Tsvg``."""

    def __init__(self, returncode=0):
        self.calls = []
        self.returncode = returncode

    def __call__(self, argv, input=None, **kwargs):
        self.calls.append((argv, input))
        out = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"></svg>\n'
        return subprocess.CompletedProcess(argv, self.returncode,
                                           out if not self.returncode else b"",
                                           b"Error: syntax error in line 1\n")


def fake_dot(monkeypatch, returncode=0):
    fake = FakeDot(returncode)
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: "/usr/bin/dot")
    monkeypatch.setattr(subprocess, "run", fake)
    return fake


def test_render_dot_text_needs_no_graphviz(monkeypatch, tmp_path):
    no_dot(monkeypatch)
    tape, _, _ = record_tape()
    out = render(tape, tmp_path / "tape.dot")
    assert out.read_text() == tape.to_dot()
    df = cr.grad(loop_and_branch, argnums=(0, 1))
    assert render(df, tmp_path / "df.gv").read_text() == dataflow_dot(df)


@pytest.mark.parametrize("suffix", ["svg", "png", "pdf"])
def test_render_without_graphviz_is_a_clear_error(monkeypatch, tmp_path, suffix):
    no_dot(monkeypatch)
    tape, _, _ = record_tape()
    target = tmp_path / f"tape.{suffix}"
    with pytest.raises(GraphvizNotFoundError) as exc:
        cr.render(tape, target)
    message = str(exc.value)
    assert "Graphviz" in message and "install" in message and "\n" not in message
    assert not target.exists()
    with pytest.raises(GraphvizNotFoundError):
        cr.render(cr.grad(loss), target)


def test_render_runs_dot_with_the_format_of_the_suffix(monkeypatch, tmp_path):
    fake = fake_dot(monkeypatch)
    tape, _, _ = record_tape()
    out = cr.render(tape, tmp_path / "tape.svg")
    argv, sent = fake.calls[-1]
    assert argv == ["/usr/bin/dot", "-Tsvg"] and sent.decode() == tape.to_dot()
    assert out.read_bytes().startswith(b"<?xml")
    cr.render(cr.grad(loss), tmp_path / "grad.PNG")
    argv, sent = fake.calls[-1]
    assert argv[1] == "-Tpng" and sent.decode() == dataflow_dot(cr.grad(loss))
    cr.render(tape, tmp_path / "picture", format="pdf")
    assert fake.calls[-1][0][1] == "-Tpdf"


def test_render_reports_dot_failures(monkeypatch, tmp_path):
    fake_dot(monkeypatch, returncode=1)
    tape, _, _ = record_tape()
    with pytest.raises(RuntimeError, match="dot failed: Error: syntax error"):
        cr.render(tape, tmp_path / "tape.svg")


def test_render_rejects_what_it_cannot_draw(tmp_path):
    with pytest.raises(ValueError, match="format"):
        cr.render(cr.grad(loss), tmp_path / "out.jpeg2000")
    with pytest.raises(TypeError, match=r"chainrule.grad\(loss\)"):
        cr.render(loss, tmp_path / "out.dot")
    with pytest.raises(TypeError, match="GradientTape"):
        cr.render(42, tmp_path / "out.dot")
    x = cr.Variable(2.0)
    with cr.GradientTape() as tape:
        y = x * x
    tape.gradient(y, x)
    with pytest.raises(RuntimeError, match="releases"):
        cr.render(tape, tmp_path / "out.dot")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_render_with_real_graphviz(tmp_path):
    tape, _, _ = record_tape()
    svg = cr.render(tape, tmp_path / "tape.svg").read_text()
    assert "<svg" in svg and "tanh" in svg
    png = cr.render(cr.grad(loop_and_branch, argnums=(0, 1)), tmp_path / "df.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ============================================================================== data flow

def test_dataflow_dot_groups_primal_and_adjoint_values():
    df = cr.grad(loop_and_branch, argnums=(0, 1))
    dot = dataflow_dot(df)
    assert dot == dataflow_dot(df)
    assert dot.startswith('digraph "grad_f" {') and dot.rstrip().endswith("}")
    assert "subgraph cluster_primal" in dot and "subgraph cluster_adjoint" in dot
    assert re.search(r'label="x\\nparameter".*shape=box', dot)
    assert re.search(r'label="h\\nh = np.tanh\(x \* w\[i\]\)\\nsaved on the stack"', dot)
    assert re.search(r'label="b_x\\n[^"]*".*peripheries=2', dot)  # returned
    assert "style=dashed" in dot  # primal values read by the adjoint sweep
    assert "stack" not in re.sub(r"saved on the stack", "", dot)
    assert "label=\"i\\n" not in dot  # loop indices are left out


def test_dataflow_dot_of_forward_mode_has_tangents():
    dot = dataflow_dot(cr.grad(loss, mode="forward"))
    assert "subgraph cluster_tangent" in dot and 'label="d_w\\nparameter"' in dot


# ========================================================================== notebooks

def test_tape_notebook_display_without_graphviz(monkeypatch):
    no_dot(monkeypatch)
    tape, _, _ = record_tape()
    text = tape._repr_html_()
    assert "3 recorded operations" in text and "Variable &#x27;x&#x27;" in text
    assert "<svg" not in text and "Install Graphviz" in text
    assert "<td><code>tanh</code></td>" in text or "tanh" in text
    ET.fromstring(text)


def test_tape_notebook_display_with_graphviz(monkeypatch):
    fake_dot(monkeypatch)
    tape, _, _ = record_tape()
    text = tape._repr_html_()
    assert "<svg" in text and "<?xml" not in text and "Install Graphviz" not in text


def test_tape_notebook_display_before_and_after_recording():
    tape = cr.GradientTape()
    assert "nothing recorded yet" in tape._repr_html_()
    x = cr.Variable(2.0)
    with tape:
        y = x * x
    tape.gradient(y, x)
    assert "released" in tape._repr_html_()
