"""Retraining on demand: when scoring sees drift or measuring sees decay.

Through the served `churn-train/weekly-retrain` deployment when a Prefect
server has it (a `churn serve` process picks the run up, with the config file the
deployment names, read then), else in this process with this run's settings.
The deployments' names live here, so that scoring, measuring and serving need
not import each other.
"""

from __future__ import annotations

from typing import Any

from churn.errors import NotReadyError
from churn.settings import Settings
from flows import runs
from flows.runtime import prefect_api_url
from flows.tasks import write_task

TRAIN_DEPLOYMENT = "weekly-retrain"
SCORE_DEPLOYMENT = "daily-scoring"


@write_task
def trigger_retrain(
    settings: Settings, run_id: str, reason: str, tag: str = "drift.retrain"
) -> str:
    """Retrain through the served deployment when a Prefect server has one, else in process."""
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound

    from flows.train import train_flow  # the training flow's imports, only when it runs

    client = runs.client_for(settings.tracking)
    how = ""
    via = settings.drift.retrain_via
    if via != "in_process" and prefect_api_url() is not None:
        try:
            # The deployment reads its own config file when the run starts: only the
            # reason is passed, so that no setting (nor a password) is stored in Prefect.
            run: Any = run_deployment(
                f"churn-train/{TRAIN_DEPLOYMENT}",
                parameters={"reason": f"{tag}: {reason}"},
                timeout=0,
            )
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
    runs.set_tags(client, run_id, {tag: f"{reason}; triggered {how}"})
    return how
