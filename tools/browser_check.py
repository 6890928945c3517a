"""Open every page of the built book in a real browser, offline, and check what a reader sees.

Run by ``make test`` inside a new network namespace (``unshare --net``), so that the
only network interface is the loopback one: a page that needs the internet to render
fails here as it would for a reader without a connection. For each HTML page under
the build directory, headless Chromium (Debian's ``chromium``, driven by Debian's
``chromedriver`` through Selenium) loads it from ``file://``, lets its scripts run, and
the checks are:

- no ``<script src>`` or stylesheet in the HTML points off the machine (``http(s)://``),
  and the browser requested nothing off the machine while rendering;
- math is typeset: every ``.math`` element holds MathJax output (``mjx-container``),
  there is no MathJax error (``mjx-merror``), no raw ``\\(`` or ``\\[`` is left in the
  text, and MathJax's web fonts loaded;
- every ``<img>`` loaded (decoded, with a positive natural width);
- the browser console shows no errors.

A screenshot of the first chapter is kept for people to look at.

Usage: python tools/browser_check.py BUILD_HTML_DIR [--screenshot PNG] [--allow-network]
"""

from __future__ import annotations

import argparse
import fcntl
import html.parser
import shutil
import socket
import struct
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CHROMEDRIVER = "/usr/bin/chromedriver"
# The real binary; /usr/bin/chromium is a shell wrapper around it.
CHROMIUM_CANDIDATES = ["/usr/lib/chromium/chromium", "/usr/bin/chromium"]
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",  # we run as root in CI
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1600",
]
FIRST_CHAPTER = "chapters/00_conventions.html"
PAGE_TIMEOUT = 60  # seconds for one page to load and typeset


# --------------------------------------------------------------------- network


def loopback_only() -> list[str]:
    """Names of the network interfaces other than loopback (empty when the network is cut)."""
    return [name for _, name in socket.if_nameindex() if name != "lo"]


def bring_up_loopback() -> None:
    """Bring up ``lo`` in a fresh network namespace (chromedriver talks to Chromium over it).

    A new namespace starts with loopback down; this is ``ip link set lo up`` without
    needing iproute2, through the SIOCGIFFLAGS/SIOCSIFFLAGS ioctls.
    """
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(s, siocgifflags, ifreq))[1]
        if not flags & iff_up:
            fcntl.ioctl(s, siocsifflags, struct.pack("16sh", b"lo", flags | iff_up))


# --------------------------------------------------------------------- static HTML


class _Refs(html.parser.HTMLParser):
    """Collect script sources, stylesheet links and the number of math elements of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self.math = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script" and a.get("src"):
            self.scripts.append(a["src"])
        if tag == "link" and a.get("href") and {"stylesheet", "preload", "modulepreload"} & set((a.get("rel") or "").split()):
            self.styles.append(a["href"])
        if "math" in (a.get("class") or "").split():
            self.math += 1


def off_machine(url: str) -> bool:
    return url.strip().lower().startswith(("http://", "https://", "//"))


# --------------------------------------------------------------------- in the browser

WAIT_FOR_PAGE = """
const done = arguments[arguments.length - 1];
(async () => {
  if (document.readyState !== "complete") {
    await new Promise(r => window.addEventListener("load", r, {once: true}));
  }
  let mathjax = "absent";
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    try { await MathJax.startup.promise; mathjax = "typeset"; }
    catch (e) { mathjax = "failed: " + e; }
  }
  const images = await Promise.all(Array.from(document.images).map(async img => {
    img.loading = "eager";
    try { await img.decode(); } catch (e) {}
    return {src: img.currentSrc || img.src, ok: img.complete && img.naturalWidth > 0};
  }));
  await document.fonts.ready;
  done({mathjax, images});
})().catch(e => done({error: String(e)}));
"""

INSPECT_PAGE = """
const rawTeX = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
  acceptNode: n => n.parentElement.closest("pre, code, script, style, textarea, mjx-container")
    ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
for (let n = walker.nextNode(); n; n = walker.nextNode()) {
  if (n.data.includes("\\\\(") || n.data.includes("\\\\[")) rawTeX.push(n.data.trim().slice(0, 80));
}
const math = Array.from(document.querySelectorAll(".math"));
return {
  math: math.length,
  untypeset: math.filter(e => !e.querySelector("mjx-container")).map(e => e.textContent.trim().slice(0, 80)),
  containers: document.querySelectorAll("mjx-container").length,
  merrors: Array.from(document.querySelectorAll("mjx-merror")).map(e => e.textContent.slice(0, 80)),
  rawTeX,
  wideMath: Array.from(document.querySelectorAll('mjx-container[display="true"]')).filter(c => {
    const inner = c.querySelector("mjx-math");
    return inner && inner.getBoundingClientRect().width > c.getBoundingClientRect().width + 1;
  }).map(c => c.textContent.trim().slice(0, 60)),
  fonts: Array.from(document.fonts).filter(f => f.family.includes("MJX")).map(f => [f.family, f.status]),
  resources: performance.getEntriesByType("resource").map(e => e.name),
  scripts: Array.from(document.scripts).map(s => s.src).filter(Boolean),
};
"""


@dataclass
class PageReport:
    page: str
    problems: list[str] = field(default_factory=list)
    math: int = 0
    images: int = 0
    notes: list[str] = field(default_factory=list)


def make_driver(user_data_dir: str):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = next((p for p in CHROMIUM_CANDIDATES if Path(p).exists()), None)
    if binary is None or not Path(CHROMEDRIVER).exists():
        sys.exit("browser_check: Debian's chromium and chromium-driver are needed (tools/ensure_chromium.sh)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={user_data_dir}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(PAGE_TIMEOUT)
    driver.set_script_timeout(PAGE_TIMEOUT)
    return driver


def check_page(driver, root: Path, path: Path) -> PageReport:
    rel = path.relative_to(root).as_posix()
    report = PageReport(rel)
    refs = _Refs()
    refs.feed(path.read_text(encoding="utf-8"))
    for src in refs.scripts:
        if off_machine(src):
            report.problems.append(f"<script src> off the machine: {src}")
    for href in refs.styles:
        if off_machine(href):
            report.problems.append(f"stylesheet off the machine: {href}")

    driver.get(path.resolve().as_uri())
    state = driver.execute_async_script(WAIT_FOR_PAGE)
    if "error" in state:
        report.problems.append(f"page scripts failed: {state['error']}")
        return report
    found = driver.execute_script(INSPECT_PAGE)

    report.math, report.images = found["math"], len(state["images"])
    if refs.math and state["mathjax"] != "typeset":
        report.problems.append(f"page has {refs.math} math elements but MathJax is {state['mathjax']}")
    if found["untypeset"]:
        report.problems.append(f"{len(found['untypeset'])} math elements not typeset, e.g. {found['untypeset'][0]!r}")
    if found["merrors"]:
        report.problems.append(f"MathJax errors: {found['merrors'][:3]}")
    if found["rawTeX"]:
        report.problems.append(f"raw TeX left in the text: {found['rawTeX'][:3]}")
    if found["wideMath"]:
        report.notes.append(f"{len(found['wideMath'])} display equations wider than the text column "
                            "(they scroll sideways)")
    bad_fonts = [f for f in found["fonts"] if f[1] == "error"]
    if bad_fonts:
        report.problems.append(f"MathJax fonts failed to load: {bad_fonts[:3]}")
    for img in state["images"]:
        if not img["ok"]:
            report.problems.append(f"image did not load: {img['src']}")
    for url in found["resources"] + found["scripts"]:
        if off_machine(url):
            report.problems.append(f"requested off the machine: {url}")
    for entry in driver.get_log("browser"):
        if entry.get("level") == "SEVERE":
            report.problems.append(f"console error: {entry.get('message', '')[:200]}")
    return report


def full_page_screenshot(driver, png: Path) -> None:
    """Save the whole page (not just the window) as a PNG, by making the window as tall as the page."""
    width, height = driver.get_window_size()["width"], driver.get_window_size()["height"]
    page_height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(int(page_height) + 200, 16000))
    try:
        png.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(png))
    finally:
        driver.set_window_size(width, height)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html_dir", type=Path)
    parser.add_argument("--screenshot", type=Path, default=None, help=f"PNG of {FIRST_CHAPTER}")
    parser.add_argument("--allow-network", action="store_true", help="do not insist that the network is cut")
    args = parser.parse_args(argv)

    root = args.html_dir.resolve()
    if not (root / "index.html").is_file():
        print(f"browser_check: no book at {root} (run `make book` first)", file=sys.stderr)
        return 2
    others = loopback_only()
    if others and not args.allow_network:
        print(f"browser_check: the network is not cut (interfaces {others}); run under `unshare --net`",
              file=sys.stderr)
        return 2
    bring_up_loopback()

    pages = sorted(p for p in root.rglob("*.html") if not p.relative_to(root).parts[0].startswith("_"))
    user_data_dir = tempfile.mkdtemp(prefix="browser-check-profile-")
    started = time.perf_counter()
    failed: list[PageReport] = []
    try:
        driver = make_driver(user_data_dir)
        try:
            for path in pages:
                report = check_page(driver, root, path)
                status = "ok" if not report.problems else "FAIL"
                print(f"  {status:4} {report.page:40} math {report.math:4}  images {report.images:3}")
                for problem in report.problems:
                    print(f"       - {problem}")
                for note in report.notes:
                    print(f"       note: {note}")
                if report.problems:
                    failed.append(report)
                if args.screenshot and report.page == FIRST_CHAPTER:
                    full_page_screenshot(driver, args.screenshot)
                    print(f"       screenshot: {args.screenshot}")
        finally:
            driver.quit()
    finally:
        shutil.rmtree(user_data_dir, ignore_errors=True)

    network = "network cut, loopback only" if not others else "network NOT cut"
    print(f"browser_check: {len(pages)} pages, {len(failed)} failed ({network}; "
          f"{time.perf_counter() - started:.1f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
