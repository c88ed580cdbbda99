"""Label errors by confident learning: planted flips are found, bad inputs refused, figure drawn.

The toy problem: six well-separated Gaussian blobs in 8 dimensions, 20 labels flipped to another
class, out-of-sample probabilities from a logistic regression by 3-fold cross_val_predict, then
cut into a "val" and a "test" split. The model is right on the true class of ~every point, so a
flagged point that was not planted is a false flag.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict

from convnets.errors import ConvnetsError
from convnets.evaluation.confident_learning import TOP, LabelIssue, find_label_issues, summarize
from convnets.figures.mislabelled import label_issues_figure

CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal")
PLANTED = 20
HALF = 450  # the first HALF points are "val", the rest "test"


@dataclasses.dataclass(frozen=True)
class Toy:
    probabilities: dict[str, np.ndarray]  # (N, K) per split
    labels: dict[str, np.ndarray]  # (N,) noisy labels per split
    truth: dict[str, np.ndarray]  # (N,) labels before the flips
    planted: set[tuple[str, int]]  # (split, index) of every flipped label


@pytest.fixture(scope="module")
def toy() -> Toy:
    x, y = make_blobs(2 * HALF, n_features=8, centers=len(CLASSES), random_state=0)
    rng = np.random.default_rng(0)
    flipped = rng.choice(len(y), PLANTED, replace=False)
    noisy = y.copy()
    noisy[flipped] = (y[flipped] + rng.integers(1, len(CLASSES), PLANTED)) % len(CLASSES)
    probs = cross_val_predict(
        LogisticRegression(max_iter=1000), x, noisy, cv=3, method="predict_proba"
    )

    def split(a):
        return {"val": a[:HALF], "test": a[HALF:]}

    planted = {("val", int(i)) if i < HALF else ("test", int(i) - HALF) for i in flipped}
    return Toy(split(probs), split(noisy), split(y), planted)


def test_planted_flips_are_found_with_the_true_class_suggested(toy):
    issues = find_label_issues(toy.probabilities, toy.labels)
    found = {(issue.split, issue.index) for issue in issues}
    hits = found & toy.planted
    assert len(hits) >= 0.8 * PLANTED  # recall
    assert len(hits) >= 0.6 * len(issues)  # precision
    assert {issue.split for issue in issues} == {"val", "test"}
    for issue in issues:
        assert issue.given == toy.labels[issue.split][issue.index]
    right = [i for i in issues if i.suggested == toy.truth[i.split][i.index] != i.given]
    assert len(right) >= 0.9 * len(hits)


def test_issues_are_sorted_by_label_quality_which_is_the_given_labels_probability(toy):
    issues = find_label_issues(toy.probabilities, toy.labels)
    keys = [(issue.quality, issue.split, issue.index) for issue in issues]
    assert keys == sorted(keys)
    for issue in issues:
        expected = toy.probabilities[issue.split][issue.index, issue.given]
        assert issue.quality == pytest.approx(expected)
        assert issue.suggested == toy.probabilities[issue.split][issue.index].argmax()


def test_same_input_same_output_whatever_the_split_order(toy):
    first = find_label_issues(toy.probabilities, toy.labels)
    again = find_label_issues(dict(reversed(toy.probabilities.items())), toy.labels)
    assert first == again
    # ties in quality are broken by split then index, not in the order cleanlab returns them
    # (its argsort is unstable): 5 copies of 60 points, the labels of 5 of them flipped
    probs = np.tile(toy.probabilities["val"][:60], (5, 1))
    labels = np.tile(toy.labels["val"][:60], 5)
    for i in range(5):
        labels[i::60] = (labels[i] + 1) % len(CLASSES)
    issues = find_label_issues({"b": probs, "a": probs}, {"b": labels, "a": labels})
    keys = [(issue.quality, issue.split, issue.index) for issue in issues]
    assert len({quality for quality, _, _ in keys}) < len(keys) / 4  # ties, many of them
    assert keys == sorted(keys)


def test_a_class_with_two_images_is_enough(toy):
    labels = toy.labels["val"].copy()
    probs = toy.probabilities["val"].copy()
    rare = np.flatnonzero(labels == 0)[2:]  # leave class 0 with two images
    labels[rare] = 1
    probs[rare] = np.eye(len(CLASSES))[1]
    find_label_issues({"val": probs}, {"val": labels})


def _bad_inputs():
    """(name, probabilities, labels) with one thing wrong, built from a valid 6-class split."""
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(6), 5)
    probs = rng.dirichlet(np.ones(6), size=len(labels))

    def row(values):
        p = probs.copy()
        p[3] = values
        return p

    yield "logits, not probabilities", np.log(probs), labels
    yield "rows summing to 2", probs * 2, labels
    yield "a row summing to 0.99", row(probs[3] * 0.99), labels
    yield "a negative entry in a row summing to 1", row([1.5, -0.5, 0, 0, 0, 0]), labels
    yield "a NaN row", row(np.nan), labels
    yield "1-D probabilities", probs[:, 0], labels
    yield "a single class column", np.ones((len(labels), 1)), labels * 0
    yield "too few labels", probs, labels[:-1]
    yield "too many labels", probs[:-1], labels
    yield "2-D labels", probs, labels[:, None]
    yield "float labels", probs, labels.astype(float)
    yield "a label beyond K", probs, np.where(labels == 5, 6, labels)
    yield "a negative label", probs, np.where(labels == 5, -1, labels)
    yield "an empty split", probs[:0], labels[:0]
    for k in range(6):
        keep = np.flatnonzero(labels != k)
        yield f"class {k} missing", probs[keep], labels[keep]
        keep = np.concatenate([keep, np.flatnonzero(labels == k)[:1]])
        yield f"class {k} with one image", probs[keep], labels[keep]


BAD = [pytest.param(probs, labels, id=name) for name, probs, labels in _bad_inputs()]


@pytest.mark.parametrize(("probs", "labels"), BAD)
def test_bad_input_is_refused_in_one_line_that_says_the_fix(probs, labels):
    with pytest.raises(ConvnetsError, match=r"'val'.*Fix: ") as error:
        find_label_issues({"val": probs}, {"val": labels})
    assert "\n" not in str(error.value)


def test_splits_must_match(toy):
    with pytest.raises(ConvnetsError, match="same splits"):
        find_label_issues(toy.probabilities, {"val": toy.labels["val"]})


def test_summary_counts_and_shares_per_split_and_lists_the_worst_with_class_names():
    issues = [LabelIssue("test", i, i % 6, (i + 1) % 6, i / 100_000) for i in range(TOP + 10)]
    issues.append(LabelIssue("val", 7, 0, 5, 0.123456))
    sizes = {"val": 100, "test": 1000, "train": 50}
    summary = summarize(issues, sizes, CLASSES)
    assert summary["splits"]["test"] == {"images": 1000, "flagged": TOP + 10, "share": 0.06}
    assert summary["splits"]["val"] == {"images": 100, "flagged": 1, "share": 0.01}
    assert summary["splits"]["train"] == {"images": 50, "flagged": 0, "share": 0.0}
    assert summary["total"] == {"images": 1150, "flagged": TOP + 11, "share": 0.053}
    assert len(summary["top"]) == TOP
    assert summary["top"][1] == {
        "split": "test", "index": 1, "given": "Trouser", "suggested": "Pullover", "quality": 0.0
    }  # fmt: skip
    assert summarize(issues[-1:], sizes, CLASSES)["top"][0]["quality"] == 0.1235


def _panels(fig):
    return [ax for ax in fig.axes if ax.images]


def test_figure_shows_the_first_issues_titled_with_given_and_suggested_class():
    rng = np.random.default_rng(0)
    images = {s: rng.integers(0, 256, (40, 28, 28, 1), dtype=np.uint8) for s in ("val", "test")}
    issues = [LabelIssue("val", 3, 0, 5, 0.01), LabelIssue("test", 39, 4, 0, 0.02)]
    issues += [LabelIssue("test", i, 1, 2, 0.1 + i / 100) for i in range(10)]
    panels = _panels(label_issues_figure(images, issues, CLASSES, count=9))
    assert len(panels) == 9
    first, second = panels[0], panels[1]
    assert first.get_title() == "given: T-shirt\nsuggested: Sandal"
    assert second.get_title() == "given: Coat\nsuggested: T-shirt"
    assert "test #39" in second.get_xlabel()
    np.testing.assert_array_equal(second.images[0].get_array(), images["test"][39, ..., 0])
    assert len(_panels(label_issues_figure(images, issues, CLASSES, count=100))) == len(issues)


@pytest.mark.parametrize("count", [0, 5])
def test_figure_without_issues_says_so(count):
    issues = [] if count else [LabelIssue("val", 0, 0, 1, 0.0)]
    fig = label_issues_figure({"val": np.zeros((1, 4, 4, 1), np.uint8)}, issues, CLASSES, count)
    assert not _panels(fig)
    assert [t.get_text() for t in fig.texts] == ["no likely label errors found"]


def test_too_few_says_which_split_and_class_cannot_be_checked_and_nothing_when_all_can():
    from convnets.evaluation.confident_learning import too_few

    enough = {"val": np.array([0, 0, 1, 1, 2, 2]), "test": np.array([0, 1, 2] * 2)}
    assert too_few(enough, 3) == ""
    small = {"val": np.array([0, 0, 1, 1, 2]), "test": np.array([0, 1, 2] * 2)}
    reason = too_few(small, 3)
    assert "val split" in reason and "[2]" in reason and "add pictures" in reason
    assert "[1, 2]" in too_few({"test": np.array([0, 0, 0])}, 3)
