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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

import roi
from churn.data import load_outcomes
from churn.errors import ChurnError, NotMeasurableError
from churn.holdout import CONTROL, TREATMENT
from churn.ledger import CampaignRecord, Ledger, Measurement, check_campaign_id
from churn.measurement import (
    CampaignFacts,
    CampaignMeasurement,
    measure_campaign,
    model_decay,
    payback_metrics,
    pooled_metrics,
)
from churn.plots import to_png, uplift_figure
from churn.report import REPORT_ARTIFACT, campaign_headline, campaign_html, dollars
from churn.settings import Settings
from churn.uplift import assemble_experiments, compare_targeting
from flows import registry, runs
from flows.retrain import trigger_retrain
from flows.runtime import artifact_key
from flows.score import as_utc, campaign_folder
from flows.tasks import compute_task, read_task, write_task


@dataclass(frozen=True)
class LoadedCampaign:
    """A campaign as the ledger recorded it, with its scoring run and local scores."""

    record: CampaignRecord
    run_id: str
    # Every scored customer's probability, for decay; kept locally, not in MLflow.
    scores: pd.DataFrame | None
    expected_roi_pct: float | None
    expected_full_cost_roi_pct: float | None

    def facts(self, extra_seconds: float) -> CampaignFacts:
        r = self.record
        return CampaignFacts(
            n_flagged=r.n_flagged, skipped=r.skipped, control_share=r.control_share,
            cost_per_contact=r.cost_per_contact, window_end=pd.Timestamp(r.window_end),
            # The scoring run's compute already holds the training charge, once.
            compute_seconds=(r.compute_seconds or 0.0) + extra_seconds,
            expected_roi_pct=self.expected_roi_pct,
        )  # fmt: skip


@read_task
def load_campaign(settings: Settings, campaign_id: str) -> LoadedCampaign:
    with Ledger.open(settings.ledger.url, must_exist=True) as ledger:
        record = ledger.campaign(check_campaign_id(campaign_id))
    client = runs.client_for(settings.tracking)
    run_id = record.mlflow_run_id
    if run_id is None:
        run_id = runs.find_campaign_run(client, settings.tracking, campaign_id).info.run_id
    scores_path = campaign_folder(settings, campaign_id).scores
    logged = runs.run_metrics(client, run_id)
    return LoadedCampaign(
        record=record,
        run_id=run_id,
        scores=pd.read_parquet(scores_path) if scores_path.exists() else None,
        expected_roi_pct=logged.get("expected_roi_pct"),
        expected_full_cost_roi_pct=logged.get("expected_full_cost_roi_pct"),
    )


@read_task
def load_campaign_outcomes(path: Path, settings: Settings) -> pd.DataFrame:
    return load_outcomes(path, dataset=settings.dataset)


@write_task
def attach_outcomes(
    settings: Settings, campaign: LoadedCampaign, outcomes: pd.DataFrame, source: Path
) -> pd.DataFrame:
    """Attach the outcomes to the campaign's ledger rows (idempotent); return its
    treated and control rows with their outcomes."""
    record, scores = campaign.record, campaign.scores
    known = None if scores is None else scores["customer_id"].astype(str).tolist()
    with Ledger.open(settings.ledger.url) as ledger:
        changed = ledger.attach_outcomes(
            record.campaign_id, outcomes, source=source, known_ids=known
        )
        rows = ledger.contacts(record.campaign_id, groups=[TREATMENT, CONTROL])
    print(f"Campaign {record.campaign_id}: {changed:,} new outcomes attached in the ledger.")
    return rows


@compute_task
def measure(
    campaign: LoadedCampaign,
    rows: pd.DataFrame,
    outcomes: pd.DataFrame,
    settings: Settings,
    extra_seconds: float,
) -> CampaignMeasurement:
    """Realized ROI with its checks, and the champion's decay on the customers not contacted."""
    treated_ids = rows.loc[rows["group"] == TREATMENT, "customer_id"]
    decay = model_decay(
        campaign.scores, outcomes, treated_ids,
        threshold=settings.campaign.threshold, auc_floor=settings.drift.auc_floor,
        min_customers=settings.drift.min_customers,
    )  # fmt: skip
    if decay.note:
        print(f"Campaign {campaign.record.campaign_id}: {decay.note}.")
    return measure_campaign(rows, campaign.facts(extra_seconds), settings, decay=decay)


@write_task
def record_measurement(
    settings: Settings, campaign: LoadedCampaign, measured: CampaignMeasurement
) -> None:
    """Keep the campaign's latest realized figures on its ledger row (an update)."""
    r = measured.realized
    if r is None:
        return
    with Ledger.open(settings.ledger.url) as ledger:
        ledger.record_measurement(
            campaign.record.campaign_id,
            Measurement(
                measured_at=datetime.now(UTC), net_benefit=r.net_benefit,
                net_benefit_ci=r.net_benefit_ci, roi_pct=r.roi_pct, roi_pct_ci=r.roi_pct_ci,
                full_cost_roi_pct=measured.metrics.get("realized_full_cost_roi_pct"),
            ),
        )  # fmt: skip


@write_task
def compare_targeting_on_campaign(
    settings: Settings, campaign: LoadedCampaign
) -> roi.PolicyComparison | None:
    """What risk and uplift targeting would each have earned on this campaign's
    experiment, with the uplift model that passed the gate; kept in the ledger.

    None, with a log line saying why, when no uplift model has passed the gate, the
    campaign's features were not kept, it holds no random split, the model cannot
    read its features, or the model learnt from it (measured before the model was
    trained: the comparison would be in sample).
    """
    log = get_run_logger()
    cid = campaign.record.campaign_id
    path = campaign_folder(settings, cid).features
    if not path.exists():
        return None
    client = runs.client_for(settings.tracking)
    found = registry.load_uplift_champion(client, name=settings.uplift.registered_name)
    if found is None:
        return None
    earlier = campaign.record.measured_at
    if earlier is not None and as_utc(earlier) < runs.run_started_at(client, found.run_id):
        log.info(
            "Uplift model v%s learnt from campaign %s: no risk-vs-uplift comparison on it.",
            found.version, cid,
        )  # fmt: skip
        return None
    with Ledger.open(settings.ledger.url) as ledger:
        rows = ledger.experiments(cid)
    frame = assemble_experiments(rows, {cid: pd.read_parquet(path)}).frame
    if frame.empty:
        return None
    try:
        uplift = found.model.predict(frame)
    except ChurnError as exc:
        log.warning("No risk-vs-uplift comparison on campaign %s: %s.", cid, exc)
        return None
    comparison = compare_targeting(
        uplift, frame, threshold=campaign.record.threshold,
        cost_per_contact=campaign.record.cost_per_contact,
        confidence=settings.measurement.confidence, n_bootstrap=settings.uplift.bootstrap,
        seed=settings.uplift.seed,
    )  # fmt: skip
    with Ledger.open(settings.ledger.url) as ledger:
        ledger.record_policy_profits(
            cid, risk=comparison.current_profit, uplift=comparison.candidate_profit
        )
    log.info(
        "On campaign %s's experiment, with uplift model v%s: risk targeting would earn %s, "
        "uplift targeting %s at the same budget.", cid, found.version,
        dollars(comparison.current_profit), dollars(comparison.candidate_profit),
    )  # fmt: skip
    runs.log_metrics(client, campaign.run_id, comparison.as_metrics(prefix="policy_"))
    runs.set_tags(client, campaign.run_id, {"policy.uplift_model": f"{found.name}/{found.version}"})
    return comparison


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
    return metrics | pooled_metrics(
        rows, cost_per_contact=cost, confidence=settings.measurement.confidence
    )


@write_task
def log_realized(
    settings: Settings,
    campaign: LoadedCampaign,
    measured: CampaignMeasurement,
    across: dict[str, float],
) -> None:
    client = runs.client_for(settings.tracking)
    run_id = campaign.run_id
    runs.log_metrics(client, run_id, measured.metrics | across)
    images: dict[str, bytes] = {}
    if measured.qini is not None:
        images = to_png({"uplift_qini.png": uplift_figure(measured.qini)})
        runs.log_figures(client, run_id, images)
    # The description and the report read the ledger's record, now with the realized figures.
    with Ledger.open(settings.ledger.url) as ledger:
        record = ledger.campaign(campaign.record.campaign_id)
    headline = campaign_headline(
        record, expected_roi_pct=campaign.expected_roi_pct,
        expected_full_cost_roi_pct=campaign.expected_full_cost_roi_pct,
        confidence=settings.measurement.confidence,
    )  # fmt: skip
    runs.describe_run(client, run_id, headline.markdown())
    report = campaign_html(headline, images=images, generated_at=datetime.now(UTC))
    runs.log_text(client, run_id, report, REPORT_ARTIFACT)
    get_run_logger().info("%s", headline.title)
    status = measured.not_measurable
    runs.set_tags(client, run_id, {
        "realized.status": f"not measurable: {status}" if status else "measured",
        "realized.measured_at": datetime.now().isoformat(timespec="seconds"),
        **{f"realized.warning.{name}": text for name, text in measured.warnings.items()},
    })  # fmt: skip


def _campaigns(n: float) -> str:
    return f"{n:.0f} campaign{'' if n == 1 else 's'}"


def _report(
    campaign_id: str,
    measured: CampaignMeasurement,
    expected_roi_pct: float | None,
    across: dict[str, float],
) -> str:
    r = measured.realized
    assert r is not None  # a campaign that is not measurable has no report
    low, high = r.roi_pct_ci or (math.nan, math.nan)
    full = measured.metrics.get("realized_full_cost_roi_pct", math.nan)
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
            f"| ROI pooled over {_campaigns(across['pooled_campaigns'])} of its policy | "
            f"{across['pooled_realized_roi_pct']:,.0f} % "
            f"({across['pooled_realized_roi_pct_low']:,.0f} % to "
            f"{across['pooled_realized_roi_pct_high']:,.0f} %) |"
        )
    lines.append(
        f"| cumulative net benefit, {_campaigns(across['campaigns_measured'])} counted once "
        f"| ${across['cumulative_net_benefit']:,.0f} |"
    )
    for text in measured.warnings.values():
        lines += ["", f"**Warning:** {text}."]
    return "\n".join(lines)


@flow(name="churn-realized-roi", log_prints=True)
def realized_roi_flow(settings: Settings, campaign_id: str, outcomes_path: Path) -> dict[str, Any]:
    """Attach a campaign's outcomes in the ledger, measure its realized ROI against its
    control group (and pooled with its policy's campaigns), and log it to its run."""
    started = time.perf_counter()
    outcomes = load_campaign_outcomes(outcomes_path, settings)
    campaign = load_campaign(settings, campaign_id)
    rows = attach_outcomes(settings, campaign, outcomes, outcomes_path)
    measured = measure(campaign, rows, outcomes, settings, time.perf_counter() - started)
    record_measurement(settings, campaign, measured)
    across = measure_across_campaigns(settings, campaign.record.policy)
    log_realized(settings, campaign, measured, across)
    if not measured.not_measurable:
        compare_targeting_on_campaign(settings, campaign)
    retrain = None
    if measured.decayed and settings.drift.retrain_on_decay:
        retrain = trigger_retrain(
            settings, campaign.run_id, measured.warnings["decay"], tag="decay.retrain"
        )
    if measured.not_measurable:
        raise NotMeasurableError(
            f"Campaign '{campaign_id}': realized ROI is not measurable: {measured.not_measurable}"
        )
    create_markdown_artifact(
        _report(campaign_id, measured, campaign.expected_roi_pct, across),
        key=artifact_key(settings, "realized-roi"),
        description=f"Realized ROI of {campaign_id}",
    )
    return {
        "mlflow_run_id": campaign.run_id,
        "campaign_id": campaign_id,
        "metrics": measured.metrics | across,
        "warnings": measured.warnings,
        "retrain": retrain,
    }
