"""Time the explorer in headless Chromium: `python -m tests.explorer_timing reports/explorer`.

Prints, per page load (three): the time to the first prediction after navigation starts, and
for one synthesized 60-move stroke the model's time per update and the whole update's (prepare
the canvas, run, redraw), medians in ms. `--shot PNG` also saves a full-page screenshot.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.test_explorer import CHROMIUM, FLAGS, serving


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("site", type=Path)
    parser.add_argument("--shot", type=Path)
    args = parser.parse_args()
    with sync_playwright() as p, serving(args.site) as url:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        for run in range(3):
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto(url)
            page.wait_for_function("window.explorer && explorer.ready", timeout=60000)
            first = page.evaluate("explorer.firstPredictionMs")
            box = page.locator("#draw").bounding_box()
            seen = page.evaluate("explorer.timings.length")
            start = time.time()
            page.mouse.move(box["x"] + 60, box["y"] + 50)
            page.mouse.down()
            for i in range(60):
                page.mouse.move(box["x"] + 60 + i * 2.5, box["y"] + 50 + i * 3)
            page.mouse.up()
            page.wait_for_function("!explorer.busy")
            wall = time.time() - start
            model = page.evaluate(f"explorer.timings.slice({seen})")
            whole = page.evaluate(f"explorer.updateTimings.slice({seen})")
            row = {"first_prediction_ms": round(first), "updates": len(model),
                   "model_ms": round(median(model), 1), "update_ms": round(median(whole), 1),
                   "updates_per_s": round(len(model) / wall, 1)}  # fmt: skip
            print(json.dumps(row))
            if run == 2 and args.shot:
                page.locator(".layer canvas").nth(1).click()
                page.wait_for_timeout(300)
                page.screenshot(path=str(args.shot), full_page=True)
            page.close()
        browser.close()


if __name__ == "__main__":
    main()
