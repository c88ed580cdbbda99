"""params.yaml validation: every bad value stops the stage with the key named, before any work."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from convnets.config import VariantConfig, load_params, parse_params
from convnets.data.datasets import DATASETS, MNIST
from convnets.errors import ConvnetsError
from convnets.models.options import MLPOptions
from convnets.models.registry import MODELS, ModelInfo

ROOT = Path(__file__).resolve().parents[1]
DEFAULTS = yaml.safe_load((ROOT / "params.yaml").read_text())


def with_value(key: str, value) -> dict:
    params = copy.deepcopy(DEFAULTS)
    *groups, last = key.split(".")
    target = params
    for group in groups:
        target = target[group]
    target[last] = value
    return params


def test_defaults_are_valid():
    params = load_params(ROOT / "params.yaml")
    assert params.base.dataset == "fashion-mnist"
    with pytest.raises(Exception, match="frozen"):
        params.base.seed = 1


BAD_VALUES = [
    ("corruptions.names", ["fog", "rotate"], "no corruption is called 'fog'"),
    ("corruptions.names", ["fog"], "gaussian_noise, shot_noise, impulse_noise"),
    ("corruptions.names", "most", "not `all` or a list"),
    ("corruptions.names", ["jpeg", "jpeg"], "distinct"),
    ("corruptions.severities", [0, 6], "each one of 1, 2, 3, 4, 5"),
    ("corruptions.severities", ["mild"], "each one of 1, 2, 3, 4, 5"),
    ("corruptions.images", 5, "10 to 10000"),
    ("augment.noise_std", -1, "grey levels in [0, 128]"),
    ("augment.contrast", 1, "[0, 1)"),
    ("augment.scale", 0.9, "[0, 0.5]"),
    ("base.seed", -1, "greater than or equal to 0"),
    ("base.seed", "42", "valid integer"),
    ("base.seed", 4.5, "valid integer"),
    ("base.threads", 0, "greater than or equal to 1"),
    ("base.dataset", "imagenet", "fashion-mnist, mnist, cifar10"),
    ("base.device", "tpu", "auto, cpu, cuda"),
    ("prepare.val_fraction", 2, "in (0, 1)"),
    ("prepare.val_fraction", 0, "in (0, 1)"),
    ("prepare.subset", -5, "per-class cap"),
    ("prepare.subset", "all", "valid integer"),
    ("download.timeout_s", -1, "seconds"),
    ("download.mirrors", ["ftp://example.org/"], "http(s) base URLs"),
    ("download.mirrors", "https://example.org/", "valid list"),
    ("download.local_dirs", [3], "folders"),
    ("report.kernel", [[1, 0], [0, 1]], "square kernel of odd size"),
    ("report.kernel", [[1, 0, 0], [0, 1], [0, 0, 1]], "square kernel of odd size"),
    ("report.channels", 0, "1 to 16"),
    ("prepare.near_duplicate_bits", 9, "0 to 8"),
    ("prepare.drop_test_duplicates", "yes", "true or false"),
]

# A folder dataset's settings, each bad one refused naming folders.<name>.<key>.
FOLDER = {"path": "data/leaves", "size": [64, 48]}
BAD_FOLDER_VALUES = [
    ("size", [0, 32], "each 1 to 1024"),
    ("size", [32, 1025], "each 1 to 1024"),
    ("size", [32], "[height, width]"),
    ("channels", 2, "1 (grey), 3 (colour) or auto"),
    ("framing", "fill", "pad (whole picture"),
    ("test_fraction", 1, "held out when no test/"),
    ("bad_files", "ignore", "skip (list and skip"),
    ("path", "", "one subfolder per class"),
]


@pytest.mark.parametrize(("key", "value", "allowed"), BAD_FOLDER_VALUES)
def test_bad_folder_setting_names_the_key_and_what_is_allowed(key, value, allowed):
    raw = with_value("base.dataset", "leaves") | {"folders": {"leaves": FOLDER | {key: value}}}
    with pytest.raises(ConvnetsError) as error:
        parse_params(raw)
    message = str(error.value)
    assert f"'folders.leaves.{key}'" in message and allowed in message and "Fix:" in message


def test_a_folder_dataset_is_chosen_by_name_and_may_not_hide_a_built_in():
    raw = with_value("base.dataset", "leaves") | {"folders": {"leaves": FOLDER}}
    params = parse_params(raw)
    assert params.folder is not None and params.folder.size == [64, 48]
    assert params.folder.framing == "pad" and params.folder.channels == "auto"
    assert parse_params(DEFAULTS).folder is None
    clash = with_value("base.dataset", "mnist") | {"folders": {"mnist": FOLDER}}
    with pytest.raises(ConvnetsError, match=r"folders\.mnist has the name of a built-in"):
        parse_params(clash)
    missing = with_value("base.dataset", "leaf") | {"folders": {"leaves": FOLDER}}
    with pytest.raises(ConvnetsError, match=r"key of `folders` \(leaves\); got 'leaf'"):
        parse_params(missing)


@pytest.mark.parametrize(("key", "value", "allowed"), BAD_VALUES)
def test_bad_value_names_key_value_allowed_and_fix(key, value, allowed):
    with pytest.raises(ConvnetsError) as error:
        parse_params(with_value(key, value))
    message = str(error.value)
    assert len(message.splitlines()) == 1
    shown = repr(value[0]) if isinstance(value, list) else repr(value)
    assert f"'{key}'" in message and shown in message
    assert allowed in message
    assert "Fix:" in message


@pytest.mark.parametrize("key", ["base.sead", "prepare.val_fracton", "nonsense"])
def test_unknown_key_is_refused_with_allowed_keys(key):
    params = with_value(key, 1)
    with pytest.raises(ConvnetsError, match=rf"unknown key '{key}'.*Allowed keys here"):
        parse_params(params)


def test_missing_key_and_missing_group_are_named():
    params = copy.deepcopy(DEFAULTS)
    del params["prepare"]["subset"]
    del params["download"]
    with pytest.raises(ConvnetsError) as error:
        parse_params(params)
    lines = str(error.value).splitlines()
    assert any("missing key 'prepare.subset'" in line for line in lines)
    assert any("missing key 'download'" in line for line in lines)


@pytest.mark.slow  # spawns a process
def test_cli_exits_non_zero_with_one_line_before_any_work(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(with_value("prepare.val_fraction", 2)))
    out = tmp_path / "out.npz"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "convnets.cli",
            "prepare",
            "--params",
            str(params),
            "--raw",
            str(tmp_path / "missing"),
            "--out",
            str(out),
            "--summary",
            str(tmp_path / "s"),
            "--ingested",
            str(tmp_path / "ingested"),
            "--checks",
            str(tmp_path / "checks"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "prepare.val_fraction" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        (
            "variants.cnn.model",
            "alexnet",
            "unknown model 'alexnet'; known models: capsnet, cnn, mlp",
        ),
        ("variants.cnn.options", {"channels": "wide"}, "variants.cnn.options.channels"),
        ("variants.vgg.options", {"depth": 19}, "options of 'vgg' are: widths"),
        (
            "variants.mlp.epochs",
            0,
            "'variants.mlp.epochs' must be an integer in [1, 1000] (overrides train.epochs); got 0",
        ),
        ("variants.mlp.colour", "red", "unknown key 'variants.mlp.colour'"),
        ("train.epochs", 0, "'train.epochs' must be an integer in [1, 1000]; got 0"),
        ("train.lr", -0.1, "'train.lr' must be a learning rate in (0, 10]"),
        ("train.precision", "fp16", "one of auto, fp32, bf16"),
        ("evaluate.tta", True, "'evaluate.tta' must be one of none, flip (with the mirror"),
        ("train.progressive_sizes", [20, 4], "'train.progressive_sizes' must be a list of image"),
        ("train.progressive_sizes", [20, 4], "progressive_sizes[1] = 4"),
        (
            "variants.vgg.progressive_sizes",
            [20] * 40,
            "progressive_sizes sets the size of 40 epochs, but the variant trains",
        ),
        ("variants.mlp.progressive_sizes", [20] * 40, "Fix: list fewer sizes than epochs"),
        ("train.bias_lr_scale", 0, "'train.bias_lr_scale' must be a factor in (0, 100]; got 0"),
        ("variants.vgg.bias_lr_scale", 500, "a factor in (0, 100] (overrides train's); got 500"),
        ("variants.vgg.options", {"whiten_stem": "yes"}, "whiten_stem"),
        ("train.processes", 0, "'train.processes' must be auto (one per CUDA device, else 1)"),
        ("train.processes", -2, "or an integer in [1, 1024]; got -2"),
        ("train.processes", "2", "got '2'"),  # a string is not a count, as for every key
        ("train.processes", True, "got True"),
        ("variants.cnn.processes", 0, "'variants.cnn.processes' must be auto (one per CUDA"),
        ("train.nodes", 0, "'train.nodes' must be machines in the run, an integer in [1, 1024]"),
    ],
)
def test_bad_variants_and_training_settings_are_named(key, value, expected):
    with pytest.raises(ConvnetsError) as error:
        parse_params(with_value(key, value))
    assert expected in str(error.value)


def test_variant_names_must_be_lowercase_identifiers():
    params = copy.deepcopy(DEFAULTS)
    params["variants"]["Bad Name"] = params["variants"]["cnn"]
    with pytest.raises(ConvnetsError, match=r"variants\.Bad Name"):
        parse_params(params)


GOOD_MD5 = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("checksums", "expected"),
    [
        ({"train-images.gz": GOOD_MD5}, r"names no file of fashion-mnist; its files are train-"),
        ({"train-images-idx3-ubyte.gz": "abc"}, r"hex md5 of 32 characters.*got 'abc'"),
        ({"train-images-idx3-ubyte.gz": GOOD_MD5.upper()}, r"hex md5 of 32 characters"),
        ({"cifar-10-binary.tar.gz": GOOD_MD5}, r"names no file of fashion-mnist"),
    ],
)
def test_bad_private_checksums_name_key_value_and_fix(checksums, expected):
    with pytest.raises(ConvnetsError, match=expected) as error:
        parse_params(with_value("download.checksums", checksums))
    message = str(error.value)
    assert f"download.checksums[{next(iter(checksums))!r}]" in message and "Fix:" in message


def test_private_checksums_are_checked_against_the_chosen_dataset():
    params = with_value("download.checksums", {"cifar-10-binary.tar.gz": GOOD_MD5})
    params["base"]["dataset"] = "cifar10"
    assert parse_params(params).download.checksums == {"cifar-10-binary.tar.gz": GOOD_MD5}
    assert parse_params(DEFAULTS).download.checksums == {}


def test_a_variant_overrides_progressive_sizes_and_the_rest_inherit():
    params = with_value("train.progressive_sizes", [20])
    params["variants"]["vgg"]["progressive_sizes"] = [16, 20, 24]
    parsed = parse_params(params)
    assert parsed.training("vgg").progressive_sizes == [16, 20, 24]
    assert parsed.training("cnn").progressive_sizes == [20]


def test_a_variant_sets_its_own_bias_learning_rate_scale():
    params = with_value("train.bias_lr_scale", 2.0)
    params["variants"]["vgg"]["bias_lr_scale"] = 8.0
    parsed = parse_params(params)
    assert parsed.training("vgg").bias_lr_scale == 8.0
    assert parsed.training("cnn").bias_lr_scale == 2.0


def test_the_names_allowed_come_from_the_registries(monkeypatch):
    """A new dataset or model is one entry in its registry; config allows it with no edit."""
    described = VariantConfig.model_fields["model"].description
    assert all(name in described for name in MODELS)
    with pytest.raises(ConvnetsError) as error:
        parse_params(with_value("base.dataset", "imagenet"))
    assert all(name in str(error.value) for name in DATASETS)
    monkeypatch.setitem(DATASETS, "toy", MNIST)
    monkeypatch.setitem(MODELS, "tiny", ModelInfo(MLPOptions, "a new entry"))
    raw = with_value("base.dataset", "toy")
    raw["variants"]["mlp"]["model"] = "tiny"
    parsed = parse_params(raw)
    assert (parsed.base.dataset, parsed.variant("mlp").model) == ("toy", "tiny")


def test_a_recipe_holds_what_training_a_variant_reads_resolved():
    params = with_value("train.epochs", 3)
    params["variants"]["vgg"].update(epochs=8, batch_size=32)
    parsed = parse_params(params)
    recipe = parsed.recipe("vgg")
    assert recipe.name == "vgg" and recipe.variant == parsed.variants["vgg"]
    assert (recipe.train.epochs, recipe.train.batch_size) == (8, 32)
    assert recipe.train == parsed.training("vgg") and recipe.augment == parsed.augment
    assert (recipe.seed, recipe.threads) == (parsed.base.seed, parsed.base.threads)
    whole = parsed.model_dump(mode="json")  # the record: what train@vgg depends on, no more
    assert recipe.provenance == {key: whole[key] for key in ("base", "augment", "train")} | {
        "variants": {"vgg": whole["variants"]["vgg"]}
    }
    assert parsed.recipe("mlp").train.epochs == DEFAULTS["variants"]["mlp"]["epochs"]
    with pytest.raises(ConvnetsError, match=r"variant 'nope' is not in params.yaml variants"):
        parsed.recipe("nope")


def test_a_variant_may_train_in_its_own_number_of_processes():
    params = with_value("train.processes", "auto")
    params["variants"]["vgg"]["processes"] = 2
    parsed = parse_params(params)
    assert parsed.training("vgg").processes == 2
    assert parsed.training("cnn").processes == "auto"
