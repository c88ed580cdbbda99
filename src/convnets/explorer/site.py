"""Write the explorer's static site: page, runtime, model with its maps, test images, patches.

The folder is built beside its destination and renamed into place (`io.atomic_folder`). What
the page reads:
  index.html, explorer.css, *.mjs   the page (package data: `static/`)
  ort/                              onnxruntime-web's ES module, its wasm loader and binary
  model/explorer.onnx               the exported model plus every conv/pool layer as outputs
  model.json                        the model's description (its ONNX metadata), its layers,
                                    the first conv's weights, the test images' labels
  data/test.bin                     the test images, uint8 (N, H, W, C), as the model takes them
  patches/<layer>.png               each channel's top-9 test patches, a row per channel
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image

from convnets import io
from convnets.errors import ConvnetsError
from convnets.explorer.graph import with_feature_maps
from convnets.explorer.patches import feature_maps, top_patch_sprite
from convnets.onnx.metadata import ModelDescription
from convnets.onnx.sessions import onnx_session

# onnxruntime-web's plain wasm build: the ES module, the loader it imports, and the binary.
RUNTIME_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
PAGE_FILES = ("index.html", "explorer.css")  # and every static/*.mjs
PIXEL_LIMIT = 25_000_000  # the page refuses larger uploads (decoded, 4 bytes a pixel)


@dataclass(frozen=True)
class SiteInputs:
    model: bytes  # best.onnx, already checked (predict.load_classifier)
    description: ModelDescription
    test_images: np.ndarray  # uint8 (N, H, W, C): shipped, and searched for top patches
    test_labels: np.ndarray  # (N,) class indices
    accuracy: float | None  # the exported model's test accuracy, if known
    runtime: Path  # the folder holding RUNTIME_FILES (node_modules/onnxruntime-web/dist)
    # When the model file was written (UTC). Not in the ONNX metadata on purpose: a date there
    # would make every re-export's bytes differ, and reruns must repeat them bit for bit.
    written: str | None = None


def build_site(out: Path, inputs: SiteInputs, shipped: int, searched: int) -> dict:
    """Write the site to `out`; `shipped` test images go in it, `searched` are searched."""
    model, layers, first = with_feature_maps(inputs.model)
    session = onnx_session(model, threads=1)
    searched_images = inputs.test_images[:searched]
    maps = feature_maps(session, searched_images, layers)
    with io.atomic_folder(out) as site:
        _copy_page(site, inputs.runtime)
        (site / "model").mkdir()
        (site / "model/explorer.onnx").write_bytes(model)
        (site / "data").mkdir()
        (site / "data/test.bin").write_bytes(np.ascontiguousarray(inputs.test_images[:shipped]))
        (site / "patches").mkdir()
        described = []
        for index, (layer, layer_maps) in enumerate(zip(layers, maps, strict=True)):
            sprite = top_patch_sprite(layer_maps, searched_images, layer)
            pixels = sprite.pixels[..., 0] if sprite.pixels.shape[2] == 1 else sprite.pixels
            Image.fromarray(pixels).save(site / f"patches/{index}.png", optimize=True)
            described.append(
                asdict(layer) | {"patches": f"patches/{index}.png", "cell": sprite.cell}
            )
        manifest = {
            "description": asdict(inputs.description),
            "accuracy": inputs.accuracy,
            "written": inputs.written,
            "layers": described,
            "first_filter": first,
            "test": {
                "count": min(shipped, len(inputs.test_labels)),
                "labels": inputs.test_labels[:shipped].tolist(),
                "searched": len(searched_images),
            },
            "pixel_limit": PIXEL_LIMIT,
        }
        (site / "model.json").write_text(json.dumps(manifest))
    return manifest


def _copy_page(site: Path, runtime: Path) -> None:
    static = resources.files("convnets.explorer") / "static"
    for item in static.iterdir():
        if item.name in PAGE_FILES or item.name.endswith(".mjs"):
            (site / item.name).write_bytes(item.read_bytes())
    (site / "ort").mkdir()
    for name in RUNTIME_FILES:
        source = runtime / name
        if not source.is_file():
            raise ConvnetsError(
                f"onnxruntime-web's {source} is missing. Fix: `make setup` (runs `npm ci`)."
            )
        shutil.copyfile(source, site / "ort" / name)
