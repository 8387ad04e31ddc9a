"""The realized-ROI flow: campaign assignment + observed outcomes → ROI with intervals.

Logs into the campaign's own scoring run, so the MLflow UI shows each
campaign's expected and realized ROI side by side.
"""

from __future__ import annotations

import math
import time
from datetime import datetime
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
from churn.outcomes import join_outcomes
from churn.plots import uplift_figure
from churn.settings import Settings
from flows import tracking
from flows.score import campaign_dir, trigger_retrain
from flows.tasks import compute_task, io_task


@io_task
def load_campaign(settings: Settings, campaign_id: str) -> dict[str, Any]:
    client = tracking.client_for(settings.tracking)
    run = tracking.find_campaign_run(client, settings.tracking, campaign_id)
    assignment = tracking.load_artifact_table(
        client, run.info.run_id, "campaign/assignment.parquet"
    )
    training_seconds = tracking.run_compute_seconds(client, run.data.tags["model_run_id"])
    scores_path = campaign_dir(settings, campaign_id) / "scores.parquet"
    return {
        # Every scored customer's probability, for decay; kept locally, not in MLflow.
        "scores": pd.read_parquet(scores_path) if scores_path.exists() else None,
        "run_id": run.info.run_id,
        "assignment": assignment,
        "scored_at": pd.Timestamp(run.info.start_time, unit="ms", tz="UTC"),
        "expected_roi_pct": run.data.metrics.get("expected_roi_pct"),
        "compute_seconds": run.data.metrics.get("compute_seconds", 0.0) + training_seconds,
        "control_share": float(run.data.params.get("control_share", "nan")),
    }


@io_task
def load_campaign_outcomes(path: Path, settings: Settings) -> pd.DataFrame:
    return load_outcomes(path, dataset=settings.dataset)


@compute_task
def measure_campaign(
    campaign: dict[str, Any], outcomes: pd.DataFrame, source: Path, settings: Settings
) -> dict[str, Any]:
    """Realized ROI with its interval, power and split checks, full cost, uplift plot."""
    joined = join_outcomes(campaign["assignment"], outcomes, source=source)
    treated = joined.loc[joined["group"] == TREATMENT]
    control = joined.loc[joined["group"] == CONTROL]
    decay = _decay(campaign, outcomes, settings)
    not_measurable = None
    if control.empty:
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
        return {"realized": None, "not_measurable": not_measurable, "figure": None, **decay}
    m, e = settings.measurement, settings.economics
    # Each customer's value as scored (older campaigns carry none: the configured CLV).
    values = joined[VALUE_COLUMN] if VALUE_COLUMN in joined else pd.Series(e.clv, joined.index)
    realized = roi.realized_roi(
        treated["churned"], control["churned"], clv=values[treated.index],
        control_clv=values[control.index], cost_per_contact=e.cost_per_contact,
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
    # Outcomes without a reading date are taken as read now, at measurement.
    observed = joined["observed_at"] if "observed_at" in joined else pd.Series(pd.Timestamp.now())
    window_end = campaign["scored_at"].tz_convert(None).normalize() + pd.DateOffset(
        months=m.window_months
    )
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


def _decay(campaign: dict[str, Any], outcomes: pd.DataFrame, settings: Settings) -> dict[str, Any]:
    """The champion's AUC on realized outcomes of every customer not contacted."""
    empty: dict[str, Any] = {"metrics": {}, "warnings": {}, "decayed": False}
    if campaign["scores"] is None:
        return empty
    treated = campaign["assignment"].loc[campaign["assignment"]["group"] == TREATMENT]
    untreated = campaign["scores"].merge(outcomes, on="customer_id")
    untreated = untreated.loc[~untreated["customer_id"].isin(treated["customer_id"])]
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


@io_task
def log_realized(settings: Settings, campaign: dict[str, Any], measured: dict[str, Any]) -> None:
    client = tracking.client_for(settings.tracking)
    run_id = campaign["run_id"]
    tracking.log_metrics(client, run_id, measured["metrics"])
    if measured["figure"] is not None:
        client.log_figure(run_id, measured["figure"], "plots/uplift_qini.png")
    status = measured["not_measurable"]
    client.set_tag(run_id, "realized.status", f"not measurable: {status}" if status else "measured")
    client.set_tag(run_id, "realized.measured_at", datetime.now().isoformat(timespec="seconds"))
    for name, text in measured["warnings"].items():
        client.set_tag(run_id, f"realized.warning.{name}", text)
    if not status:
        tracking.log_metrics(client, run_id, payback_metrics(settings, client))


def payback_metrics(settings: Settings, client: Any) -> dict[str, float]:
    """Cumulative net benefit over every measured campaign so far, after fixed costs."""
    experiment = client.get_experiment_by_name(settings.tracking.scoring_experiment)
    runs = client.search_runs(
        [experiment.experiment_id],
        filter_string="tags.`realized.status` = 'measured'",
        order_by=["attributes.start_time ASC"],
    )
    nets = [r.data.metrics["realized_net_benefit"] for r in runs
            if "realized_net_benefit" in r.data.metrics]  # fmt: skip
    costs = settings.costs
    timeline = roi.payback(
        nets, fixed_cost_per_month=costs.fixed_per_campaign, upfront_cost=costs.upfront_development
    )
    metrics = {
        "campaigns_measured": float(len(nets)),
        "cumulative_net_benefit": float(timeline["cumulative"].iloc[-1]) if nets else 0.0,
    }
    reached = roi.payback_month(timeline)
    if reached is not None:
        # The timeline counts campaigns; months follow from how many run a month.
        metrics["payback_month"] = float(math.ceil(reached / costs.campaigns_per_month))
    return metrics


def _report(campaign_id: str, measured: dict[str, Any], expected_roi_pct: float | None) -> str:
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
    for text in measured["warnings"].values():
        lines += ["", f"**Warning:** {text}."]
    return "\n".join(lines)


@flow(name="churn-realized-roi", log_prints=True)
def realized_roi_flow(settings: Settings, campaign_id: str, outcomes_path: Path) -> dict[str, Any]:
    """Measure a campaign's realized ROI against its control group and log it to its run."""
    started = time.perf_counter()
    outcomes = load_campaign_outcomes(outcomes_path, settings)
    campaign = load_campaign(settings, campaign_id)
    campaign["compute_seconds"] += time.perf_counter() - started
    measured = measure_campaign(campaign, outcomes, outcomes_path, settings)
    log_realized(settings, campaign, measured)
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
        _report(campaign_id, measured, campaign["expected_roi_pct"]),
        key="churn-realized-roi",
        description=f"Realized ROI of {campaign_id}",
    )
    return {
        "mlflow_run_id": campaign["run_id"],
        "campaign_id": campaign_id,
        "metrics": measured["metrics"],
        "warnings": measured["warnings"],
        "retrain": retrain,
    }
