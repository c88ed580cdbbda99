"""The README and docs/ as a newcomer reads them: every command they show is accepted, the
README is a short page whose figures and diagram match what the pipeline has, and the docs
state facts rather than history."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest

from tests.documented import PAGES, README, ROOT, Command, check_command, documented_commands


def test_every_documented_command_is_accepted():
    commands = documented_commands()
    checked = [(command, check_command(list(command.argv))) for command in commands]
    problems = [f"{command}\n    {problem}" for command, problem in checked if problem]
    assert not problems, "documented commands that would fail:\n" + "\n".join(problems)
    names = {command.argv[0] for command in commands}
    assert {"convnets", "dvc", "make", "torchrun"} <= names  # the checker is not looking at nothing


@pytest.mark.parametrize(
    "line, complaint",
    [
        ("convnets predict a.png --top-k 3 --no-such-flag", "unrecognized arguments"),
        ("convnets train --variant cnn", "required"),
        ("convnets no-such-command", "invalid choice"),
        ("torchrun --nproc-per-node 2 -m convnets.cli train --variant cnn --augmented a.npz"
         " --prepared p.npz --checkpoint c.pt --live live", "--timing"),
        ("dvc repro no_such_stage", "no such stage"),
        ("dvc exp run -S train.no_such_key=3", "no such key"),
        ("dvc exp show --no-such-flag", "unrecognized arguments"),
        ("dvc exp show --keep '^no_such_metric'", "matches no metric"),
        ("make no-such-target", "no make target"),
        ("wget http://example.com/x", "not a command the docs' checker knows"),
    ],
)  # fmt: skip
def test_the_checker_rejects_what_would_fail(tmp_path, line, complaint):
    page = tmp_path / "page.md"
    page.write_text(f"```bash\n{line}\n```\n")
    (command,) = _commands_of(page)
    problem = check_command(list(command.argv))
    assert problem is not None and complaint in problem


def test_commands_are_read_as_a_shell_reads_them(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "```bash\nCI=true make test  # a comment\nfor lr in 1 2; do\n  dvc exp run --queue \\\n"
        "    -S variants.cnn.epochs=$lr\ndone\n```\n```text\n$ dvc repro\nnot a command\n```\n"
    )
    argvs = [command.argv for command in _commands_of(page)]
    assert ("make", "test") in argvs
    assert ("dvc", "exp", "run", "--queue", "-S", "variants.cnn.epochs=$lr") in argvs
    assert ("dvc", "repro") in argvs
    assert not any("not" in argv for argv in argvs)


def _commands_of(page: Path) -> list[Command]:
    return [c for c in documented_commands([page]) if c.argv[0] not in {"for", "done"}]


def test_readme_is_a_short_page_that_reaches_predict_early():
    lines = README.read_text().splitlines()
    assert len(lines) <= 250
    classify = next(i for i, line in enumerate(lines, 1) if line.startswith("## Classify"))
    assert classify <= 100


def test_readme_results_are_the_committed_leaderboard():
    """Every figure in the README's results table is the committed leaderboard's."""
    with (ROOT / "reports/leaderboard.csv").open() as file:
        board = {row["variant"]: row for row in csv.DictReader(file)}
    rows = _results_rows(README.read_text())
    assert [row["variant"] for row in rows] == list(board)
    for row in rows:
        committed = board[row["variant"]]
        assert row["model"] == committed["model"]
        for column in ("val_accuracy", "test_accuracy", "corruption_accuracy"):
            assert row[column] == f"{float(committed[column]):.2%}"
        assert float(row["test_macro_f1"]) == round(float(committed["test_macro_f1"]), 4)
        assert int(row["parameters"].replace(",", "")) == int(committed["parameters"])
        assert row["flops_per_image"] == f"{int(committed['flops_per_image']) / 1e6:.2f} M"


def _results_rows(text: str) -> list[dict[str, str]]:
    section = text.split("## Results", 1)[1].split("\n## ", 1)[0]
    table = [line for line in section.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in table[0].strip("|").split("|")]
    cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in table[2:]]
    return [dict(zip(header, row, strict=True)) for row in cells]


@pytest.mark.slow  # runs dvc
def test_readme_pipeline_diagram_is_dvc_dag():
    """The mermaid diagram is `dvc dag` with each foreach group as one box, without the edges
    that a longer path already implies."""
    dot = subprocess.run(
        [str(Path(sys.executable).parent / "dvc"), "dag", "--dot"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    graph = nx.DiGraph()
    for source, target in re.findall(r'"([^"]+)" -> "([^"]+)"', dot):
        source, target = source.split("@")[0], target.split("@")[0]
        if source != target:
            graph.add_edge(source, target)
    mermaid = README.read_text().split("```mermaid", 1)[1].split("```", 1)[0]
    drawn = set(re.findall(r"^\s*(\w+) --> (\w+)\s*$", mermaid, flags=re.MULTILINE))
    assert drawn == set(nx.transitive_reduction(graph).edges)


DIARY = [
    r"\btoday\b", r"previous default", r"\ba slow(er)? (day|hour)\b", r"the old README",
    r"\bthe issue\b", r"a lent GPU", r"an earlier session", r"\bthe old default\b",
]  # fmt: skip


def test_docs_state_facts_not_history():
    found = [
        f"{page.relative_to(ROOT)}:{number}: {match.group(0)!r}"
        for page in PAGES
        for number, line in enumerate(page.read_text().splitlines(), 1)
        for match in re.finditer("|".join(DIARY), line, flags=re.IGNORECASE)
    ]
    assert not found, "history belongs in git log:\n" + "\n".join(found)


JARGON = {
    "TTA": "test-time augmentation",
    "AMX": "Advanced Matrix Extensions",
    "VNNI": "vector neural network instructions",
    "QDQ": "quantize-dequantize",
    "ECE": "expected calibration error",
    "NLL": "negative log-likelihood",
    "AUROC": "area under the ROC curve",
    "OOD": "out-of-distribution",
    "EMA": "exponential moving average",
    "DDP": "DistributedDataParallel",
}


def test_jargon_is_spelled_out_on_each_page_that_uses_it():
    missing = []
    for page in PAGES:
        text = " ".join(page.read_text().split())
        for term, meaning in JARGON.items():
            if re.search(rf"\b{term}\b", text) and meaning.lower() not in text.lower():
                missing.append(f"{page.relative_to(ROOT)}: {term} ({meaning})")
    assert not missing, "jargon used without its meaning:\n" + "\n".join(missing)


def test_relative_links_resolve():
    broken = [
        f"{page.relative_to(ROOT)}: {target}"
        for page in PAGES
        for target in re.findall(r"\]\(([^)#\s]+)[^)]*\)", page.read_text())
        if "://" not in target and not (page.parent / target).exists()
    ]
    assert not broken


def test_layout_page_names_every_module_in_its_folder():
    """docs/layout.md's tree is the source tree: each module is named on its folder's lines."""
    text = (ROOT / "docs/layout.md").read_text()
    tree = text.split("src/convnets/\n", 1)[1].split("```", 1)[0]
    folders = re.split(r"\n  (?=\S)", "\n" + tree)
    described = {part.split()[0].rstrip("/"): part for part in folders if part.strip()}
    package = ROOT / "src/convnets"
    missing = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        if path.stem == "__init__" or relative.parts[0] == "stages":
            continue  # stages/ holds one module per dvc.yaml stage (tests/test_layout.py)
        where = described.get(relative.parts[0] if len(relative.parts) > 1 else "", tree)
        if not re.search(rf"\b{path.stem}\b", where):
            missing.append(relative.as_posix())
    assert not missing, "docs/layout.md does not name: " + ", ".join(missing)
