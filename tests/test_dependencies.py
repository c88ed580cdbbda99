"""dvc.yaml's deps cover what each stage's command imports and reads, so `dvc repro` reruns it.

The stages come from DVC itself (templates and foreach resolved), the imports from `ast`
(tests/imports.py). The second test shows the check fails when one dep is taken away.
The same holds for `params:`: each stage lists the params.yaml keys its command's code reads.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from dvc.dependency.param import ParamsDependency
from dvc.repo import Repo
from pydantic import BaseModel

from convnets.cli import COMMANDS
from convnets.config import Params
from convnets.models.registry import MODELS
from tests.imports import (
    closure,
    command_args,
    covered,
    is_output,
    params_accessors,
    params_reads,
    path_arguments,
    resolve,
)

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"


def missing_deps(repo: Path) -> dict[str, list[str]]:
    """For each stage of `repo`'s dvc.yaml, what its command uses that its deps leave out."""
    variants = yaml.safe_load((repo / "params.yaml").read_text())["variants"]
    missing = {}
    for stage in Repo(str(repo)).index.stages:
        deps = [d.def_path for d in stage.deps if not isinstance(d, ParamsDependency)]
        outs = [o.def_path for o in stage.outs]
        command, _, options = command_args(stage.cmd)
        variant = options.get("--variant")
        models = [variants[variant]["model"]] if variant else list(MODELS)
        roots = ["convnets.cli", COMMANDS[command][0]]
        files = closure(SRC, roots, [f"convnets.models.{m}" for m in models])
        used = sorted(str(path.relative_to(ROOT)) for path in files)
        used += [p for p in path_arguments(options) if not is_output(p, outs)]
        gaps = [path for path in used if not covered(path, deps)]
        if gaps:
            missing[stage.name] = gaps
    return missing


def repo_with(dvc_yaml: dict, tmp_path: Path) -> Path:
    """A bare DVC repo holding this project's params.yaml and the given dvc.yaml."""
    Repo.init(str(tmp_path), no_scm=True)
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(dvc_yaml, sort_keys=False))
    return tmp_path


def test_every_stage_depends_on_what_its_command_imports_and_reads():
    assert missing_deps(ROOT) == {}


@pytest.mark.parametrize(
    ("stage", "dep", "named"),
    [
        ("evaluate", "src/convnets/models/checkpoint.py", "evaluate@cnn"),
        ("train", "src/convnets/models/${item.model}.py", "train@vgg"),
        ("benchmark", "models/best.pt", "benchmark"),
        ("report", "src/convnets/report", "report"),
    ],
)
def test_a_removed_dep_is_named_with_its_stage(tmp_path, stage, dep, named):
    pipeline = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    definition = pipeline["stages"][stage]
    definition = definition.get("do", definition)
    definition["deps"].remove(dep)
    missing = missing_deps(repo_with(pipeline, tmp_path))
    expected = dep.replace("${item.model}", "vgg")
    assert named in missing
    assert any(path == expected or path.startswith(expected + "/") for path in missing[named])


def test_a_model_module_is_a_dep_only_of_the_stages_that_build_it():
    """Models load by name, so `vgg.py` reruns the VGG's stages and the ones after compare."""
    pipeline = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    train_deps = pipeline["stages"]["train"]["do"]["deps"]
    assert "src/convnets/models/${item.model}.py" in train_deps
    assert not any(dep in ("src/convnets/models", "src/convnets/models/") for dep in train_deps)
    download = closure(SRC, ["convnets.cli", COMMANDS["download"][0]], [])
    assert not any(path.parent.name == "models" and path.stem in MODELS for path in download)


# ---------------------------------------------------------------- params


def _group_keys() -> dict[str, set[str]]:
    """Each params.yaml group and its keys; a mapping of names (variants, folders) has none."""
    keys = {}
    for name, field in Params.model_fields.items():
        model = field.annotation
        typed = isinstance(model, type) and issubclass(model, BaseModel)
        keys[name] = set(model.model_fields) if typed else set()
    return keys


# config.py validates every group for every command (a typo anywhere stops any stage); what
# its accessors (params.variant, params.folder, ...) read counts where they are called.
CONFIG = SRC / "convnets" / "config.py"


def missing_params(repo: Path) -> dict[str, dict[str, str]]:
    """For each stage: the params keys its code reads that its `params:` leave out, each with
    the file and line that reads it."""
    raw = yaml.safe_load((repo / "params.yaml").read_text())
    groups = _group_keys()
    accessors = params_accessors(CONFIG, groups)
    missing = {}
    for stage in Repo(str(repo)).index.stages:
        listed = [key for d in stage.deps if isinstance(d, ParamsDependency) for key in d.params]
        command, _, options = command_args(stage.cmd)
        variant = options.get("--variant")
        own = {"variants": variant, "folders": options.get("--folder")}
        own["dataset"] = raw["base"]["dataset"]  # params.folder: folders.<base.dataset>
        models = [raw["variants"][variant]["model"]] if variant else list(MODELS)
        files = closure(
            SRC, ["convnets.cli", COMMANDS[command][0]], [f"convnets.models.{m}" for m in models]
        )
        gaps = {}
        for path in sorted(files - {CONFIG}):
            for template, line in params_reads(path, groups, accessors).items():
                key = resolve(template, own)
                if not any(key == e or key.startswith(e + ".") for e in listed):
                    gaps.setdefault(key, f"{path.relative_to(SRC)}:{line}")
        if gaps:
            missing[stage.name] = gaps
    return missing


FOLDER = {"path": "data/photos", "size": [32, 32], "subject": "photos"}


def folder_repo(tmp_path: Path) -> Path:
    """This dvc.yaml with params.yaml training on a folder of pictures: ingest@photos runs."""
    repo = repo_with(yaml.safe_load((ROOT / "dvc.yaml").read_text()), tmp_path)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["base"]["dataset"], params["folders"] = "photos", {"photos": FOLDER}
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return repo


@pytest.mark.parametrize("dataset", ["built-in", "folder"])
def test_every_stage_lists_the_params_its_code_reads(tmp_path, dataset):
    repo = ROOT if dataset == "built-in" else folder_repo(tmp_path)
    stages = [stage.name for stage in Repo(str(repo)).index.stages]
    assert dataset == "built-in" or "ingest@photos" in stages
    unlisted = [
        f"{stage} reads {key} ({where}) but its params: leave it out"
        for stage, keys in missing_params(repo).items()
        for key, where in keys.items()
    ]
    assert unlisted == [], "\n".join(unlisted)


@pytest.mark.parametrize(
    ("stage", "entry", "named", "key"),
    [
        ("train", "augment", "train@cnn", "augment"),
        ("train", "variants.${key}", "train@vgg", "variants.vgg"),
        ("evaluate", "evaluate", "evaluate@mlp", "evaluate"),
        ("label_issues", "evaluate.mistakes", "label_issues", "evaluate.mistakes"),
        ("model_card", "base.dataset", "model_card", "base.dataset"),
        ("ingest", "folders.${key}", "ingest@photos", "folders.photos"),
        ("explorer", "explorer", "explorer", "explorer"),
    ],
)
def test_a_removed_params_entry_is_named_with_its_stage(tmp_path, stage, entry, named, key):
    repo = folder_repo(tmp_path)
    pipeline = yaml.safe_load((repo / "dvc.yaml").read_text())
    definition = pipeline["stages"][stage]
    definition.get("do", definition)["params"].remove(entry)
    (repo / "dvc.yaml").write_text(yaml.safe_dump(pipeline, sort_keys=False))
    missing = missing_params(repo)
    assert key in missing.get(named, {}), missing.get(named)
