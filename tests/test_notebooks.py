"""Checks on the chapter notebooks as files (their execution is checked by the book
build and by nbval, both run by ``make test``).

Every ``chapters/*.ipynb`` is committed without outputs, names a kernel, contains at
least one ``assert`` (a chapter is a test), is listed in ``_toc.yml`` (the book builds
only listed files), and defines the LaTeX macros it uses exactly as ``_config.yml``
does (``_config.yml`` does not reach Jupyter or Colab, so each notebook carries its
own ``\\newcommand`` lines).
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _cells(nb: dict, cell_type: str) -> list[str]:
    return [_source(c) for c in nb["cells"] if c["cell_type"] == cell_type]


def _has_assert(code: str) -> bool:
    # IPython magics and shell escapes are not Python; blank them out before parsing.
    python = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in code.splitlines())
    try:
        tree = ast.parse(python)
    except SyntaxError:
        return re.search(r"^\s*assert\b", python, flags=re.MULTILINE) is not None
    return any(isinstance(node, ast.Assert) for node in ast.walk(tree))


def _braced(text: str, start: int) -> tuple[str, int]:
    """The content of the balanced {...} group opening at text[start], and the index after it."""
    assert text[start] == "{", f"expected '{{' at {start}: {text[start:start + 20]!r}"
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1:i], i + 1
    raise ValueError(f"unbalanced braces from {text[start:start + 40]!r}")


def _newcommands(markdown: str) -> dict[str, tuple[str, int]]:
    r"""``\newcommand{\name}[n]{body}`` definitions in a notebook's markdown: name -> (body, n)."""
    found = {}
    for match in re.finditer(r"\\newcommand\s*", markdown):
        name, i = _braced(markdown, match.end())
        nargs = 0
        arity = re.match(r"\[(\d)\]", markdown[i:])
        if arity:
            nargs, i = int(arity.group(1)), i + arity.end()
        body, _ = _braced(markdown, i)
        found[name.strip().lstrip("\\")] = (body, nargs)
    return found


def _config_macros() -> dict[str, tuple[str, int]]:
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    macros = config["sphinx"]["config"]["mathjax3_config"]["tex"]["macros"]
    return {name: (v, 0) if isinstance(v, str) else (v[0], int(v[1])) for name, v in macros.items()}


def _same_tex(a: str, b: str) -> bool:
    return re.sub(r"\s+", "", a) == re.sub(r"\s+", "", b)


def test_there_are_chapter_notebooks():
    assert NOTEBOOKS, "no notebooks found in chapters/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    nb = _load(path)
    dirty = [
        i for i, cell in enumerate(nb["cells"])
        if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    assert not dirty, f"{path.name}: cells {dirty} have outputs or execution counts; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_has_kernelspec(path):
    kernelspec = _load(path).get("metadata", {}).get("kernelspec", {})
    assert kernelspec.get("name"), f"{path.name}: no kernelspec name in the notebook metadata"
    assert kernelspec.get("language", "python") == "python"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_contains_an_assert(path):
    assert any(_has_assert(code) for code in _cells(_load(path), "code")), (
        f"{path.name}: no assert statement; a chapter must end with assertions"
    )


QUOTED_CELL = "# The numbers quoted in the text"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_quoted_numbers_have_their_assert_cell(path):
    # The book's convention: the numbers a chapter's prose quotes (measured angles, exponents,
    # counts) are asserted, to the digits quoted, in one code cell that starts with this
    # comment and holds asserts; this keeps a new chapter from forgetting it.
    cells = [code for code in _cells(_load(path), "code") if code.lstrip().startswith(QUOTED_CELL)]
    assert len(cells) == 1 and _has_assert(cells[0]), (
        f"{path.name}: needs one code cell starting with {QUOTED_CELL!r} that asserts the numbers its text quotes"
    )


# Lines a markdown cell can only start with if a generator script wrote "\\norm", "\\nabla",
# "\\newcommand" ... in a non-raw Python string, so that "\\n" became a newline.
_EATEN_BACKSLASH_N = re.compile(r"^(orm\{|abla\b|ewcommand|onumber|eq\b|ewline)", flags=re.MULTILINE)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_sources_have_no_mangled_escapes(path):
    # "\\bbeta" in a non-raw Python string is a backspace followed by "beta", and MathJax
    # fails on it; control characters never belong in a notebook's source.
    for i, cell in enumerate(_load(path)["cells"]):
        src = _source(cell)
        bad = sorted({hex(ord(ch)) for ch in src if ord(ch) < 32 and ch not in "\n\t"})
        assert not bad, f"{path.name} cell {i}: control characters {bad} (an escape in a non-raw string?)"
        if cell["cell_type"] == "markdown":
            m = _EATEN_BACKSLASH_N.search(src)
            assert not m, f"{path.name} cell {i}: a line starts with {m.group(0)!r}: a '\\n' eaten by a string escape?"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_title_has_no_math(path):
    # The title appears in the navigation of every page, and pages without math do not
    # load MathJax, so TeX in a title shows raw everywhere else (the browser check sees it).
    first = _cells(_load(path), "markdown")[0].lstrip().splitlines()[0]
    assert first.startswith("# "), f"{path.name}: the first markdown cell must start with the '# ' title"
    assert "$" not in first and "\\(" not in first, f"{path.name}: title {first!r} contains math"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_listed_in_toc(path):
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    entry = path.relative_to(ROOT).with_suffix("").as_posix()
    assert re.search(rf"file:\s*{re.escape(entry)}(\.ipynb)?\s*$", toc, flags=re.MULTILINE), (
        f"{entry} is not in _toc.yml, so the book would silently skip it"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_macros_defined_as_in_config(path):
    markdown = "\n".join(_cells(_load(path), "markdown"))
    config = _config_macros()
    defined = _newcommands(markdown)
    for name, (body, nargs) in defined.items():
        if name in config:
            assert (nargs, True) == (config[name][1], _same_tex(body, config[name][0])), (
                f"{path.name}: \\{name} is defined as {body!r} with {nargs} arguments, "
                f"but _config.yml has {config[name][0]!r} with {config[name][1]}"
            )
    without_definitions = re.sub(r"\\newcommand\s*\{\\\w+\}(\[\d\])?", "", markdown)
    used = {name for name in config if re.search(rf"\\{name}(?![A-Za-z])", without_definitions)}
    missing = sorted(used - defined.keys())
    assert not missing, (
        f"{path.name} uses macros it does not define for Jupyter: {missing}; "
        "add \\newcommand lines to its macro cell"
    )


def test_newcommand_parser():
    text = r"$\newcommand{\ip}[2]{\langle #1, #2 \rangle} \newcommand{\bw}{\mathbf{w}}$"
    assert _newcommands(text) == {"ip": (r"\langle #1, #2 \rangle", 2), "bw": (r"\mathbf{w}", 0)}
