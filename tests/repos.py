"""Session fixtures: tiny MNIST and CIFAR-10 in their upstream formats, served from 127.0.0.1,
and the real pipeline run once on tiny MNIST in a throwaway copy of the repository.

Several test modules share these (datasets, reproducibility, faults, remote), so they are
session-scoped: the pipeline runs once for all of them. conftest.py imports them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes import Mirror, TinyCifar, TinyIdx, make_tiny_cifar, make_tiny_idx, serving
from tests.pipeline import copy_repo, dvc, set_params
from tests.require import require_fashion_mnist

# Two epochs of two tiny models and a token benchmark: every stage runs, in seconds. Batches
# of 16 give ~45 optimizer steps, enough to learn the fakes' bar positions (tests/fakes.py).
TINY_RUN = {
    "train.epochs": 2,
    # fp32 everywhere: `auto` measures and may pick bf16 on an AVX512-BF16 CPU, and then the
    # shared runs' accuracies depend on the machine's load at the moment it measured
    "train.precision": "fp32",
    "train.batch_size": 16,
    "augment.copies": 0,
    "variants": {
        # as in params.yaml, the MLP trains on the images as they are (shifts do not help it)
        "mlp": {"model": "mlp", "options": {"hidden": [16]}, "batch_augment": False},
        "cnn": {"model": "cnn", "options": {"channels": [4, 8], "hidden": 16}},
    },
    "download.local_dirs": [],  # only the private mirror may serve the files
    "export.calibration_images": 40,  # all of validation; the int8 gate keeps its default
    "benchmark.latency_runs": 10,
    "benchmark.throughput_runs": 2,
    "benchmark.warmup": 1,
    "benchmark.batch_sizes": [8],
    "report.patch_images": 100,  # the report's searches and projections, at token sizes
    "report.projection_images": 40,
    "report.ascent_steps": 4,
    **{"report.channels": 2, "report.attributions": 2, "report.samples_per_class": 2},
    "corruptions.severities": [1, 3, 5],  # every corruption still, at three of the five levels
}


@dataclass
class PrivateMirror:
    """Tiny archives of both datasets, in upstream's formats, on a local HTTP server."""

    server: Mirror
    mnist: TinyIdx
    cifar: TinyCifar

    def exp_run_args(self, dataset: str) -> list[str]:
        """`dvc exp run -S` options that point the pipeline at this mirror and its checksums."""
        tiny = self.mnist if dataset == "mnist" else self.cifar
        # Hydra's override grammar, which `-S` speaks: unquoted keys, quoted values, and `++`
        # to add keys to the (empty) mapping.
        checksums = ",".join(f"{remote.name}:'{remote.md5}'" for remote in tiny.spec.files)
        mirror = f"{self.server.url}/{dataset}/"
        return [
            "-S",
            f"base.dataset={dataset}",
            "-S",
            f"download.mirrors={json.dumps([mirror])}",
            "-S",
            f"++download.checksums={{{checksums}}}",
        ]


@pytest.fixture(scope="session")
def private_mirror(tmp_path_factory) -> Iterator[PrivateMirror]:
    folder = tmp_path_factory.mktemp("upstream")
    mnist = make_tiny_idx(folder / "mnist", n_train=400, n_test=100)  # 40 and 10 per class
    cifar = make_tiny_cifar(folder / "cifar10", per_batch=80)  # 400 train, 80 test images
    with serving(Mirror(url="")) as server:
        server.serve_folder("mnist", mnist.folder)
        server.serve_folder("cifar10", cifar.folder)
        yield PrivateMirror(server, mnist, cifar)


def tiny_repo(root: Path) -> Path:
    """A copy of the repository with TINY_RUN's params committed."""
    repo = copy_repo(root)
    set_params(repo, **TINY_RUN)
    return repo


@pytest.fixture(scope="session")
def mnist_repo(tmp_path_factory, private_mirror) -> Path:
    """The whole pipeline, run by `dvc exp run` on tiny MNIST from the private mirror.

    Shared read-only: a test that changes params, commits or remotes works on its own
    `clone_run` copy, so no test depends on another's order. (`dvc repro --force` in
    test_reproducible reruns every stage in place and must give the same bytes.)
    """
    repo = tiny_repo(tmp_path_factory.mktemp("mnist"))
    dvc(repo, "exp", "run", *private_mirror.exp_run_args("mnist"))
    return repo


# The real Fashion-MNIST run: a subset, one epoch, token report sizes. Two convolutional
# variants, so the best model has layers for the explorer; the MLP runs in the MNIST run, and
# every model type trains in tests/test_models.py.
TINY_VARIANTS = {
    "cnn": {"model": "cnn", "options": {"channels": [4, 8], "hidden": 16}, "epochs": 1},
    "resnet": {  # its first epoch at 20x20: progressive resizing through `dvc repro`
        "model": "resnet",
        "options": {"widths": [4, 8], "blocks_per_stage": 1},
        "epochs": 2,
        "progressive_sizes": [20],
    },
}

TINY_REPORT = {  # the report's searches, projections and figures at token sizes; 3 severities
    "report.patch_images": 100,
    "report.projection_images": 60,
    "report.ascent_steps": 4,
    "report.channels": 2,
    "report.attributions": 2,
    "report.samples_per_class": 2,
    "corruptions.severities": [1, 3, 5],
}


@pytest.fixture(scope="session")
def fashion_repo(tmp_path_factory) -> Path:
    """`dvc repro` on a small subset of the real Fashion-MNIST (test_pipeline, test_explorer)."""
    require_fashion_mnist()
    repo = copy_repo(tmp_path_factory.mktemp("pipeline"))
    set_params(
        repo,
        **{
            "prepare.subset": 30,
            "train.epochs": 1,
            "train.batch_size": 16,  # 34 steps in the epoch, not 5
            "augment.copies": 1,
            # One epoch on 270 pictures learns too little when half of them are blurred, faded
            # or noisy: its int8 copy then misses export's gate by a few of the 300 test images.
            "augment.distort_p": 0.0,
            "variants": TINY_VARIANTS,
            "benchmark.latency_runs": 10,
            "benchmark.throughput_runs": 2,
            "benchmark.batch_sizes": [8],
            **TINY_REPORT,
        },
    )
    dvc(repo, "repro")
    return repo
