"""The report page: sections of figures and tables as one self-contained HTML file.

No JavaScript and no external resources, so the page opens offline, from any folder that keeps
the PNGs beside it, and identical inputs give identical bytes.
"""

from __future__ import annotations

from html import escape

import pandas as pd

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
nav a { margin-right: 1em; }
section { border-top: 1px solid #ddd; margin-top: 2em; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #555; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f4f4f4; }
"""


def render_page(title: str, summary: str, sections) -> str:
    """The page: a title, a one-paragraph summary, a table of contents, then each section.

    Sections are numbered here, in the order given, so a section left out (no convolutional
    variant, no capsnet) leaves no gap in the numbers.
    """
    headings = [f"{number}. {s.title}" for number, s in enumerate(sections, start=1)]
    nav = " ".join(
        f'<a href="#{s.anchor}">{escape(h)}</a>' for s, h in zip(sections, headings, strict=True)
    )
    body = "\n".join(_section(s, h) for s, h in zip(sections, headings, strict=True))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n"
        '<link rel="icon" href="data:,">\n'  # no favicon request, so no console error
        f"<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{escape(title)}</h1>\n<p>{escape(summary)}</p>\n<nav>{nav}</nav>\n"
        f"{body}\n</body>\n</html>\n"
    )


def _section(section, heading: str) -> str:
    figures = "\n".join(
        f'<figure><img src="{escape(f.src)}" alt="{escape(f.caption)}">'
        f"<figcaption>{escape(f.caption)}</figcaption></figure>"
        for f in section.figures
    )
    tables = "\n".join(section.tables)
    return (
        f'<section id="{escape(section.anchor)}">\n<h2>{escape(heading)}</h2>\n'
        f"<p>{escape(section.intro)}</p>\n{tables}\n{figures}\n</section>"
    )


def leaderboard_table(table: pd.DataFrame) -> str:
    """The leaderboard with accuracies in percent and costs rounded for reading."""
    shown = table.copy()
    for column in ("val_accuracy", "test_accuracy", "test_macro_f1", "corruption_accuracy"):
        shown[column] = (shown[column] * 100).map("{:.2f}".format)
    shown["test_loss"] = shown["test_loss"].map(lambda v: "" if pd.isna(v) else f"{v:.4f}")
    shown["parameters"] = shown["parameters"].map("{:,}".format)
    shown["flops_per_image"] = (shown["flops_per_image"] / 1e6).map("{:.1f}M".format)
    if "train_seconds" in shown:
        shown["train_seconds"] = shown["train_seconds"].map("{:.0f}".format)
    return shown.to_html(index=False, escape=True, border=0)


def notes_table(notes: list[str]) -> str:
    """The data checks' findings, one row each (text left-aligned: they are sentences)."""
    rows = "".join(f'<tr><td style="text-align:left">{escape(n)}</td></tr>' for n in notes)
    return f"<table><tr><th>finding and fix</th></tr>{rows or '<tr><td>none</td></tr>'}</table>"


def label_issues_table(top: list[dict], shown: int = 24) -> str:
    """The most likely label errors: split, index, given and suggested label, label quality."""
    table = pd.DataFrame(top[:shown], columns=["split", "index", "given", "suggested", "quality"])
    return table.to_html(index=False, escape=True, border=0)


def benchmark_table(report: dict) -> str:
    """Per engine: batch-1 latency percentiles, throughput per batch size, test accuracy."""
    rows = []
    for engine, result in report["engines"].items():
        row = {"engine": engine}
        row |= {f"{k} ms": f"{v:.3f}" for k, v in result["latency_ms"].items()}
        row |= {f"batch {b} img/s": f"{v:,.0f}" for b, v in result["images_per_second"].items()}
        row["test accuracy %"] = f"{result['test_accuracy'] * 100:.2f}"
        rows.append(row)
    return pd.DataFrame(rows).to_html(index=False, escape=True, border=0)


def sanity_table(results) -> str:
    """Per method (report/sanity.py's SanityResult): the rank correlation with the original
    maps after randomizing each layer and those above it (output first), and the verdict."""
    rows = []
    for result in results:
        row = {"method": result.method}
        pairs = zip(result.layers, result.correlations, strict=True)
        row |= {f"+ {name}": f"{rho:.2f}" for name, rho in pairs}
        row["verdict"] = result.verdict
        rows.append(row)
    return pd.DataFrame(rows).to_html(index=False, escape=True, border=0)


def trust_tables(export: dict) -> list[str]:
    """Test ECE and NLL before and after the temperature; per OOD set, AUROC and FPR at 95% TPR."""
    cal, ood = export["calibration"], export["ood"]

    def number(value):
        return "n/a" if value is None else f"{value:.4f}"

    rows = [
        {"": when, "ECE (15 bins)": number(v["ece"]), "NLL": number(v["nll"])}
        for when, v in (("T = 1", cal["test"]["before"]), (f"T = {cal['temperature']:.3f}",
                         cal["test"]["after"]))
    ]  # fmt: skip
    calibration = pd.DataFrame(rows).to_html(index=False, escape=True, border=0)
    rows = []
    for name, result in ood["sets"].items():
        row = {"OOD set": name, "images": result["images"]}
        row |= {f"AUROC ({k})": f"{v:.3f}" for k, v in result["auroc"].items()}
        row["FPR at 95% TPR"] = f"{result['fpr_at_95_tpr']:.3f}"
        row["flagged by predict"] = f"{result['flagged_by_predict']:.3f}"
        rows.append(row)
    return [calibration, pd.DataFrame(rows).to_html(index=False, escape=True, border=0)]
