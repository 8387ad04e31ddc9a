"""The scoring flow: champion from the registry → score every customer in chunks →
flag above the threshold → the contact policy against the ledger (cooldown,
open holdouts, opt-outs, budget, the random control group) → record the
campaign in the ledger → write the campaign list from it → log expected ROI,
campaign-only and full-cost."""

from __future__ import annotations

import shutil
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

import roi
from churn.atomic import atomic_path
from churn.contact_policy import (
    EXPLORATION,
    SKIP_REASONS,
    ContactRules,
    expected_saves,
    policy_label,
)
from churn.data import (
    Chunk,
    check_customer_ids,
    file_digest,
    load_suppression_list,
    plan_chunks,
    table_dtypes,
    table_format,
)
from churn.errors import ConfigError
from churn.holdout import CONTROL, TREATMENT
from churn.layout import CampaignFolder
from churn.ledger import Ledger, NewCampaign, RecordedCampaign, check_campaign_id
from churn.measurement import drift_to_act_on
from churn.predict import (
    CampaignFiles,
    ChunkResult,
    Exploration,
    ScoringResult,
    Targeting,
    combine_chunks,
    score_chunk,
    score_file,
    write_campaign_files,
)
from churn.report import REPORT_ARTIFACT, campaign_headline, campaign_html, dollars, percent
from churn.score_rows import describe_rule, write_rows_to_score
from churn.settings import CampaignSettings, Settings
from churn.urls import masked
from flows import registry, runs
from flows.retrain import trigger_retrain
from flows.runtime import artifact_key
from flows.tasks import check_tracking, compute_task, read_task, write_task


def as_utc(moment: datetime) -> datetime:
    """A moment in UTC; one without a zone is taken as UTC already (as the ledger keeps it)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def campaign_folder(settings: Settings, campaign_id: str) -> CampaignFolder:
    """Where a campaign's scores, assignment, list and outcomes live."""
    return CampaignFolder.of(settings.campaign.output_dir, campaign_id)


@read_task
def load_champion(settings: Settings) -> registry.Champion:
    client = runs.client_for(settings.tracking)
    champion = registry.load_champion(client, name=settings.model.registered_name, compiled=True)
    if champion.compiled_note is not None:
        get_run_logger().warning(
            "Scoring with LightGBM's own predict, not the compiled trees: %s.",
            champion.compiled_note,
        )
    get_run_logger().info(
        "Champion: %s v%s (training run %s), scoring with %s.",
        champion.name, champion.version, champion.run_id[:8], champion.model.engine,
    )  # fmt: skip
    return champion


@read_task
def load_targeting(settings: Settings) -> Targeting:
    """Risk targeting, or the configured uplift/hybrid targeting with the uplift model that
    passed the gate; without one, risk targeting, and the run says why."""
    policy = settings.campaign.targeting
    if policy == "risk":
        return Targeting()
    client = runs.client_for(settings.tracking)
    name = settings.uplift.registered_name
    found = registry.load_uplift_champion(client, name=name)
    if found is None:
        get_run_logger().warning(
            "campaign.targeting is %s, but no uplift model has passed the gate against risk "
            "targeting yet ('%s@champion'): this campaign targets by risk. Run `churn uplift` "
            "once campaigns with a control group have been measured.", policy, name,
        )  # fmt: skip
        return Targeting()
    if policy == "uplift" and found.explored == 0:
        get_run_logger().warning(
            "campaign.targeting is uplift, but uplift model %s v%s learnt only from customers "
            "the risk rule selected (no exploration): it cannot vouch for anyone below the "
            "threshold, so this campaign targets hybrid (above the threshold and a positive "
            "expected incremental profit). Set campaign.exploration_share to learn more.",
            found.name, found.version,
        )  # fmt: skip
        policy = "hybrid"
    get_run_logger().info(
        "Targeting: %s, with uplift model %s v%s (%s-learner).",
        policy, found.name, found.version, found.model.learner,
    )  # fmt: skip
    return Targeting(
        policy=policy, uplift=found.model, cost_per_contact=settings.economics.cost_per_contact
    )


@write_task
def select_rows_to_score(settings: Settings, campaign_id: str) -> Settings:
    """The settings to score with: as they are, or, under ``data.score_rows``, reading the
    rows the rule selects, copied without the label into the campaign's folder (every
    scoring path — chunks, Dask's row ranges, the id pass, the digest — reads that file)."""
    rule = settings.data.score_rows
    if rule is None:
        return settings
    source = settings.data.scoring_path
    path = campaign_folder(settings, campaign_id).rows_to_score(table_format(source))
    n_rows = write_rows_to_score(source, rule, dataset=settings.dataset, destination=path)
    get_run_logger().info(
        "Scoring %s of %s: %s rows, copied to %s.",
        describe_rule(rule), source, f"{n_rows:,}", path,
    )  # fmt: skip
    data = settings.data.model_copy(update={"scoring_path": path, "score_rows": None})
    return settings.model_copy(update={"data": data})


@compute_task
def score_customers_file(
    champion: registry.Champion, settings: Settings, campaign_id: str, targeting: Targeting
) -> ScoringResult:
    log = get_run_logger()

    def on_chunk(done: int) -> None:
        log.info("Scored %s customers so far.", f"{done:,}")

    result = score_file(
        champion.model,
        settings.data.scoring_path,
        threshold=settings.campaign.threshold,
        chunk_size=settings.campaign.chunk_size,
        scores_path=campaign_folder(settings, campaign_id).scores,
        dataset=settings.dataset,
        clv=settings.economics.clv,
        on_chunk=on_chunk,
        exploration=Exploration(campaign_id, settings.campaign.exploration_share),
        targeting=targeting,
    )
    explored = int((result.flagged["selected_by"] == EXPLORATION).sum())
    rule = (
        f"above {settings.campaign.threshold:g}" if targeting.policy == "risk"
        else f"selected by {targeting.policy} targeting"
    )  # fmt: skip
    log.info(
        "Scored %s customers from %s: %s %s%s.", f"{result.n_scored:,}",
        settings.data.scoring_path, f"{len(result.flagged) - explored:,}", rule,
        f", {explored:,} explored beside them" if explored else "",
    )  # fmt: skip
    return result


@compute_task
def score_chunk_task(
    champion: registry.Champion,
    settings: Settings,
    chunk: Chunk,
    part: Path,
    campaign_id: str,
    targeting: Targeting,
) -> ChunkResult:
    """Score one chunk on a Dask worker, with the compiled trees where the worker can load them."""
    model = champion.model
    if model.compiled is None and champion.compiled_note is None:
        # Compiled trees never travel (they are machine code); the worker loads its own.
        registry.attach_compiled(runs.client_for(settings.tracking), model, champion.run_id)
    return score_chunk(
        model, chunk, threshold=settings.campaign.threshold, part=part,
        dataset=settings.dataset, clv=settings.economics.clv,
        exploration=Exploration(campaign_id, settings.campaign.exploration_share),
        targeting=targeting,
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
    champion: registry.Champion, settings: Settings, campaign_id: str, targeting: Targeting
) -> ScoringResult:
    """Score the table's chunks as tasks on a Dask cluster, then join them in table order."""
    path, folder = settings.data.scoring_path, campaign_folder(settings, campaign_id)
    check_customer_ids(path, dataset=settings.dataset)
    chunks = plan_chunks(path, chunk_size=settings.campaign.chunk_size)
    parts = folder.path / f".parts-{uuid.uuid4().hex[:8]}"
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
                        "campaign_id": campaign_id,
                        "targeting": targeting,
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
        return combine_chunks(results, champion.model, scores_path=folder.scores)
    finally:
        shutil.rmtree(parts, ignore_errors=True)


@read_task
def open_ledger(settings: Settings) -> None:
    """Create or migrate the ledger before any work: a database that does not answer
    stops the run here, with nothing scored or written."""
    Ledger.open(settings.ledger.url).close()


@read_task
def load_suppressed(settings: Settings) -> list[str]:
    """The opt-outs (validated like any input), or none when no list is configured."""
    path = settings.contact.suppression_path
    return [] if path is None else load_suppression_list(path, dataset=settings.dataset)


def contact_rules(settings: Settings) -> ContactRules:
    """The campaign's contact policy from its settings."""
    c = settings.contact
    return ContactRules(
        control_share=settings.campaign.control_share, cooldown_days=c.cooldown_days,
        max_contacts=c.max_contacts, min_control=c.min_control,
        max_control_share=c.max_control_share,
    )  # fmt: skip


@write_task
def record_campaign(
    settings: Settings,
    champion: registry.Champion,
    result: ScoringResult,
    campaign_id: str,
    scored_at: datetime,
    suppressed: list[str],
    targeting: Targeting,
) -> RecordedCampaign:
    """Apply the contact policy against the ledger and record the campaign, in one
    transaction (no retry: a second attempt would find the campaign recorded)."""
    window_end = pd.Timestamp(scored_at) + pd.DateOffset(months=settings.measurement.window_months)
    new = NewCampaign(
        campaign_id=campaign_id, scored_at=scored_at, window_end=window_end.to_pydatetime(),
        model_name=champion.name, model_version=champion.version,
        threshold=settings.campaign.threshold,
        policy=policy_label(settings.contact.policy, threshold=settings.campaign.threshold,
                            cost_per_contact=settings.economics.cost_per_contact,
                            targeting=targeting.policy),
        rules=contact_rules(settings), cost_per_contact=settings.economics.cost_per_contact,
        save_rate=settings.economics.save_rate, n_scored=result.n_scored,
        exploration_share=settings.campaign.exploration_share,
    )  # fmt: skip
    with Ledger.open(settings.ledger.url) as ledger:
        recorded = ledger.record_campaign(new, result.flagged, suppressed=suppressed)
    c = recorded.campaign
    if recorded.existed:
        print(
            f"Campaign {campaign_id} is already in the ledger (scored {c.scored_at:%Y-%m-%d} "
            f"by model v{c.model_version}): its contacts are kept as recorded."
        )
    skipped = ", ".join(f"{c.n_skipped(r):,} {r}" for r in SKIP_REASONS if c.n_skipped(r))
    print(
        f"Campaign {campaign_id}: {c.n_flagged:,} flagged, {c.n_treated:,} to contact, "
        f"{c.n_control:,} held out ({c.control_share:.0%}), skipped: {skipped or 'none'}."
    )
    return recorded


@write_task
def write_campaign(
    settings: Settings, recorded: RecordedCampaign, suppressed: list[str]
) -> CampaignFiles:
    """The assignment and the CRM's list, written from the ledger's rows.

    A campaign recorded earlier keeps its rows, but who opted out since is kept off
    the list (consent outranks the record).
    """
    c = recorded.campaign
    withheld: list[str] = []
    if recorded.existed and suppressed:
        treated = recorded.decisions.loc[recorded.decisions["group"] == TREATMENT]
        withheld = sorted(set(treated["customer_id"]) & set(suppressed))
        if withheld:
            get_run_logger().warning(
                "Campaign %s: %d customers it recorded as contacted have opted out since; "
                "they are kept off campaign.csv (e.g. %s).",
                c.campaign_id, len(withheld), ", ".join(withheld[:3]),
            )  # fmt: skip
    folder = campaign_folder(settings, c.campaign_id)
    files = write_campaign_files(
        recorded.decisions, assignment_path=folder.assignment,
        campaign_path=folder.campaign_list, campaign_id=c.campaign_id,
        model_version=c.model_version, scored_at=as_utc(c.scored_at), withheld=withheld,
    )  # fmt: skip
    get_run_logger().info("Wrote the campaign list %s and its assignment.", files.campaign_path)
    return files


@write_task
def write_experiment_features(
    settings: Settings, result: ScoringResult, recorded: RecordedCampaign
) -> Path:
    """The features of the campaign's treated and control customers, as scored: the
    experiment's covariates, which the uplift model learns from. A campaign recorded
    earlier keeps the file it wrote then (or none, if it was scored before files were
    kept: the uplift flow then leaves it out)."""
    path = campaign_folder(settings, recorded.campaign.campaign_id).features
    if recorded.existed:
        # Today's features would not be those its customers were chosen on.
        return path
    in_experiment = recorded.decisions.loc[recorded.decisions["group"].isin([TREATMENT, CONTROL])]
    rows = result.features.loc[result.features["customer_id"].isin(in_experiment["customer_id"])]
    with atomic_path(path) as tmp:
        rows.to_parquet(tmp, index=False)
    return path


@compute_task
def compute_expected_roi(recorded: RecordedCampaign, settings: Settings) -> roi.CampaignROI:
    treated = recorded.decisions.loc[recorded.decisions["group"] == TREATMENT]
    e = settings.economics
    saves, rate = expected_saves(
        treated, save_rate=e.save_rate, cost_per_contact=e.cost_per_contact
    )
    expected = roi.expected_roi(
        saves, save_rate=rate, clv=treated["customer_value"].to_numpy(),
        cost_per_contact=e.cost_per_contact,
    )  # fmt: skip
    get_run_logger().info(
        "Expected: %s customers kept, net benefit %s, ROI %s (campaign cost only).",
        f"{expected.customers_saved:,.0f}", dollars(expected.net_benefit),
        percent(expected.roi_pct),
    )  # fmt: skip
    return expected


@write_task
def log_scoring(
    settings: Settings,
    champion: registry.Champion,
    result: ScoringResult,
    recorded: RecordedCampaign,
    files: CampaignFiles,
    expected: roi.CampaignROI,
    started: float,
) -> dict[str, Any]:
    campaign = recorded.campaign
    client = runs.client_for(settings.tracking)
    digest = file_digest(settings.data.scoring_path)
    with runs.open_run(
        client,
        settings.tracking,
        experiment=settings.tracking.scoring_experiment,
        run_type="scoring",
        run_name=campaign.campaign_id,
        tags={
            "campaign_id": campaign.campaign_id,
            "campaign_policy": campaign.policy,
            "model_name": champion.name,
            "model_version": champion.version,
            "model_run_id": champion.run_id,
            "scoring.engine": champion.model.engine,
            "scoring.engine_note": champion.compiled_note or "compiled trees",
            "data.path": str(settings.data.scoring_path),
            "dataset_digest": digest,
            "ledger.url": masked(settings.ledger.url),
            "ledger.campaign": "as recorded earlier" if recorded.existed else "recorded now",
        },
    ) as run_id:
        c = settings.contact
        runs.log_params(
            client,
            run_id,
            {
                "threshold": settings.campaign.threshold,
                "control_share": campaign.control_share,
                "configured_control_share": settings.campaign.control_share,
                "chunk_size": settings.campaign.chunk_size,
                "exploration_share": settings.campaign.exploration_share,
                "contact.cooldown_days": c.cooldown_days,
                "contact.max_contacts": c.max_contacts,
                "contact.suppression_path": c.suppression_path,
                "contact.min_control": c.min_control,
                **{f"economics.{k}": v for k, v in settings.economics.model_dump().items()},
            },
        )
        with Ledger.open(settings.ledger.url) as ledger:
            # The training run's compute is charged once: to the first campaign of its model.
            first = ledger.first_of_model(
                campaign.campaign_id, model_name=campaign.model_name,
                model_version=campaign.model_version,
            )  # fmt: skip
            training_seconds = runs.run_compute_seconds(client, champion.run_id) if first else 0.0
            compute_seconds = time.perf_counter() - started + training_seconds
            ledger.attach_run(campaign.campaign_id, run_id=run_id, compute_seconds=compute_seconds)
        full = roi.full_cost_roi(
            expected.revenue_saved,
            expected.campaign_cost,
            compute_seconds=compute_seconds,
            price_per_hour=settings.costs.compute_price_per_hour,
            fixed_cost=settings.costs.fixed_per_campaign,
        )
        metrics = {
            **result.drift_metrics(),
            "n_scored": float(result.n_scored),
            **campaign.as_metrics(),
            "compute_seconds": compute_seconds,
            "training_compute_seconds_charged": training_seconds,
            **result.times.as_metrics(),
            **expected.as_metrics(prefix="expected_"),
            **full.as_metrics(prefix="expected_full_cost_"),
        }
        runs.log_metrics(client, run_id, metrics)
        if expected.roi_pct is None:
            runs.set_tags(
                client, run_id, {"expected_roi_pct": "not measurable: no customer contacted"}
            )
        runs.log_files(client, run_id, [files.campaign_path, files.assignment_path], "campaign")
        path = settings.data.scoring_path
        runs.log_dataset(
            client, run_id, name=f"{settings.dataset.name}: {path.name}", path=path,
            digest=digest, context="scoring", dtypes=table_dtypes(path), n_rows=result.n_scored,
        )  # fmt: skip
        headline = campaign_headline(
            campaign, expected_roi_pct=expected.roi_pct, expected_full_cost_roi_pct=full.roi_pct,
            confidence=settings.measurement.confidence,
        )  # fmt: skip
        runs.describe_run(client, run_id, headline.markdown())
        report = campaign_html(headline, images={}, generated_at=datetime.now(UTC))
        runs.log_text(client, run_id, report, REPORT_ARTIFACT)
    get_run_logger().info("Logged the campaign to MLflow run %s.", run_id)
    return {"mlflow_run_id": run_id, **metrics}


@flow(name="churn-score", log_prints=True)
def score_flow(
    settings: Settings, campaign_id: str | None = None, scored_at: datetime | None = None
) -> dict[str, Any]:
    """Score every customer with the champion, apply the contact policy against the
    ledger, and write the campaign list.

    Args:
        settings: the configuration.
        campaign_id: the campaign (default: ``campaign-<date scored>``); an id already
            in the ledger keeps its recorded contacts.
        scored_at: the campaign's date (default: now); set it to backfill a day.
    """
    started = time.perf_counter()
    scored_at = as_utc(scored_at or datetime.now(UTC)).replace(microsecond=0)
    campaign_id = check_campaign_id(campaign_id or f"campaign-{scored_at:%Y-%m-%d}")
    suppressed = load_suppressed(settings)
    open_ledger(settings)
    check_tracking(settings)
    champion = load_champion(settings)
    targeting = load_targeting(settings)
    settings = select_rows_to_score(settings, campaign_id)
    if settings.campaign.runner == "dask":
        result = score_on_dask(champion, settings, campaign_id, targeting)
    else:
        result = score_customers_file(champion, settings, campaign_id, targeting)
    recorded = record_campaign(
        settings, champion, result, campaign_id, scored_at, suppressed, targeting
    )
    files = write_campaign(settings, recorded, suppressed)
    write_experiment_features(settings, result, recorded)
    expected = compute_expected_roi(recorded, settings)
    logged = log_scoring(settings, champion, result, recorded, files, expected, started)
    drifted, not_judged = drift_to_act_on(
        result.drift, n_scored=result.n_scored, psi_threshold=settings.drift.psi_threshold,
        min_customers=settings.drift.min_customers,
    )  # fmt: skip
    if not_judged:
        print(f"Campaign {campaign_id}: {not_judged}; no retrain.")
    retrain = None
    if drifted and settings.drift.retrain_on_drift:
        reason = f"PSI above {settings.drift.psi_threshold:g} for " + ", ".join(
            f"{n} ({result.drift[n]:.2f})" for n in drifted
        )
        print(f"Feature drift: {reason}; triggering a retrain.")
        retrain = trigger_retrain(settings, logged["mlflow_run_id"], reason)
    campaign = recorded.campaign
    summary = {
        "mlflow_run_id": logged["mlflow_run_id"],
        "campaign_id": campaign_id,
        "model_version": campaign.model_version,
        "n_scored": result.n_scored,
        "n_flagged": campaign.n_flagged,
        "n_treated": campaign.n_treated,
        "n_control": campaign.n_control,
        "skipped": {reason: campaign.n_skipped(reason) for reason in SKIP_REASONS},
        "control_share": campaign.control_share,
        "budget_left_out_net_benefit": campaign.budget_left_out_value,
        "already_recorded": recorded.existed,
        "campaign_path": str(files.campaign_path),
        "assignment_path": str(files.assignment_path),
        "scores_path": str(result.scores_path),
        "expected_roi": expected.as_metrics() | {"roi_pct": expected.roi_pct},
        "expected_full_cost_roi_pct": logged.get("expected_full_cost_roi_pct"),
        "drift": result.drift,
        "drifted_features": drifted,
        "step_seconds": result.times.as_metrics(),
        "retrain": retrain,
    }
    roi_text = "not measurable" if expected.roi_pct is None else f"{expected.roi_pct:,.1f} %"
    skipped = ", ".join(f"{campaign.n_skipped(r):,} {r}" for r in SKIP_REASONS)
    create_markdown_artifact(
        f"# Campaign {campaign_id}\n\nScored {result.n_scored:,} customers with model "
        f"v{campaign.model_version}; flagged {campaign.n_flagged:,} above "
        f"{settings.campaign.threshold:g}: {campaign.n_treated:,} to contact, "
        f"{campaign.n_control:,} held out as the control group; skipped: {skipped}.\n\n"
        f"Expected net benefit ${expected.net_benefit:,.0f}, expected ROI {roi_text} "
        f"(campaign cost only).\n\nCampaign list: `{files.campaign_path}`.",
        key=artifact_key(settings, "campaign-summary"),
        description="Scoring run",
    )
    return summary
