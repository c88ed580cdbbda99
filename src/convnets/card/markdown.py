"""The model card as Markdown, from `card.facts.gather`'s facts: sections in the order of
Mitchell et al. 2019 ("Model Cards for Model Reporting"), every number from an artifact."""

from __future__ import annotations

from convnets.card.facts import intended_use

NOTES = 10  # data-check lines quoted in the card; the rest stay in prepare's checks.md


def render_card(facts: dict, failures_png: str) -> str:
    """The whole card; `failures_png` is the failure-mode examples' path relative to the card."""
    dataset = facts["manifest"]["dataset"]
    parts = [
        f"# Model card: {facts['variant']} on {dataset}",
        _details(facts),
        _intended(dataset, facts),
        _data(facts),
        _metrics(facts),
        _corruptions(facts["corruptions"]),
    ]
    if facts["calibration"] is not None:
        parts.append(_calibration(facts["calibration"]))
    if facts["ood"] is not None:
        parts.append(_ood(facts["ood"]))
    parts += [_shipping(facts), _failures(facts, failures_png), _reproduce()]
    return "\n\n".join(parts) + "\n"


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _details(facts: dict) -> str:
    metrics, model = facts["metrics"], facts["model"]
    rows = [
        ["variant", facts["variant"]],
        ["model", model.get("name", metrics["model"])],
        ["options", f"`{model.get('options', {})}`"],
        ["parameters", f"{metrics['parameters']:,}"],
        ["FLOPs per image", f"{metrics['flops_per_image']:,}"],
        ["input", f"`{facts['input']}`"],
        ["params hash", f"`{facts['params_hash']}`"],
        ["git revision", f"`{facts['git_revision']}`"],
    ]
    return "## Model details\n\n" + _table(["fact", "value"], rows)


def _intended(dataset: str, facts: dict) -> str:
    use, not_for = intended_use(dataset, facts)
    return f"## Intended use\n\n{use}\n\n**Not for:** {not_for}"


def _data(facts: dict) -> str:
    manifest = facts["manifest"]
    if "folder" in manifest:
        source = f"Dataset `{manifest['dataset']}`: your own pictures, from `{manifest['folder']}`."
    else:
        rows = [
            [f"`{name}`", digest.get("md5", ""), digest.get("sha256", ""), digest.get("size", "")]
            for name, digest in sorted(manifest["files"].items())
        ]
        table = _table(["file", "md5", "sha256", "bytes"], rows)
        source = f"Dataset `{manifest['dataset']}`, the files download verified:\n\n{table}"
    return f"## Data\n\n{source}\n\n{_checks(facts['data_checks'], facts['data_checks_page'])}"


def _checks(checks: dict, page: str) -> str:
    """The data checks (`page` has them in full): duplicates per split pair, notes."""
    rows = [
        [pair, counts["exact"], counts["near"]]
        for pair, counts in sorted(checks["duplicates"].items())
    ]
    notes = checks["notes"]
    shown = "\n".join(f"- {line}" for line in notes[:NOTES]) or "- nothing to report"
    more = f"\n- ... and {len(notes) - NOTES} more in {page}" if len(notes) > NOTES else ""
    dropped = checks["test_duplicates_dropped"]
    return (
        f"Data checks (prepare; `{page}`):\n\n"
        + shown
        + more
        + "\n\nDuplicate images per split pair (exact: same pixels; near: perceptual hash):\n\n"
        + _table(["splits", "exact", "near"], rows)
        + (
            f"\n\n{dropped} test images that duplicate training data were dropped."
            if dropped
            else ""
        )
    )


def _metrics(facts: dict) -> str:
    metrics = facts["metrics"]
    overall = [
        [split, f"{metrics[split]['accuracy']:.2%}", f"{metrics[split]['macro_f1']:.4f}",
         f"{metrics[split]['loss']:.4f}"]
        for split in ("test", "val")
    ]  # fmt: skip
    per_class = [
        [name, f"{s['precision']:.4f}", f"{s['recall']:.4f}", f"{s['f1']:.4f}", s["support"]]
        for name, s in facts["per_class"].items()
    ]
    tta = _tta_words(metrics["tta"], metrics["tta_views"])
    return (
        f"## Metrics\n\nOverall{tta}:\n\n"
        + _table(["split", "accuracy", "macro F1", "loss"], overall)
        + "\n\nPer class, test split:\n\n"
        + _table(["class", "precision", "recall", "F1", "support"], per_class)
    )


def _corruptions(result: dict) -> str:
    """Accuracy under each corruption and severity (stage corruptions, docs/corruptions.md)."""
    severities = sorted(next(iter(result["accuracy"].values())), key=int)
    rows = [
        [name] + [f"{row[s]:.1%}" for s in severities]
        for name, row in sorted(result["accuracy"].items(), key=lambda item: min(item[1].values()))
    ]
    return (
        f"## Robustness to corruptions\n\nThe first {result['images']} test images, each changed "
        f"in {len(rows)} ordinary ways (noise, blur, exposure, geometry, JPEG, occlusion) at "
        f"severities {', '.join(severities)}, seeded, each image seen once (no test-time views). "
        f"Mean corruption accuracy: **{result['mean']:.2%}**, against {result['clean']:.2%} on the "
        "same images unchanged. Worst first; the strengths are in docs/corruptions.md.\n\n"
        + _table(["corruption"] + [f"severity {s}" for s in severities], rows)
    )


def _tta_words(tta: str, views: int) -> str:
    """How evaluate scored the model: the shipped ONNX file sees each image once."""
    if tta == "none":
        return ""
    return (
        f" (each image's logits averaged over {views} test-time views: {tta}; the exported "
        "model sees each image once: its accuracy is under Shipped files and speed)"
    )


def _calibration(calibration: dict) -> str:
    """Test ECE (15 equal-width bins) and NLL before and after the fitted temperature."""

    def cell(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.4f}"

    before, after = calibration["test"]["before"], calibration["test"]["after"]
    rows = [
        ["T = 1", cell(before["ece"]), cell(before["nll"])],
        [f"T = {calibration['temperature']:.4f}", cell(after["ece"]), cell(after["nll"])],
    ]
    return (
        "## Calibration\n\nThe probabilities the ONNX model outputs are softmax(logits / T), T "
        "fitted on the validation split; on the test split:\n\n"
        + _table(["temperature", "ECE (15 bins)", "NLL"], rows)
    )


def _ood(ood: dict) -> str:
    """Per offline outlier set: AUROC of the chosen score, FPR at 95% TPR, share flagged."""
    rows = [
        [name, result["images"], f"{result['auroc'][ood['score']]:.4f}",
         f"{result['fpr_at_95_tpr']:.4f}", f"{result['flagged_by_predict']:.4f}"]
        for name, result in ood["sets"].items()
    ]  # fmt: skip
    return (
        f"## Out-of-distribution inputs\n\n`convnets predict` marks an input unsure when its "
        f"{ood['score']} score is below {ood['threshold']:.4f}, which "
        f"{ood['test_pass_rate']:.2%} of test images pass:\n\n"
        + _table(["set", "images", "AUROC", "FPR at 95% TPR", "flagged unsure"], rows)
    )


def _shipping(facts: dict) -> str:
    gate, bench = facts["int8_gate"], facts["benchmark"]
    verdict = "passed" if gate["passed"] else "FAILED"
    lines = [
        "## Shipped files and speed",
        f"int8 gate: {verdict}: the int8 model loses {gate['drop_points']:.2f} points of test "
        f"accuracy; `export.max_int8_drop` allows {gate['max_drop']} "
        f"({gate['allowed']:.2f} points with at least two test images of room).",
    ]
    batches = sorted({int(b) for e in bench["engines"].values() for b in e["images_per_second"]})
    rows = []
    for engine, result in bench["engines"].items():
        latency = [f"{result['latency_ms'][p]:.3f}" for p in ("p50", "p90", "p99")]
        speed = [f"{result['images_per_second'].get(str(b), float('nan')):,.0f}" for b in batches]
        rows.append([engine, *latency, *speed, f"{result['test_accuracy']:.2%}"])
    header = ["engine", "p50 ms", "p90 ms", "p99 ms", *[f"batch {b} img/s" for b in batches]]
    lines.append(_table([*header, "test accuracy"], rows))
    cpu, threads = bench["cpu"], ", ".join(f"{k} {v}" for k, v in bench["threads"].items())
    flags = " ".join(cpu["flags"]) or "none of those checked"
    lines.append(f"Measured on `{cpu['machine']}`, threads: {threads}; CPU flags: `{flags}`.")
    return "\n\n".join(lines)


def _failures(facts: dict, failures_png: str) -> str:
    rows = [
        [p["true"], p["predicted"], p["count"], f"{p['share']:.2%}"] for p in facts["confusions"]
    ]
    table = _table(["true class", "predicted as", "test images", "share of the class"], rows)
    return (
        "## Known failure modes\n\nThe most frequent confusions on the test split:\n\n"
        f"{table}\n\n![examples of each confusion]({failures_png})"
    )


def _reproduce() -> str:
    return (
        "## How to reproduce\n\n"
        "```\ngit checkout <git revision above>\n"
        "dvc pull      # the data, checkpoints and exported models from the remote\n"
        "dvc repro     # or rebuild everything from params.yaml\n```"
    )
