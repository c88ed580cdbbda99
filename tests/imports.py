"""What a stage's command really uses: the `convnets` modules it imports, the files and the
params keys it reads.

Imports are followed statically with `ast`, imports inside functions included, from the CLI and
the command's module. The one dynamic import, a model module that `models.building` loads by
name, is resolved from params: the variant named on the command line, or every model. Params
reads are attribute reads on a `Params` object named `params`, also found with `ast`.
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
    """The files of every module reachable from `roots`; `building` brings `model_modules`."""
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
            if name == f"{PACKAGE}.models.building":
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


# ---------------------------------------------------------------- the params a command reads
# A read is a params key, written with the placeholders {variants}, {folders} and {dataset} where
# it names an entry of a mapping: the command's own (`--variant`, `--folder`) or base.dataset's.


def params_reads(path: Path, groups: dict[str, set[str]], accessors: dict) -> dict[str, int]:
    """The params keys `path` reads from a `Params` object named `params`, each with a line.

    `groups` maps each params.yaml group to its keys (none for a mapping of names, such as
    `variants`); `accessors` is `params_accessors(config.py)`. `params.train.lr` reads
    `train.lr`; `params.evaluate` handed on whole reads `evaluate`; `params.folders[name]`
    reads the command's own folder. A call whose result is dropped (`params.variant(name)`)
    only checks that the name exists, and a read on the way to a `raise` only words the error:
    neither can change what the command writes.
    """
    return _reads(ast.parse(path.read_text()), "params", groups, accessors)


def params_accessors(config: Path, groups: dict[str, set[str]]) -> dict[str, list[str]]:
    """What each method and property of `Params` in `config` reads (`training` reads `train`
    and `variants.{variants}`), found the same way, so a new accessor needs no edit here."""
    tree = ast.parse(config.read_text())
    params = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Params")
    methods = [n for n in params.body if isinstance(n, ast.FunctionDef)]
    accessors: dict[str, list[str]] = {m.name: [] for m in methods}
    for _ in methods:  # one more level of accessors calling accessors per pass
        accessors = {m.name: sorted(_reads(m, "self", groups, accessors)) for m in methods}
    return accessors


def resolve(key: str, own: dict[str, str | None]) -> str:
    """`variants.{variants}` -> `variants.cnn` for `--variant cnn`; the whole group if none."""
    group, _, entry = key.partition(".")
    if entry.startswith("{"):
        named = own.get(entry.strip("{}"))
        return f"{group}.{named}" if named else group
    return key


def _reads(tree: ast.AST, root: str, groups: dict, accessors: dict) -> dict[str, int]:
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    reads: dict[str, int] = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == root
            and not _on_error_path(node, parents)
        ):
            for key in _keys_read(node, parents, groups, accessors):
                reads.setdefault(key, node.lineno)
    return reads


def _keys_read(node: ast.Attribute, parents: dict, groups: dict, accessors: dict) -> list[str]:
    name, outer = node.attr, parents[node]
    called = isinstance(outer, ast.Call) and outer.func is node
    if name in accessors:
        if called and isinstance(parents[outer], ast.Expr):
            return []  # a name check: its result is dropped
        if _is_none_test(parents.get(outer if called else node)):
            # `params.folder is None`: whether base.dataset names a folder (config refuses a
            # name that is neither built in nor a folder), not what the folder holds
            return [key for key in accessors[name] if groups.get(key.split(".")[0])]
        return accessors[name]
    if name == "model_dump" and called:
        return sorted(groups)  # a record of every group
    if name not in groups:
        raise ValueError(f"{name!r} is not a params group or accessor; teach tests/imports.py")
    if not groups[name]:  # a mapping of names: one entry when indexed or tested for
        index = _index(node, parents)
        if index is None:
            return [name]
        dataset = isinstance(index, ast.Attribute) and index.attr == "dataset"
        return [f"{name}.{{dataset}}" if dataset else f"{name}.{{{name}}}"]
    if isinstance(outer, ast.Attribute) and outer.attr in groups[name]:
        return [f"{name}.{outer.attr}"]
    return [name]


def _index(node: ast.AST, parents: dict) -> ast.AST | None:
    """What a mapping is looked up with: m[i], m.get(i), i in m; None when used whole."""
    outer = parents[node]
    if isinstance(outer, ast.Subscript) and outer.value is node:
        return outer.slice
    if isinstance(outer, ast.Compare) and all(
        isinstance(op, ast.In | ast.NotIn) for op in outer.ops
    ):
        return outer.left
    call = parents.get(outer)
    if isinstance(outer, ast.Attribute) and outer.attr == "get" and isinstance(call, ast.Call):
        return call.args[0] if call.args else None
    return None


def _is_none_test(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Compare) and all(
        isinstance(op, ast.Is | ast.IsNot) for op in node.ops
    )


def _on_error_path(node: ast.AST, parents: dict) -> bool:
    """Inside a `raise`, or in a block that ends by raising: the words of an error."""
    while node in parents:
        child, node = node, parents[node]
        if isinstance(node, ast.Raise):
            return True
        for field in ("body", "orelse"):
            block = getattr(node, field, None)
            if isinstance(block, list) and child in block and isinstance(block[-1], ast.Raise):
                return True
    return False
