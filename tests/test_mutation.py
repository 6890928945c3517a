"""Mutation check: every theorem chapter must FAIL when its reference limits are wrong.

Each chapter 01-09 is run under nbval with an IPython startup file
(tests/mutation/rotate_references.py) that rotates the predictors returned by
``hard_margin_svm``, ``min_l1_margin`` and ``min_fourier_l1_margin`` by 1 degree.
A chapter that still passes compares GD with nothing but itself. We require the
failure to be an ``AssertionError`` (a claim that no longer holds), not a crash.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STARTUP = Path(__file__).parent / "mutation" / "rotate_references.py"
THEOREM_CHAPTERS = sorted(p for p in (ROOT / "chapters").glob("0[1-9]_*.ipynb"))


def test_mutation_startup_file_rotates_by_one_degree(tmp_path):
    """The mutation itself works: the patched reference is 1 degree off the real one."""
    code = (
        "import runpy, numpy as np, ibcore\n"
        "from ibcore.references import hard_margin_svm as real\n"
        f"runpy.run_path({str(STARTUP)!r})\n"
        "from ibcore.limits import hard_margin_svm as fake\n"
        "from ibcore.data import gaussian\n"
        "X, y = gaussian(5, 8, seed=1)\n"
        "print(round(float(ibcore.angle(real(X, y).beta, fake(X, y).beta)), 9))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert out.stdout.strip().splitlines()[-1] == "1.0"


@pytest.mark.parametrize("chapter", THEOREM_CHAPTERS, ids=lambda p: p.stem)
def test_theorem_chapter_fails_when_references_are_rotated(chapter, tmp_path):
    ipython_dir = tmp_path / "ipython"
    startup = ipython_dir / "profile_default" / "startup"
    startup.mkdir(parents=True)
    shutil.copy(STARTUP, startup / "00-rotate-references.py")
    env = dict(os.environ, IPYTHONDIR=str(ipython_dir), IBCORE_PROGRESS="0")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax", "--nbval-current-env",
         str(chapter)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, f"{chapter.name} passed with references rotated by 1 degree:\n{output[-2000:]}"
    assert "AssertionError" in output, f"{chapter.name} failed, but not on an assert:\n{output[-3000:]}"
