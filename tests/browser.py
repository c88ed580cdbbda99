"""Open a report in headless Chromium, as a person would, and say what the page showed."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

from tests.require import require

REPORT_SECTIONS = (
    "data",
    "data-checks",
    "filters",
    "shapes",
    "learned",
    "patches",
    "attribution",
    "features",
    "maximization",
    "results",
    "trust",  # calibration and out-of-distribution: present once export has written them
)

# Records script errors, failed resource loads and console.error calls from the first moment,
# then, once everything has loaded, writes what the page holds into a <pre> that --dump-dom shows.
PROBE = """<script>
window.__errors = [];
addEventListener("error", e => __errors.push(e.message || (e.target && e.target.src)), true);
const _error = console.error;
console.error = (...args) => { __errors.push(args.join(" ")); _error(...args); };
addEventListener("load", () => {
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({
    images: [...document.images].map(i => ({src: i.getAttribute("src"), width: i.naturalWidth})),
    sections: [...document.querySelectorAll("section")].map(s => s.id),
    errors: __errors,
  });
  document.body.appendChild(out);
});
</script>"""

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--virtual-time-budget=10000",
)


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    require(False, "Chromium on PATH (make test installs Debian's chromium)")


def open_in_chromium(page: Path, scratch: Path) -> dict:
    """Load a copy of `page` (same folder, so relative links resolve) with the probe injected;
    return {"images": [...], "sections": [...], "errors": [...]}. Console errors that Chromium
    logs itself (such as a missing file) are added to "errors"."""
    probed = page.with_name(f".probe-{page.name}")
    probed.write_text(page.read_text().replace("<head>", "<head>\n" + PROBE, 1))
    try:
        done = subprocess.run(
            [
                chromium(),
                *FLAGS,
                f"--user-data-dir={scratch}/profile",
                "--dump-dom",
                probed.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        probed.unlink()
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert found, f"the page never finished loading:\n{done.stderr[-2000:]}"
    result = json.loads(html.unescape(found.group(1)))
    result["errors"] += [line for line in done.stderr.splitlines() if ":CONSOLE(" in line]
    return result
