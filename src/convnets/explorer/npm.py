"""Where onnxruntime-web is: the `node_modules` Node itself would find, at the pinned version.

The stage looks from its working folder upwards, as Node does, so experiments that DVC runs in
a temporary copy inside the repository (`dvc exp run --queue` or `--temp`) find the checkout's
`node_modules` too. `package-lock.json` is the stage's dependency: it pins the version, and
`npm ci` installs exactly that one or fails.
"""

from __future__ import annotations

import json
from pathlib import Path

from convnets.errors import ConvnetsError

PACKAGE = "onnxruntime-web"
FIX = "Fix: `make setup` (it runs `npm ci`), then rerun."


def find_runtime(lockfile: Path, start: Path) -> Path:
    """onnxruntime-web's `dist` folder, checked against the version `lockfile` pins."""
    try:
        pinned = json.loads(lockfile.read_text())["packages"][f"node_modules/{PACKAGE}"]["version"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConvnetsError(f"{lockfile} does not pin {PACKAGE} ({exc!r}). {FIX}") from None
    for folder in (start, *start.parents):
        manifest = folder / "node_modules" / PACKAGE / "package.json"
        if manifest.is_file():
            installed = json.loads(manifest.read_text()).get("version")
            if installed != pinned:
                raise ConvnetsError(
                    f"{manifest.parent} is {PACKAGE} {installed}, but {lockfile} pins {pinned}. "
                    + FIX
                )
            return manifest.parent / "dist"
    raise ConvnetsError(f"{PACKAGE} is not installed (no node_modules in {start} or above). {FIX}")
