"""How far the probabilities can be trusted: temperature scaling, ECE, NLL, and OOD separation.

numpy only, on logits already computed by `predict_logits`. Temperature scaling (Guo et al.
2017) divides the logits by one scalar T fitted on the validation split to minimize the negative
log-likelihood; it changes no prediction, only how sure each one claims to be. Our models train
with label smoothing, which tends to make them under-confident, so T may come out below 1.
"""

from __future__ import annotations

import numpy as np

BINS = 15  # equal-width confidence bins for ECE and the reliability diagram
LOG_T_RANGE = (-3.0, 3.0)  # T between e^-3 (0.05) and e^3 (20)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of logits / T, (N, K) -> (N, K), in float64."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of the true labels under softmax(logits / T), in nats."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    top = z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(z - top).sum(axis=1)) + top[:, 0]
    return float((log_norm - z[np.arange(len(labels)), labels]).mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray, steps: int = 60) -> float:
    """The T minimizing NLL: golden-section search on log T (NLL is convex in 1/T)."""
    golden = (np.sqrt(5.0) - 1.0) / 2.0
    low, high = LOG_T_RANGE
    a, b = high - golden * (high - low), low + golden * (high - low)
    fa, fb = nll(logits, labels, np.exp(a)), nll(logits, labels, np.exp(b))
    for _ in range(steps):
        if fa < fb:
            high, b, fb = b, a, fa
            a = high - golden * (high - low)
            fa = nll(logits, labels, np.exp(a))
        else:
            low, a, fa = a, b, fb
            b = low + golden * (high - low)
            fb = nll(logits, labels, np.exp(b))
    return float(np.exp((low + high) / 2.0))


def reliability(probabilities: np.ndarray, labels: np.ndarray, bins: int = BINS) -> dict:
    """ECE over equal-width confidence bins, and each bin's confidence, accuracy and count.

    ECE = sum over bins of (n_b / N) * |accuracy_b - mean confidence_b|; a confidence of exactly
    1 goes in the last bin, of 0 in the first.
    """
    confidence = probabilities.max(axis=1)
    correct = (probabilities.argmax(axis=1) == labels).astype(np.float64)
    which = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    rows, ece = [], 0.0
    for b in range(bins):
        inside = which == b
        count = int(inside.sum())
        if count == 0:
            rows.append({"low": b / bins, "confidence": None, "accuracy": None, "count": 0})
            continue
        mean_conf, acc = float(confidence[inside].mean()), float(correct[inside].mean())
        ece += count / len(labels) * abs(acc - mean_conf)
        rows.append({"low": b / bins, "confidence": mean_conf, "accuracy": acc, "count": count})
    return {"ece": float(ece), "bins": rows}


def auroc(inside: np.ndarray, outside: np.ndarray) -> float:
    """P(score of an in-distribution input > score of an outlier), ties counting half."""
    scores = np.concatenate([inside, outside])
    order = scores.argsort(kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    # average ranks over ties (1-based), as in the Mann-Whitney U statistic
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    average = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(average, counts)
    u = ranks[: len(inside)].sum() - len(inside) * (len(inside) + 1) / 2.0
    return float(u / (len(inside) * len(outside)))


def threshold_for(inside: np.ndarray, keep: float = 0.95) -> float:
    """The score that `keep` of the in-distribution inputs reach (score >= threshold passes)."""
    return float(np.quantile(np.asarray(inside, dtype=np.float64), 1.0 - keep, method="lower"))


def false_positive_rate(outside: np.ndarray, threshold: float) -> float:
    """Share of outliers that pass the threshold (taken for in-distribution)."""
    return float((np.asarray(outside) >= threshold).mean())
