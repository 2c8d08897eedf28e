"""The documentation runs: every ```python block of README.md and docs/*.md, with every
output the pages show checked (conventions: tests/doccheck.py and docs/contributing.md).

The pages run in one separate process, so the rules they register and the state they
change stay out of the rest of the suite; each page is one test here.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests import doccheck

ROOT = Path(__file__).resolve().parent.parent
PAGES = [str(p.relative_to(ROOT)) for p in doccheck.pages()]


@pytest.fixture(scope="module")
def results():
    done = subprocess.run([sys.executable, "-m", "tests.doccheck", "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return {r["page"]: r for r in json.loads(done.stdout.splitlines()[-1])}


@pytest.mark.parametrize("page", PAGES)
def test_page_runs_and_shows_what_the_code_produces(results, page):
    r = results[page]
    assert not r["problems"], "\n\n".join(r["problems"]) + (
        "\n\nIf the change is intended: python -m tests.doccheck --update, and review the diff")


def test_every_generated_listing_is_checked():
    """A python block that shows generated code (it defines grad_*, jvp_*, *_fwd, ...) must
    be compared with the generator through an output-of directive."""
    generated = re.compile(r"^def (grad_|jvp_|value_and_grad_|elementwise_grad_|jacfwd_|"
                           r"jacrev_|forward_grad_|\w+_(fwd|bwd|jvp)\b)", re.M)
    unchecked = []
    for path in doccheck.pages():
        if path.name == "rules.md":  # rule sources, generated and checked by test_rules
            continue
        for b in doccheck.parse(path):
            if b.lang == "python" and generated.search(b.code) and (
                    b.directive is None or b.directive[0] != "output-of"):
                unchecked.append(b.where)
    assert not unchecked, unchecked


def test_every_page_is_in_the_site_navigation():
    nav = (ROOT / "mkdocs.yml").read_text()
    listed = set(re.findall(r":\s*([\w-]+\.md)\s*$", nav, re.M))
    pages = {p.name for p in (ROOT / "docs").glob("*.md")}
    assert pages == listed, (pages - listed, listed - pages)


def test_the_worked_example_is_the_example_file():
    page = doccheck.parse(ROOT / "docs" / "how-reverse-mode-works.md")
    shown = next(b for b in page if b.lang == "python").code
    example = (ROOT / "examples" / "loop_and_branch.py").read_text()
    body = example[example.index("import numpy"):]
    assert shown.strip() == body.strip()


def test_parser_conventions(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "Text\n\n```python\nprint(1)\n```\n\n```text\n1\n```\n\n"
        "<!-- no-run: illustration -->\n```python\nraise SystemExit\n```\n\n"
        "<!-- output-of: str(2) -->\n```python\n2\n```\n\n"
        "- item\n\n  ```python\n  x = 3  # -> 3\n  ```\n")
    blocks = doccheck.parse(page)
    assert [b.lang for b in blocks] == ["python", "text", "python", "python", "python"]
    assert blocks[0].output is blocks[1] and blocks[1].is_output
    assert blocks[2].directive == ("no-run", "illustration")
    assert blocks[3].directive == ("output-of", "str(2)")
    assert blocks[4].lines == ["x = 3  # -> 3"]


def test_checker_catches_drift(tmp_path, monkeypatch):
    monkeypatch.setattr(doccheck, "ROOT", tmp_path)
    page = tmp_path / "page.md"
    page.write_text(
        "```python\nimport numpy as np\nprint(np.array([1.0, 2.0]) * 2)\n```\n\n"
        "```text\n[2. 5.]\n```\n\n"
        "```python\n1 + 1  # -> 3\nprint('a')  # -> a\n```\n\n"
        "<!-- output-of: 'x' * 2 -->\n```text\nxy\n```\n\n"
        "```python\ndef sq(x):\n    return x * x\n\n\n"
        "print(__import__('chainrule').grad(sq)(3.0))  # -> 6.0\n```\n")
    result = doccheck.check_page(page)
    messages = [p.message for p in result.problems]
    assert messages == ["printed output differs", "`# ->` output differs",
                        "differs from 'x' * 2"], messages
    assert result.ran == 3 and result.checked == 5
    doccheck.update(page, result)
    assert doccheck.check_page(page).problems == []
    text = page.read_text()
    assert "[2. 4.]" in text and "1 + 1  # -> 2" in text and "\nxx\n" in text


def test_a_failing_block_is_reported_with_its_line(tmp_path, monkeypatch):
    monkeypatch.setattr(doccheck, "ROOT", tmp_path)
    page = tmp_path / "page.md"
    page.write_text("Intro\n\n```python\nx = 1\ny = undefined_name\n```\n")
    problems = doccheck.check_page(page).problems
    assert len(problems) == 1 and problems[0].where == "page.md:5"
    assert "NameError" in problems[0].message
