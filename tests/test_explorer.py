"""The explorer: its model with feature maps, its site, its server, and the page in Chromium.

The browser tests drive headless Chromium (Playwright, Debian's /usr/bin/chromium) as a person
would: a file input, pointer strokes, buttons, kernel fields. The Fashion-MNIST site is the one
`dvc repro` wrote in the shared pipeline run (tests/repos.py); a conv model and a colour model
are exported in-process from the registry (seeded random weights) and built into sites here.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import external_data_helper
from PIL import Image

from convnets.errors import ConvnetsError
from convnets.explorer.graph import with_feature_maps
from convnets.explorer.npm import find_runtime
from convnets.explorer.serve import server
from convnets.explorer.site import RUNTIME_FILES, SiteInputs, build_site
from convnets.onnx.metadata import ModelDescription
from convnets.photos import fit, prepare
from tests.require import require, require_playwright

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = ROOT / "node_modules/onnxruntime-web/dist"
CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    *("--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync"),
    *("--disable-background-networking", "--disable-component-update"),
]
TOLERANCE = 1e-4


def require_runtime() -> Path:
    require(
        all((RUNTIME / n).is_file() for n in RUNTIME_FILES), "node_modules (make setup: npm ci)"
    )
    return RUNTIME


def tiny_onnx(
    channels: int, size: int, model: str = "cnn", framing: str = "object", threshold: float = 0.0
) -> tuple[bytes, ModelDescription]:
    """A registry model with seeded random weights, exported as export does (torch here only)."""
    import torch

    from convnets.models.building import create_model
    from convnets.onnx.convert import export_onnx

    torch.manual_seed(0)
    options = {"channels": [4, 8], "hidden": 16} if model == "cnn" else {"hidden": [16]}
    net = create_model(model, channels, 10, size, options)
    description = ModelDescription(
        classes=tuple(f"class {i}" for i in range(10)),
        input={"layout": "NHWC", "dtype": "uint8", "shape": [size, size, channels]},
        dataset="tiny", variant=model, model={"name": model, "options": options},
        temperature=1.0, ood={"score": "max_probability", "threshold": threshold}, framing=framing,
    )  # fmt: skip
    return export_onnx(net, description), description


def tiny_site(
    out: Path,
    channels: int,
    size: int,
    images: np.ndarray | None = None,
    framing: str = "object",
    threshold: float = 0.0,
) -> Path:
    model, description = tiny_onnx(channels, size, framing=framing, threshold=threshold)
    rng = np.random.default_rng(0)
    if images is None:
        images = rng.integers(0, 256, (40, size, size, channels), dtype=np.uint8)
    labels = rng.integers(0, 10, len(images))
    build_site(out, SiteInputs(model, description, images, labels, 0.5, require_runtime()), 30, 40)
    return out


# ---------------------------------------------------------------- without a browser


def test_feature_map_model_keeps_the_outputs_and_adds_every_conv_and_pool():
    model, _ = tiny_onnx(1, 28)
    tapped, layers, first = with_feature_maps(model)
    assert [layer.label for layer in layers] == ["conv 1", "pool 1", "conv 2", "pool 2"]
    assert [layer.field[:2] for layer in layers] == [(3, 1), (4, 2), (8, 2), (10, 4)]
    assert np.asarray(first).shape == (4, 1, 3, 3)
    pixels = np.random.default_rng(1).integers(0, 256, (3, 28, 28, 1), dtype=np.uint8)
    plain = ort.InferenceSession(model).run(None, {"pixels": pixels})
    outputs = ort.InferenceSession(tapped).run(None, {"pixels": pixels})
    assert len(outputs) == 2 + len(layers)
    for a, b in zip(plain, outputs[:2], strict=True):
        np.testing.assert_array_equal(a, b)
    assert outputs[2].shape == (3, 4, 28, 28) and outputs[5].shape == (3, 8, 7, 7)


def test_site_holds_page_runtime_model_and_data(tmp_path):
    site = tiny_site(tmp_path / "explorer", channels=1, size=28)
    manifest = json.loads((site / "model.json").read_text())
    assert manifest["test"]["count"] == 30 and len(manifest["test"]["labels"]) == 30
    assert (site / "data/test.bin").stat().st_size == 30 * 28 * 28
    for name in ("index.html", "explorer.mjs", "prepare.mjs", *(f"ort/{n}" for n in RUNTIME_FILES)):
        assert (site / name).is_file(), name
    for layer in manifest["layers"]:
        sprite = Image.open(site / layer["patches"])
        channels = 4 if layer["label"].endswith("1") else 8
        assert sprite.size == (9 * layer["cell"], channels * layer["cell"])
    assert not list(tmp_path.glob(".explorer*")), "the temp folder was left behind"


def test_server_names_wasm_and_module_types(tmp_path):
    site = tiny_site(tmp_path / "site", channels=1, size=28)
    with serving(site) as url:
        for path, wanted in (("ort/ort-wasm-simd-threaded.wasm", "application/wasm"),
                             ("explorer.mjs", "text/javascript")):  # fmt: skip
            with urllib.request.urlopen(url + path) as response:
                assert response.headers["Content-Type"] == wanted


@contextmanager
def serving(site: Path):
    httpd = server(site)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.slow  # starts `convnets explore`
def test_explore_command_serves_on_a_free_port_and_stops_on_ctrl_c(tmp_path):
    """Started as a shell starts a background job (SIGINT ignored), it still stops on SIGINT."""
    site = tiny_site(tmp_path / "site", channels=1, size=28)
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    process = subprocess.Popen(
        [sys.executable, "-m", "convnets.cli", "explore", "--params", str(ROOT / "params.yaml"),
         "--site", str(site)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        preexec_fn=_ignore_sigint,
    )  # fmt: skip
    try:
        line = process.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", line).group(0)
        with urllib.request.urlopen(url + "ort/ort-wasm-simd-threaded.wasm") as response:
            assert response.headers["Content-Type"] == "application/wasm"
        with urllib.request.urlopen(url + "model.mjs") as response:
            assert response.headers["Content-Type"] == "text/javascript"
    finally:
        process.send_signal(signal.SIGINT)
        try:  # communicate drains both pipes, so a chatty server cannot block on a full one
            out, err = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
            pytest.fail(f"explore did not stop within 30 s of Ctrl-C; stderr:\n{err[-2000:]}")
    assert process.returncode == 0, err[-2000:]
    assert "stopped" in out


# ---------------------------------------------------------------- in Chromium


@pytest.fixture(scope="module")
def browser():
    require(Path(CHROMIUM).is_file(), f"Chromium at {CHROMIUM} (make test installs Debian's)")
    playwright = require_playwright()
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield launched
        launched.close()


class Visit:
    """A page on the served site, recording console errors, failed loads and outside requests."""

    def __init__(self, browser, url: str):
        self.errors, self.failed, self.outside = [], [], []
        self.page = browser.new_page()
        self.page.route(re.compile(r"^(?!http://127\.0\.0\.1[:/]).*"), self._refuse)
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("requestfailed", lambda r: self.failed.append(r.url))
        self.page.on("response", lambda r: r.status >= 400 and self.failed.append(r.url))
        self.page.goto(url)

    def _refuse(self, route):
        if not route.request.url.startswith("data:"):
            self.outside.append(route.request.url)
        route.abort()

    def state(self, expression: str = "explorer"):
        plain = "(k, v) => (ArrayBuffer.isView(v) ? Array.from(v) : v)"  # typed arrays as lists
        return self.page.evaluate(f"JSON.parse(JSON.stringify({expression}, {plain}))")

    def wait_ready(self):
        self.page.wait_for_function("window.explorer && window.explorer.ready", timeout=60000)

    def after(self, action) -> dict:
        """Do `action`, then wait for the model's next update; the page state after it."""
        before = self.page.evaluate("explorer.updates")
        action()
        self.page.wait_for_function(f"explorer.updates > {before} && !explorer.busy", timeout=30000)
        return self.state()

    def upload(self, path: Path) -> dict:
        return self.after(lambda: self.page.set_input_files("#file", str(path)))


@contextmanager
def visiting(browser, site: Path):
    with serving(site) as url:
        visit = Visit(browser, url)
        try:
            yield visit
        finally:
            visit.page.close()


@pytest.fixture(scope="module")
def fashion(fashion_repo, tmp_path_factory):
    """The pipeline's site, its model, and real Fashion-MNIST test images as PNG files."""
    data = np.load(fashion_repo / "data/prepared/fashion-mnist.npz")
    folder = tmp_path_factory.mktemp("fashion-pngs")
    for i in (0, 7):
        Image.fromarray(data["x_test"][i][..., 0]).save(folder / f"test{i}.png")
    return fashion_repo, folder, data["x_test"]


@pytest.mark.slow
def test_upload_matches_convnets_predict_and_the_page_is_clean(browser, fashion):
    repo, pngs, _ = fashion
    with visiting(browser, repo / "reports/explorer") as visit:
        visit.wait_ready()
        png = pngs / "test7.png"
        state = visit.upload(png)
        predicted = subprocess.run(
            [sys.executable, "-m", "convnets.cli", "predict", "--json", "--top-k", "1",
             "--model", str(repo / "models/best.onnx"), str(png)],
            capture_output=True, text=True, check=True, cwd=repo,
        )  # fmt: skip
        top = json.loads(predicted.stdout)["top_k"][0]
        assert state["top"][0]["label"] == top["label"]
        assert abs(state["top"][0]["probability"] - top["probability"]) <= TOLERANCE
        facts = visit.page.inner_text("#model-facts")
        assert "variant" in facts and re.search(r"model file written 20\d\d-\d\d-\d\d", facts)
        assert visit.page.get_attribute("header a", "href") == "../index.html"
        loaded = visit.page.evaluate("[...document.scripts].length") >= 1
        assert loaded and visit.errors == [] and visit.failed == [] and visit.outside == []


@pytest.mark.slow
def test_the_page_says_unsure_where_predict_does(browser, fashion, tmp_path):
    """The same out-of-distribution score and threshold as `convnets predict` (the model's
    metadata): a test image, a handwritten digit (unlike the data) and noise (nothing stands
    out) get predict's score and its verdict, and the page shows the mark exactly then."""
    from sklearn.datasets import load_digits

    repo, pngs, _ = fashion
    digit = (load_digits().images[0] * 255 / 16).astype(np.uint8)
    Image.fromarray(digit).resize((56, 56), Image.Resampling.BILINEAR).save(tmp_path / "digit.png")
    noise = np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "noise.png")
    files = [pngs / "test7.png", tmp_path / "digit.png", tmp_path / "noise.png"]
    predicted = subprocess.run(
        [sys.executable, "-m", "convnets.cli", "predict", "--json", "--model",
         str(repo / "models/best.onnx"), *map(str, files)],
        capture_output=True, text=True, check=True, cwd=repo,
    )  # fmt: skip
    rows = {row["file"]: row for row in map(json.loads, predicted.stdout.splitlines())}
    assert rows[str(files[2])]["unsure"]  # noise: nothing stands out
    with visiting(browser, repo / "reports/explorer") as visit:
        visit.wait_ready()
        for path in files:
            state, row = visit.upload(path), rows[str(path)]
            assert state["unsure"] == row["unsure"], path.name
            assert abs(state["oodScore"] - row["ood_score"]) <= TOLERANCE, path.name
            assert ("unsure" in visit.page.inner_text("#source")) == row["unsure"], path.name
        assert visit.errors == [] and visit.failed == [] and visit.outside == []


@pytest.mark.slow
def test_the_threshold_in_the_metadata_decides_unsure(browser, fashion, tmp_path):
    """One garment on two sites whose models differ only in the threshold: never reached by a
    top probability (1.01), or always (0): unsure on the first alone."""
    _, pngs, x_test = fashion
    verdicts = []
    for threshold in (1.01, 0.0):
        site = tiny_site(tmp_path / f"site{threshold}", 1, 28, x_test[:40], threshold=threshold)
        with visiting(browser, site) as visit:
            visit.wait_ready()
            state = visit.upload(pngs / "test7.png")
            verdicts.append(
                (state["unsure"], "unlike the training data" in visit.page.inner_text("#source"))
            )
    assert verdicts == [(True, True), (False, False)]


@pytest.mark.slow
def test_conv_feature_maps_and_prepared_uploads_equal_python(browser, fashion, tmp_path):
    _, _, x_test = fashion
    site = tiny_site(tmp_path / "site", channels=1, size=28, images=x_test[:40])
    images = {
        # a garment, enlarged, off-centre on light paper: inversion, crop, levels, resize
        "paper.png": _on_paper(x_test[3][..., 0], (90, 100), (5, 30), light=True),
        # dark background, noisy, wider than tall
        "noisy.png": _on_paper(x_test[5][..., 0], (70, 100), (8, 3), light=False),
        # the dataset's framing at another size, wider than tall: read back (photos.read_back)
        "enlarged.png": Image.fromarray(x_test[0][..., 0]).resize((150, 75), Image.BICUBIC),
    }
    with visiting(browser, site) as visit:
        visit.wait_ready()
        for name, picture in images.items():
            picture.save(tmp_path / name)
            state = visit.upload(tmp_path / name)
            page = np.asarray(state["pixels"], np.int16).reshape(28, 28)
            python = prepare(Image.open(tmp_path / name), 28, 28, True, "auto").pixels[..., 0]
            # Pillow 13 runs some 2-pass resizes vertical first; the page runs horizontal first
            # (Pillow's Resample.c as published): at most one grey level apart, where they differ
            assert np.abs(page - python).max() <= 1, name
        session = ort.InferenceSession(str(site / "model/explorer.onnx"))
        pixels = np.asarray(state["pixels"], np.uint8).reshape(1, 28, 28, 1)
        layer = json.loads((site / "model.json").read_text())["layers"][2]  # conv 2
        expected = session.run([layer["output"]], {"pixels": pixels})[0]
        maps = visit.state(f"explorer.maps[{json.dumps(layer['output'])}]")
        got = np.asarray(maps["data"], np.float32)
        np.testing.assert_allclose(got.reshape(expected.shape), expected, atol=TOLERANCE, rtol=0)
        visit.page.locator(".layer canvas").first.click()  # conv 1, channel 0: filter, patches
        assert visit.page.locator("#detail canvas.filter").count() == 1
        visit.page.wait_for_selector("#detail canvas.patches[data-loaded]")
        assert visit.page.get_attribute("#detail canvas.patches", "data-loaded") == "yes"
        assert visit.errors == [] and visit.failed == [] and visit.outside == []


@pytest.mark.slow
@pytest.mark.parametrize("framing", ["pad", "crop", "stretch"])
def test_a_folder_models_uploads_are_framed_as_ingest_framed_its_pictures(
    browser, tmp_path, framing
):
    """A folder dataset's model says its framing; the page fits an upload as photos.fit does."""
    site = tiny_site(tmp_path / "site", channels=3, size=24, framing=framing)
    rng = np.random.default_rng(5)
    photo = np.clip(rng.normal(120, 40, (30, 50, 3)), 0, 255).astype(np.uint8)  # wide, noisy
    photo[8:22, 20:30] = (250, 30, 30)
    Image.fromarray(photo).save(tmp_path / "wide.png")
    python = fit(Image.open(tmp_path / "wide.png"), 24, 24, grey=False, framing=framing)
    with visiting(browser, site) as visit:
        visit.wait_ready()
        state = visit.upload(tmp_path / "wide.png")
        page = np.asarray(state["pixels"], np.int16).reshape(24, 24, 3)
        # one grey level at most, where Pillow 13 resizes vertical first (as the test above)
        assert np.abs(page - python).max() <= 1, framing
        assert visit.errors == []


def _on_paper(garment: np.ndarray, size: tuple[int, int], at: tuple[int, int], light: bool):
    rng = np.random.default_rng(2)
    big = np.asarray(Image.fromarray(garment).resize((garment.shape[1] * 2, garment.shape[0] * 2)))
    canvas = np.clip(rng.normal(8, 3, size), 0, 255)
    canvas[at[0] : at[0] + big.shape[0], at[1] : at[1] + big.shape[1]] += big
    canvas = np.clip(canvas, 0, 255).astype(np.uint8)
    return Image.fromarray(255 - canvas if light else canvas)


@pytest.mark.slow
def test_strokes_change_the_prediction_and_undo_restores_it(browser, fashion):
    repo, _, _ = fashion
    with visiting(browser, repo / "reports/explorer") as visit:
        visit.wait_ready()
        box = visit.page.locator("#draw").bounding_box()

        def stroke(points):
            mouse = visit.page.mouse
            mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
            mouse.down()
            for x, y in points[1:]:
                mouse.move(box["x"] + x, box["y"] + y, steps=4)
            mouse.up()

        one = visit.after(lambda: stroke([(140, 40), (140, 240)]))
        two = visit.after(lambda: stroke([(60, 60), (220, 60), (220, 230)]))
        assert two["probabilities"] != one["probabilities"]
        undone = visit.after(lambda: visit.page.click("#undo"))
        assert undone["probabilities"] == one["probabilities"]
        assert visit.errors == []


@pytest.mark.slow
def test_kernel_editor_equals_numpy(browser, fashion):
    repo, _, _ = fashion
    kernel = np.array([[1, -2, 0.5], [0, 3, 0], [-1, 0, 2]])
    with visiting(browser, repo / "reports/explorer") as visit:
        visit.wait_ready()
        for r in range(3):
            for c in range(3):
                visit.page.fill(f'#kernel input[data-r="{r}"][data-c="{c}"]', str(kernel[r, c]))
        visit.page.fill("#stride", "2")
        visit.page.fill("#padding", "1")
        state = visit.state()
        x = np.asarray(state["pixels"], np.float64).reshape(28, 28) / 255
        padded = np.pad(x, 1)
        windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3))[::2, ::2]
        expected = np.einsum("ijkl,kl->ij", windows, kernel)
        knobs = state["knobs"]
        assert (knobs["conv"]["h"], knobs["conv"]["w"]) == expected.shape == (14, 14)
        got = np.asarray(knobs["conv"]["data"]).reshape(expected.shape)
        np.testing.assert_allclose(got, expected, atol=1e-9)
        assert "(28 − 3 + 2·1) / 2 + 1 = 14" in visit.page.inner_text("#arithmetic")


@pytest.mark.slow
def test_bad_uploads_are_refused_and_the_page_keeps_working(browser, fashion, tmp_path):
    repo, pngs, _ = fashion
    good = (pngs / "test0.png").read_bytes()
    bad = {
        "empty.png": b"",
        "notes.png": b"this is not an image\n" * 20,
        "cut.png": good[: len(good) // 2],
    }
    Image.new("L", (6000, 5000)).save(tmp_path / "huge.png")
    with visiting(browser, repo / "reports/explorer") as visit:
        visit.wait_ready()
        for name, content in bad.items():
            (tmp_path / name).write_bytes(content)
        for name, words in (("empty.png", "empty"), ("notes.png", "not an image"),
                            ("cut.png", "truncated"), ("huge.png", "megapixels")):  # fmt: skip
            visit.page.set_input_files("#file", str(tmp_path / name))
            visit.page.wait_for_function(f"explorer.message.includes({json.dumps(words)})")
        state = visit.after(lambda: visit.page.click("#next"))
        assert state["source"] == "test image 2"


@pytest.mark.slow
def test_missing_corrupt_or_external_model_says_so_and_how_to_fix_it(browser, tmp_path):
    site = tiny_site(tmp_path / "site", channels=1, size=28)
    model = site / "model/explorer.onnx"
    external = onnx.load(str(model))
    external_data_helper.convert_model_to_external_data(
        external, location="w.bin", size_threshold=0
    )
    cases = [
        (b"\x08\x07garbage" * 100, "corrupt"),
        (external.SerializeToString(), "external data"),
        (None, "missing"),
    ]
    for content, words in cases:
        model.unlink(missing_ok=True)
        if content is not None:
            model.write_bytes(content)
        with visiting(browser, site) as visit:
            visit.page.wait_for_function("explorer.message", timeout=60000)
            message = visit.state()["message"]
            assert words in message and "dvc repro export" in message
            assert visit.outside == []


def test_stage_refuses_a_corrupt_model_naming_the_fix(tmp_path, capsys):
    from tests.conftest import run_stage

    (tmp_path / "best.onnx").write_bytes(b"not a model")
    code = run_stage(
        "explorer", "--params", str(ROOT / "params.yaml"), "--onnx", str(tmp_path / "best.onnx"),
        "--prepared", "p.npz", "--export-metrics", "m.json", "--package-lock", "package-lock.json",
        "--out", str(tmp_path / "site"),
    )  # fmt: skip
    assert code == 1 and "dvc repro export" in capsys.readouterr().err
    assert not (tmp_path / "site").exists()


def lockfile(folder: Path, version: str) -> Path:
    pins = {"packages": {"node_modules/onnxruntime-web": {"version": version}}}
    (folder / "package-lock.json").write_text(json.dumps(pins))
    return folder / "package-lock.json"


def test_the_runtime_is_found_as_node_finds_it_from_a_folder_inside_the_checkout(tmp_path):
    """A queued experiment runs in .dvc/tmp/exps/<id>/ and must find the checkout's runtime."""
    package = tmp_path / "node_modules/onnxruntime-web"
    package.mkdir(parents=True)
    (package / "package.json").write_text('{"version": "1.30.0"}')
    inside = tmp_path / ".dvc/tmp/exps/run/abc123"
    inside.mkdir(parents=True)
    assert find_runtime(lockfile(inside, "1.30.0"), inside) == package / "dist"


def test_a_missing_or_other_runtime_version_is_refused_naming_npm_ci(tmp_path):
    with pytest.raises(ConvnetsError, match=r"not installed .*npm ci"):
        find_runtime(lockfile(tmp_path, "1.30.0"), tmp_path)
    package = tmp_path / "node_modules/onnxruntime-web"
    package.mkdir(parents=True)
    (package / "package.json").write_text('{"version": "1.29.0"}')
    with pytest.raises(ConvnetsError, match=r"is onnxruntime-web 1.29.0, but .* pins 1.30.0"):
        find_runtime(lockfile(tmp_path, "1.30.0"), tmp_path)


@pytest.mark.slow
def test_colour_model_takes_uploads_and_test_images_but_no_drawing(browser, tmp_path):
    site = tiny_site(tmp_path / "site", channels=3, size=32)
    photo = np.random.default_rng(3).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    Image.fromarray(photo).save(tmp_path / "photo.png")
    with visiting(browser, site) as visit:
        visit.wait_ready()
        assert visit.page.locator("#draw").count() == 0
        state = visit.upload(tmp_path / "photo.png")
        np.testing.assert_array_equal(np.asarray(state["pixels"]).reshape(32, 32, 3), photo)
        session = ort.InferenceSession(str(site / "model/explorer.onnx"))
        probabilities = session.run(["probabilities"], {"pixels": photo[None]})[0][0]
        np.testing.assert_allclose(state["probabilities"], probabilities, atol=TOLERANCE)
        state = visit.after(lambda: visit.page.click("#next"))
        assert state["source"] == "test image 2" and visit.errors == []


@pytest.mark.slow  # spawns processes
def test_explore_and_the_explorer_stage_import_no_torch():
    from tests.test_layout import _imported_after

    for command in ("explore", "explorer"):
        assert "torch" not in _imported_after([command, "--help"]), command
