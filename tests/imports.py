"""What a stage's command really uses: the `convnets` modules it imports and the files it reads.

Imports are followed statically with `ast`, imports inside functions included, from the CLI and
the command's module. The one dynamic import, a model module that `models.registry` loads by
name, is resolved from params: the variant named on the command line, or every model.
"""

from __future__ import annotations

import ast
import shlex
from pathlib import Path

PACKAGE = "convnets"


def module_file(src: Path, module: str) -> Path | None:
    """The file of a `convnets` module or package under `src`, if there is one."""
    base = src.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(path: Path) -> set[str]:
    """Every `convnets` module that `path` imports, anywhere in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name == PACKAGE or name.startswith(PACKAGE + ".")}


def _with_parents(module: str) -> list[str]:
    """Importing a.b.c runs a/__init__, a/b/__init__ and a/b/c."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def closure(src: Path, roots: list[str], model_modules: list[str]) -> set[Path]:
    """The files of every module reachable from `roots`; the registry brings `model_modules`."""
    seen: set[str] = set()
    files: set[Path] = set()
    todo = list(roots)
    while todo:
        module = todo.pop()
        for name in _with_parents(module):
            path = module_file(src, name)
            if name in seen or path is None:
                continue
            seen.add(name)
            files.add(path)
            todo.extend(imported_modules(path))
            if name == f"{PACKAGE}.models.registry":
                todo.extend(model_modules)
    return {path for path in files if not _is_docstring_only(path)}


def _is_docstring_only(path: Path) -> bool:
    """A package `__init__` holding nothing but its docstring cannot change what a stage does."""
    body = ast.parse(path.read_text()).body
    return all(isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) for node in body)


def command_args(cmd: str) -> tuple[str, list[str], dict[str, str]]:
    """`convnets train --variant cnn --prepared p.npz` -> ("train", [...], {"--variant": "cnn"})."""
    words = shlex.split(cmd)
    if words[:1] != [PACKAGE]:
        raise ValueError(f"not a convnets command: {cmd}")
    options = dict(zip(words[2::2], words[3::2], strict=False))
    return words[1], words[2:], options


def path_arguments(options: dict[str, str]) -> list[str]:
    """The values of options that name files or folders (they hold a / or a suffix)."""
    return [value for value in options.values() if "/" in value or "." in value]


def is_output(path: str, outs: list[str]) -> bool:
    """`path` names an output, a folder holding outputs, or the stem of one (reports/board)."""
    return any(
        out == path or out.startswith(path.rstrip("/") + "/") or out.startswith(path + ".")
        for out in outs
    )


def covered(path: str, deps: list[str]) -> bool:
    """`path` is a dep, or lies inside a folder that is one."""
    return any(path == dep or path.startswith(dep.rstrip("/") + "/") for dep in deps)
