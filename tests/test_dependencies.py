"""dvc.yaml's deps cover what each stage's command imports and reads, so `dvc repro` reruns it.

The stages come from DVC itself (templates and foreach resolved), the imports from `ast`
(tests/imports.py). The second test shows the check fails when one dep is taken away.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from dvc.dependency.param import ParamsDependency
from dvc.repo import Repo

from convnets.cli import COMMANDS
from convnets.models.options import MODELS
from tests.imports import closure, command_args, covered, is_output, path_arguments

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
        ("benchmark", "models/best.json", "benchmark"),
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
