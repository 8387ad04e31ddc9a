"""The plots explain themselves: legends carry their numbers, and a caption says what they mean."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from sklearn.metrics import average_precision_score, roc_auc_score

import roi
from churn.plots import evaluation_figures, qini_coefficient, threshold_figures, uplift_figure

THRESHOLD = 0.7


@pytest.fixture(scope="module")
def scored() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Outcomes, a score that knows the true risk, and a noisier one."""
    rng = np.random.default_rng(11)
    risk = rng.beta(2, 5, 2000)
    y_true = (rng.random(2000) < risk).astype(int)
    noisy = np.clip(risk + rng.normal(0, 0.25, 2000), 0, 1)
    return y_true, risk, noisy


def legend_texts(ax: Axes) -> list[str]:
    legend = ax.get_legend()
    assert legend is not None
    return [text.get_text() for text in legend.get_texts()]


def test_roc_and_pr_legends_carry_auc_and_average_precision(
    scored: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    y_true, good, noisy = scored
    figures = evaluation_figures(y_true, good, threshold=THRESHOLD, baseline_score=noisy)
    roc = legend_texts(figures["roc_curve.png"].axes[0])
    assert f"model (AUC {roc_auc_score(y_true, good):.3f})" in roc
    assert f"logistic baseline (AUC {roc_auc_score(y_true, noisy):.3f})" in roc
    pr = legend_texts(figures["pr_curve.png"].axes[0])
    assert f"model (AP {average_precision_score(y_true, good):.3f})" in pr
    assert f"logistic baseline (AP {average_precision_score(y_true, noisy):.3f})" in pr


@pytest.mark.parametrize(
    ("model", "baseline", "says_baseline_better"),
    [("good", "noisy", False), ("noisy", "good", True)],
)
def test_roc_title_says_when_the_baseline_ranks_better(
    scored: tuple[np.ndarray, np.ndarray, np.ndarray],
    model: str,
    baseline: str,
    says_baseline_better: bool,
) -> None:
    y_true, good, noisy = scored
    scores = {"good": good, "noisy": noisy}
    figures = evaluation_figures(
        y_true, scores[model], threshold=THRESHOLD, baseline_score=scores[baseline]
    )
    title = figures["roc_curve.png"].axes[0].get_title()
    assert ("the baseline ranks better" in title) is says_baseline_better


def test_roc_without_a_baseline_names_only_the_model(
    scored: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    y_true, good, _ = scored
    ax = evaluation_figures(y_true, good, threshold=THRESHOLD)["roc_curve.png"].axes[0]
    assert ax.get_title() == "ROC curve"
    assert not any("baseline" in text for text in legend_texts(ax))


CURVE = pd.DataFrame(
    {"threshold": [0.05, 0.1, 0.3, 0.5, 0.9], "net_benefit": [-2e3, 8e3, 6e3, 3e3, 1e3],
     "roi_pct": [-10.0, 60.0, 250.0, 400.0, 300.0]}
)  # fmt: skip
GAINS = pd.DataFrame({"targeted_share": [0, 0.5, 1], "churners_captured": [0, 0.8, 1]})


@pytest.mark.parametrize(
    ("best_threshold", "break_even"),
    [(0.118, 0.067), (0.062, 0.067), (0.067, 0.067)],  # apart, just below, on top
)
def test_roi_chart_marks_break_even_and_the_best_net_benefit(
    best_threshold: float, break_even: float
) -> None:
    figures = threshold_figures(
        CURVE, GAINS, threshold=THRESHOLD, best_threshold=best_threshold, break_even=break_even
    )
    ax = figures["roi_by_threshold.png"].axes[0]
    assert "campaign cost only" in ax.get_title()
    texts = legend_texts(ax)
    assert f"best net benefit {best_threshold:.3f}" in texts
    assert f"break-even probability {break_even:.3f}" in texts
    assert not any(text.startswith("best ") and "net benefit" not in text for text in texts)
    horizontal = [line for line in ax.lines if list(line.get_ydata()) == [0, 0]]
    assert len(horizontal) == 1 and horizontal[0].get_label().startswith("ROI 0 %")
    vertical_at = {float(line.get_xdata()[0]) for line in ax.lines
                   if line.get_xdata()[0] == line.get_xdata()[1]}  # fmt: skip
    assert {best_threshold, break_even, THRESHOLD} <= vertical_at


def test_profit_curve_names_the_best_threshold_by_net_benefit() -> None:
    figures = threshold_figures(
        CURVE, GAINS, threshold=THRESHOLD, best_threshold=0.118, break_even=0.067
    )
    texts = legend_texts(figures["profit_curve.png"].axes[0])
    assert "best net benefit 0.118" in texts and "break-even probability 0.067" in texts


@pytest.mark.parametrize(
    ("qini", "coefficient"),
    [
        ([0, 2, 2], 0.25),  # all the gain in the first half
        ([0, 1, 2], 0.0),  # a random order
        ([0, 0, 2], -0.25),  # all the gain in the last half
        ([0, -2, -2], -0.25),  # harm, done first: below the random line
        ([0, 0, -2], 0.25),  # harm, put off to the end
        ([0, 1, 0], None),  # contacting everyone kept nobody
    ],
)
def test_qini_coefficient_by_hand(qini: list[float], coefficient: float | None) -> None:
    frame = pd.DataFrame({"targeted_share": [0, 0.5, 1], "qini": qini})
    assert qini_coefficient(frame) == (None if coefficient is None else pytest.approx(coefficient))


def test_qini_coefficient_does_not_grow_with_the_campaign() -> None:
    frame = pd.DataFrame({"targeted_share": [0, 0.25, 0.5, 0.75, 1], "qini": [0, 3, 4, 4, 5]})
    tenfold = frame.assign(qini=frame["qini"] * 10)
    assert qini_coefficient(tenfold) == pytest.approx(qini_coefficient(frame))


def test_uplift_figure_states_and_explains_the_qini_coefficient() -> None:
    rng = np.random.default_rng(5)
    risk = rng.beta(2, 5, 3000)
    treated = rng.random(3000) < 0.9
    # The campaign halves churn, so the riskiest gain the most.
    churned = rng.random(3000) < np.where(treated, risk / 2, risk)
    qini = roi.qini_curve(churned, treated, risk)
    coefficient = qini_coefficient(qini)
    assert coefficient is not None and coefficient > 0
    fig = uplift_figure(qini)
    shown = f"Qini coefficient {coefficient:.2f}"
    caption = " ".join(text.get_text() for text in fig.texts)
    assert shown in caption and "random order" in caption and "above 0" in caption
    assert f"(Qini {coefficient:.2f})" in " ".join(legend_texts(fig.axes[0]))


def test_uplift_figure_says_when_the_coefficient_cannot_be_measured() -> None:
    fig = uplift_figure(pd.DataFrame({"targeted_share": [0, 0.5, 1], "qini": [0, 1, 0]}))
    assert "not measurable" in " ".join(text.get_text() for text in fig.texts)
