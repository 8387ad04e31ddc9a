"""The tuning flow: a seeded search over the model's parameters, logged as one MLflow run."""

from __future__ import annotations

from typing import Any

import pandas as pd
import yaml
from prefect import flow

from churn.data import file_digest
from churn.features import FeatureSpec
from churn.settings import Settings
from churn.tune import SearchResult, search
from flows import runs
from flows.data import provide_data
from flows.tasks import compute_task
from flows.train import load_training_data


@compute_task
def search_parameters(
    customers: pd.DataFrame, settings: Settings, trials: int, timeout_seconds: float | None
) -> SearchResult:
    return search(
        customers,
        params=settings.model,
        spec=FeatureSpec.from_dataset(settings.dataset),
        trials=trials,
        folds=max(settings.model.cv_folds, 2),
        timeout_seconds=timeout_seconds,
    )


@flow(name="churn-tune", log_prints=True)
def tune_flow(
    settings: Settings, trials: int = 30, timeout_seconds: float | None = None
) -> dict[str, Any]:
    """Search LightGBM's parameters by cross-validated AUC; log the trials and the best."""
    provide_data(settings, only_if_missing=True)
    customers = load_training_data(settings)
    client = runs.client_for(settings.tracking)
    with runs.open_run(
        client,
        settings.tracking,
        experiment=f"{settings.tracking.training_experiment}-tuning",
        run_type="tuning",
        tags={"dataset": settings.dataset.name,
              "dataset_digest": file_digest(settings.data.training_path)},
    ) as run_id:  # fmt: skip
        result = search_parameters(customers, settings, trials, timeout_seconds)
        runs.log_params(client, run_id, {"trials": len(result.trials), "seed": settings.model.seed})
        runs.log_params(client, run_id, {f"best.{k}": v for k, v in result.best_params.items()})
        runs.log_metrics(client, run_id, {"best_cv_auc": result.best_cv_auc})
        runs.log_text(client, run_id, result.trials.to_csv(index=False), "trials.csv")
        snippet = yaml.safe_dump({"model": result.best_params}, sort_keys=False)
        runs.log_text(client, run_id, snippet, "best_model_section.yaml")
    print(f"Best cross-validated AUC {result.best_cv_auc:.4f}; put in the config:\n{snippet}")
    return {
        "mlflow_run_id": run_id,
        "trials": len(result.trials),
        "best_cv_auc": result.best_cv_auc,
        "best_params": result.best_params,
    }
