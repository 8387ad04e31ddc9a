"""EMPC: the expected maximum profit of a churn model.

Verbraken, Verbeke & Baesens (2013), IEEE Transactions on Knowledge and Data Engineering
25(5), 961–973.

A retention campaign contacts the customers a model ranks highest. A contacted churner
accepts the offer with probability γ (the accept rate) and is then kept, worth ``clv``;
every contact costs ``cost_per_contact`` and every accepted offer ``incentive_cost``.
The best share of customers to target depends on γ, which is uncertain: γ ~ Beta(α, β).
EMPC is the profit at the best targeting, averaged over γ — the campaign a model makes
possible, in dollars per customer scored.

Same names as the rest of ``roi``: ``value`` is in dollars (per customer scored) and
``*_rate`` is a share in [0, 1]. Churn is 1 (churned) and 0 (stayed).

This is the paper's closed form, and gives the numbers of ``empulse.metrics.empc_score``
and ``empc_score.optimal_rate`` without importing sympy. For accept rate γ, targeting the
customers down to ROC point (F₁, F₀) — false and true positive rates — earns, per customer,

    P(γ) = π₀ F₀ (γ (clv − incentive_cost) − cost_per_contact)
           − π₁ F₁ (incentive_cost + cost_per_contact),

π₀ and π₁ being the shares of churners and stayers. P is linear in (F₁, F₀), so the best
point is a vertex of the ROC convex hull, and it moves up the hull as γ grows: vertex m is
best between the accept rates γₘ₋₁ and γₘ at which it ties with its neighbours. Each of
those stretches integrates in closed form against the Beta density through the regularized
incomplete beta function: ∫ dF(γ) = I(γ; α, β) and ∫ γ dF(γ) = α/(α+β) · I(γ; α+1, β).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True)
class EMPC:
    """The expected maximum profit of a churn model and the targeting that earns it.

    Attributes:
        value: the profit at the best targeting, averaged over the accept rate, in
            dollars per customer scored (``empulse``'s ``empc_score``).
        target_rate: the share of customers targeted at the best targeting, averaged over
            the accept rate (``empulse``'s ``empc_score.optimal_rate``).
    """

    value: float
    target_rate: float


def expected_max_profit(
    y_true: ArrayLike,
    y_score: ArrayLike,
    *,
    clv: float,
    cost_per_contact: float,
    alpha: float,
    beta: float,
    incentive_cost: float = 0.0,
) -> EMPC:
    """EMPC and the share of customers to target, for accept rate γ ~ Beta(alpha, beta).

    Only the ranking of ``y_score`` matters. Customers with equal scores are targeted
    together or not at all, so a tie is one point of the ROC curve.

    Args:
        y_true: 1 for customers who churned, 0 for those who stayed.
        y_score: one score per customer, higher meaning more likely to churn.
        clv: customer lifetime value of a kept churner, dollars.
        cost_per_contact: dollars per contacted customer.
        alpha: first shape parameter of the accept rate's Beta distribution.
        beta: second shape parameter; the mean accept rate is alpha ÷ (alpha + beta).
        incentive_cost: dollars per accepted offer (default 0: the offer costs nothing
            beyond the contact).

    Returns:
        The EMPC ``value`` and ``target_rate``.

    Raises:
        ValueError: for inputs of different lengths, labels other than 0 and 1, a single
            class, scores that are not finite, a non-positive ``clv``, ``alpha`` or
            ``beta``, or a negative cost.

    Examples:
        The domain brief's reference example, as a model that flags all 1,000 customers:
        400 would churn, the campaign keeps 62.5 % of them (γ ~ Beta(62.5, 37.5) is all
        but certain to be near 0.625), CLV $1,200, $50 a contact. Per customer scored:
        0.4 × (0.625 × 1200 − 50) − 0.6 × 50 = $250, that is $250,000 net benefit on
        $50,000 of contacts, a 500 % ROI; and everyone is targeted.

        >>> y = [1] * 400 + [0] * 600
        >>> e = expected_max_profit(y, [0.5] * 1000, clv=1200, cost_per_contact=50,
        ...                         alpha=62.5, beta=37.5)
        >>> round(e.value, 6), e.target_rate
        (250.0, 1.0)

        A perfect ranking of one churner in four, γ uniform (Beta(1, 1)), CLV $100, $10 a
        contact: the churner is worth targeting when 100 γ > 10, which happens with
        probability 0.9, and then earns 100 γ − 10. Per customer scored:
        ¼ × ∫₀.₁¹ (100 γ − 10) dγ = ¼ × 100 × 0.9² ÷ 2 = $10.125, targeting ¼ × 0.9.

        >>> e = expected_max_profit([1, 0, 0, 0], [0.9, 0.4, 0.3, 0.1], clv=100,
        ...                         cost_per_contact=10, alpha=1, beta=1)
        >>> round(e.value, 9), round(e.target_rate, 9)
        (10.125, 0.225)
    """
    from scipy.special import betainc

    churned, score = _check_labels_and_scores(y_true, y_score)
    for name, value in (("clv", clv), ("alpha", alpha), ("beta", beta)):
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name}={value} should be a positive number")
    for name, value in (("cost_per_contact", cost_per_contact), ("incentive_cost", incentive_cost)):
        if not (np.isfinite(value) and value >= 0):
            raise ValueError(f"{name}={value} must not be negative")
    if incentive_cost >= clv:
        # An offer that costs at least what the churner is worth never pays, whatever γ:
        # targeting nobody is best.
        return EMPC(value=0.0, target_rate=0.0)

    n_stayed, n_churned = _roc_convex_hull(churned, score)
    churn_share = float(np.mean(churned))
    stay_share = 1.0 - churn_share
    tpr = n_churned / n_churned[-1]
    fpr = n_stayed / n_stayed[-1]

    # P_m(γ) = slope_m γ + intercept_m at hull vertex m.
    slope = churn_share * (clv - incentive_cost) * tpr
    intercept = (
        -churn_share * cost_per_contact * tpr
        - stay_share * (incentive_cost + cost_per_contact) * fpr
    )
    # Vertex m + 1 beats vertex m above the accept rate where their profits cross. The
    # last hull edge may be flat at TPR 1 (more stayers, no more churners): it never
    # earns more, so its crossing is at infinity (on a tie, when contacts are free,
    # empulse keeps the earlier vertex too).
    rise = np.diff(slope)
    with np.errstate(divide="ignore", invalid="ignore"):
        crossing = np.where(rise > 0, -np.diff(intercept) / np.where(rise > 0, rise, 1.0), np.inf)
    # Due to rounding, crossings of nearly parallel edges can come out of order by an ulp;
    # the running maximum keeps every stretch of γ non-negative.
    edges = np.maximum.accumulate(np.concatenate([[0.0], np.clip(crossing, 0.0, 1.0), [1.0]]))

    probability = np.diff(betainc(alpha, beta, edges))
    partial_mean = alpha / (alpha + beta) * np.diff(betainc(alpha + 1.0, beta, edges))
    value = float(np.sum(intercept * probability + slope * partial_mean))
    target_rate = float(np.sum((churn_share * tpr + stay_share * fpr) * probability))
    return EMPC(value=value, target_rate=target_rate)


def _check_labels_and_scores(
    y_true: ArrayLike, y_score: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """Labels as booleans (True for churned) and scores as floats, or a ValueError."""
    labels = np.asarray(y_true)
    score = np.asarray(y_score, dtype=float)
    if labels.ndim != 1 or labels.shape != score.shape:
        raise ValueError(
            f"y_true has shape {labels.shape} but y_score has shape {score.shape}; "
            "both should be one value per customer"
        )
    is_label = (labels == 0) | (labels == 1)
    if not is_label.all():
        bad = np.unique(labels[~is_label])[:5].tolist()
        raise ValueError(f"y_true holds {bad}; it should hold only 1 (churned) and 0 (stayed)")
    churned = labels.astype(bool)
    n_churned = int(churned.sum())
    if n_churned in (0, len(churned)):
        raise ValueError(
            f"y_true has {n_churned} churners among {len(churned)} customers; "
            "EMPC needs both churners and stayers"
        )
    not_finite = ~np.isfinite(score)
    if not_finite.any():
        raise ValueError(
            f"y_score has {int(not_finite.sum())} values that are NaN or infinite, "
            f"first at position {int(np.argmax(not_finite))}"
        )
    return churned, score


def _roc_convex_hull(churned: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertices of the ROC convex hull as counts: (stayers, churners) targeted at each.

    The ROC curve has one point per distinct score (ties are targeted together), from
    targeting nobody, (0, 0), to everyone. Its upper hull keeps only strict vertices: a
    point on the straight line between two others is dropped, as ``empulse`` does. Turns
    are tested on integer counts, so the test is exact for any number of customers.
    """
    # Highest score first; the order within a tie does not matter, as a tie is one point.
    order = np.argsort(score)[::-1]
    ranked = score[order]
    last_of_tie = np.flatnonzero(np.concatenate([ranked[1:] != ranked[:-1], [True]]))
    tp = np.concatenate([[0], np.cumsum(churned[order], dtype=np.int64)[last_of_tie]])
    fp = np.concatenate([[0], last_of_tie + 1 - tp[1:]])

    # A point on or below the chord of its two neighbours is no hull vertex, so all such
    # points can go at once. On ROC curves each round removes about half of them; when
    # rounds stop paying, a monotone chain finishes the job in one pass (no quadratic case).
    x, y = fp, tp
    while len(x) > 2:
        dx, dy = np.diff(x), np.diff(y)
        convex = np.concatenate([[True], dx[:-1] * dy[1:] < dy[:-1] * dx[1:], [True]])
        n_removed = len(x) - int(convex.sum())
        x, y = x[convex], y[convex]
        if n_removed * 4 < len(x):
            break

    hull: list[tuple[int, int]] = []
    for point in zip(x.tolist(), y.tolist(), strict=True):
        while len(hull) >= 2:
            (ox, oy), (ax, ay) = hull[-2], hull[-1]
            if (ax - ox) * (point[1] - oy) < (ay - oy) * (point[0] - ox):
                break
            hull.pop()
        hull.append(point)
    n_stayed, n_churned = np.array(hull, dtype=np.int64).T
    return n_stayed, n_churned
