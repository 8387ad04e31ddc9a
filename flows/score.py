"""The scoring flow: champion from the registry → score every customer in chunks →
flag above the threshold → hold out a random control group → write the campaign
list atomically → log expected ROI, campaign-only and full-cost."""

from __future__ import annotations

import shutil
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

import roi
from churn.data import Chunk, check_customer_ids, file_digest, plan_chunks
from churn.errors import ConfigError, NotReadyError
from churn.predict import ChunkResult, ScoringResult, combine_chunks, score_chunk, score_file
from churn.settings import CampaignSettings, Settings
from flows import tracking
from flows.tasks import compute_task, io_task


def campaign_dir(settings: Settings, campaign_id: str) -> Path:
    """Where a campaign's scores, assignment, list and outcomes live."""
    return settings.campaign.output_dir / campaign_id


@io_task
def load_champion(settings: Settings) -> tracking.Champion:
    client = tracking.client_for(settings.tracking)
    champion = tracking.load_champion(client, name=settings.model.registered_name, compiled=True)
    if champion.compiled_note is not None:
        get_run_logger().warning(
            "Scoring with LightGBM's own predict, not the compiled trees: %s.",
            champion.compiled_note,
        )
    return champion


@compute_task
def score_customers_file(
    champion: tracking.Champion, settings: Settings, campaign_id: str, scored_at: datetime
) -> ScoringResult:
    out_dir = campaign_dir(settings, campaign_id)
    return score_file(
        champion.model,
        settings.data.scoring_path,
        threshold=settings.campaign.threshold,
        chunk_size=settings.campaign.chunk_size,
        scores_path=out_dir / "scores.parquet",
        campaign_path=out_dir / "campaign.csv",
        assignment_path=out_dir / "assignment.parquet",
        campaign_id=campaign_id,
        model_version=champion.version,
        scored_at=scored_at,
        control_share=settings.campaign.control_share,
        dataset=settings.dataset,
        clv=settings.economics.clv,
    )


@compute_task
def score_chunk_task(
    champion: tracking.Champion, settings: Settings, chunk: Chunk, part: Path
) -> ChunkResult:
    """Score one chunk on a Dask worker, with the compiled trees where the worker can load them."""
    model = champion.model
    if model.compiled is None and champion.compiled_note is None:
        # Compiled trees never travel (they are machine code); the worker loads its own.
        tracking.attach_compiled(tracking.client_for(settings.tracking), model, champion.run_id)
    return score_chunk(
        model, chunk, threshold=settings.campaign.threshold, part=part,
        dataset=settings.dataset, clv=settings.economics.clv,
    )  # fmt: skip


def dask_runner(campaign: CampaignSettings) -> Any:
    """Prefect's Dask task runner: the configured scheduler, or a local cluster on 127.0.0.1."""
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError:
        raise ConfigError(
            "campaign.runner dask needs the optional prefect-dask package: pip install -e '.[dask]'"
        ) from None
    if campaign.dask_address:
        return DaskTaskRunner(address=campaign.dask_address)
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": campaign.dask_workers, "threads_per_worker": 1, "processes": True,
            "host": "127.0.0.1", "dashboard_address": None,
            # Several workers share the cores: LightGBM's idle OpenMP threads must not spin.
            "env": {"OMP_WAIT_POLICY": "PASSIVE"},
        }
    )  # fmt: skip


def score_on_dask(
    champion: tracking.Champion, settings: Settings, campaign_id: str, scored_at: datetime
) -> ScoringResult:
    """Score the table's chunks as tasks on a Dask cluster, then join them in table order."""
    path, out_dir = settings.data.scoring_path, campaign_dir(settings, campaign_id)
    check_customer_ids(path, dataset=settings.dataset)
    chunks = plan_chunks(path, chunk_size=settings.campaign.chunk_size)
    parts = out_dir / f".parts-{uuid.uuid4().hex[:8]}"
    try:
        with dask_runner(settings.campaign) as runner:
            futures = [
                runner.submit(
                    score_chunk_task,
                    parameters={
                        "champion": champion,
                        "settings": settings,
                        "chunk": chunk,
                        "part": parts / f"part-{chunk.index:06d}.parquet",
                    },
                )
                for chunk in chunks
            ]
            try:
                results = [future.result() for future in futures]
            except BaseException:
                # Let the other chunks finish before their parts are removed.
                for future in futures:
                    future.wait()
                raise
        return combine_chunks(
            results, champion.model, scores_path=out_dir / "scores.parquet",
            campaign_path=out_dir / "campaign.csv",
            assignment_path=out_dir / "assignment.parquet", campaign_id=campaign_id,
            model_version=champion.version, scored_at=scored_at,
            control_share=settings.campaign.control_share,
        )  # fmt: skip
    finally:
        shutil.rmtree(parts, ignore_errors=True)


@compute_task
def compute_expected_roi(result: ScoringResult, settings: Settings) -> roi.CampaignROI:
    e = settings.economics
    return roi.expected_roi(
        result.treated_probabilities,
        save_rate=e.save_rate,
        clv=result.treated_values,
        cost_per_contact=e.cost_per_contact,
    )


@io_task
def log_scoring(
    settings: Settings,
    champion: tracking.Champion,
    result: ScoringResult,
    expected: roi.CampaignROI,
    campaign_id: str,
    started: float,
) -> dict[str, Any]:
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
            "scoring.engine": champion.model.engine,
            "scoring.engine_note": champion.compiled_note or "compiled trees",
            "data.path": str(settings.data.scoring_path),
            "dataset_digest": file_digest(settings.data.scoring_path),
        },
    )
    tracking.log_params(
        client,
        run_id,
        {
            "threshold": settings.campaign.threshold,
            "control_share": settings.campaign.control_share,
            "chunk_size": settings.campaign.chunk_size,
            **{f"economics.{k}": v for k, v in settings.economics.model_dump().items()},
        },
    )
    compute_seconds = (
        time.perf_counter() - started + tracking.run_compute_seconds(client, champion.run_id)
    )
    full = roi.full_cost_roi(
        expected.revenue_saved,
        expected.campaign_cost,
        compute_seconds=compute_seconds,
        price_per_hour=settings.costs.compute_price_per_hour,
        fixed_cost=settings.costs.fixed_per_campaign,
    )
    metrics = {
        **{f"psi_{name}": value for name, value in result.drift.items()},
        "psi_max": max(result.drift.values(), default=0.0),
        "n_scored": float(result.n_scored),
        "n_flagged": float(result.n_flagged),
        "n_treated": float(result.n_treated),
        "n_control": float(result.n_control),
        "flagged_share": result.n_flagged / result.n_scored,
        "compute_seconds": compute_seconds,
        **expected.as_metrics(prefix="expected_"),
        **full.as_metrics(prefix="expected_full_cost_"),
    }
    tracking.log_metrics(client, run_id, metrics)
    if expected.roi_pct is None:
        client.set_tag(run_id, "expected_roi_pct", "not measurable: no customer contacted")
    client.log_artifact(run_id, str(result.campaign_path), "campaign")
    client.log_artifact(run_id, str(result.assignment_path), "campaign")
    client.set_terminated(run_id, status="FINISHED")
    return {"mlflow_run_id": run_id, **metrics}


def drifted_features(result: ScoringResult, settings: Settings) -> list[str]:
    """Features whose PSI is above the configured threshold."""
    return [n for n, v in result.drift.items() if v > settings.drift.psi_threshold]


@io_task
def trigger_retrain(
    settings: Settings, run_id: str, reason: str, tag: str = "drift.retrain"
) -> str:
    """Retrain through the served deployment when a Prefect server has one, else in process."""
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound

    from flows.runtime import prefect_api_url
    from flows.serve import TRAIN_DEPLOYMENT
    from flows.train import train_flow

    client = tracking.client_for(settings.tracking)
    how = ""
    via = settings.drift.retrain_via
    if via != "in_process" and prefect_api_url() is not None:
        try:
            run: Any = run_deployment(f"churn-train/{TRAIN_DEPLOYMENT}", timeout=0)
            how = f"deployment churn-train/{TRAIN_DEPLOYMENT}, flow run {run.id}"
        except ObjectNotFound:
            if via == "deployment":
                raise NotReadyError(
                    f"drift.retrain_via is 'deployment' but the Prefect server has no "
                    f"churn-train/{TRAIN_DEPLOYMENT}; run `churn serve` or `prefect deploy`."
                ) from None
    elif via == "deployment":
        raise NotReadyError(
            "drift.retrain_via is 'deployment' but no Prefect server is configured "
            "(PREFECT_API_URL)."
        )
    if not how:
        trained = train_flow(settings)
        how = (
            f"in-process training run {trained['mlflow_run_id']}: model "
            f"v{trained['model_version']} is {trained['registry_alias']}"
        )
    client.set_tag(run_id, tag, f"{reason}; triggered {how}")
    return how


@flow(name="churn-score", log_prints=True)
def score_flow(settings: Settings, campaign_id: str | None = None) -> dict[str, Any]:
    """Score every customer with the champion and write the campaign list."""
    started = time.perf_counter()
    scored_at = datetime.now(UTC).replace(microsecond=0)
    campaign_id = campaign_id or f"campaign-{scored_at:%Y-%m-%d}"
    champion = load_champion(settings)
    if settings.campaign.runner == "dask":
        result = score_on_dask(champion, settings, campaign_id, scored_at)
    else:
        result = score_customers_file(champion, settings, campaign_id, scored_at)
    expected = compute_expected_roi(result, settings)
    logged = log_scoring(settings, champion, result, expected, campaign_id, started)
    drifted = drifted_features(result, settings)
    retrain = None
    if drifted and settings.drift.retrain_on_drift:
        reason = f"PSI above {settings.drift.psi_threshold:g} for " + ", ".join(
            f"{n} ({result.drift[n]:.2f})" for n in drifted
        )
        print(f"Feature drift: {reason}; triggering a retrain.")
        retrain = trigger_retrain(settings, logged["mlflow_run_id"], reason)
    summary = {
        "mlflow_run_id": logged["mlflow_run_id"],
        "campaign_id": campaign_id,
        "model_version": champion.version,
        "n_scored": result.n_scored,
        "n_flagged": result.n_flagged,
        "n_treated": result.n_treated,
        "n_control": result.n_control,
        "campaign_path": str(result.campaign_path),
        "assignment_path": str(result.assignment_path),
        "scores_path": str(result.scores_path),
        "expected_roi": expected.as_metrics() | {"roi_pct": expected.roi_pct},
        "expected_full_cost_roi_pct": logged.get("expected_full_cost_roi_pct"),
        "drift": result.drift,
        "drifted_features": drifted,
        "retrain": retrain,
    }
    roi_text = "not measurable" if expected.roi_pct is None else f"{expected.roi_pct:,.1f} %"
    create_markdown_artifact(
        f"# Campaign {campaign_id}\n\nScored {result.n_scored:,} customers with model "
        f"v{champion.version}; flagged {result.n_flagged:,} above "
        f"{settings.campaign.threshold:g}: {result.n_treated:,} to contact, "
        f"{result.n_control:,} held out as the control group.\n\nExpected net benefit "
        f"${expected.net_benefit:,.0f}, expected ROI {roi_text} (campaign cost only).\n\n"
        f"Campaign list: `{result.campaign_path}`.",
        key="churn-campaign-summary",
        description="Scoring run",
    )
    return summary
