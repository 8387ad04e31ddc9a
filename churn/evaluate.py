"""Model quality on labelled customers, at the campaign's threshold."""

from __future__ import annotations

import numpy as np


def evaluate_predictions(
    y_true: np.ndarray, y_score: np.ndarray, *, threshold: float
) -> dict[str, float]:
    """Ranking, probability and threshold metrics of churn probabilities.

    Precision at the threshold is left out when nobody is flagged (it is
    undefined there), rather than reported as 0 or NaN.

    Returns:
        ``auc``, ``pr_auc``, ``brier``, ``ece``, ``log_loss``, ``precision_at_threshold``,
        ``recall_at_threshold``, ``n_flagged``, ``flagged_share``, ``churn_rate``
        and ``n_customers``.

    Examples:
        >>> import numpy as np
        >>> m = evaluate_predictions(np.array([0, 0, 1, 1]), np.array([0.1, 0.8, 0.75, 0.9]),
        ...                          threshold=0.7)
        >>> m["auc"], m["n_flagged"], round(m["precision_at_threshold"], 3)
        (0.75, 3.0, 0.667)
    """
    from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

    y_true = np.asarray(y_true)
    y_score = np.asarray(y_score, dtype=float)
    if len(np.unique(y_true)) < 2:
        raise ValueError("evaluation needs both churned and retained customers in y_true")
    flagged = y_score > threshold
    positives = int(y_true.sum())
    metrics = {
        "auc": float(roc_auc_score(y_true, y_score)),
        "pr_auc": float(average_precision_score(y_true, y_score)),
        "brier": float(brier_score_loss(y_true, y_score)),
        "ece": expected_calibration_error(y_true, y_score),
        "log_loss": float(log_loss(y_true, np.clip(y_score, 1e-15, 1 - 1e-15), labels=[0, 1])),
        "recall_at_threshold": float((flagged & (y_true == 1)).sum() / positives),
        "n_flagged": float(flagged.sum()),
        "flagged_share": float(flagged.mean()),
        "churn_rate": float(y_true.mean()),
        "n_customers": float(len(y_true)),
    }
    if flagged.any():
        metrics["precision_at_threshold"] = float(y_true[flagged].mean())
    return metrics


def expected_calibration_error(y_true: np.ndarray, y_score: np.ndarray, *, bins: int = 10) -> float:
    """Expected calibration error: the count-weighted gap between predicted and observed
    churn over ``bins`` equal-width probability bins.

    Examples:
        >>> y = np.array([0, 0, 0, 1, 1, 1, 1, 0])
        >>> p = np.array([0.1, 0.1, 0.1, 0.1, 0.9, 0.9, 0.9, 0.9])
        >>> expected_calibration_error(y, p)  # each bin is off by 0.15
        0.15
    """
    y_true = np.asarray(y_true, dtype=float)
    y_score = np.asarray(y_score, dtype=float)
    index = np.minimum((y_score * bins).astype(int), bins - 1)
    count = np.bincount(index, minlength=bins)
    gap = np.abs(
        np.bincount(index, weights=y_true, minlength=bins)
        - np.bincount(index, weights=y_score, minlength=bins)
    )
    return round(float(gap.sum() / count.sum()), 12)
