"""The pipeline flow: (generate synthetic data) → train → score."""

from __future__ import annotations

from typing import Any

from prefect import flow

from churn.data import write_world
from churn.settings import DataSettings, Settings
from churn.synthetic import generate_world
from flows.score import score_flow
from flows.tasks import compute_task
from flows.train import train_flow


@compute_task
def generate_data(data: DataSettings) -> list[str]:
    world = generate_world(
        data.customers, seed=data.seed, as_of=data.as_of, horizon_months=data.horizon_months
    )
    written = write_world(
        world,
        customers_path=data.training_path,
        current_path=data.scoring_path,
        truth_path=data.truth_path,
    )
    return [str(p) for p in written]


@flow(name="churn-pipeline", log_prints=True)
def pipeline_flow(settings: Settings, campaign_id: str | None = None) -> dict[str, Any]:
    """Train a model, then score every customer with the champion."""
    generated = generate_data(settings.data) if settings.data.source == "synthetic" else []
    training = train_flow(settings)
    scoring = score_flow(settings, campaign_id=campaign_id)
    return {"generated": generated, "training": training, "scoring": scoring}
