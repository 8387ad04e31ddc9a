"""The training flow: load → validate → split → fit → evaluate → log → backtest ROI →
challenge the champion → register."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from churn.assessment import (
    Backtest,
    Evaluation,
    backtest_model,
    challenge,
    evaluate_model,
)
from churn.baseline import baseline_rows, baseline_scores
from churn.card import model_card
from churn.compiled import CompiledTrees, compile_booster
from churn.data import file_digest, table_columns
from churn.dataset import LABEL_COLUMN, undeclared_columns
from churn.errors import NotReadyError
from churn.features import FeatureSpec
from churn.model import ChurnModel
from churn.plots import training_plots
from churn.promotion import PromotionDecision
from churn.report import dollars, percent, training_description
from churn.score_rows import load_training_rows
from churn.settings import Settings
from churn.train import Split, Trees, calibrate, cross_validate, fit_trees, split_customers
from flows import registry, runs, sidecar
from flows.data import provide_data
from flows.runtime import artifact_key
from flows.tasks import check_tracking, compute_task, read_task, write_task


@read_task
def load_training_data(settings: Settings) -> pd.DataFrame:
    path = settings.data.training_path
    customers = load_training_rows(
        path, settings.data.held_out_of_training, dataset=settings.dataset
    )
    ignored = undeclared_columns(table_columns(path), settings.dataset)
    if ignored:
        get_run_logger().warning(
            "%s: columns %s are not declared in dataset '%s' and are ignored "
            "(list them under dataset.drop to silence this).",
            path, ", ".join(ignored), settings.dataset.name,
        )  # fmt: skip
    get_run_logger().info(
        "Read %s labelled customers (%.1f %% churned) from %s.",
        f"{len(customers):,}", 100 * customers[LABEL_COLUMN].mean(), path,
    )  # fmt: skip
    return customers


@compute_task
def split_data(customers: pd.DataFrame, settings: Settings) -> Split:
    m = settings.model
    split = split_customers(
        customers, test_size=m.test_size, validation_size=m.validation_size, seed=m.seed
    )
    get_run_logger().info(
        "Split %s customers: %s to train, %s to stop early and calibrate, %s to test.",
        *(f"{n:,}" for n in (len(customers), len(split.train), len(split.validation),
                              len(split.test))),
    )  # fmt: skip
    return split


@compute_task
def boost_trees(split: Split, settings: Settings) -> Trees:
    spec = FeatureSpec.from_dataset(settings.dataset)
    trees = fit_trees(split.train, split.validation, params=settings.model, spec=spec)
    get_run_logger().info(
        "Boosted %d trees; early stopping kept %d.", trees.boosting_rounds, trees.best_iteration
    )
    return trees


@dataclass(frozen=True)
class Compiling:
    """The compiled trees, or why there are none (``note``; None when not asked)."""

    trees: CompiledTrees | None = None
    note: str | None = None


@compute_task
def compile_trees(trees: Trees, run_id: str, settings: Settings) -> Compiling:
    """Compile the trees into this machine's cache for the run; fall back with a warning."""
    if not settings.model.compile:
        return Compiling()
    try:
        compiled = compile_booster(
            trees.booster.booster_,
            registry.compiled_cache(run_id),
            num_iteration=trees.best_iteration,
        )
    except ImportError:
        note = "lleaves is not installed (pip install -e '.[compiled]')"
    except Exception as exc:  # a compiler failure must not lose the trained model
        note = f"compiling failed: {type(exc).__name__}: {exc}"
    else:
        get_run_logger().info("Compiled the trees to machine code for scoring.")
        return Compiling(trees=compiled)
    get_run_logger().warning("Trees not compiled: %s; LightGBM scores instead.", note)
    return Compiling(note=note)


@compute_task
def calibrate_model(
    trees: Trees, compiling: Compiling, split: Split, settings: Settings
) -> ChurnModel:
    m = settings.model
    model = calibrate(
        trees, split.validation, method=m.calibration, seed=m.seed, compiled=compiling.trees
    )
    get_run_logger().info(
        "Calibrated on the validation customers: %s (model.calibration: %s).",
        model.calibrator.kind, m.calibration,
    )  # fmt: skip
    return model


@compute_task
def score_baseline(split: Split, settings: Settings) -> np.ndarray:
    """The logistic baseline, fitted on train and validation, scoring the test customers
    (in the side process)."""
    seed = settings.model.seed
    return sidecar.call(
        baseline_scores,
        baseline_rows(split.train, split.validation, seed=seed),
        split.test,
        spec=FeatureSpec.from_dataset(settings.dataset),
        seed=seed,
    )


@compute_task
def cross_validation(customers: pd.DataFrame, settings: Settings) -> dict[str, float]:
    """k-fold AUC, ECE and the baseline's, over every labelled customer (0 folds: none)."""
    folds = settings.model.cv_folds
    if folds == 0:
        return {}
    spec = FeatureSpec.from_dataset(settings.dataset)
    log = get_run_logger()

    def on_fold(fold: int, folds: int, auc: float) -> None:
        log.info("Cross-validation fold %d of %d: AUC %.4f.", fold, folds, auc)

    return cross_validate(customers, params=settings.model, spec=spec, folds=folds, on_fold=on_fold)


@compute_task
def evaluate(
    model: ChurnModel, split: Split, baseline_score: np.ndarray, settings: Settings
) -> Evaluation:
    evaluation = evaluate_model(model, split.test, baseline_score, settings)
    m = evaluation.metrics
    get_run_logger().info(
        "Test AUC %.4f (logistic baseline %.4f), PR AUC %.4f; %d test customers above %g.",
        m["auc"], m["baseline_auc"], m["pr_auc"], m["n_flagged"], settings.campaign.threshold,
    )  # fmt: skip
    return evaluation


@compute_task
def backtest(evaluation: Evaluation, settings: Settings) -> Backtest:
    tested = backtest_model(evaluation, settings)
    c = tested.campaign
    log = get_run_logger()
    log.info(
        "Backtest on the test split: %s contacted, net benefit %s, ROI %s.",
        f"{c.n_targeted:,}", dollars(c.net_benefit), percent(c.roi_pct),
    )  # fmt: skip
    if advice := tested.threshold_advice(settings.campaign.threshold):
        log.warning("%s.", advice)
    return tested


@compute_task
def draw_figures(
    evaluation: Evaluation, backtest: Backtest, settings: Settings
) -> dict[str, bytes]:
    """The run's plots as PNG, drawn in the side process while the flow goes on."""
    return sidecar.call(
        training_plots, evaluation.y_true, evaluation.y_score,
        baseline_score=evaluation.baseline_score, importance=evaluation.importance,
        curve=backtest.curve, gains=backtest.gains,
        threshold=settings.campaign.threshold,
        best_threshold=backtest.metrics["best_threshold"],
        break_even=backtest.metrics["break_even_probability"],
    )  # fmt: skip


def _params(settings: Settings, split: Split, trees: Trees, model: ChurnModel) -> dict[str, Any]:
    return {
        **{f"model.{k}": v for k, v in settings.model.model_dump().items()},
        # What model.calibration (auto, say) fitted: sigmoid, smooth or isotonic.
        "calibrator": model.calibrator.kind,
        **{f"economics.{k}": v for k, v in settings.economics.model_dump().items()},
        "threshold": settings.campaign.threshold,
        "data.training_path": settings.data.training_path,
        "n_train": len(split.train),
        "n_validation": len(split.validation),
        "n_test": len(split.test),
        "best_iteration": trees.best_iteration,
        "boosting_rounds": trees.boosting_rounds,
    }


@write_task
def log_training(
    run_id: str,
    settings: Settings,
    split: Split,
    trees: Trees,
    model: ChurnModel,
    compiling: Compiling,
    metrics: dict[str, float],
    importance: pd.Series,
) -> str:
    client = runs.client_for(settings.tracking)
    runs.log_params(client, run_id, _params(settings, split, trees, model))
    runs.log_metrics(client, run_id, metrics)
    importance = importance.sort_values(ascending=False)
    gains = json.dumps({k: float(v) for k, v in importance.items()}, indent=2)
    runs.log_text(client, run_id, gains, "feature_importance.json")
    example = split.test.drop(columns=[LABEL_COLUMN])
    uri = registry.log_model(run_id, model, example)
    if compiling.trees is not None:
        registry.log_compiled(client, run_id, compiling.trees)
    elif compiling.note is not None:
        runs.set_tags(client, run_id, {"compiled": f"no: {compiling.note}"})
    return uri


@write_task
def log_roi(run_id: str, settings: Settings, backtest: Backtest) -> None:
    client = runs.client_for(settings.tracking)
    runs.log_metrics(client, run_id, backtest.metrics)
    if backtest.campaign.roi_pct is None:
        runs.set_tags(
            client, run_id, {"roi_pct": "not measurable: no test customer above the threshold"}
        )


@write_task
def log_figures(run_id: str, settings: Settings, figures: dict[str, bytes]) -> None:
    runs.log_figures(runs.client_for(settings.tracking), run_id, figures)


@write_task
def log_model_card(
    run_id: str,
    settings: Settings,
    customers: pd.DataFrame,
    split: Split,
    model: ChurnModel,
    metrics: dict[str, float],
    backtest: Backtest,
    registration: registry.Registration,
    alias: str,
    digest: str,
) -> None:
    e, rule = settings.economics, settings.dataset.customer_value
    value = (
        f"${e.clv:,.0f} each" if rule is None
        else f"{rule.revenue_column} × {rule.lifetime_months:g} months"
    )  # fmt: skip
    card = model_card(
        dataset=settings.dataset.name,
        data_path=str(settings.data.training_path),
        digest=digest,
        sizes={"train": len(split.train), "validation": len(split.validation),
               "test": len(split.test)},
        churn_rate=float(customers[LABEL_COLUMN].mean()),
        features=list(model.spec.names),
        metrics=metrics | {"cv_folds": settings.model.cv_folds},
        economics={"threshold": settings.campaign.threshold, "value": value,
                   "cost_per_contact": e.cost_per_contact, "save_rate": e.save_rate},
        roi_metrics=backtest.metrics | {"roi_pct": backtest.campaign.roi_pct},
        model={"name": registration.name, "version": registration.version, "alias": alias,
               "best_iteration": model.best_iteration, "calibrator": model.calibrator.kind,
               "calibration": settings.model.calibration},
        trained_at=datetime.now(UTC),
    )  # fmt: skip
    client = runs.client_for(settings.tracking)
    runs.log_text(client, run_id, card, "model_card.md")


@write_task
def register(run_id: str, model_uri: str, settings: Settings) -> registry.Registration:
    client = runs.client_for(settings.tracking)
    registration = registry.register_model(
        client, model_uri, name=settings.model.registered_name, run_id=run_id
    )
    get_run_logger().info(
        "Registered %s v%s as %s.",
        registration.name, registration.version, registration.aliases[0],
    )  # fmt: skip
    return registration


@write_task
def challenge_champion(
    run_id: str,
    split: Split,
    evaluation: Evaluation,
    backtest: Backtest,
    settings: Settings,
) -> PromotionDecision | None:
    """Score the champion on the challenger's test customers; decide which is better
    (None: there is no champion yet)."""
    client = runs.client_for(settings.tracking)
    try:
        champion = registry.load_champion(
            client, name=settings.model.registered_name, compiled=True
        )
    except NotReadyError:  # the first model: it becomes the champion
        return None
    outcome = challenge(champion.model, split.test, evaluation, backtest, settings)
    decision = outcome.decision
    runs.log_metrics(client, run_id, outcome.metrics)
    runs.set_tags(client, run_id, {
        "promotion.decision": "promoted" if decision.promote else "kept",
        "promotion.reason": decision.reason,
        "promotion.champion_version": champion.version,
    })  # fmt: skip
    get_run_logger().info("Against champion v%s: %s.", champion.version, decision.reason)
    return decision


@write_task
def promote(
    run_id: str,
    registration: registry.Registration,
    decision: PromotionDecision | None,
    settings: Settings,
) -> str:
    """Make the new version champion if it won its challenge; return its alias."""
    alias = registration.aliases[0]
    if alias == registry.CHALLENGER and decision is not None and decision.promote:
        client = runs.client_for(settings.tracking)
        registry.promote(
            client, settings.tracking, name=registration.name, version=registration.version,
            reason=decision.reason,
        )  # fmt: skip
        alias = registry.CHAMPION
    return alias


@write_task
def describe_training(
    run_id: str,
    settings: Settings,
    customers: pd.DataFrame,
    registration: registry.Registration,
    alias: str,
    metrics: dict[str, float],
    backtest: Backtest,
    decision: PromotionDecision | None,
    digest: str,
) -> str:
    """The run's and the version's description (the answer in words), the decision as
    the version's tags, and the training table as the run's input dataset."""
    client = runs.client_for(settings.tracking)
    if decision is not None:
        metrics = metrics | {"champion_auc": decision.champion_auc}
    text = training_description(
        model_name=registration.name, version=registration.version, alias=alias,
        metrics=metrics, backtest_net_benefit=backtest.campaign.net_benefit,
        backtest_roi_pct=backtest.campaign.roi_pct,
        decision=None if decision is None else decision.reason,
    )  # fmt: skip
    if advice := backtest.threshold_advice(settings.campaign.threshold):
        text += f"\n\n**Threshold:** {advice}."
        runs.set_tags(client, run_id, {"threshold.advice": advice})
    runs.describe_run(client, run_id, text)
    runs.rename_run(client, run_id, f"train v{registration.version} {datetime.now(UTC):%Y-%m-%d}")
    outcome = "first model" if decision is None else "promoted" if decision.promote else "kept"
    registry.describe_version(
        client, name=registration.name, version=registration.version, description=text,
        tags={"promotion.decision": outcome,
              "promotion.reason": "the first model" if decision is None else decision.reason,
              "identical_to_champion": str(decision is not None and decision.identical).lower()},
    )  # fmt: skip
    path = settings.data.training_path
    runs.log_dataset(
        client, run_id, name=f"{settings.dataset.name}: {path.name}", path=path,
        digest=digest, context="training", dtypes=customers.dtypes,
        n_rows=len(customers),
    )  # fmt: skip
    return text


def _summary_markdown(result: dict[str, Any]) -> str:
    m, r = result["metrics"], result["roi"]
    roi_text = "not measurable" if r.get("roi_pct") is None else f"{r['roi_pct']:,.1f} %"
    return "\n".join(
        [
            f"# Churn model v{result['model_version']} ({result['registry_alias']})",
            "",
            "| metric | value |",
            "|---|---|",
            f"| AUC (test) | {m['auc']:.4f} |",
            f"| PR AUC | {m['pr_auc']:.4f} |",
            f"| Brier | {m['brier']:.4f} |",
            f"| flagged above threshold | {int(m['n_flagged'])} |",
            f"| backtest customers saved | {r['customers_saved']:,.1f} |",
            f"| backtest net benefit | ${r['net_benefit']:,.0f} |",
            f"| backtest ROI | {roi_text} |",
            "",
            f"Promotion: {result.get('promotion_reason') or 'first model, champion'}.",
            "",
            f"MLflow run `{result['mlflow_run_id']}`.",
        ]
    )


@flow(name="churn-train", log_prints=True)
def train_flow(settings: Settings) -> dict[str, Any]:
    """Train, evaluate and register a churn model; log AUC and backtest ROI in one MLflow run."""
    started = time.perf_counter()
    sidecar.start()  # its imports run while the data loads
    # A scheduled run on the embedded default has no data until it makes some.
    provide_data(settings, only_if_missing=True)
    tracking_ready = check_tracking.submit(settings)  # while the data loads
    customers = load_training_data(settings)
    tracking_ready.result()
    client = runs.client_for(settings.tracking)
    # The training file's content hash, read once: the run's tag, its card and its input.
    digest = file_digest(settings.data.training_path)
    with runs.open_run(
        client,
        settings.tracking,
        experiment=settings.tracking.training_experiment,
        run_type="training",
        tags={
            "data.path": str(settings.data.training_path),
            "dataset_digest": digest,
        },
    ) as run_id:
        split = split_data(customers, settings)
        trees = boost_trees(split, settings)
        # In the side process while the trees compile: run beside LightGBM's fit in this
        # process, it had slowed the run by 0.9-4.7 s at 1 M rows (docs/benchmark.md).
        baseline_score = score_baseline.submit(split, settings)
        compiling = compile_trees(trees, run_id, settings)
        model = calibrate_model(trees, compiling, split, settings)
        evaluation = evaluate(model, split, baseline_score.result(), settings)
        metrics = evaluation.metrics | cross_validation(customers, settings)
        tested = backtest(evaluation, settings)
        figures = draw_figures.submit(evaluation, tested, settings)
        model_uri = log_training(
            run_id, settings, split, trees, model, compiling, metrics, evaluation.importance
        )
        log_roi(run_id, settings, tested)
        decision = challenge_champion(run_id, split, evaluation, tested, settings)
        # The run's record is complete before a version is registered: a plot that fails,
        # fails the run with nothing registered.
        log_figures(run_id, settings, figures.result())
        registration = register(run_id, model_uri, settings)
        alias = promote(run_id, registration, decision, settings)
        log_model_card(run_id, settings, customers, split, model, metrics, tested,
                       registration, alias, digest)  # fmt: skip
        describe_training(run_id, settings, customers, registration, alias, metrics, tested,
                          decision, digest)  # fmt: skip
        # The run's own compute time, charged to campaigns in the full-cost ROI.
        runs.log_metrics(client, run_id, {"compute_seconds": time.perf_counter() - started})
    result = {
        "mlflow_run_id": run_id,
        "model_uri": model_uri,
        "registered_model": registration.name,
        "model_version": registration.version,
        "registry_alias": alias,
        "promotion_reason": None if decision is None else decision.reason,
        "metrics": metrics,
        "roi": tested.metrics | {"roi_pct": tested.campaign.roi_pct},
    }
    create_markdown_artifact(
        _summary_markdown(result),
        key=artifact_key(settings, "training-summary"),
        description="Training run",
    )
    return result
