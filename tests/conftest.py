"""Fixtures shared by the tests: tiny upstream-format datasets and a mirror on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from convnets.data.prepared import PreparedData, save_augmented, save_prepared
from tests.fakes import Mirror, TinyIdx, free_port, make_tiny_idx, quadrant_images, serving
from tests.repos import fashion_repo, mnist_repo, private_mirror  # noqa: F401  (session fixtures)

ROOT = Path(__file__).resolve().parents[1]
QUADRANTS = ("top-left", "top-right", "bottom-left", "bottom-right")


@pytest.fixture
def tiny_idx(tmp_path) -> TinyIdx:
    return make_tiny_idx(tmp_path / "upstream")


@pytest.fixture
def mirror():
    with serving(Mirror(url="")) as state:
        yield state


@pytest.fixture
def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: a mirror that is down."""
    return f"http://127.0.0.1:{free_port()}/"


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A folder with tiny prepared and augmented data and a params.yaml for a 2-epoch run."""
    x, y = quadrant_images(40)
    xt, yt = quadrant_images(10, seed=1)
    data = PreparedData(x[:120], y[:120], x[120:], y[120:], xt, yt, QUADRANTS, "quadrants")
    save_prepared(tmp_path / "prepared.npz", data)
    save_augmented(tmp_path / "augmented.npz", data, data.x_train, data.y_train)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["train"].update(epochs=3, batch_size=16, lr=0.05)
    params["augment"]["flip"] = False  # a flip would swap the toy task's left and right classes
    params["evaluate"]["tta"] = "none"
    params["variants"] = {
        "tiny": {"model": "cnn", "options": {"channels": [4, 8], "hidden": 16}},
        "flat": {"model": "mlp", "options": {"hidden": [32]}, "epochs": 2},
    }
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_stage(*argv: str) -> int:
    """Run a `convnets` sub-command in-process, as dvc.yaml would in a subprocess."""
    from convnets.cli import main

    return main(list(argv))


def train_stage(variant: str, checkpoint: str, live: str) -> int:
    """`convnets train` on the `workdir` fixture's data."""
    return run_stage(
        "train",
        "--variant",
        variant,
        "--augmented",
        "augmented.npz",
        "--prepared",
        "prepared.npz",
        "--checkpoint",
        checkpoint,
        "--live",
        live,
        "--timing",
        f"{live}/timing.json",
    )


# Session fixtures that run the real pipeline once: under `pytest -n` (make test), every test
# that uses one goes to the same worker, so each pipeline still runs once.
SHARED_RUNS = ("mnist_repo", "fashion_repo", "digits_repo")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items):
    for item in items:
        for fixture in SHARED_RUNS:
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.xdist_group(fixture))
                break


@pytest.fixture(autouse=True, scope="session")
def private_precision_cache(tmp_path_factory):
    """Training in tests keeps its precision measurements out of the user's ~/.cache."""
    folder = tmp_path_factory.mktemp("precision-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CONVNETS_CACHE_DIR", str(folder))
        yield folder
