"""The realized-ROI flow: observed outcomes → the ledger → ROI with intervals.

Outcomes are attached to the campaign's ledger rows (checked first: nothing is
written from a bad file), the campaign is measured from the ledger, pooled with
the other measured campaigns of its policy, and logged into the campaign's own
scoring run, so the MLflow UI shows each campaign's expected and realized ROI
side by side. Cumulative figures and payback count each campaign once.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow
from prefect.artifacts import create_markdown_artifact

import roi
from churn.data import load_outcomes
from churn.dataset import VALUE_COLUMN
from churn.errors import NotMeasurableError
from churn.evaluate import evaluate_predictions
from churn.holdout import CONTROL, TREATMENT
from churn.ledger import Ledger, Measurement, check_campaign_id
from churn.plots import to_png, uplift_figure
from churn.settings import Settings
from flows import tracking
from flows.score import campaign_dir, trigger_retrain
from flows.tasks import compute_task, read_task, write_task


@read_task
def load_campaign(settings: Settings, campaign_id: str) -> dict[str, Any]:
    with Ledger.open(settings.ledger.url, must_exist=True) as ledger:
        record = ledger.campaign(check_campaign_id(campaign_id))
    client = tracking.client_for(settings.tracking)
    run_id = record.mlflow_run_id
    if run_id is None:
        run_id = tracking.find_campaign_run(client, settings.tracking, campaign_id).info.run_id
    scores_path = campaign_dir(settings, campaign_id) / "scores.parquet"
    return {
        "record": record,
        # Every scored customer's probability, for decay; kept locally, not in MLflow.
        "scores": pd.read_parquet(scores_path) if scores_path.exists() else None,
        "run_id": run_id,
        "scored_at": pd.Timestamp(record.scored_at, tz="UTC"),
        "expected_roi_pct": tracking.run_metrics(client, run_id).get("expected_roi_pct"),
        # The scoring run's compute already holds the training charge, once.
        "compute_seconds": record.compute_seconds or 0.0,
        "control_share": record.control_share,
    }


@read_task
def load_campaign_outcomes(path: Path, settings: Settings) -> pd.DataFrame:
    return load_outcomes(path, dataset=settings.dataset)


@write_task
def attach_outcomes(
    settings: Settings, campaign: dict[str, Any], outcomes: pd.DataFrame, source: Path
) -> pd.DataFrame:
    """Attach the outcomes to the campaign's ledger rows (idempotent); return its
    treated and control rows with their outcomes."""
    record = campaign["record"]
    scores = campaign["scores"]
    known = None if scores is None else scores["customer_id"].astype(str).tolist()
    with Ledger.open(settings.ledger.url) as ledger:
        changed = ledger.attach_outcomes(
            record.campaign_id, outcomes, source=source, known_ids=known
        )
        rows = ledger.contacts(record.campaign_id, groups=[TREATMENT, CONTROL])
    print(f"Campaign {record.campaign_id}: {changed:,} new outcomes attached in the ledger.")
    return rows


@compute_task
def measure_campaign(
    campaign: dict[str, Any], joined: pd.DataFrame, outcomes: pd.DataFrame, settings: Settings
) -> dict[str, Any]:
    """Realized ROI with its interval, power and split checks, full cost, uplift plot."""
    joined = joined.astype({"churned": int})
    treated = joined.loc[joined["group"] == TREATMENT]
    control = joined.loc[joined["group"] == CONTROL]
    treated_ids = joined.loc[joined["group"] == TREATMENT, "customer_id"]
    decay = _decay(campaign, outcomes, treated_ids, settings)
    not_measurable = None
    record = campaign["record"]
    if joined.empty and record.n_flagged:
        not_measurable = (
            f"all {record.n_flagged:,} flagged customers were skipped ("
            + ", ".join(f"{n:,} {reason}" for reason, n in record.skipped if n)
            + "), so the campaign contacted and held out nobody."
        )
    elif control.empty:
        share = campaign["control_share"]
        not_measurable = (
            "the campaign has no control group (control_share was 0), so there is no "
            "counterfactual churn rate. Keep campaign.control_share above 0 (e.g. 0.1)."
            if share == 0
            else f"none of its {len(joined)} flagged customers fell in the {share:.0%} control "
            "group, so there is no counterfactual churn rate."
        )
    elif treated.empty:
        not_measurable = "the campaign contacted nobody."
    if not_measurable is not None:
        return {"realized": None, "not_measurable": not_measurable, "figure": None,
                **decay}  # fmt: skip
    m, e = settings.measurement, settings.economics
    values = joined[VALUE_COLUMN]
    realized = roi.realized_roi(
        treated["churned"], control["churned"], clv=values[treated.index],
        control_clv=values[control.index], cost_per_contact=record.cost_per_contact,
        confidence=m.confidence, method=m.method,
    )  # fmt: skip
    warnings: dict[str, str] = {}
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
    share = campaign["control_share"]
    pvalue = roi.split_mismatch_pvalue(len(treated), len(control), control_share=share)
    if pvalue < m.split_alarm_pvalue:
        warnings["split"] = (
            f"sample-ratio mismatch: {len(control) / len(joined):.1%} of customers are in the "
            f"control group, configured {share:.1%} (p = {pvalue:.2g}); the outcomes may be "
            "incomplete or the assignment broken"
        )
    # The ledger holds when each outcome was read (the day it was attached, if undated).
    observed = pd.to_datetime(joined["observed_at"])
    window_end = pd.Timestamp(campaign["record"].window_end).normalize()
    early = int((observed < window_end).sum())
    if early:
        warnings["window"] = (
            f"measured too early: {early} outcomes were read before the {m.window_months}-month "
            f"window ended on {window_end:%Y-%m-%d}; the value is underestimated"
        )
    full = roi.full_cost_roi(
        realized.revenue_saved, realized.campaign_cost,
        compute_seconds=campaign["compute_seconds"],
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
            "observed_control_share": len(control) / len(joined),
        }
    )
    if realized.roi_pct is not None and campaign["expected_roi_pct"] is not None:
        metrics["realized_minus_expected_roi_pct"] = realized.roi_pct - campaign["expected_roi_pct"]
    metrics |= decay["metrics"]
    warnings |= decay["warnings"]
    qini = roi.qini_curve(joined["churned"], joined["group"] == TREATMENT,
                          joined["churn_probability"])  # fmt: skip
    return {
        "realized": realized,
        "not_measurable": None,
        "metrics": {k: v for k, v in metrics.items() if math.isfinite(v)},
        "warnings": warnings,
        "figure": uplift_figure(qini),
        "decayed": decay["decayed"],
    }


def _decay(
    campaign: dict[str, Any], outcomes: pd.DataFrame, treated_ids: pd.Series, settings: Settings
) -> dict[str, Any]:
    """The champion's AUC on realized outcomes of every customer not contacted."""
    empty: dict[str, Any] = {"metrics": {}, "warnings": {}, "decayed": False}
    if campaign["scores"] is None:
        return empty
    untreated = campaign["scores"].merge(outcomes, on="customer_id")
    untreated = untreated.loc[~untreated["customer_id"].astype(str).isin(treated_ids)]
    if untreated["churned"].nunique() < 2 or len(untreated) < 50:
        return empty
    auc = evaluate_predictions(
        untreated["churned"].to_numpy(), untreated["churn_probability"].to_numpy(),
        threshold=settings.campaign.threshold,
    )["auc"]  # fmt: skip
    floor = settings.drift.auc_floor
    warnings = {}
    if auc < floor:
        warnings["decay"] = (
            f"model decay: the champion's AUC on {len(untreated):,} realized outcomes of "
            f"customers not contacted is {auc:.3f}, below the floor {floor:g}"
        )
    metrics = {"realized_auc": auc, "realized_auc_customers": float(len(untreated))}
    return {"metrics": metrics, "warnings": warnings, "decayed": auc < floor}


@write_task
def record_measurement(
    settings: Settings, campaign: dict[str, Any], measured: dict[str, Any]
) -> None:
    """Keep the campaign's latest realized figures on its ledger row (an update: a
    retry writes the same values)."""
    r: roi.RealizedROI | None = measured["realized"]
    if r is None:
        return
    with Ledger.open(settings.ledger.url) as ledger:
        ledger.record_measurement(
            campaign["record"].campaign_id,
            Measurement(
                measured_at=datetime.now(UTC), net_benefit=r.net_benefit,
                net_benefit_ci=r.net_benefit_ci, roi_pct=r.roi_pct, roi_pct_ci=r.roi_pct_ci,
                full_cost_roi_pct=measured["metrics"].get("realized_full_cost_roi_pct"),
            ),
        )  # fmt: skip


@read_task
def measure_across_campaigns(settings: Settings, policy: str) -> dict[str, float]:
    """Pooled realized ROI of the policy's measured campaigns, and payback over every
    measured campaign, each counted once."""
    with Ledger.open(settings.ledger.url) as ledger:
        measured = [c for c in ledger.campaigns() if c.measured_at is not None]
        rows = ledger.measured_outcomes(policy)
    metrics = payback_metrics(settings, [c.realized_net_benefit or 0.0 for c in measured])
    # One policy, one offer: the campaign's recorded cost prices the pooled contacts.
    cost = next(
        (c.cost_per_contact for c in measured if c.policy == policy),
        settings.economics.cost_per_contact,
    )
    return metrics | pooled_metrics(rows, cost_per_contact=cost, settings=settings)


def pooled_metrics(
    rows: pd.DataFrame, *, cost_per_contact: float, settings: Settings
) -> dict[str, float]:
    """``pooled_realized_*`` of campaigns' treated and control rows (with outcomes)."""
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
            campaigns,
            cost_per_contact=cost_per_contact,
            confidence=settings.measurement.confidence,
        )
    except ValueError:
        return {}
    used = sum(c.measurable for c in campaigns)
    return pooled.as_metrics(prefix="pooled_realized_") | {"pooled_campaigns": float(used)}


def payback_metrics(settings: Settings, net_benefits: list[float]) -> dict[str, float]:
    """Cumulative net benefit over the measured campaigns, after fixed costs."""
    costs = settings.costs
    timeline = roi.payback(
        net_benefits,
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


@write_task
def log_realized(
    settings: Settings,
    campaign: dict[str, Any],
    measured: dict[str, Any],
    across: dict[str, float],
) -> None:
    client = tracking.client_for(settings.tracking)
    run_id = campaign["run_id"]
    tracking.log_metrics(client, run_id, measured.get("metrics", {}) | across)
    if measured["figure"] is not None:
        tracking.log_figures(client, run_id, to_png({"uplift_qini.png": measured["figure"]}))
    status = measured["not_measurable"]
    tracking.set_tags(client, run_id, {
        "realized.status": f"not measurable: {status}" if status else "measured",
        "realized.measured_at": datetime.now().isoformat(timespec="seconds"),
        **{f"realized.warning.{name}": text for name, text in measured["warnings"].items()},
    })  # fmt: skip


def _report(
    campaign_id: str,
    measured: dict[str, Any],
    expected_roi_pct: float | None,
    across: dict[str, float],
) -> str:
    r: roi.RealizedROI = measured["realized"]
    low, high = r.roi_pct_ci or (math.nan, math.nan)
    full = measured["metrics"].get("realized_full_cost_roi_pct", math.nan)
    expected = "n/a" if expected_roi_pct is None else f"{expected_roi_pct:,.0f} %"
    lines = [
        f"# Realized ROI of campaign {campaign_id}",
        "",
        "| | value |",
        "|---|---|",
        f"| treated / control customers | {r.n_treated:,} / {r.n_control:,} |",
        f"| churn treated / control | {r.treated_churn_rate:.1%} / {r.control_churn_rate:.1%} |",
        f"| customers saved ({r.confidence:.0%} CI) | {r.customers_saved:,.1f} "
        f"({r.customers_saved_ci[0]:,.1f} to {r.customers_saved_ci[1]:,.1f}) |",
        f"| net benefit | ${r.net_benefit:,.0f} (${r.net_benefit_ci[0]:,.0f} to "
        f"${r.net_benefit_ci[1]:,.0f}) |",
        f"| realized ROI (campaign cost) | {r.roi_pct or math.nan:,.0f} % "
        f"({low:,.0f} % to {high:,.0f} %) |",
        f"| expected ROI at scoring | {expected} |",
        f"| full-cost ROI (with compute and fixed costs) | {full:,.0f} % |",
    ]
    if "pooled_realized_roi_pct" in across:
        lines.append(
            f"| ROI pooled over {across['pooled_campaigns']:.0f} campaigns of its policy | "
            f"{across['pooled_realized_roi_pct']:,.0f} % "
            f"({across['pooled_realized_roi_pct_low']:,.0f} % to "
            f"{across['pooled_realized_roi_pct_high']:,.0f} %) |"
        )
    lines.append(
        f"| cumulative net benefit, {across['campaigns_measured']:.0f} campaigns counted once "
        f"| ${across['cumulative_net_benefit']:,.0f} |"
    )
    for text in measured["warnings"].values():
        lines += ["", f"**Warning:** {text}."]
    return "\n".join(lines)


@flow(name="churn-realized-roi", log_prints=True)
def realized_roi_flow(settings: Settings, campaign_id: str, outcomes_path: Path) -> dict[str, Any]:
    """Attach a campaign's outcomes in the ledger, measure its realized ROI against its
    control group (and pooled with its policy's campaigns), and log it to its run."""
    started = time.perf_counter()
    outcomes = load_campaign_outcomes(outcomes_path, settings)
    campaign = load_campaign(settings, campaign_id)
    joined = attach_outcomes(settings, campaign, outcomes, outcomes_path)
    campaign["compute_seconds"] += time.perf_counter() - started
    measured = measure_campaign(campaign, joined, outcomes, settings)
    record_measurement(settings, campaign, measured)
    across = measure_across_campaigns(settings, campaign["record"].policy)
    log_realized(settings, campaign, measured, across)
    retrain = None
    if measured["decayed"] and settings.drift.retrain_on_decay:
        retrain = trigger_retrain(
            settings, campaign["run_id"], measured["warnings"]["decay"], tag="decay.retrain"
        )
    if measured["not_measurable"]:
        raise NotMeasurableError(
            f"Campaign '{campaign_id}': realized ROI is not measurable: "
            f"{measured['not_measurable']}"
        )
    create_markdown_artifact(
        _report(campaign_id, measured, campaign["expected_roi_pct"], across),
        key="churn-realized-roi",
        description=f"Realized ROI of {campaign_id}",
    )
    return {
        "mlflow_run_id": campaign["run_id"],
        "campaign_id": campaign_id,
        "metrics": measured["metrics"] | across,
        "warnings": measured["warnings"],
        "retrain": retrain,
    }
