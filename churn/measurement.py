"""Measuring a campaign from its ledger rows: realized ROI and everything said about it.

``measure_campaign`` takes a campaign's treated and control rows with their
outcomes (as the ledger returns them) and gives a :class:`CampaignMeasurement`:
the realized ROI with its interval, or why it cannot be measured; the checks a
reader needs before trusting it (power, sample-ratio split, measurement
window); the full-cost ROI; the champion's AUC on the customers not contacted
(model decay); the Qini curve. ``pooled_metrics`` and ``payback_metrics`` are
the figures across campaigns. Pure functions of frames and settings: the flow
only loads, calls and logs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

import roi
from churn.dataset import VALUE_COLUMN
from churn.evaluate import evaluate_predictions
from churn.holdout import CONTROL, TREATMENT
from churn.settings import Settings


@dataclass(frozen=True)
class CampaignFacts:
    """What the measurement needs to know of a campaign besides its rows."""

    n_flagged: int
    skipped: Sequence[tuple[str, int]]
    control_share: float
    cost_per_contact: float
    window_end: pd.Timestamp
    compute_seconds: float
    expected_roi_pct: float | None = None


@dataclass(frozen=True)
class Decay:
    """The champion's AUC on realized outcomes of the customers it did not contact."""

    metrics: dict[str, float] = field(default_factory=dict)
    warnings: dict[str, str] = field(default_factory=dict)
    decayed: bool = False
    # Why decay was not judged (too few customers), or None.
    note: str | None = None


@dataclass(frozen=True)
class CampaignMeasurement:
    """A campaign's realized figures (``realized`` is None when not measurable)."""

    realized: roi.RealizedROI | None
    not_measurable: str | None
    metrics: dict[str, float]
    warnings: dict[str, str]
    qini: pd.DataFrame | None
    decayed: bool


def not_measurable_reason(rows: pd.DataFrame, facts: CampaignFacts) -> str | None:
    """Why the campaign's realized ROI cannot be measured, or None.

    Examples:
        >>> facts = CampaignFacts(n_flagged=3, skipped=[("cooldown", 3)], control_share=0.1,
        ...     cost_per_contact=50, window_end=pd.Timestamp("2026-09-30"), compute_seconds=1)
        >>> not_measurable_reason(pd.DataFrame({"group": []}), facts)
        'all 3 flagged customers were skipped (3 cooldown), so the campaign contacted and held out nobody.'
    """  # noqa: E501
    groups = rows["group"]
    if rows.empty and facts.n_flagged:
        return (
            f"all {facts.n_flagged:,} flagged customers were skipped ("
            + ", ".join(f"{n:,} {reason}" for reason, n in facts.skipped if n)
            + "), so the campaign contacted and held out nobody."
        )
    if not (groups == CONTROL).any():
        share = facts.control_share
        if share == 0:
            return (
                "the campaign has no control group (control_share was 0), so there is no "
                "counterfactual churn rate. Keep campaign.control_share above 0 (e.g. 0.1)."
            )
        return (
            f"none of its {len(rows)} flagged customers fell in the {share:.0%} control "
            "group, so there is no counterfactual churn rate."
        )
    if not (groups == TREATMENT).any():
        return "the campaign contacted nobody."
    return None


def model_decay(
    scores: pd.DataFrame | None,
    outcomes: pd.DataFrame,
    treated_ids: pd.Series,
    *,
    threshold: float,
    auc_floor: float,
    min_customers: int,
) -> Decay:
    """The champion's AUC on every scored customer with an outcome who was not contacted
    (contacting changes the outcome it predicted); not judged below ``min_customers``
    such customers, or without both outcomes among them."""
    if scores is None:
        return Decay(note="the campaign's scores are not kept here, so decay is not judged")
    untreated = scores.merge(outcomes, on="customer_id")
    untreated = untreated.loc[~untreated["customer_id"].astype(str).isin(treated_ids)]
    if len(untreated) < min_customers or untreated["churned"].nunique() < 2:
        return Decay(
            note=f"too few customers to judge decay: {len(untreated):,} not contacted with an "
            f"outcome (of both kinds), fewer than drift.min_customers = {min_customers:,}"
        )
    auc = evaluate_predictions(
        untreated["churned"].to_numpy(), untreated["churn_probability"].to_numpy(),
        threshold=threshold,
    )["auc"]  # fmt: skip
    warnings = {}
    if auc < auc_floor:
        warnings["decay"] = (
            f"model decay: the champion's AUC on {len(untreated):,} realized outcomes of "
            f"customers not contacted is {auc:.3f}, below the floor {auc_floor:g}"
        )
    metrics = {"realized_auc": auc, "realized_auc_customers": float(len(untreated))}
    return Decay(metrics=metrics, warnings=warnings, decayed=auc < auc_floor)


def drift_to_act_on(
    drift: dict[str, float], *, n_scored: int, psi_threshold: float, min_customers: int
) -> tuple[list[str], str | None]:
    """The features whose PSI is above the threshold, and why none is acted on (too few
    customers scored to judge), or None.

    Examples:
        >>> drift_to_act_on({"a": 0.5, "b": 0.01}, n_scored=5000, psi_threshold=0.2,
        ...                 min_customers=500)
        (['a'], None)
        >>> drift_to_act_on({"a": 0.5}, n_scored=60, psi_threshold=0.2, min_customers=500)[0]
        []
    """
    if n_scored < min_customers:
        return [], (
            f"too few customers to judge drift: {n_scored:,} scored, fewer than "
            f"drift.min_customers = {min_customers:,}"
        )
    return [name for name, value in drift.items() if value > psi_threshold], None


def interval_method(
    configured: str, values: np.ndarray
) -> tuple[Literal["newcombe", "bootstrap"], str | None]:
    """The interval method for these customer values, and a warning when the configured
    one cannot weigh them.

    Newcombe's interval is on the churn-rate difference, priced at the mean value; with
    values that differ, only the bootstrap counts each saved customer at their own.

    Examples:
        >>> interval_method("auto", np.array([1200.0, 1200.0]))
        ('newcombe', None)
        >>> interval_method("auto", np.array([300.0, 2400.0]))
        ('bootstrap', None)
        >>> interval_method("newcombe", np.array([300.0, 2400.0]))[1][:60]
        'customer values differ ($300 to $2,400) but measurement.meth'
    """
    varies = len(values) > 0 and float(np.ptp(values)) > 0
    if configured == "auto":
        return ("bootstrap" if varies else "newcombe"), None
    if configured == "newcombe" and varies:
        return "newcombe", (
            f"customer values differ (${values.min():,.0f} to ${values.max():,.0f}) but "
            "measurement.method is newcombe, which prices every saved customer at the "
            "mean value; set `measurement: {method: auto}` (or bootstrap) to weigh each at "
            "their own"
        )
    return ("bootstrap" if configured == "bootstrap" else "newcombe"), None


def measure_campaign(
    rows: pd.DataFrame,
    facts: CampaignFacts,
    settings: Settings,
    *,
    decay: Decay | None = None,
) -> CampaignMeasurement:
    """Realized ROI with its interval, power and split checks, window check, full cost.

    Args:
        rows: the campaign's treated and control rows with ``churned``,
            ``churn_probability``, ``customer_value`` and ``observed_at``.
        facts: the campaign's record.
        settings: measurement, economics and cost settings.
        decay: the model-decay check, merged into the metrics and warnings.
    """
    decay = decay or Decay()
    reason = not_measurable_reason(rows, facts)
    if reason is not None:
        return CampaignMeasurement(
            realized=None, not_measurable=reason, metrics=dict(decay.metrics),
            warnings=dict(decay.warnings), qini=None, decayed=decay.decayed,
        )  # fmt: skip
    rows = rows.astype({"churned": int})
    treated = rows.loc[rows["group"] == TREATMENT]
    control = rows.loc[rows["group"] == CONTROL]
    m, e = settings.measurement, settings.economics
    values = rows[VALUE_COLUMN]
    method, why = interval_method(m.method, values.to_numpy(dtype=float))
    realized = roi.realized_roi(
        treated["churned"], control["churned"], clv=values[treated.index],
        control_clv=values[control.index], cost_per_contact=facts.cost_per_contact,
        confidence=m.confidence, method=method,
    )  # fmt: skip
    warnings: dict[str, str] = {"interval": why} if why else {}
    base_rate = float(control["churn_probability"].mean())
    mde = roi.minimum_detectable_effect(
        len(treated), len(control), control_churn_rate=min(max(base_rate, 1e-6), 1 - 1e-6),
        power=m.power, alpha=1 - m.confidence,
    )  # fmt: skip
    assumed = base_rate * e.save_rate
    if mde > assumed:
        warnings["power"] = (
            f"groups too small: {len(treated)} treated and {len(control)} control customers "
            f"detect a churn-rate drop of {mde:.1%} at {m.power:.0%} power, but the assumed "
            f"effect is {assumed:.1%}; the interval will be wide"
        )
    share = facts.control_share
    pvalue = roi.split_mismatch_pvalue(len(treated), len(control), control_share=share)
    if pvalue < m.split_alarm_pvalue:
        warnings["split"] = (
            f"sample-ratio mismatch: {len(control) / len(rows):.1%} of customers are in the "
            f"control group, configured {share:.1%} (p = {pvalue:.2g}); the outcomes may be "
            "incomplete or the assignment broken"
        )
    # The ledger holds when each outcome was read (the day it was attached, if undated).
    observed = pd.to_datetime(rows["observed_at"])
    window_end = pd.Timestamp(facts.window_end).normalize()
    early = int((observed < window_end).sum())
    if early:
        warnings["window"] = (
            f"measured too early: {early} outcomes were read before the {m.window_months}-month "
            f"window ended on {window_end:%Y-%m-%d}; the value is underestimated"
        )
    full = roi.full_cost_roi(
        realized.revenue_saved, realized.campaign_cost,
        compute_seconds=facts.compute_seconds,
        price_per_hour=settings.costs.compute_price_per_hour,
        fixed_cost=settings.costs.fixed_per_campaign,
    )  # fmt: skip
    metrics = (
        realized.as_metrics()
        | full.as_metrics(prefix="realized_full_cost_")
        | {
            "minimum_detectable_effect": mde,
            "assumed_effect": assumed,
            "split_pvalue": pvalue,
            "observed_control_share": len(control) / len(rows),
        }
    )
    if realized.roi_pct is not None and facts.expected_roi_pct is not None:
        metrics["realized_minus_expected_roi_pct"] = realized.roi_pct - facts.expected_roi_pct
    metrics |= decay.metrics
    warnings |= decay.warnings
    qini = roi.qini_curve(rows["churned"], rows["group"] == TREATMENT, rows["churn_probability"])
    return CampaignMeasurement(
        realized=realized,
        not_measurable=None,
        metrics={k: v for k, v in metrics.items() if math.isfinite(v)},
        warnings=warnings,
        qini=qini,
        decayed=decay.decayed,
    )


def pooled_metrics(
    rows: pd.DataFrame, *, cost_per_contact: float, confidence: float
) -> dict[str, float]:
    """``pooled_realized_*`` of campaigns' treated and control rows (with outcomes);
    empty when no campaign can be pooled."""
    campaigns = [
        roi.CampaignOutcomes(
            treated_churned=r.loc[r["group"] == TREATMENT, "churned"].astype(int).to_numpy(),
            control_churned=r.loc[r["group"] == CONTROL, "churned"].astype(int).to_numpy(),
            treated_clv=r.loc[r["group"] == TREATMENT, VALUE_COLUMN].to_numpy(dtype=float),
        )
        for _, r in rows.groupby("campaign_id", sort=True)
        if r["churned"].notna().all()
    ]
    if not campaigns:
        return {}
    try:
        pooled = roi.pooled_realized_roi(
            campaigns, cost_per_contact=cost_per_contact, confidence=confidence
        )
    except ValueError:
        return {}
    used = sum(c.measurable for c in campaigns)
    return pooled.as_metrics(prefix="pooled_realized_") | {"pooled_campaigns": float(used)}


def payback_metrics(settings: Settings, net_benefits: Sequence[float]) -> dict[str, float]:
    """Cumulative net benefit over the measured campaigns (each once), after fixed
    costs, and the month it turns positive.

    Examples:
        >>> from churn.settings import Settings
        >>> s = Settings()
        >>> payback_metrics(s, [])["cumulative_net_benefit"]
        0.0
        >>> payback_metrics(s, [10_000.0])["payback_month"]
        1.0
    """
    costs = settings.costs
    timeline = roi.payback(
        list(net_benefits),
        fixed_cost_per_month=costs.fixed_per_campaign,
        upfront_cost=costs.upfront_development,
    )
    metrics = {
        "campaigns_measured": float(len(net_benefits)),
        "cumulative_net_benefit": float(timeline["cumulative"].iloc[-1]) if net_benefits else 0.0,
    }
    reached = roi.payback_month(timeline)
    if reached is not None:
        # The timeline counts campaigns; months follow from how many run a month.
        metrics["payback_month"] = float(math.ceil(reached / costs.campaigns_per_month))
    return metrics
