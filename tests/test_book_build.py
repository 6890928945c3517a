"""A notebook that fails must fail the book build and nbval.

Builds a tiny throw-away book in a temporary folder, with the ``execute`` settings of
the real ``_config.yml`` (``execute_notebooks: force``, ``raise_on_error: true``, ...),
once with a notebook whose assertion holds and once with one whose assertion fails.
The broken one is built *without* the Makefile's ``-W``, to show that the execution
settings alone stop the build (``-W`` can only add failures); the good one is built
*with* the Makefile's flags, to show that the throw-away book is otherwise clean.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
JUPYTER_BOOK = Path(sys.executable).with_name("jupyter-book")
MESSAGE = "deliberately broken"


def makefile_flags() -> list[str]:
    """The flags the Makefile passes to every book build (its JB_FLAGS line)."""
    match = re.search(r"^JB_FLAGS\s*:?=\s*(.*)$", (ROOT / "Makefile").read_text(), flags=re.MULTILINE)
    assert match, "Makefile has no JB_FLAGS line"
    return match.group(1).split()


def notebook(assertion: str) -> dict:
    return {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": "# A throw-away chapter"},
            {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
             "source": f"value = 1 + 1\nassert {assertion}, {MESSAGE!r}"},
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def make_book(folder: Path, assertion: str) -> Path:
    real = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    assert real["execute"]["raise_on_error"] is True
    assert real["execute"]["execute_notebooks"] == "force"
    config = {
        "title": "Throw-away book",
        "only_build_toc_files": True,
        "execute": real["execute"],
        "parse": real["parse"],
    }
    folder.mkdir(parents=True)
    (folder / "_config.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    (folder / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: chapter\n", encoding="utf-8")
    (folder / "intro.md").write_text("# Throw-away book\n\nA book that exists only for a test.\n", encoding="utf-8")
    (folder / "chapter.ipynb").write_text(json.dumps(notebook(assertion)), encoding="utf-8")
    return folder


def run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def books(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("throwaway")
    return {"good": make_book(base / "good", "value == 2"), "broken": make_book(base / "broken", "value == 3")}


def test_good_book_builds_with_makefile_flags(books):
    result = run([str(JUPYTER_BOOK), "build", ".", *makefile_flags()], books["good"])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (books["good"] / "_build" / "html" / "chapter.html").is_file()


def test_broken_notebook_fails_the_build(books):
    result = run([str(JUPYTER_BOOK), "build", "."], books["broken"])
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert MESSAGE in output, "the build failed, but not because of the notebook:\n" + output[-3000:]


@pytest.mark.parametrize(("book", "passes"), [("good", True), ("broken", False)])
def test_nbval(books, book, passes):
    cmd = [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-p", "no:cacheprovider",
           "chapter.ipynb"]
    result = run(cmd, books[book])
    output = result.stdout + result.stderr
    assert (result.returncode == 0) == passes, output[-3000:]
    if not passes:
        assert MESSAGE in output


def test_no_static_folder():
    # Jupyter Book 1 injects every .js and .css under any static path into every page
    # as soon as a top-level _static/ exists; the book's static files live in vendor/.
    assert not (ROOT / "_static").exists(), "remove _static/: put static files under vendor/ instead"
