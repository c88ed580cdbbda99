"""Training: a tiny run end to end, determinism, best-checkpoint choice, DDP, bad inputs."""

from __future__ import annotations

import copy
import json
import os
import pickle
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import yaml
from torch import nn

from convnets.data.augmentation import AugmentSettings
from convnets.data.prepared import PreparedData
from convnets.errors import ConvnetsError
from convnets.models.base import ImageClassifier
from convnets.models.checkpoint import load_checkpoint, load_trained
from convnets.runtime import resolve_runtime
from convnets.training import loop as training
from convnets.training.distributed import World
from convnets.training.loop import TrainSettings, fit
from tests.conftest import QUADRANTS as CLASSES
from tests.conftest import ROOT, train_stage
from tests.fakes import Hostile, quadrant_images
from tests.require import require_torchrun


def run_train(variant: str, out: str) -> int:
    return train_stage(variant, f"{out}/checkpoint.pt", f"{out}/live")


def test_tiny_run_end_to_end_writes_a_self_describing_checkpoint(workdir):
    assert run_train("tiny", "a") == 0
    ckpt = load_checkpoint(workdir / "a/checkpoint.pt", "train@tiny")
    assert ckpt.classes == CLASSES and ckpt.input_shape == (1, 28, 28)
    assert ckpt.model_name == "cnn" and ckpt.options == {"channels": [4, 8], "hidden": 16}
    assert ckpt.params["train"]["epochs"] == 3 and "torch" in ckpt.versions
    assert ckpt.metrics["val_accuracy"] > 0.5  # 4 classes: chance is 0.25
    model = ckpt.build()
    logits = model(torch.from_numpy(quadrant_images(2)[0]).permute(0, 3, 1, 2).float() / 255)
    assert logits.shape == (8, 4)
    metrics = json.loads((workdir / "a/live/metrics.json").read_text())
    assert metrics["best"]["val_accuracy"] == ckpt.metrics["val_accuracy"]
    history = (workdir / "a/live/plots/metrics/val/loss.tsv").read_text().splitlines()
    assert len(history) == 1 + 3  # header + one row per epoch
    for name in ("lr", "train/accuracy"):
        assert (workdir / f"a/live/plots/metrics/{name}.tsv").exists()
    timing = json.loads((workdir / "a/live/timing.json").read_text())
    assert timing["train_seconds"] > 0 and len(timing["epochs"]) == 3


def test_wall_times_stay_out_of_metrics_plots_and_checkpoint(workdir):
    """Timings differ run to run; anything DVC compares as a result must not hold one."""
    assert run_train("tiny", "a") == 0
    metrics = (workdir / "a/live/metrics.json").read_text()
    assert "seconds" not in metrics and "per_second" not in metrics
    plots = [p.stem for p in (workdir / "a/live/plots/metrics").rglob("*.tsv")]
    assert not [name for name in plots if "second" in name]
    ckpt = load_checkpoint(workdir / "a/checkpoint.pt", "t")
    assert not [key for key in ckpt.metrics if "second" in key]


@pytest.mark.slow  # trains both variants twice
def test_same_params_same_weights_and_metrics(workdir):
    assert run_train("tiny", "a") == 0
    assert run_train("tiny", "b") == 0
    first = load_checkpoint(workdir / "a/checkpoint.pt", "t")
    second = load_checkpoint(workdir / "b/checkpoint.pt", "t")
    for key, tensor in first.state_dict.items():
        assert torch.equal(tensor, second.state_dict[key]), key
    for key in ("val_loss", "val_accuracy", "epoch"):
        assert first.metrics[key] == second.metrics[key]
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["base"]["seed"] = 7
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    assert run_train("tiny", "c") == 0
    third = load_checkpoint(workdir / "c/checkpoint.pt", "t")
    assert not torch.equal(third.state_dict["head.weight"], first.state_dict["head.weight"])


def test_variant_overrides_shared_settings(workdir):
    assert run_train("flat", "m") == 0
    assert load_checkpoint(workdir / "m/checkpoint.pt", "t").metrics["epochs_run"] == 2


def test_unknown_variant_fails_before_work(workdir, capsys):
    assert run_train("nope", "x") == 1
    assert "variant 'nope' is not in params.yaml variants (flat, tiny)" in capsys.readouterr().err
    assert not (workdir / "x").exists()


def settings(**changes) -> TrainSettings:
    base = TrainSettings(
        epochs=4,
        batch_size=16,
        lr=0.05,
        optimizer="sgd",
        momentum=0.9,
        weight_decay=0.0,
        schedule="onecycle",
        warmup_fraction=0.2,
        label_smoothing=0.0,
        patience=0,
        batch_augment=AugmentSettings(1, False, 0.0, 0.0),
    )
    return TrainSettings(**{**vars(base), **changes})


def tensors(n_per_class: int, seed: int = 0):
    x, y = quadrant_images(n_per_class, size=12, seed=seed)
    return torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(y)


def tiny_model() -> ImageClassifier:
    torch.manual_seed(0)
    return ImageClassifier(nn.Flatten(), nn.Linear(144, 4), in_channels=1)


@pytest.mark.parametrize("patience", [0, 2])
def test_best_checkpoint_is_the_lowest_validation_loss(monkeypatch, patience):
    scripted = iter([0.5, 0.3, 0.4, 0.6, 0.7])
    monkeypatch.setattr(training, "loss_and_accuracy", lambda *args: (next(scripted), 0.1))
    snapshots = []
    model = tiny_model()
    result = fit(
        model,
        tensors(8),
        tensors(2, seed=1),
        settings(patience=patience, epochs=5),
        resolve_runtime("cpu", "fp32", 1),
        World(),
        seed=0,
        on_epoch=lambda stats: snapshots.append(copy.deepcopy(model.state_dict())),
    )
    assert result.best_epoch == 2 and result.best_val_loss == 0.3
    assert torch.equal(result.best_state["head.weight"], snapshots[1]["head.weight"])
    assert not torch.equal(result.best_state["head.weight"], snapshots[-1]["head.weight"])
    assert len(result.history) == (4 if patience == 2 else 5)


def global_pool_model() -> ImageClassifier:
    """Takes any input size, as vgg and resnet do: conv, then a global average."""
    torch.manual_seed(0)
    features = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten()
    )
    return ImageClassifier(features, nn.Linear(32, 4), in_channels=1)


def test_progressive_sizes_train_early_epochs_small_and_still_learn():
    model = global_pool_model()
    seen = []
    model.features.register_forward_hook(
        lambda module, args, out: seen.append(args[0].shape[-1]) if module.training else None
    )
    result = fit(
        model,
        tensors(40),
        tensors(4, seed=1),
        settings(epochs=6, progressive_sizes=(8, 10), lr=0.2),
        resolve_runtime("cpu", "fp32", 1),
        World(),
        seed=0,
    )
    assert [s.image_size for s in result.history] == [8, 10, 12, 12, 12, 12]
    steps = len(seen) // 6
    assert seen == [8] * steps + [10] * steps + [12] * (4 * steps)
    assert result.best_val_accuracy > 0.75  # 4 classes: chance is 0.25


def test_shrink_averages_like_a_smaller_camera_and_keeps_channels_last():
    images = torch.zeros(2, 1, 12, 12)
    images[:, :, :, 6:] = 1.0  # left half dark, right half bright
    small = training.shrink(images, 6)
    assert small.shape == (2, 1, 6, 6)
    assert small.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(small[..., :2], torch.zeros(1)) and torch.allclose(
        small[..., 4:], torch.ones(1)
    )
    assert 0.0 < small[0, 0, 0, 2] < small[0, 0, 0, 3] < 1.0  # the edge is blurred, not jagged


@pytest.mark.parametrize(
    ("model", "sizes", "expected"),
    [
        ("mlp", (20,), "model 'mlp' cannot take 20x20 images"),
        ("cnn", (20,), "model 'cnn' cannot take 20x20 images"),
        ("vgg", (32,), "32 is larger than the images (28x28)"),
    ],
)
def test_sizes_a_model_cannot_take_are_refused_before_training(model, sizes, expected):
    from convnets.models.building import create_model
    from convnets.training.trainer import check_sizes

    built = create_model(model, 1, 10, 28, {})
    with pytest.raises(ConvnetsError) as error:
        check_sizes(built, "v", model, sizes, (1, 28, 28))
    assert expected in str(error.value) and "Fix:" in str(error.value)
    assert "variants.v.progressive_sizes" in str(error.value)


def test_train_stage_refuses_progressive_sizes_for_a_fixed_size_model(workdir, capsys):
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["variants"]["tiny"]["progressive_sizes"] = [20]  # the lesson CNN: a fixed-size head
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    assert run_train("tiny", "x") == 1
    assert "model 'cnn' cannot take 20x20 images" in capsys.readouterr().err
    assert not (workdir / "x/checkpoint.pt").exists()


def test_vgg_and_resnet_take_progressive_sizes():
    from convnets.models.building import create_model
    from convnets.training.trainer import check_sizes

    for model in ("vgg", "resnet"):
        built = create_model(model, 1, 10, 28, {})
        check_sizes(built, "v", model, (16, 20, 24), (1, 28, 28))
        assert built.training  # the probe leaves the model as it found it


def test_nan_loss_stops_with_the_likely_cause():
    class NaN(nn.Module):
        def forward(self, x):
            return x * float("nan")

    broken = ImageClassifier(nn.Sequential(nn.Flatten(), nn.Linear(144, 4)), NaN(), 1)
    with pytest.raises(ConvnetsError, match="learning rate"):
        fit(
            broken,
            tensors(4),
            tensors(1),
            settings(),
            resolve_runtime("cpu", "fp32", 1),
            World(),
            seed=0,
        )


def test_corrupt_checkpoint_names_the_stage_to_rerun(workdir):
    assert run_train("tiny", "a") == 0
    path = workdir / "a/checkpoint.pt"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ConvnetsError, match=r"corrupt.*dvc repro --force train@tiny"):
        load_checkpoint(path, "train@tiny")
    with pytest.raises(ConvnetsError, match=r"does not exist.*dvc repro train@tiny"):
        load_checkpoint(workdir / "missing.pt", "train@tiny")


def test_hostile_checkpoint_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"format": "convnets-checkpoint/1", "x": Hostile(marker)}, path)
    with pytest.raises(ConvnetsError, match="refused"):
        load_checkpoint(path, "train@cnn")
    assert not marker.exists()
    path.write_bytes(pickle.dumps(Hostile(marker)))
    with pytest.raises(ConvnetsError):
        load_checkpoint(path, "train@cnn")
    assert not marker.exists()


def test_checkpoint_from_another_dataset_is_refused(workdir):
    assert run_train("tiny", "a") == 0
    split = (np.zeros((1, 32, 32, 3), np.uint8), np.zeros(1, np.int64))
    cifar = PreparedData(*split, *split, *split, CLASSES, "cifar10")
    with pytest.raises(ConvnetsError, match=r"trained on quadrants \(1, 28, 28\).*cifar10"):
        load_trained(workdir / "a/checkpoint.pt", "train@tiny", cifar)


def test_each_rank_takes_an_equal_disjoint_share_of_one_permutation():
    """No torchrun needed: the shard depends only on the images, the generator and the rank."""
    labels = torch.zeros(11, dtype=torch.long)

    def shard(rank: int) -> list[int]:
        run = SimpleNamespace(
            train=(None, labels), generator=torch.Generator().manual_seed(0), world=World(rank, 3)
        )
        return training.epoch_shard(run).tolist()

    shards = [shard(rank) for rank in range(3)]
    assert [len(s) for s in shards] == [3, 3, 3]  # 11 // 3: every rank steps as often
    assert len(set(shards[0] + shards[1] + shards[2])) == 9


DDP_SCRIPT = """
import json, sys, torch
from convnets.training import loop
from convnets.training.distributed import init_world
from convnets.runtime import resolve_runtime, seed_everything
from tests.test_training import settings, tensors, tiny_model
seed_everything(0, 1)
runtime = resolve_runtime("cpu", "fp32", 1)
world = init_world(runtime.device)
images, labels = tensors(16)  # 64 images, (N, 1, 12, 12)
images[:, :, :3, :3] = torch.arange(len(labels))[:, None, None, None]  # an id a 1-px shift keeps
seen = []  # ids this rank trained on, in order: pixel (1, 1) of each batch it stepped on
real_step = loop.train_step
def recording_step(net, optimizer, x, y, *rest):
    seen.extend(x[:, 0, 1, 1].tolist())
    return real_step(net, optimizer, x, y, *rest)
loop.train_step = recording_step
model = tiny_model()
start = model.head.weight.detach().clone()
loop.fit(model, (images, labels), tensors(2, seed=1), settings(epochs=2), runtime, world, seed=0)
assert not torch.equal(start, model.head.weight), "weights did not move"
torch.save(model.state_dict(), f"{sys.argv[1]}/rank{world.rank}.pt")
record = {"rank": world.rank, "world_size": world.size, "seen": seen}
open(f"{sys.argv[1]}/rank{world.rank}.json", "w").write(json.dumps(record))
world.close()
"""


@pytest.mark.slow
def test_two_process_ddp_trains_disjoint_shards_and_ranks_agree(tmp_path):
    """Two ranks, each on its own half of every epoch's permutation, end with equal weights."""
    require_torchrun()
    script = tmp_path / "ddp.py"
    script.write_text(DDP_SCRIPT)
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = os.environ | {"PYTHONPATH": path, "OMP_NUM_THREADS": "1"}
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
    subprocess.run(
        [*torchrun, str(script), str(tmp_path)],
        check=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    records = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [(r["rank"], r["world_size"]) for r in records] == [(0, 2), (1, 2)]
    for epoch in range(2):  # 32 images per rank per epoch
        shards = [set(r["seen"][epoch * 32 : (epoch + 1) * 32]) for r in records]
        assert [len(shard) for shard in shards] == [32, 32], "a rank saw an image twice"
        assert shards[0].isdisjoint(shards[1]) and shards[0] | shards[1] == set(range(64))
    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    assert np.isfinite(rank0["head.weight"].numpy()).all()


@pytest.mark.parametrize("total", [1, 2, 5, 1000])
@pytest.mark.parametrize("schedule", ["onecycle", "cosine"])
def test_schedule_warms_up_peaks_and_decays_for_any_length(total, schedule):
    s = settings(schedule=schedule, warmup_fraction=0.2)
    factors = [training.lr_factor(step, total, s) for step in range(total + 1)]
    assert max(factors) <= 1.0 and min(factors) >= 0.0
    assert factors[-1] < factors[0] or (total == 1 and schedule == "onecycle")
    if total == 1000:
        peak = factors.index(max(factors))
        assert peak == (200 if schedule == "onecycle" else 0)
        assert factors[-1] == pytest.approx(0.001 if schedule == "onecycle" else 0.0)
