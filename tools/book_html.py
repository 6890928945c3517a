"""Sphinx extension with the book's two HTML adjustments (loaded from _config.yml).

1. **Repository and launch buttons only when a repository URL is given.** Jupyter
   Book 1 defaults ``repository.url`` to Jupyter Book's own repository, so a book that
   says nothing gets buttons pointing somewhere else. ``_config.yml`` sets the URL to
   empty (no buttons), and this extension turns them on when the ``REPO_URL``
   environment variable is set, as ``make book REPO_URL=...`` does::

       make book REPO_URL=https://github.com/OWNER/REPO [REPO_BRANCH=main]

   That adds a repository button, and on notebook pages a Binder launch button, plus a
   Colab button when the repository is on GitHub (Colab opens notebooks from GitHub
   only; for any other host the theme warns, and ``-W`` would fail the build).

2. **No sphinx-thebe scripts.** Jupyter Book always loads ``sphinx_thebe``, which puts
   a script on every page that names a CDN copy of thebe, and in this version adds
   its inline ``const THEBE_JS_URL = ...`` twice per page: a JavaScript SyntaxError on
   every page. The book offers no live code cells (thebe needs a Binder and the
   network), so unless ``launch_buttons.thebe`` is switched on, the handler that adds
   those scripts is disconnected.
"""

from __future__ import annotations

import os
from urllib.parse import urlparse

BINDER_URL = "https://mybinder.org"
COLAB_URL = "https://colab.research.google.com"


def _set_repository(app, config) -> None:
    url = os.environ.get("REPO_URL", "").strip().rstrip("/")
    if not url:
        return
    parsed = urlparse(url)
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        raise ValueError(f"REPO_URL must be the http(s) URL of the book's repository, got {url!r}")
    options = config.html_theme_options
    options["repository_url"] = url
    options["repository_branch"] = os.environ.get("REPO_BRANCH", "").strip() or "main"
    options["use_repository_button"] = True
    launch = dict(options.get("launch_buttons") or {})
    launch["binderhub_url"] = BINDER_URL
    if parsed.netloc.lower() in {"github.com", "www.github.com"}:
        launch["colab_url"] = COLAB_URL
    options["launch_buttons"] = launch


def _drop_thebe_scripts(app, config) -> None:
    if (config.html_theme_options.get("launch_buttons") or {}).get("thebe"):
        return
    for listener in list(app.events.listeners.get("env-before-read-docs", [])):
        handler = listener.handler
        if getattr(handler, "__module__", "") == "sphinx_thebe" and handler.__name__ == "init_thebe_core":
            app.disconnect(listener.id)


def setup(app):
    app.connect("config-inited", _set_repository)
    app.connect("config-inited", _drop_thebe_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
