"""Judging an uplift ranking and a targeting policy on randomized experiments.

The data are the customers of campaigns with a random control group: each one
``treated`` or not, with a known chance of being treated (``propensity``, one
minus the campaign's control share), whether they ``churned`` over the window,
and their value in dollars. Nothing here fits a model: these functions judge
scores and selections, like ``sklearn.metrics``.

- **Qini coefficient** and **AUUC** measure how well a score ranks the
  customers a contact keeps (``qini_coefficient``, ``auuc``); both are noisy, so
  ``evaluate_uplift`` gives bootstrap intervals.
- **Incremental profit** of contacting a set of customers is estimated without
  a model, by inverse propensity weighting: a control customer who churned
  counts ``value ÷ (1 − propensity)`` of churn a contact could have prevented, a
  treated one who churned ``value ÷ propensity`` of churn it did not
  (``incremental_values``); their sum over the set, minus the contacts' cost,
  is unbiased whatever the campaigns' shares were.
- **The gate** (``compare_policies``) compares two selections of the same
  experimental customers at the same contact budget, with a paired bootstrap
  over those customers: a new policy replaces the current one only when the
  interval of its extra profit lies above zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from roi.curves import qini_curve, ranked_counts


def qini_coefficient(qini: pd.DataFrame) -> float | None:
    """Area between a Qini curve and the random-order line, the curve scaled to end at ±1.

    The normalisation of causalml's ``qini_score``: the curve is divided by the
    size of its end value (the customers kept by contacting everyone), so the
    coefficient does not grow with the campaign; the area is by the trapezoid rule.
    0 is a random order; above 0, contacting by score first keeps more customers.

    Args:
        qini: ``targeted_share, qini`` rows from 0 to 1 (``roi.qini_curve``).

    Returns:
        The coefficient, or None when contacting everyone kept nobody (an end
        value of 0 leaves nothing to scale by).

    Examples:
        Contacting the top-scored half keeps two customers and the other half none,
        where a random half would keep one:

        >>> halves = pd.DataFrame({"targeted_share": [0, 0.5, 1], "qini": [0, 2, 2]})
        >>> qini_coefficient(halves)
        0.25
        >>> qini_coefficient(halves.assign(qini=[0, 1, 2]))
        0.0
        >>> qini_coefficient(halves.assign(qini=[0, 1, 0])) is None
        True
    """
    share = qini["targeted_share"].to_numpy(dtype=float)
    kept = qini["qini"].to_numpy(dtype=float)
    end = kept[-1]
    if end == 0:
        return None
    above_random = kept / abs(end) - share * np.sign(end)
    return float(np.trapezoid(above_random, share))


def uplift_gain_curve(churned: ArrayLike, treated: ArrayLike, score: ArrayLike) -> pd.DataFrame:
    """Cumulative gain: customers kept among the top-scored, from the two groups' rates.

    At the top ``k`` customers by score, the gain is ``(control churn rate − treated
    churn rate) × k``, each rate over the top ``k`` of its group (0 until both
    groups have someone).

    Examples:
        >>> g = uplift_gain_curve([1, 0, 0, 0], [False, True, False, True], [0.9, 0.8, 0.2, 0.1])
        >>> g["gain"].round(2).tolist()
        [0.0, 0.0, 2.0, 1.5, 2.0]
    """
    n_t, n_c, churn_t, churn_c = ranked_counts(churned, treated, score)
    both = (n_t > 0) & (n_c > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate_gap = np.where(both, churn_c / np.maximum(n_c, 1) - churn_t / np.maximum(n_t, 1), 0.0)
    k = np.arange(len(n_t))
    return pd.DataFrame({"targeted_share": k / max(len(k) - 1, 1), "gain": rate_gap * k})


def auuc(churned: ArrayLike, treated: ArrayLike, score: ArrayLike) -> float | None:
    """Area under the uplift (cumulative gain) curve, the curve scaled to end at 1.

    0.5 is a random order (the straight line to the end); higher is better. None
    when contacting everyone keeps nobody (nothing to scale by).

    Examples:
        >>> auuc([1, 0, 0, 0], [False, True, False, True], [0.9, 0.8, 0.2, 0.1])
        0.5625
    """
    curve = uplift_gain_curve(churned, treated, score)
    gain = curve["gain"].to_numpy()
    end = gain[-1]
    if end <= 0:
        return None
    return float(np.trapezoid(gain / end, curve["targeted_share"].to_numpy()))


def incremental_values(
    churned: ArrayLike, treated: ArrayLike, propensity: ArrayLike, value: ArrayLike
) -> np.ndarray:
    """Each customer's inverse-propensity-weighted share of the churn value a contact prevents.

    Summed over any set chosen without looking at the outcomes, this estimates the
    value the campaign's contacts kept in that set (unbiased under the random split).

    Examples:
        >>> incremental_values([1, 1, 0], [False, True, True], [0.5, 0.5, 0.5],
        ...                    [100.0, 100.0, 100.0]).tolist()
        [200.0, -200.0, 0.0]
    """
    y = np.asarray(churned, dtype=float)
    t = np.asarray(treated, dtype=bool)
    e = np.asarray(propensity, dtype=float)
    if np.any((e <= 0) | (e >= 1)):
        raise ValueError("every propensity must lie strictly between 0 and 1")
    v = np.asarray(value, dtype=float)
    return v * np.where(t, -y / e, y / (1.0 - e)) + 0.0  # + 0.0: no negative zeros


def select_within_budget(
    score: ArrayLike,
    *,
    budget: float,
    weights: ArrayLike | None = None,
    positive_only: bool = False,
) -> np.ndarray:
    """The best-scored customers whose weights add up to at most ``budget``.

    ``weights`` count how many customers of the population each one stands for
    (1 for a census, ``1 ÷ share`` for a random sample). With ``positive_only``, a
    customer whose score is not above 0 is never chosen.

    Examples:
        >>> select_within_budget([0.9, -1.0, 0.5, 0.7], budget=2).tolist()
        [True, False, False, True]
        >>> select_within_budget([0.9, -1.0, 0.5], budget=3, positive_only=True).tolist()
        [True, False, True]
    """
    s = np.asarray(score, dtype=float)
    w = np.ones(len(s)) if weights is None else np.asarray(weights, dtype=float)
    order = np.argsort(-s, kind="stable")
    within = np.cumsum(w[order]) <= budget + 1e-9
    if positive_only:
        within &= s[order] > 0
    chosen = np.zeros(len(s), dtype=bool)
    chosen[order[within]] = True
    return chosen


def policy_profit(
    chosen: ArrayLike,
    increments: ArrayLike,
    *,
    cost_per_contact: float,
    weights: ArrayLike | None = None,
) -> float:
    """Estimated incremental profit of contacting the chosen: Σ weight × (increment − cost).

    Examples:
        >>> policy_profit([True, False, True], [200.0, 500.0, 0.0], cost_per_contact=50)
        100.0
    """
    c = np.asarray(chosen, dtype=bool)
    inc = np.asarray(increments, dtype=float)
    w = np.ones(len(inc)) if weights is None else np.asarray(weights, dtype=float)
    return float(np.sum(w[c] * (inc[c] - cost_per_contact)))


@dataclass(frozen=True)
class UpliftEvaluation:
    """How well a score ranks who a contact keeps, on customers its models never saw.

    Attributes:
        qini: the Qini coefficient (``qini_coefficient``); None when nobody was kept.
        qini_ci: its bootstrap interval.
        auuc: the area under the uplift curve (``auuc``); 0.5 is random order, and it
            exceeds 1 when the top-ranked keep more customers than contacting everyone
            does (the last-ranked are sleeping dogs).
        auuc_ci: its bootstrap interval.
        n_treated: treated customers judged on.
        n_control: control customers judged on.
        confidence: of the intervals.
    """

    qini: float | None
    qini_ci: tuple[float, float] | None
    auuc: float | None
    auuc_ci: tuple[float, float] | None
    n_treated: int
    n_control: int
    confidence: float

    def as_metrics(self, prefix: str = "") -> dict[str, float]:
        """``qini``, ``qini_low``, ``qini_high``, ``auuc``, … for MLflow (None left out)."""
        out: dict[str, float] = {
            f"{prefix}n_treated": float(self.n_treated),
            f"{prefix}n_control": float(self.n_control),
        }
        judged = (("qini", self.qini, self.qini_ci), ("auuc", self.auuc, self.auuc_ci))
        for name, point, ci in judged:
            if point is not None:
                out[f"{prefix}{name}"] = point
            if ci is not None:
                out[f"{prefix}{name}_low"], out[f"{prefix}{name}_high"] = ci
        return out


def _stratified_resample(treated: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Row indices of a bootstrap sample that keeps each group's size."""
    parts = []
    for members in (np.flatnonzero(treated), np.flatnonzero(~treated)):
        parts.append(rng.choice(members, size=len(members), replace=True))
    return np.concatenate(parts)


def _interval(draws: list[float], confidence: float) -> tuple[float, float] | None:
    kept = np.asarray([d for d in draws if d is not None and np.isfinite(d)], dtype=float)
    if len(kept) < 0.9 * len(draws) or not len(draws):
        return None
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(kept, [tail, 100.0 - tail])
    return float(low), float(high)


def evaluate_uplift(
    churned: ArrayLike,
    treated: ArrayLike,
    score: ArrayLike,
    *,
    confidence: float = 0.95,
    n_bootstrap: int = 200,
    seed: int = 0,
) -> UpliftEvaluation:
    """Qini coefficient and AUUC of ``score`` with stratified bootstrap intervals.

    Args:
        churned: 1 if the customer churned over the window.
        treated: True if contacted, False if held out.
        score: the uplift score (higher: a contact keeps them more likely).
        confidence: of the percentile intervals.
        n_bootstrap: resamples (each keeps the two groups' sizes).
        seed: of the resampling.

    Raises:
        ValueError: a group is empty.
    """
    y = np.asarray(churned, dtype=float)
    t = np.asarray(treated, dtype=bool)
    s = np.asarray(score, dtype=float)
    if t.all() or not t.any():
        raise ValueError("judging an uplift score needs treated and control customers")

    def both(rows: np.ndarray) -> tuple[float | None, float | None]:
        return (
            qini_coefficient(qini_curve(y[rows], t[rows], s[rows])),
            auuc(y[rows], t[rows], s[rows]),
        )

    qini, area = both(np.arange(len(y)))
    rng = np.random.default_rng(seed)
    draws = [both(_stratified_resample(t, rng)) for _ in range(n_bootstrap)]
    return UpliftEvaluation(
        qini=qini,
        qini_ci=_interval([d[0] for d in draws], confidence),  # type: ignore[misc]
        auuc=area,
        auuc_ci=_interval([d[1] for d in draws], confidence),  # type: ignore[misc]
        n_treated=int(t.sum()),
        n_control=int((~t).sum()),
        confidence=confidence,
    )


@dataclass(frozen=True)
class PolicyComparison:
    """Two targeting policies on the same experimental customers, at one budget.

    Attributes:
        current_profit: the current policy's estimated incremental profit, dollars.
        candidate_profit: the candidate's.
        difference: candidate minus current.
        difference_ci: paired bootstrap interval of the difference.
        budget: contacts allowed: the current policy's (customers of the population,
            weights summed).
        candidate_contacts: the candidate's.
        confidence: of the interval.
    """

    current_profit: float
    candidate_profit: float
    difference: float
    difference_ci: tuple[float, float]
    budget: float
    candidate_contacts: float
    confidence: float

    @property
    def switch(self) -> bool:
        """True when the candidate earns more with the whole interval above zero."""
        return self.difference_ci[0] > 0

    def reason(self, current: str = "risk", candidate: str = "uplift") -> str:
        """One sentence for people: which policy, and why.

        Examples:
            >>> c = PolicyComparison(1000.0, 900.0, -100.0, (-250.0, 40.0), 10.0, 9.0, 0.95)
            >>> c.reason()[:67]
            'kept risk targeting: uplift targeting earns -$100 (95% interval -$2'
        """

        def usd(amount: float) -> str:
            return f"{'-' if amount < 0 else ''}${abs(amount):,.0f}"

        low, high = self.difference_ci
        gap = f"{usd(self.difference)} ({self.confidence:.0%} interval {usd(low)} to {usd(high)})"
        if self.switch:
            return (
                f"{candidate} targeting earns {gap} more than {current} targeting at "
                f"{self.budget:,.0f} contacts, on the campaigns' experiments"
            )
        return (
            f"kept {current} targeting: {candidate} targeting earns {gap} more than {current} "
            f"targeting at {self.budget:,.0f} contacts, an interval that does not lie above zero"
        )

    def as_metrics(self, prefix: str = "") -> dict[str, float]:
        """The profits, the difference and its interval, for MLflow."""
        return {
            f"{prefix}current_profit": self.current_profit,
            f"{prefix}candidate_profit": self.candidate_profit,
            f"{prefix}profit_difference": self.difference,
            f"{prefix}profit_difference_low": self.difference_ci[0],
            f"{prefix}profit_difference_high": self.difference_ci[1],
            f"{prefix}budget": self.budget,
            f"{prefix}switch": float(self.switch),
        }


def compare_policies(
    current: ArrayLike,
    candidate: ArrayLike,
    increments: ArrayLike,
    *,
    cost_per_contact: float,
    weights: ArrayLike | None = None,
    confidence: float = 0.95,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> PolicyComparison:
    """The candidate selection's extra profit over the current one, with a paired interval.

    Both selections are of the same customers (chosen before looking at outcomes);
    each bootstrap resample draws customers with replacement and prices both
    selections on that same resample, so what the customers share cancels out.

    Args:
        current: True where the current policy contacts.
        candidate: True where the candidate contacts.
        increments: ``incremental_values`` of the customers.
        cost_per_contact: dollars per contact.
        weights: how many population customers each stands for (default 1).
        confidence: of the interval.
        n_bootstrap: resamples.
        seed: of the resampling.

    Examples:
        >>> inc = np.array([400.0, 0.0, 300.0, -100.0] * 50)
        >>> c = compare_policies(np.tile([True, True, False, False], 50),
        ...                      np.tile([True, False, True, False], 50), inc,
        ...                      cost_per_contact=50, n_bootstrap=200)
        >>> c.difference, c.switch
        (15000.0, True)
    """
    cur = np.asarray(current, dtype=bool)
    cand = np.asarray(candidate, dtype=bool)
    inc = np.asarray(increments, dtype=float)
    w = np.ones(len(inc)) if weights is None else np.asarray(weights, dtype=float)
    gain = w * (inc - cost_per_contact)
    per_customer = gain * cand - gain * cur
    rng = np.random.default_rng(seed)
    n = len(inc)
    draws = np.empty(n_bootstrap)
    for b in range(n_bootstrap):
        draws[b] = per_customer[rng.integers(0, n, n)].sum()
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(draws, [tail, 100.0 - tail])
    current_profit = float(gain[cur].sum())
    candidate_profit = float(gain[cand].sum())
    return PolicyComparison(
        current_profit=current_profit,
        candidate_profit=candidate_profit,
        difference=candidate_profit - current_profit,
        difference_ci=(float(low), float(high)),
        budget=float(w[cur].sum()),
        candidate_contacts=float(w[cand].sum()),
        confidence=confidence,
    )
