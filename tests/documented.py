"""The shell commands that README.md and docs/ tell a reader to type, and a checker for each.

A command is a line of a ```bash (sh, shell) block, or a `$ `-prompted line of a ```text block
(a pasted session), continuation lines joined and comments dropped. Each is split at `&&`, `;`
and `|`; environment assignments, `time` and `sudo` in front are dropped. `check_command`
returns what is wrong with one, or None: a `convnets` line must parse with the CLI's own parser
(so a removed or renamed flag fails), `torchrun` with torchrun's and then ours, a `dvc` line with
DVC's own parser and must name real stages and params keys, a `make` target must exist.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
SHELL_BLOCKS = {"bash", "sh", "shell", "console"}
SEPARATORS = {"&&", "||", ";", "|", "&"}
PREFIXES = {"time", "sudo", "do", "then", "else"}
# Commands the docs may use that need no checker of ours: their syntax is not ours to keep.
OTHERS = {
    "git", "source", "pip", "npm", "cd", "export", "ls", "cat", "cp", "mv", "rm", "mkdir",
    "apt-get", "echo", "done", "fi", "unzip", "tar", "taskset", "sky", "df", "lscpu", "set",
}  # fmt: skip
# Loop headers and the like: their words are not a command.
SKIP_FIRST = {"for", "while", "if"}


@dataclass(frozen=True)
class Command:
    page: str
    line: int
    argv: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.page}:{self.line}: {shlex.join(self.argv)}"


def code_blocks(text: str) -> list[tuple[str, int, list[str]]]:
    """(language, first line number, lines) of every fenced block."""
    blocks, language, start, lines = [], None, 0, []
    for number, line in enumerate(text.splitlines(), 1):
        fence = re.match(r"\s*```(\w*)", line)
        if fence and language is None:
            language, start, lines = fence.group(1), number + 1, []
        elif fence:
            blocks.append((language, start, lines))
            language = None
        elif language is not None:
            lines.append(line)
    return blocks


def shell_lines(language: str, start: int, lines: list[str]) -> list[tuple[int, str]]:
    """The block's command lines, continuations joined, with their line numbers."""
    if language in SHELL_BLOCKS:
        picked = [(start + i, line) for i, line in enumerate(lines)]
    elif language == "text":
        picked = [(start + i, line[2:]) for i, line in enumerate(lines) if line.startswith("$ ")]
    else:
        return []
    joined, pending, first = [], "", 0
    for number, line in picked:
        first = first or number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        joined.append((first, pending + line))
        pending, first = "", 0
    return [(number, line) for number, line in joined if line.strip()]


def split_commands(line: str) -> list[list[str]]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    commands, current = [], []
    for token in lexer:
        if token in SEPARATORS:
            commands.append(current)
            current = []
        else:
            current.append(token)
    commands.append(current)
    return [strip_prefix(command) for command in commands if strip_prefix(command)]


def strip_prefix(argv: list[str]) -> list[str]:
    while argv and (argv[0] in PREFIXES or re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", argv[0])):
        argv = argv[1:]
    if argv and argv[0].startswith(".venv/bin/"):
        argv = [argv[0].removeprefix(".venv/bin/"), *argv[1:]]
    return argv


def documented_commands(pages: list[Path] = PAGES) -> list[Command]:
    commands = []
    for page in pages:
        for language, start, lines in code_blocks(page.read_text()):
            for number, line in shell_lines(language, start, lines):
                for argv in split_commands(line):
                    commands.append(Command(page.name, number, tuple(argv)))
    return commands


def parse_quietly(parse) -> str | None:
    """None if `parse()` accepts, else what the parser printed (argparse exits on errors)."""
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            parse()
    except SystemExit as exc:
        if exc.code not in (0, None):
            return stderr.getvalue().strip().splitlines()[-1] if stderr.getvalue() else str(exc)
    return None


def check_convnets(argv: list[str]) -> str | None:
    if argv[:1] == ["predict"]:
        from convnets.predict import build_parser

        return parse_quietly(lambda: build_parser().parse_args(argv[1:]))
    from convnets.cli import build_parser

    command = next((arg for arg in argv if not arg.startswith("-")), None)
    return parse_quietly(lambda: build_parser(command).parse_args(argv))


def check_torchrun(argv: list[str]) -> str | None:
    from torch.distributed.run import get_args_parser

    parsed = []
    problem = parse_quietly(lambda: parsed.append(get_args_parser().parse_args(argv)))
    if problem:
        return f"torchrun: {problem}"
    args = parsed[0]
    if not (args.module and args.training_script == "convnets.cli"):
        return "torchrun must run `-m convnets.cli`, the CLI the train stage runs"
    return check_convnets(list(args.training_script_args))


def check_python(argv: list[str]) -> str | None:
    if argv[1:2] == ["-m"]:
        module = argv[2]
        if module == "convnets.cli":
            return check_convnets(argv[3:])
        if importlib.util.find_spec(module) is None:
            return f"no module {module}"
    return None


def stage_names() -> set[str]:
    """dvc.yaml's stages, with `foreach` over `variants` expanded as DVC expands it."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    names = set()
    for name, stage in stages.items():
        names.add(name)
        if "foreach" in stage:
            group = params.get(stage["foreach"].strip("${} "), None) or {}
            names.update(f"{name}@{key}" for key in group)
    return names


def has_param(key: str) -> bool:
    node = yaml.safe_load((ROOT / "params.yaml").read_text())
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def metric_names() -> set[str]:
    """The metric columns `dvc exp show` prints: the summary files' keys, flattened."""
    import json

    def flatten(node: dict, prefix: str = "") -> set[str]:
        names = set()
        for key, value in node.items():
            nested = isinstance(value, dict)
            names |= flatten(value, f"{prefix}{key}.") if nested else {prefix + key}
        return names

    return set().union(*(flatten(json.loads(path.read_text())) for path in summary_files()))


def summary_files() -> list[Path]:
    return sorted((ROOT / "reports/summary").glob("*.json"))


def parse_dvc(argv: list[str]):
    """DVC's own parser: the arguments, or what it logged on refusing them."""
    from dvc.cli import DvcParserError, parse_args

    logged = []
    handler = logging.Handler()
    handler.emit = lambda record: logged.append(record.getMessage())
    logger = logging.getLogger("dvc")
    logger.addHandler(handler)
    try:
        return parse_args(argv), None
    except DvcParserError:
        return None, "dvc: " + ("; ".join(logged) or "parser error")
    finally:
        logger.removeHandler(handler)


def check_dvc(argv: list[str]) -> str | None:
    args, problem = parse_dvc(argv)
    if problem:
        return problem
    for setting in getattr(args, "set_param", None) or []:
        key = setting.split("=", 1)[0]
        if not key.startswith("+") and not has_param(key):
            return f"-S {key}: no such key in params.yaml (prefix ++ to add one)"
    if argv[:1] in (["repro"], ["status"]) or argv[:2] == ["exp", "run"]:
        unknown = [t for t in getattr(args, "targets", None) or [] if t not in stage_names()]
        if unknown:
            return f"no such stage: {', '.join(unknown)}"
    return check_exp_show(argv, args) if argv[:2] == ["exp", "show"] else None


def check_exp_show(argv: list[str], args) -> str | None:
    metrics = metric_names()
    for pattern in args.keep or []:
        if not any(re.match(pattern, name) for name in metrics):
            return f"--keep {pattern!r} matches no metric of {sorted(metrics)}"
    sort_by = getattr(args, "sort_by", None)
    if sort_by and sort_by not in metrics and not has_param(sort_by):
        return f"--sort-by {sort_by}: neither a metric nor a param"
    return None


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z][\w-]*):", text, flags=re.MULTILINE))


def exp_show(page: Path = README) -> tuple[str, ...]:
    """The page's one `dvc exp show` command."""
    (show,) = [c.argv for c in documented_commands([page]) if c.argv[:3] == ("dvc", "exp", "show")]
    return show


def check_command(argv: list[str]) -> str | None:
    """What is wrong with one documented command, or None."""
    name = argv[0]
    if name in SKIP_FIRST or name in OTHERS:
        return None
    if name == "convnets":
        return check_convnets(argv[1:])
    if name == "torchrun":
        return check_torchrun(argv[1:])
    if name in ("python", "python3"):
        return check_python(argv)
    if name == "dvc":
        return check_dvc(argv[1:])
    if name == "make":
        missing = [t for t in argv[1:] if not t.startswith("-") and t not in make_targets()]
        return f"no make target {', '.join(missing)}" if missing else None
    return f"{name}: not a command the docs' checker knows (add a checker in tests/documented.py)"
