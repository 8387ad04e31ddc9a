"""The scoring flow: champion from the registry → score every customer in chunks →
flag above the threshold → write the campaign list atomically → log expected ROI."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact

import roi
from churn.predict import ScoringResult, score_file
from churn.settings import Settings
from flows import tracking
from flows.tasks import compute_task, io_task


@io_task
def load_champion(settings: Settings) -> tracking.Champion:
    client = tracking.client_for(settings.tracking)
    return tracking.load_champion(client, name=settings.model.registered_name)


@compute_task
def score_customers_file(
    champion: tracking.Champion, settings: Settings, campaign_id: str, scored_at: datetime
) -> ScoringResult:
    out_dir = settings.campaign.output_dir / campaign_id
    return score_file(
        champion.model,
        settings.data.scoring_path,
        threshold=settings.campaign.threshold,
        chunk_size=settings.campaign.chunk_size,
        scores_path=out_dir / "scores.parquet",
        campaign_path=out_dir / "campaign.csv",
        campaign_id=campaign_id,
        model_version=champion.version,
        scored_at=scored_at,
    )


@compute_task
def compute_expected_roi(result: ScoringResult, settings: Settings) -> roi.CampaignROI:
    e = settings.economics
    return roi.expected_roi(
        result.flagged_probabilities,
        save_rate=e.save_rate,
        clv=e.clv,
        cost_per_contact=e.cost_per_contact,
    )


@io_task
def log_scoring(
    settings: Settings,
    champion: tracking.Champion,
    result: ScoringResult,
    expected: roi.CampaignROI,
    campaign_id: str,
) -> str:
    client = tracking.client_for(settings.tracking)
    run_id = tracking.start_run(
        client,
        settings.tracking,
        experiment=settings.tracking.scoring_experiment,
        run_type="scoring",
        run_name=campaign_id,
        tags={
            "campaign_id": campaign_id,
            "model_name": champion.name,
            "model_version": champion.version,
            "model_run_id": champion.run_id,
            "data.path": str(settings.data.scoring_path),
        },
    )
    tracking.log_params(
        client,
        run_id,
        {
            "threshold": settings.campaign.threshold,
            "chunk_size": settings.campaign.chunk_size,
            **{f"economics.{k}": v for k, v in settings.economics.model_dump().items()},
        },
    )
    metrics = {
        "n_scored": float(result.n_scored),
        "n_flagged": float(result.n_flagged),
        "flagged_share": result.n_flagged / result.n_scored,
        **expected.as_metrics(prefix="expected_"),
    }
    tracking.log_metrics(client, run_id, metrics)
    if expected.roi_pct is None:
        client.set_tag(run_id, "expected_roi_pct", "not measurable: no customer flagged")
    client.log_artifact(run_id, str(result.campaign_path), "campaign")
    client.set_terminated(run_id, status="FINISHED")
    return run_id


@flow(name="churn-score", log_prints=True)
def score_flow(settings: Settings, campaign_id: str | None = None) -> dict[str, Any]:
    """Score every customer with the champion and write the campaign list."""
    scored_at = datetime.now(UTC).replace(microsecond=0)
    campaign_id = campaign_id or f"campaign-{scored_at:%Y-%m-%d}"
    champion = load_champion(settings)
    result = score_customers_file(champion, settings, campaign_id, scored_at)
    expected = compute_expected_roi(result, settings)
    run_id = log_scoring(settings, champion, result, expected, campaign_id)
    summary = {
        "mlflow_run_id": run_id,
        "campaign_id": campaign_id,
        "model_version": champion.version,
        "n_scored": result.n_scored,
        "n_flagged": result.n_flagged,
        "campaign_path": str(result.campaign_path),
        "scores_path": str(result.scores_path),
        "expected_roi": expected.as_metrics() | {"roi_pct": expected.roi_pct},
    }
    roi_text = "not measurable" if expected.roi_pct is None else f"{expected.roi_pct:,.1f} %"
    create_markdown_artifact(
        f"# Campaign {campaign_id}\n\nScored {result.n_scored:,} customers with model "
        f"v{champion.version}; flagged {result.n_flagged:,} above "
        f"{settings.campaign.threshold:g}.\n\nExpected net benefit "
        f"${expected.net_benefit:,.0f}, expected ROI {roi_text}.\n\n"
        f"Campaign list: `{result.campaign_path}`.",
        key="churn-campaign-summary",
        description="Scoring run",
    )
    return summary
