"""Evaluation plots, returned as matplotlib figures for the caller to log or save."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def _figure() -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 4.5), dpi=100)
    return fig, fig.add_subplot(1, 1, 1)


def evaluation_figures(
    y_true: np.ndarray,
    y_score: np.ndarray,
    *,
    threshold: float,
    baseline_score: np.ndarray | None = None,
) -> dict[str, Figure]:
    """ROC, precision-recall, calibration, score-distribution and confusion-matrix plots.

    With ``baseline_score`` the baseline's curves are drawn beside the model's.
    Returned by file name.
    """
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import precision_recall_curve, roc_curve

    figures: dict[str, Figure] = {}

    fig, ax = _figure()
    fpr, tpr, _ = roc_curve(y_true, y_score)
    ax.plot(fpr, tpr, label="model")
    if baseline_score is not None:
        b_fpr, b_tpr, _ = roc_curve(y_true, baseline_score)
        ax.plot(b_fpr, b_tpr, label="logistic baseline", alpha=0.7)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve")
    ax.legend()
    figures["roc_curve.png"] = fig

    fig, ax = _figure()
    precision, recall, _ = precision_recall_curve(y_true, y_score)
    ax.plot(recall, precision, label="model")
    if baseline_score is not None:
        b_precision, b_recall, _ = precision_recall_curve(y_true, baseline_score)
        ax.plot(b_recall, b_precision, label="logistic baseline", alpha=0.7)
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

    fig, ax = _figure()
    flagged = np.asarray(y_score) > threshold
    actual = np.asarray(y_true).astype(bool)
    counts = np.array(
        [[(~actual & ~flagged).sum(), (~actual & flagged).sum()],
         [(actual & ~flagged).sum(), (actual & flagged).sum()]]
    )  # fmt: skip
    ax.imshow(counts, cmap="Blues")
    for (row, col), count in np.ndenumerate(counts):
        ax.text(col, row, f"{count:,}", ha="center", va="center",
                color="white" if count > counts.max() / 2 else "black")  # fmt: skip
    ax.set_xticks([0, 1], ["not flagged", "flagged"])
    ax.set_yticks([0, 1], ["stayed", "churned"])
    ax.set(xlabel=f"churn probability > {threshold:g}", ylabel="outcome",
           title="Confusion matrix at the threshold")  # fmt: skip
    figures["confusion_matrix.png"] = fig
    return figures


def importance_figure(importance: pd.Series) -> Figure:
    """Horizontal bars of feature importance (total gain), largest on top."""
    fig, ax = _figure()
    ordered = importance.sort_values()
    ax.barh(ordered.index.astype(str).tolist(), ordered.to_numpy())
    ax.set(xlabel="total gain", title="Feature importance")
    fig.tight_layout()
    return fig


def threshold_figures(
    curve: pd.DataFrame,
    gains: pd.DataFrame,
    *,
    threshold: float,
    best_threshold: float,
    break_even: float,
) -> dict[str, Figure]:
    """Profit curve and ROI by threshold (both thresholds marked), and cumulative gains.

    Args:
        curve: ``threshold, net_benefit, roi_pct`` rows (``roi.profit_curve``).
        gains: ``targeted_share, churners_captured`` rows (``roi.cumulative_gains``).
        threshold: the configured threshold.
        best_threshold: the profit-maximising threshold.
        break_even: the break-even probability.
    """
    figures: dict[str, Figure] = {}

    fig, ax = _figure()
    ax.plot(curve["threshold"], curve["net_benefit"] / 1000, label="net benefit")
    ax.axvline(threshold, color="red", linestyle=":", label=f"configured {threshold:g}")
    ax.axvline(best_threshold, color="green", linestyle="--", label=f"best {best_threshold:.3f}")
    ax.axvline(break_even, color="grey", linestyle="-.", label=f"break-even {break_even:.3f}")
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set(xlabel="threshold (flag churn probability above)", ylabel="net benefit, $ thousands",
           title="Profit curve")  # fmt: skip
    ax.legend()
    figures["profit_curve.png"] = fig

    fig, ax = _figure()
    ax.plot(curve["threshold"], curve["roi_pct"], label="ROI %")
    ax.axvline(threshold, color="red", linestyle=":", label=f"configured {threshold:g}")
    ax.axvline(best_threshold, color="green", linestyle="--", label=f"best {best_threshold:.3f}")
    ax.set(xlabel="threshold", ylabel="ROI, %", title="ROI by threshold")
    ax.legend()
    figures["roi_by_threshold.png"] = fig

    fig, ax = _figure()
    ax.plot(gains["targeted_share"], gains["churners_captured"], label="model")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="random")
    ax.set(xlabel="share of customers targeted", ylabel="share of churners captured",
           title="Cumulative gains")  # fmt: skip
    ax.legend()
    figures["cumulative_gains.png"] = fig
    return figures


def to_png(figures: dict[str, Figure]) -> dict[str, bytes]:
    """Figures rendered as PNG images, by the same names."""
    import io

    images = {}
    for name, figure in figures.items():
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        images[name] = buffer.getvalue()
    return images


def training_plots(
    y_true: np.ndarray,
    y_score: np.ndarray,
    *,
    baseline_score: np.ndarray | None,
    importance: pd.Series,
    curve: pd.DataFrame,
    gains: pd.DataFrame,
    threshold: float,
    best_threshold: float,
    break_even: float,
) -> dict[str, bytes]:
    """Every plot of a training run as PNG, by file name: evaluation, importance, thresholds."""
    figures = evaluation_figures(
        y_true, y_score, threshold=threshold, baseline_score=baseline_score
    )
    figures["feature_importance.png"] = importance_figure(importance)
    figures |= threshold_figures(
        curve, gains, threshold=threshold, best_threshold=best_threshold, break_even=break_even
    )
    return to_png(figures)


def uplift_figure(qini: pd.DataFrame) -> Figure:
    """The Qini curve of a campaign with a control group."""
    fig, ax = _figure()
    ax.plot(qini["targeted_share"], qini["qini"], label="campaign, by score")
    end = float(qini["qini"].iloc[-1])
    ax.plot([0, 1], [0, end], linestyle="--", color="grey", label="random order")
    ax.set(xlabel="share of campaign customers, highest score first",
           ylabel="customers kept (Qini)", title="Uplift (Qini curve)")  # fmt: skip
    ax.legend()
    return fig
