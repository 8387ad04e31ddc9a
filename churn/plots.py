"""Evaluation plots, returned as matplotlib figures for the caller to log or save."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def _figure() -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 4.5), dpi=100)
    return fig, fig.add_subplot(1, 1, 1)


def evaluation_figures(
    y_true: np.ndarray, y_score: np.ndarray, *, threshold: float
) -> dict[str, Figure]:
    """ROC, precision-recall, calibration and score-distribution plots, by file name."""
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import precision_recall_curve, roc_curve

    figures: dict[str, Figure] = {}

    fig, ax = _figure()
    fpr, tpr, _ = roc_curve(y_true, y_score)
    ax.plot(fpr, tpr, label="model")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve")
    ax.legend()
    figures["roc_curve.png"] = fig

    fig, ax = _figure()
    precision, recall, _ = precision_recall_curve(y_true, y_score)
    ax.plot(recall, precision)
    ax.axhline(float(np.mean(y_true)), linestyle="--", color="grey", label="base rate")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall curve")
    ax.legend()
    figures["pr_curve.png"] = fig

    fig, ax = _figure()
    observed, predicted = calibration_curve(y_true, y_score, n_bins=10, strategy="quantile")
    ax.plot(predicted, observed, marker="o", label="model")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
    ax.axvline(threshold, color="red", linestyle=":", label=f"threshold {threshold:g}")
    ax.set(xlabel="predicted churn probability", ylabel="observed churn rate", title="Calibration")
    ax.legend()
    figures["calibration_curve.png"] = fig

    fig, ax = _figure()
    bins = np.linspace(0, 1, 41)
    for label, name in ((0, "stayed"), (1, "churned")):
        ax.hist(y_score[y_true == label], bins=bins.tolist(), alpha=0.6, label=name, density=True)
    ax.axvline(threshold, color="red", linestyle=":", label=f"threshold {threshold:g}")
    ax.set(xlabel="churn probability", ylabel="density", title="Scores by outcome")
    ax.legend()
    figures["score_distribution.png"] = fig
    return figures
