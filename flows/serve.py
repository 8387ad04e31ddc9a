"""Deployments of the training and scoring flows on cron schedules from config."""

from __future__ import annotations

from typing import Any

from churn.errors import NotReadyError
from churn.settings import Settings
from flows.retrain import SCORE_DEPLOYMENT, TRAIN_DEPLOYMENT
from flows.runtime import prefect_api_url


def build_deployments(settings: Settings) -> list[Any]:
    """The two deployments, with their schedules and the settings as parameters."""
    from prefect.deployments.runner import EntrypointType
    from prefect.schedules import Cron

    from flows.score import score_flow
    from flows.train import train_flow

    parameters = {"settings": settings.model_dump(mode="json")}
    tz = settings.schedule.timezone
    return [
        train_flow.to_deployment(
            name=TRAIN_DEPLOYMENT,
            schedule=Cron(settings.schedule.training_cron, timezone=tz),
            parameters=parameters,
            concurrency_limit=1,
            tags=["churn", "training"],
            entrypoint_type=EntrypointType.MODULE_PATH,
        ),
        score_flow.to_deployment(
            name=SCORE_DEPLOYMENT,
            schedule=Cron(settings.schedule.scoring_cron, timezone=tz),
            parameters=parameters,
            concurrency_limit=1,
            tags=["churn", "scoring"],
            entrypoint_type=EntrypointType.MODULE_PATH,
        ),
    ]


def serve_deployments(settings: Settings) -> None:
    """Serve both deployments until interrupted; needs a running Prefect server."""
    from prefect import serve

    if prefect_api_url() is None:
        raise NotReadyError(
            "churn serve needs a Prefect server: Prefect's temporary local backend cannot "
            "schedule flows. Start one with `make prefect-server` (prefect server start "
            "--host 127.0.0.1) and set PREFECT_API_URL=http://127.0.0.1:4200/api, or run "
            "`make serve`, which does both."
        )
    serve(*build_deployments(settings))
