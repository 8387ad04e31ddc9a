"""The uplift flow: the measured campaigns' experiments from the ledger → fit the
meta-learner → judge it by cross-fitting on the experimental customers (Qini coefficient and
AUUC with intervals; the gate against risk targeting at the same budget) → log to
MLflow and register; only a model that passes the gate becomes ``champion``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
from prefect import flow, get_run_logger

from churn.errors import NotReadyError
from churn.layout import CampaignFolder
from churn.ledger import Ledger
from churn.settings import Settings
from churn.uplift import (
    Experiments,
    UpliftJudgement,
    UpliftModel,
    UpliftParams,
    assemble_experiments,
    crossfit_uplift,
    fit_uplift,
    judge_uplift,
    propensity_weights,
)
from flows import registry, runs
from flows.tasks import check_tracking, compute_task, read_task, write_task


@dataclass(frozen=True)
class UpliftResult:
    """What an uplift run produced and decided."""

    mlflow_run_id: str
    registered: registry.Registration
    judgement: UpliftJudgement
    n_training: int
    campaigns: tuple[str, ...]

    @property
    def decision(self) -> str:
        """One sentence: the gate's verdict and why."""
        return self.judgement.comparison.reason()

    def as_summary(self) -> dict[str, Any]:
        """Plain values for ``--json`` and the terminal."""
        return {
            "mlflow_run_id": self.mlflow_run_id,
            "registered_model": self.registered.name,
            "version": self.registered.version,
            "aliases": list(self.registered.aliases),
            "gate_passed": self.judgement.switch,
            "decision": self.decision,
            "campaigns": len(self.campaigns),
            "training_customers": self.n_training,
            **self.judgement.as_metrics(),
        }

    def rows(self) -> list[tuple[str, str]]:
        """The terminal summary's lines."""
        e = self.judgement.evaluation
        return [
            ("decision", self.decision),
            ("registered", f"{self.registered.name} v{self.registered.version} "
                           f"({', '.join(self.registered.aliases)})"),
            ("Qini coefficient", _shown(e.qini, e.qini_ci)),
            ("AUUC", _shown(e.auuc, e.auuc_ci)),
            ("learnt from", f"{self.n_training:,} customers of {_campaigns(len(self.campaigns))}"),
            ("judged on", f"{self.judgement.n_customers:,} customers, cross-fitted"),
            ("MLflow run", self.mlflow_run_id),
        ]  # fmt: skip


@read_task
def load_experiments(settings: Settings) -> Experiments:
    """Every measured campaign's treated and control customers, with their features."""
    with Ledger.open(settings.ledger.url, must_exist=True) as ledger:
        rows = ledger.experiments()
    features = {}
    for campaign_id in rows["campaign_id"].unique():
        path = CampaignFolder.of(settings.campaign.output_dir, str(campaign_id)).features
        if path.exists():
            features[str(campaign_id)] = pd.read_parquet(path)
    experiments = assemble_experiments(rows, features)
    log = get_run_logger()
    left_out = {
        "their features.parquet is missing or does not cover all their customers": (
            experiments.without_features
        ),
        "nobody was held out or nobody contacted, so they hold no experiment": (
            experiments.without_experiment
        ),
    }
    for why, campaigns in left_out.items():
        if campaigns:
            log.warning(
                "%d measured campaigns are left out: %s (e.g. %s).",
                len(campaigns), why, ", ".join(campaigns[:3]),
            )  # fmt: skip
    need = settings.uplift.min_control
    if experiments.n_control < need:
        raise NotReadyError(
            f"Not enough experimental data for an uplift model: {experiments.n_control} control "
            f"customers with outcomes over {_campaigns(len(experiments.campaigns), 'measured')}, "
            f"and uplift.min_control is {need}. Measure more campaigns (churn roi), or raise "
            "campaign.control_share."
        )
    log.info(
        "Experiments: %s customers (%s held out as control) from %s.",
        f"{len(experiments.frame):,}", f"{experiments.n_control:,}",
        _campaigns(len(experiments.campaigns), "measured"),
    )  # fmt: skip
    return experiments


@compute_task
def fit_and_judge(
    settings: Settings, experiments: Experiments
) -> tuple[UpliftModel, UpliftJudgement, int]:
    """Fit on every experimental customer; judge the learner by cross-fitting."""
    u = settings.uplift
    frame = experiments.frame
    features = experiments.features
    params = UpliftParams(
        learner=u.learner, n_estimators=u.n_estimators, learning_rate=u.learning_rate,
        num_leaves=u.num_leaves, min_child_samples=u.min_child_samples, seed=u.seed,
    )  # fmt: skip
    treated = frame["treated"].to_numpy(dtype=bool)
    model = fit_uplift(
        frame[features], treated, frame["churned"].to_numpy(), params=params,
        weight=propensity_weights(treated, frame["propensity"].to_numpy(dtype=float)),
    )  # fmt: skip
    predicted = crossfit_uplift(frame, features, params=params, folds=u.folds)
    judgement = judge_uplift(
        predicted, frame, threshold=settings.campaign.threshold,
        cost_per_contact=settings.economics.cost_per_contact,
        confidence=settings.measurement.confidence, n_bootstrap=u.bootstrap, seed=u.seed,
    )  # fmt: skip
    e = judgement.evaluation
    get_run_logger().info(
        "Uplift model (%s-learner), cross-fitted on %s customers: Qini %s, AUUC %s; %s.",
        u.learner, f"{judgement.n_customers:,}", _shown(e.qini, e.qini_ci),
        _shown(e.auuc, e.auuc_ci), judgement.comparison.reason(),
    )  # fmt: skip
    return model, judgement, len(frame)


def _campaigns(n: int, kind: str = "") -> str:
    """``1 measured campaign``, ``4 measured campaigns``."""
    return f"{n:,} {kind + ' ' if kind else ''}campaign{'' if n == 1 else 's'}"


def _shown(point: float | None, ci: tuple[float, float] | None) -> str:
    if point is None:
        return "not measurable"
    return f"{point:.3f}" + (f" ({ci[0]:.3f} to {ci[1]:.3f})" if ci else "")


@write_task
def log_uplift(
    settings: Settings,
    experiments: Experiments,
    model: UpliftModel,
    judgement: UpliftJudgement,
    n_training: int,
) -> UpliftResult:
    """One MLflow run per uplift model, registered; the gate decides its alias."""
    client = runs.client_for(settings.tracking)
    u = settings.uplift
    with runs.open_run(
        client, settings.tracking, experiment=settings.tracking.uplift_experiment,
        run_type="uplift", run_name=f"uplift {u.learner}-learner",
        tags={"uplift.gate": "passed" if judgement.switch else "kept risk targeting"},
    ) as run_id:  # fmt: skip
        runs.log_params(client, run_id, {f"uplift.{k}": v for k, v in u.model_dump().items()})
        runs.log_params(client, run_id, {
            "threshold": settings.campaign.threshold,
            "cost_per_contact": settings.economics.cost_per_contact,
            "campaigns": len(experiments.campaigns),
        })  # fmt: skip
        runs.log_metrics(client, run_id, {
            **judgement.as_metrics(),
            "training_customers": float(n_training),
            "explored_customers": float(experiments.n_explored),
        })  # fmt: skip
        e = judgement.evaluation
        runs.describe_run(
            client, run_id,
            f"**Uplift model, {u.learner}-learner: {judgement.comparison.reason()}.**\n\n"
            f"Judged on {judgement.n_customers:,} experimental customers of "
            f"{_campaigns(len(experiments.campaigns), 'measured')}, each predicted by a model "
            f"fitted on the other {u.folds - 1} of {u.folds} folds: Qini coefficient "
            f"{_shown(e.qini, e.qini_ci)}, AUUC {_shown(e.auuc, e.auuc_ci)} "
            f"({e.confidence:.0%} bootstrap intervals).",
        )  # fmt: skip
        registered = registry.register_uplift(
            client, model, name=u.registered_name, run_id=run_id, gate_passed=judgement.switch,
            explored=experiments.n_explored, reason=judgement.comparison.reason(),
        )  # fmt: skip
    get_run_logger().info(
        "Registered %s v%s as %s.", registered.name, registered.version,
        " and ".join(registered.aliases),
    )  # fmt: skip
    return UpliftResult(
        mlflow_run_id=run_id, registered=registered, judgement=judgement,
        n_training=n_training, campaigns=experiments.campaigns,
    )  # fmt: skip


@flow(name="churn-uplift", log_prints=True)
def uplift_flow(settings: Settings) -> UpliftResult:
    """Learn whom a contact keeps from the measured campaigns, and gate it against risk
    targeting.

    Args:
        settings: the configuration.
    """
    check_tracking(settings)
    experiments = load_experiments(settings)
    model, judgement, n_training = fit_and_judge(settings, experiments)
    return log_uplift(settings, experiments, model, judgement, n_training)
