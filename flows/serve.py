"""Deployments of the training and scoring flows on cron schedules from config.

A deployment holds the path of its YAML config, never the settings themselves: the
file is read when each run starts, in the process that runs it, so an edited config
takes effect at the next run without serving again, and a password given in the
environment (``MLFLOW_TRACKING_URI``, ``CHURN_LEDGER_URL``) stays there instead of
being stored in Prefect's database as a parameter.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger

from churn.errors import NotReadyError
from churn.settings import Settings, load_settings
from flows.retrain import SCORE_DEPLOYMENT, TRAIN_DEPLOYMENT
from flows.runtime import configure_runtime, prefect_api_url
from flows.score import score_flow
from flows.train import train_flow


def _read_config(config: str | None) -> Settings:
    # A deployment's run is its own entry point: a served or a worker's run starts in a
    # fresh process, where a bad config should fail with its one-paragraph message.
    configure_runtime()
    settings = load_settings(config or None)
    get_run_logger().info("Read the config %s.", config or "built in (configs/default.yaml's)")
    return settings


# The flows' own names, so that the deployments stay churn-train/weekly-retrain and
# churn-score/daily-scoring. They run the flows' bodies (``.fn``) rather than calling
# them as subflows: a subflow's run would store the whole settings as its parameters.
@flow(name="churn-train", log_prints=True)
def train_from_config(config: str | None = None, reason: str | None = None) -> dict[str, Any]:
    """Train, evaluate and register a churn model with the config read now.

    Args:
        config: path of the YAML config, read when the run starts (relative paths from
            the run's working directory); empty means the built-in defaults.
            MLFLOW_TRACKING_URI and CHURN_LEDGER_URL in the environment override it.
        reason: why this retrain was asked for (drift, decay), shown in the run's log.
    """
    settings = _read_config(config)
    if reason:
        get_run_logger().info("Retraining: %s.", reason)
    return train_flow.fn(settings)


@flow(name="churn-score", log_prints=True)
def score_from_config(
    config: str | None = None, campaign_id: str | None = None, scored_at: datetime | None = None
) -> dict[str, Any]:
    """Score every customer with the champion and write the campaign list, with the
    config read now.

    Args:
        config: path of the YAML config, read when the run starts (relative paths from
            the run's working directory); empty means the built-in defaults.
            MLFLOW_TRACKING_URI and CHURN_LEDGER_URL in the environment override it.
        campaign_id: the campaign (default: ``campaign-<date scored>``).
        scored_at: the campaign's date (default: now); set it to backfill a day.
    """
    settings = _read_config(config)
    return score_flow.fn(settings, campaign_id=campaign_id, scored_at=scored_at)


def build_deployments(settings: Settings, config: Path | None) -> list[Any]:
    """The two deployments, with the schedules of ``settings`` (read from ``config``) and
    the config's absolute path as their one parameter (a run's working directory may
    differ from this one's)."""
    from prefect.deployments.runner import EntrypointType
    from prefect.schedules import Cron

    parameters = {"config": None if config is None else str(config.resolve())}
    tz = settings.schedule.timezone
    return [
        train_from_config.to_deployment(
            name=TRAIN_DEPLOYMENT,
            schedule=Cron(settings.schedule.training_cron, timezone=tz),
            parameters=parameters,
            concurrency_limit=1,
            tags=["churn", "training"],
            entrypoint_type=EntrypointType.MODULE_PATH,
        ),
        score_from_config.to_deployment(
            name=SCORE_DEPLOYMENT,
            schedule=Cron(settings.schedule.scoring_cron, timezone=tz),
            parameters=parameters,
            concurrency_limit=1,
            tags=["churn", "scoring"],
            entrypoint_type=EntrypointType.MODULE_PATH,
        ),
    ]


def serve_deployments(settings: Settings, config: Path | None) -> None:
    """Serve both deployments until interrupted; needs a running Prefect server."""
    from prefect import serve

    if prefect_api_url() is None:
        raise NotReadyError(
            "churn serve needs a Prefect server: Prefect's temporary local backend cannot "
            "schedule flows. Start one with `make prefect-server` (prefect server start "
            "--host 127.0.0.1) and set PREFECT_API_URL=http://127.0.0.1:4200/api, or run "
            "`make serve`, which does both."
        )
    serve(*build_deployments(settings, config))
