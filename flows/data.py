"""The synthetic world as a task: the embedded default's data, generated on the spot."""

from __future__ import annotations

from churn.data import write_world
from churn.settings import DataSettings
from churn.synthetic import Drift, generate_world
from flows.tasks import compute_task


@compute_task
def generate_data(data: DataSettings) -> list[str]:
    world = generate_world(
        data.customers,
        seed=data.seed,
        as_of=data.as_of,
        horizon_months=data.horizon_months,
        start=data.start,
        drift=Drift(**data.world_drift.model_dump()),
    )
    written = write_world(
        world,
        customers_path=data.training_path,
        current_path=data.scoring_path,
        truth_path=data.truth_path,
    )
    return [str(p) for p in written]
