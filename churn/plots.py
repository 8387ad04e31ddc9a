"""Evaluation plots, returned as matplotlib figures for the caller to log or save."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from roi.uplift import qini_coefficient

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
    Legends carry each curve's AUC (ROC) or average precision (precision-recall),
    and the ROC title says so when the baseline ranks better than the model.
    Returned by file name.
    """
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import (
        average_precision_score,
        precision_recall_curve,
        roc_auc_score,
        roc_curve,
    )

    figures: dict[str, Figure] = {}

    fig, ax = _figure()
    fpr, tpr, _ = roc_curve(y_true, y_score)
    auc = roc_auc_score(y_true, y_score)
    ax.plot(fpr, tpr, label=f"model (AUC {auc:.3f})")
    title = "ROC curve"
    if baseline_score is not None:
        b_fpr, b_tpr, _ = roc_curve(y_true, baseline_score)
        b_auc = roc_auc_score(y_true, baseline_score)
        ax.plot(b_fpr, b_tpr, label=f"logistic baseline (AUC {b_auc:.3f})", alpha=0.7)
        if b_auc > auc:
            title = "ROC curve — the baseline ranks better"
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance (AUC 0.5)")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=title)
    ax.legend(loc="lower right")
    figures["roc_curve.png"] = fig

    fig, ax = _figure()
    precision, recall, _ = precision_recall_curve(y_true, y_score)
    ap = average_precision_score(y_true, y_score)
    ax.plot(recall, precision, label=f"model (AP {ap:.3f})")
    if baseline_score is not None:
        b_precision, b_recall, _ = precision_recall_curve(y_true, baseline_score)
        b_ap = average_precision_score(y_true, baseline_score)
        ax.plot(b_recall, b_precision, label=f"logistic baseline (AP {b_ap:.3f})", alpha=0.7)
    base_rate = float(np.mean(y_true))
    ax.axhline(base_rate, linestyle="--", color="grey", label=f"base rate {base_rate:.3f}")
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


def _mark_thresholds(
    ax: Axes, *, threshold: float, best_threshold: float, break_even: float
) -> None:
    """The configured, the best net-benefit and the break-even thresholds, each with its value.

    The best threshold often lies at or just below the break-even probability, so
    the break-even line is a wide pale band that stays visible under the dashed one.
    """
    ax.axvline(break_even, color="grey", linewidth=4, alpha=0.4,
               label=f"break-even probability {break_even:.3f}")  # fmt: skip
    ax.axvline(best_threshold, color="green", linestyle="--",
               label=f"best net benefit {best_threshold:.3f}")  # fmt: skip
    ax.axvline(threshold, color="red", linestyle=":", label=f"configured {threshold:g}")


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
        best_threshold: the threshold of the largest net benefit (not of the largest ROI).
        break_even: the break-even probability.
    """
    figures: dict[str, Figure] = {}

    fig, ax = _figure()
    ax.plot(curve["threshold"], curve["net_benefit"] / 1000, label="net benefit")
    _mark_thresholds(ax, threshold=threshold, best_threshold=best_threshold,
                     break_even=break_even)  # fmt: skip
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set(xlabel="threshold (flag churn probability above)", ylabel="net benefit, $ thousands",
           title="Profit curve (campaign cost only)")  # fmt: skip
    ax.legend(fontsize="small")
    figures["profit_curve.png"] = fig

    fig, ax = _figure()
    ax.plot(curve["threshold"], curve["roi_pct"], label="ROI %")
    _mark_thresholds(ax, threshold=threshold, best_threshold=best_threshold,
                     break_even=break_even)  # fmt: skip
    ax.axhline(0, color="black", linewidth=0.8, label="ROI 0 %: savings repay the cost")
    ax.set(xlabel="threshold (flag churn probability above)", ylabel="ROI, %",
           title="ROI by threshold (campaign cost only)")  # fmt: skip
    ax.legend(fontsize="small")
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
    """The Qini curve of a campaign with a control group, with its Qini coefficient."""
    fig, ax = _figure()
    coefficient = qini_coefficient(qini)
    shown = "not measurable" if coefficient is None else f"{coefficient:.2f}"
    ax.plot(qini["targeted_share"], qini["qini"], label=f"campaign, by score (Qini {shown})")
    end = float(qini["qini"].iloc[-1])
    ax.plot([0, 1], [0, end], linestyle="--", color="grey", label="random order")
    ax.set(xlabel="share of campaign customers, highest score first",
           ylabel="customers kept (Qini)", title="Uplift (Qini curve)")  # fmt: skip
    ax.legend()
    if coefficient is None:
        caption = (
            "Qini coefficient not measurable: contacting everyone kept\n"
            "no more customers than the control group predicts."
        )
    else:
        caption = (
            f"Qini coefficient {shown}: area between the campaign's curve (scaled to end at 1)\n"
            "and random order; above 0, contacting by score keeps more customers than at random."
        )
    fig.text(0.5, 0.02, caption, ha="center", va="bottom", fontsize=8)
    fig.subplots_adjust(bottom=0.22)
    return fig
