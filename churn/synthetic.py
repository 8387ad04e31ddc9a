"""The synthetic customer world: the embedded default data.

Every customer has a persistent latent engagement ``z ~ N(0, 1)``. A snapshot
taken on an ``as_of`` date observes noisy consequences of it:

- ``usage_frequency`` (sessions a week) ~ Gamma(2, 2) × exp(0.5 z);
- ``support_tickets_open`` ~ Poisson(exp(-0.5 - 0.5 z));
- ``sentiment_score`` = tanh(0.6 z + N(0, 0.5)), in (-1, 1);
- days since the last purchase ~ Exponential(mean 12 × exp(-0.6 z));
- ``tenure_months``, ``plan`` (basic / standard / premium) and
  ``monthly_revenue`` (the plan's price with ±10 % noise).

**Ground truth.** The probability that a customer churns within the
prediction horizon depends only on the observed features:

    logit p = -2.2 + 0.7 tickets - 0.7 log1p(usage) - 2.4 sentiment
              + 1.5 log1p(days_since_last_purchase / 30) - 0.6 log1p(tenure / 12)
              + plan effect (basic +0.3, standard 0, premium -0.4)

so a model can learn it (its Bayes AUC is about 0.89; about 17 % churn, 5 %
of customers above 0.7), and more open tickets
never lower the risk. The label ``churned`` is Bernoulli(p). The campaign's
true effect on a customer is a relative reduction of their churn probability,
Beta(5, 3) distributed (mean 0.625, the brief's save rate): a contacted
customer churns with probability ``p × (1 - effect)``.

**Response** (``response``). In the ``independent`` world above the effect
is drawn independently of the features, so no targeting rule can beat risk
ranking. In the ``heterogeneous`` world the effect depends on what the
snapshot observes, and a contact can backfire (Ascarza 2018, "Retention
futility"), by the first rule that applies:

- **lost cause**: no purchase for over 60 days — they have left in all but
  name; effect Beta(1, 19) (mean 0.05);
- **sleeping dog**: 3 or more open support tickets — a retention call reopens
  the grievance; effect −Beta(2, 3) (mean −0.4: they churn with probability
  ``min(1, p × 1.4)`` on average);
- **persuadable** (everyone else): effect Beta(9, 2) (mean 0.82).

Lost causes and sleeping dogs are mostly high-risk customers, so ranking by
risk spends much of the budget where a contact earns nothing or loses. The
truth table's ``response_segment`` also names the **sure things**: those a
contact could keep but who would stay anyway (true churn probability under
0.1). The per-customer draws are their own seed's, so the independent world
is row for row the same whichever response is chosen.

The ground truth (``true_churn_probability``, ``true_treatment_effect``,
``response_segment``) is returned in a separate table, for tests and outcome
simulation; the model never reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

import numpy as np
import pandas as pd

PLANS = ("basic", "standard", "premium")
_PLAN_SHARE = (0.5, 0.35, 0.15)
_PLAN_PRICE = {"basic": 29.0, "standard": 59.0, "premium": 99.0}
_PLAN_EFFECT = {"basic": 0.3, "standard": 0.0, "premium": -0.4}
_MONTH_DAYS = 30.4375
RESPONSES = ("independent", "heterogeneous")
Response = Literal["independent", "heterogeneous"]
PERSUADABLE, SURE_THING, LOST_CAUSE, SLEEPING_DOG = (
    "persuadable", "sure_thing", "lost_cause", "sleeping_dog",
)  # fmt: skip
LOST_CAUSE_DAYS = 60
SLEEPING_DOG_TICKETS = 3
SURE_THING_PROBABILITY = 0.1


@dataclass(frozen=True)
class Drift:
    """Monthly drift of the world: usage falls, tickets rise, sentiment shifts."""

    usage_decline_per_month: float = 0.0
    ticket_growth_per_month: float = 0.0
    sentiment_shift_per_month: float = 0.0


def months_between(start: date, end: date) -> int:
    """Whole months from ``start`` to ``end`` (negative if ``end`` is earlier)."""
    return (end.year - start.year) * 12 + end.month - start.month


@dataclass(frozen=True)
class World:
    """One generated world: the labelled history, the current snapshot, the truth."""

    customers: pd.DataFrame
    current: pd.DataFrame
    truth: pd.DataFrame


def true_churn_probability(customers: pd.DataFrame) -> np.ndarray:
    """The ground-truth churn probability over the horizon, from observed features.

    Args:
        customers: a customer table with the synthetic world's columns.

    Returns:
        One probability per row.

    Examples:
        >>> import pandas as pd
        >>> calm = pd.DataFrame({
        ...     "support_tickets_open": [0, 3], "usage_frequency": [4.0, 4.0],
        ...     "sentiment_score": [0.0, 0.0], "tenure_months": [12, 12],
        ...     "plan": ["standard", "standard"],
        ...     "snapshot_date": pd.to_datetime(["2026-06-30"] * 2),
        ...     "last_purchase_date": pd.to_datetime(["2026-06-15"] * 2)})
        >>> p = true_churn_probability(calm)
        >>> bool(p[1] > p[0])
        True
    """
    days = (customers["snapshot_date"] - customers["last_purchase_date"]).dt.days.to_numpy()
    plan_effect = customers["plan"].map(_PLAN_EFFECT).to_numpy(dtype=float)
    logit = (
        -2.2
        + 0.7 * customers["support_tickets_open"].to_numpy(dtype=float)
        - 0.7 * np.log1p(customers["usage_frequency"].to_numpy(dtype=float))
        - 2.4 * customers["sentiment_score"].to_numpy(dtype=float)
        + 1.5 * np.log1p(days / 30.0)
        - 0.6 * np.log1p(customers["tenure_months"].to_numpy(dtype=float) / 12.0)
        + plan_effect
    )
    return 1.0 / (1.0 + np.exp(-logit))


@dataclass(frozen=True)
class ResponseDraws:
    """Each customer's own draws of the effect, one per segment (fixed for life)."""

    independent: np.ndarray
    persuadable: np.ndarray
    lost_cause: np.ndarray
    sleeping_dog: np.ndarray

    @classmethod
    def draw(cls, n: int, *, seed: int, independent: np.ndarray) -> ResponseDraws:
        """The segment draws from a generator of their own (``[seed, 18]``)."""
        rng = np.random.default_rng([seed, 18])
        return cls(
            independent=independent,
            persuadable=rng.beta(9.0, 2.0, n),
            lost_cause=rng.beta(1.0, 19.0, n),
            sleeping_dog=-rng.beta(2.0, 3.0, n),
        )


def response_segments(customers: pd.DataFrame) -> np.ndarray:
    """Each customer's segment in the heterogeneous world, from the observed features.

    Examples:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({
        ...     "support_tickets_open": [0, 4, 0, 5],
        ...     "snapshot_date": pd.to_datetime(["2026-06-30"] * 4),
        ...     "last_purchase_date": pd.to_datetime(
        ...         ["2026-06-20", "2026-06-20", "2026-03-01", "2026-03-01"])})
        >>> response_segments(frame).tolist()
        ['persuadable', 'sleeping_dog', 'lost_cause', 'lost_cause']
    """
    days = (customers["snapshot_date"] - customers["last_purchase_date"]).dt.days.to_numpy()
    tickets = customers["support_tickets_open"].to_numpy()
    segment = np.full(len(customers), PERSUADABLE, dtype=object)
    segment[tickets >= SLEEPING_DOG_TICKETS] = SLEEPING_DOG
    segment[days > LOST_CAUSE_DAYS] = LOST_CAUSE
    return segment


def treatment_effects(
    customers: pd.DataFrame, draws: ResponseDraws, *, response: Response
) -> tuple[np.ndarray, np.ndarray]:
    """Each customer's true effect (relative reduction of churn) and response segment.

    The segment names the sure things too: a non-negative effect on a customer whose
    true churn probability is under ``SURE_THING_PROBABILITY``.
    """
    p = true_churn_probability(customers)
    if response == "independent":
        effect = draws.independent
        segment = np.full(len(customers), PERSUADABLE, dtype=object)
        segment[p < SURE_THING_PROBABILITY] = SURE_THING
        return effect, segment
    segment = response_segments(customers)
    effect = np.select(
        [segment == LOST_CAUSE, segment == SLEEPING_DOG],
        [draws.lost_cause, draws.sleeping_dog],
        draws.persuadable,
    )
    segment[(segment == PERSUADABLE) & (p < SURE_THING_PROBABILITY)] = SURE_THING
    return effect, segment


def contacted_churn_probability(p: np.ndarray, effect: np.ndarray) -> np.ndarray:
    """The churn probability of a contacted customer: ``p × (1 − effect)``, at most 1.

    Examples:
        >>> contacted_churn_probability(np.array([0.4, 0.8]), np.array([0.625, -0.5])).round(3)
        array([0.15, 1.  ])
    """
    return np.clip(p * (1.0 - effect), 0.0, 1.0)


def _snapshot(
    ids: np.ndarray,
    z: np.ndarray,
    tenure_start: np.ndarray,
    plan: np.ndarray,
    price: np.ndarray,
    *,
    as_of: date,
    rng: np.random.Generator,
    drift: Drift,
    elapsed: int,
) -> pd.DataFrame:
    n = len(ids)
    z_now = z + rng.normal(0.0, 0.3, n) * (elapsed > 0)
    days = np.minimum(rng.exponential(12.0 * np.exp(-0.6 * z_now)), 365.0).astype(np.int64)
    usage_factor = (1.0 - drift.usage_decline_per_month) ** elapsed
    ticket_factor = (1.0 + drift.ticket_growth_per_month) ** elapsed
    sentiment_shift = drift.sentiment_shift_per_month * elapsed
    snapshot = pd.Timestamp(as_of)
    return pd.DataFrame(
        {
            "customer_id": ids,
            "snapshot_date": pd.Series(snapshot, index=range(n)).astype("datetime64[us]"),
            "last_purchase_date": (snapshot - pd.to_timedelta(days, unit="D")).astype(
                "datetime64[us]"
            ),
            "support_tickets_open": rng.poisson(np.exp(-0.5 - 0.5 * z_now) * ticket_factor).astype(
                np.int64
            ),
            "usage_frequency": np.round(
                rng.gamma(2.0, 2.0, n) * np.exp(0.5 * z_now) * usage_factor, 2
            ),
            "sentiment_score": np.round(
                np.tanh(0.6 * z_now + rng.normal(0.0, 0.5, n) + sentiment_shift), 3
            ),
            "tenure_months": (tenure_start + max(elapsed, 0)).astype(np.int64),
            "plan": pd.array(plan, dtype="str"),
            "monthly_revenue": price,
        }
    )


def generate_world(
    n_customers: int,
    *,
    seed: int,
    as_of: date,
    horizon_months: int = 3,
    start: date | None = None,
    drift: Drift | None = None,
    response: Response = "independent",
) -> World:
    """Generate the labelled history and the current snapshot of one customer base.

    The history is observed on ``as_of`` and labelled with churn over the next
    ``horizon_months``; the current snapshot observes the same customers
    ``horizon_months`` later, unlabelled (its outcomes lie in the future).

    Args:
        n_customers: how many customers.
        seed: the random seed; the same seed gives the same world, row for row.
        as_of: the date of the labelled snapshot.
        horizon_months: the prediction horizon.
        start: the world's month 0 (default ``as_of``): snapshots of the same
            customers on later ``as_of`` dates are older and carry ``drift``.
        drift: how the world moves each month after ``start``.
        response: ``independent`` (the campaign's effect ignores the features) or
            ``heterogeneous`` (it depends on them; see the module's docstring).

    Examples:
        >>> from datetime import date
        >>> w = generate_world(200, seed=1, as_of=date(2026, 6, 30))
        >>> len(w.customers), len(w.current), len(w.truth)
        (200, 200, 400)
        >>> set(w.customers["churned"]) <= {0, 1}
        True
    """
    if n_customers < 1:
        raise ValueError(f"n_customers={n_customers} must be at least 1")
    rng = np.random.default_rng(seed)
    ids = np.array([f"C{i:07d}" for i in range(1, n_customers + 1)], dtype=object)
    z = rng.normal(0.0, 1.0, n_customers)
    tenure = np.clip(np.round(rng.gamma(1.5, 14.0, n_customers)), 1, 72).astype(np.int64)
    plan = rng.choice(np.array(PLANS, dtype=object), size=n_customers, p=_PLAN_SHARE)
    base_price = np.array([_PLAN_PRICE[p] for p in plan])
    price = np.round(base_price * rng.lognormal(0.0, 0.1, n_customers), 2)
    draws = ResponseDraws.draw(n_customers, seed=seed, independent=rng.beta(5.0, 3.0, n_customers))
    if response not in RESPONSES:
        raise ValueError(f"response={response!r} should be one of {RESPONSES}")

    drift = drift or Drift()
    elapsed = months_between(start or as_of, as_of)
    if elapsed < 0:
        raise ValueError(f"as_of={as_of} is before the world's start={start}")
    # Each month's observation noise is its own draw; the customer base is the seed's.
    if elapsed:
        rng = np.random.default_rng([seed, elapsed])
    history = _snapshot(
        ids, z, tenure, plan, price, as_of=as_of, rng=rng, drift=drift, elapsed=elapsed
    )
    p_history = true_churn_probability(history)
    history["churned"] = (rng.random(n_customers) < p_history).astype(np.int64)

    later = (pd.Timestamp(as_of) + pd.DateOffset(months=horizon_months)).date()
    current = _snapshot(
        ids,
        z,
        tenure,
        plan,
        price,
        as_of=later,
        rng=rng,
        drift=drift,
        elapsed=elapsed + horizon_months,
    )
    truth = pd.concat([_truth(frame, draws, response) for frame in (history, current)],
                      ignore_index=True)  # fmt: skip
    return World(customers=history, current=current, truth=truth)


def _truth(frame: pd.DataFrame, draws: ResponseDraws, response: Response) -> pd.DataFrame:
    effect, segment = treatment_effects(frame, draws, response=response)
    return pd.DataFrame(
        {
            "customer_id": frame["customer_id"],
            "snapshot_date": frame["snapshot_date"],
            "true_churn_probability": true_churn_probability(frame),
            "true_treatment_effect": effect,
            "response_segment": pd.array(segment, dtype="str"),
        }
    )
