"""Progress bars for long runs: on where a person is watching, off in builds and tests.

A bar is shown by default only

- when a person may be watching: stderr is a terminal, or the code runs in a
  Jupyter kernel (whose stderr is not a terminal, but whose output a reader sees);
- for runs that last: the bar appears after :data:`DELAY` seconds, so short runs
  print nothing at all;
- unless ``IBCORE_PROGRESS=0`` (or ``false``/``no``/``off``).  A kernel cannot tell a
  reader from the book build or nbval, so the Makefile sets that variable for both:
  the build counts anything on stderr as a warning, and warnings are errors.

``progress=True`` asks for a bar at once (no delay) whatever the session, and
``progress=False`` never shows one; ``IBCORE_PROGRESS=0`` overrides both.  The bar is
tqdm's text bar on stderr, which Jupyter redraws in place (no widget dependency).
"""

from __future__ import annotations

import os
import sys

#: Seconds a run must last before its (automatic) bar appears.
DELAY = 2.0


def _switched_off() -> bool:
    return os.environ.get("IBCORE_PROGRESS", "1").strip().lower() in {"0", "false", "no", "off"}


def _watched() -> bool:
    """Whether a person may be watching stderr: a terminal, or a Jupyter kernel's output."""
    ipython = sys.modules.get("IPython")
    if ipython is not None:
        shell = ipython.get_ipython()
        if shell is not None and getattr(shell, "kernel", None) is not None:
            return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


def progress_enabled(requested: bool | None, work: int, threshold: int = 20_000) -> bool:
    """Whether to show a bar: never if switched off, else ``requested`` if given, else for watched long runs."""
    if _switched_off():
        return False
    if requested is not None:
        return bool(requested)
    return work >= threshold and _watched()


class Progress:
    """A tqdm bar updated at most ~100 times, or nothing at all.

    ``delay`` (seconds) postpones the bar, so that a run shorter than that prints nothing.
    """

    def __init__(self, total: int, enabled: bool, desc: str = "", delay: float = 0.0):
        self._bar = None
        self._every = max(1, total // 100)
        self._done = 0
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, leave=False, delay=delay)

    def update(self, t: int) -> None:
        if self._bar is not None and (t - self._done >= self._every):
            self._bar.update(t - self._done)
            self._done = t

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
