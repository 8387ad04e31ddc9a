"""Threshold economics: what every threshold would have earned.

Contacting customer *i* is worth ``p_i × save_rate × CLV − cost``; it pays when
``p_i`` exceeds the break-even probability ``cost ÷ (save_rate × CLV)``. A high
threshold maximises ROI *percent*; a low one maximises *total* net benefit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

CURVE_COLUMNS = ("threshold", "n_targeted", "customers_saved", "net_benefit", "roi_pct")


def profit_curve(
    churn_probability: ArrayLike,
    *,
    save_rate: float,
    clv: float | ArrayLike,
    cost_per_contact: float,
    y_true: ArrayLike | None = None,
    thresholds: ArrayLike | None = None,
) -> pd.DataFrame:
    """Net benefit and ROI % of targeting ``churn_probability > t``, for each threshold t.

    With ``y_true`` (labelled history) the saved customers are the churners
    above t times the save rate — a backtest; without it, the expected saves
    Σ p × save rate of those above t.

    Args:
        churn_probability: one score per customer.
        save_rate: share of would-be churners the campaign keeps.
        clv: dollars per saved customer: one number, or one per customer.
        cost_per_contact: dollars per targeted customer.
        y_true: observed churn (optional).
        thresholds: where to evaluate (default 0.00, 0.01, ..., 0.99).

    Returns:
        A frame with columns ``threshold, n_targeted, customers_saved,
        net_benefit, roi_pct`` (``roi_pct`` is NaN where nobody is targeted).

    Examples:
        >>> c = profit_curve([0.9, 0.5, 0.1], save_rate=0.5, clv=100,
        ...                  cost_per_contact=10, thresholds=[0.0, 0.3, 0.7, 0.95])
        >>> c[["threshold", "n_targeted", "net_benefit"]].to_numpy().tolist()
        [[0.0, 3.0, 45.0], [0.3, 2.0, 50.0], [0.7, 1.0, 35.0], [0.95, 0.0, 0.0]]
    """
    p = np.asarray(churn_probability, dtype=float)
    grid = np.round(np.arange(0, 100) / 100, 2) if thresholds is None else thresholds
    t = np.asarray(grid, dtype=float)
    order = np.argsort(-p, kind="stable")
    sorted_p = p[order]
    gain = sorted_p if y_true is None else np.asarray(y_true, dtype=float)[order]
    values = np.broadcast_to(np.asarray(clv, dtype=float), p.shape)[order]
    cumulative = np.concatenate([[0.0], np.cumsum(gain)])
    cumulative_value = np.concatenate([[0.0], np.cumsum(gain * values)])
    # Customers strictly above t are the first n of the descending order.
    n = np.searchsorted(-sorted_p, -t, side="left")
    saved = cumulative[n] * save_rate
    cost = n * cost_per_contact
    net = cumulative_value[n] * save_rate - cost
    with np.errstate(divide="ignore", invalid="ignore"):
        roi = np.where(cost > 0, net / np.where(cost > 0, cost, 1) * 100.0, np.nan)
    return pd.DataFrame(
        {"threshold": t, "n_targeted": n.astype(float), "customers_saved": saved,
         "net_benefit": net, "roi_pct": roi}
    )  # fmt: skip


@dataclass(frozen=True)
class ThresholdComparison:
    """The configured threshold against the one that earns the most."""

    configured_threshold: float
    configured_net_benefit: float
    best_threshold: float
    best_net_benefit: float
    break_even_probability: float

    @property
    def missed_net_benefit(self) -> float:
        """Dollars the configured threshold leaves on the table."""
        return self.best_net_benefit - self.configured_net_benefit


def compare_thresholds(
    churn_probability: ArrayLike,
    *,
    threshold: float,
    save_rate: float,
    clv: float | ArrayLike,
    cost_per_contact: float,
    y_true: ArrayLike | None = None,
) -> ThresholdComparison:
    """Net benefit at the configured threshold and at the profit-maximising one.

    Every distinct score is a candidate threshold, so the best one is exact,
    not a grid point. With a CLV per customer, the break-even probability is
    that of a customer of average value.

    Examples:
        >>> c = compare_thresholds([0.9, 0.5, 0.1], threshold=0.7, save_rate=0.5,
        ...                        clv=100, cost_per_contact=10)
        >>> c.configured_net_benefit, c.best_threshold, c.best_net_benefit
        (35.0, 0.1, 50.0)
    """
    from roi.campaign import break_even_probability

    p = np.asarray(churn_probability, dtype=float)
    candidates = np.unique(np.concatenate([[0.0, threshold], p]))
    curve = profit_curve(
        p, save_rate=save_rate, clv=clv, cost_per_contact=cost_per_contact,
        y_true=y_true, thresholds=candidates,
    )  # fmt: skip
    best = curve.iloc[int(np.argmax(curve["net_benefit"].to_numpy()))]
    configured = curve.loc[curve["threshold"] == threshold].iloc[0]
    return ThresholdComparison(
        configured_threshold=float(threshold),
        configured_net_benefit=float(configured["net_benefit"]),
        best_threshold=float(best["threshold"]),
        best_net_benefit=float(best["net_benefit"]),
        break_even_probability=break_even_probability(
            save_rate=save_rate,
            clv=float(np.mean(np.asarray(clv, dtype=float))),
            cost_per_contact=cost_per_contact,
        ),
    )


def cumulative_gains(y_true: ArrayLike, churn_probability: ArrayLike) -> pd.DataFrame:
    """Share of all churners captured when targeting the top share of customers.

    Examples:
        >>> cumulative_gains([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]).to_numpy().tolist()
        [[0.0, 0.0], [0.25, 0.5], [0.5, 0.5], [0.75, 1.0], [1.0, 1.0]]
    """
    y = np.asarray(y_true, dtype=float)
    order = np.argsort(-np.asarray(churn_probability, dtype=float), kind="stable")
    captured = np.concatenate([[0.0], np.cumsum(y[order])]) / max(y.sum(), 1.0)
    share = np.arange(len(y) + 1) / max(len(y), 1)
    return pd.DataFrame({"targeted_share": share, "churners_captured": captured})


def qini_curve(
    churned: ArrayLike, treated: ArrayLike, churn_probability: ArrayLike
) -> pd.DataFrame:
    """Uplift (Qini) curve: extra customers kept when treating the top-scored first.

    At each share of customers ranked by score, the Qini value is
    ``control churners × n_t / n_c − treated churners`` — the churners the
    campaign prevented among those targeted so far.

    Examples:
        >>> q = qini_curve([1, 0, 1, 1], [True, True, False, False], [0.9, 0.8, 0.7, 0.6])
        >>> q["qini"].round(2).tolist()
        [0.0, -1.0, -1.0, 1.0, 1.0]
    """
    n_t, n_c, churn_t, churn_c = ranked_counts(churned, treated, churn_probability)
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = np.where(n_c > 0, churn_c * n_t / np.where(n_c > 0, n_c, 1), 0.0)
    n = len(n_t) - 1
    return pd.DataFrame({"targeted_share": np.arange(n + 1) / max(n, 1), "qini": scaled - churn_t})


def ranked_counts(
    churned: ArrayLike, treated: ArrayLike, score: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Among the top k customers by score, for k = 0 … n: treated, control, treated
    churners and control churners (ties keep the input order).

    Examples:
        >>> [c.tolist() for c in ranked_counts([1, 0, 1], [True, False, False], [0.2, 0.9, 0.5])]
        [[0, 0, 0, 1], [0, 1, 2, 2], [0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 1.0, 1.0]]
    """
    y = np.asarray(churned, dtype=float)
    t = np.asarray(treated, dtype=bool)
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
    y, t = y[order], t[order]
    return (
        np.concatenate([[0], np.cumsum(t)]),
        np.concatenate([[0], np.cumsum(~t)]),
        np.concatenate([[0.0], np.cumsum(y * t)]),
        np.concatenate([[0.0], np.cumsum(y * ~t)]),
    )
