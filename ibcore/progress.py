"""Progress bars for long runs, on in interactive sessions and off in builds and tests.

A Jupyter kernel cannot tell whether it runs under a person or under the book
build or nbval, so the Makefile sets ``IBCORE_PROGRESS=0`` for those; anywhere
else a run long enough to matter shows a text bar (tqdm) on stderr.
"""

from __future__ import annotations

import os


def progress_enabled(requested: bool | None, work: int, threshold: int = 200_000) -> bool:
    """Whether to show a bar: ``requested`` if given, else when ``work`` is large and not switched off."""
    if os.environ.get("IBCORE_PROGRESS", "1").strip().lower() in {"0", "false", "no", "off"}:
        return False
    if requested is not None:
        return bool(requested)
    return work >= threshold


class Progress:
    """A tqdm bar updated at most ~100 times, or nothing at all."""

    def __init__(self, total: int, enabled: bool, desc: str = ""):
        self._bar = None
        self._every = max(1, total // 100)
        self._done = 0
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, leave=False)

    def update(self, t: int) -> None:
        if self._bar is not None and (t - self._done >= self._every):
            self._bar.update(t - self._done)
            self._done = t

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
