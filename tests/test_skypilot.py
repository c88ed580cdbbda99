"""deploy/skypilot/experiment.yaml: a SkyPilot task that runs one experiment on a cloud VM.

It cannot run here (no cloud), so its form is checked: the fields against SkyPilot's task
schema, and every command of its `setup` and `run` with the docs' checker, as the VM's shell
would see it with the file's default envs. The documented `sky launch` gives every env and
secret the file leaves to it.
"""

from __future__ import annotations

import itertools
import re

import pytest
import yaml

from tests.documented import (
    ROOT,
    check_command,
    documented_commands,
    shell_lines,
    split_commands,
)

TASK = ROOT / "deploy/skypilot/experiment.yaml"
# The top-level fields of SkyPilot's task schema and the fields of its resources schema
# (skypilot-org/skypilot, sky/utils/schemas.py: get_task_schema, get_resources_schema), less the
# ones marked internal; both schemas refuse any other field (additionalProperties: False).
TASK_FIELDS = {
    "name", "workdir", "event_callback", "num_nodes", "resources", "file_mounts", "service",
    "pool", "setup", "run", "envs", "secrets", "managed_secrets", "inputs", "outputs",
    "file_mounts_mapping", "config", "volumes", "volume_mounts", "api_server_access",
}  # fmt: skip
RESOURCES_FIELDS = {
    "cloud", "region", "zone", "infra", "cpus", "memory", "accelerators", "instance_type",
    "use_spot", "job_recovery", "volumes", "disk_size", "disk_tier", "network_tier",
    "local_disk", "max_hourly_cost", "ports", "labels", "accelerator_args", "image_id",
    "autostop", "priority", "priority_class", "any_of", "ordered",
}  # fmt: skip
ENV_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")  # the schema's pattern for envs' keys


@pytest.fixture(scope="module")
def task() -> dict:
    return yaml.safe_load(TASK.read_text())


def test_the_task_has_skypilots_fields_and_types(task):
    assert set(task) <= TASK_FIELDS, f"not SkyPilot task fields: {set(task) - TASK_FIELDS}"
    assert {"name", "workdir", "resources", "envs", "secrets", "setup", "run"} <= set(task)
    assert all(isinstance(task[key], str) for key in ("name", "workdir", "setup", "run"))
    resources = task["resources"]
    assert set(resources) <= RESOURCES_FIELDS, set(resources) - RESOURCES_FIELDS
    assert all(isinstance(resources[key], str | int) for key in ("cpus", "memory", "disk_size"))
    assert resources["image_id"].startswith("docker:")
    for group in ("envs", "secrets"):
        for name, value in task[group].items():
            assert ENV_NAME.fullmatch(name) and (value is None or isinstance(value, str)), name
    assert not set(task["envs"]) & set(task["secrets"])


def test_every_command_of_setup_and_run_passes_the_docs_checker(task):
    commands = _commands(task)
    problems = [f"{' '.join(argv)}: {check_command(argv)}" for argv in commands]
    assert not [problem for problem in problems if not problem.endswith(": None")], problems
    assert ["make", "setup"] in commands
    (run,) = [argv for argv in commands if argv[:3] == ["dvc", "exp", "run"]]
    (push,) = [argv for argv in commands if argv[:3] == ["dvc", "exp", "push"]]
    assert "--pull" in run and "-S" in run
    name = run[run.index("-n") + 1]
    assert push[-2:] == ["origin", name]  # pushes the experiment it ran, by name
    assert "--run-cache" in push


def test_the_documented_sky_launch_gives_every_required_env_and_secret(task):
    (launch,) = [c.argv for c in documented_commands() if c.argv[:2] == ("sky", "launch")]
    (path,) = [arg for arg in launch if arg.endswith(".yaml")]
    assert (ROOT / path).resolve() == TASK
    given = {"--env": set(), "--secret": set()}
    for flag, value in itertools.pairwise(launch):
        if flag in given:
            given[flag].add(value.split("=", 1)[0])
    required_envs = {name for name, value in task["envs"].items() if value is None}
    assert required_envs <= given["--env"] and set(task["secrets"]) <= given["--secret"]
    assert given["--env"] <= set(task["envs"]) and given["--secret"] <= set(task["secrets"])


def _commands(task: dict) -> list[list[str]]:
    """The commands of setup and run, split as the docs' checker splits a bash block, after the
    shell would have put in the envs that have a default (secrets stay as they are)."""
    defaults = {name: value for name, value in task["envs"].items() if value is not None}

    def expand(match: re.Match) -> str:
        return defaults.get(match.group(1) or match.group(2), match.group(0))

    commands = []
    for block in (task["setup"], task["run"]):
        text = re.sub(r"\$\{(\w+)\}|\$(\w+)", expand, block)
        for _, line in shell_lines("bash", 1, text.splitlines()):
            commands.extend(split_commands(line))
    return commands
