"""Scoring chunks on a Dask cluster through prefect-dask gives the local runner's outputs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from churn.errors import InputError
from churn.settings import Settings
from tests.conftest import make_settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A local Dask cluster of 2 worker processes on 127.0.0.1; yields its address."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None, env={"OMP_WAIT_POLICY": "PASSIVE"},
    ) as cluster:  # fmt: skip
        yield str(cluster.scheduler_address)


def _on_dask(settings: Settings, out: Path, **runner: object) -> Settings:
    """The same settings scoring on Dask into ``out``, with a ledger of their own there
    (so the campaign is planned afresh, not read back from the local run's record)."""
    update = {"runner": "dask", "output_dir": out, **runner}
    return settings.model_copy(
        update={
            "campaign": settings.campaign.model_copy(update=update),
            "ledger": settings.ledger.model_copy(update={"url": f"sqlite:///{out / 'ledger.db'}"}),
        }
    )


def _outputs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_dask_runner_scores_exactly_like_the_local_one(
    prefect_backend: str, scheduler: str, tmp_path: Path
) -> None:
    from flows.score import score_flow
    from flows.train import train_flow

    settings = make_settings(tmp_path, compile=True)  # chunks of 1,000 rows: 4 tasks
    train_flow(settings)
    local = score_flow(settings, campaign_id="same")
    on_dask = _on_dask(settings, tmp_path / "dask", dask_address=scheduler)
    distributed = score_flow(on_dask, campaign_id="same")

    for name in ("scores.parquet", "assignment.parquet", "features.parquet"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(tmp_path / "outputs" / "same" / name),
            pd.read_parquet(tmp_path / "dask" / "same" / name),
        )
    roots = (tmp_path / "outputs", tmp_path / "dask")
    lists = [pd.read_csv(root / "same" / "campaign.csv") for root in roots]
    pd.testing.assert_frame_equal(*(c.drop(columns=["scored_at"]) for c in lists))
    assert distributed["drift"] == local["drift"]
    assert distributed["n_scored"] == 4000
    # Part files are gone; only the four outputs remain.
    assert _outputs(tmp_path / "dask" / "same") == [
        "assignment.parquet", "campaign.csv", "features.parquet", "scores.parquet",
    ]  # fmt: skip
    run = MlflowClient(settings.tracking.uri).get_run(distributed["mlflow_run_id"])
    assert run.data.tags["scoring.engine"] == "lleaves"

    # A bad row in one chunk: a clear error from the worker, earlier outputs untouched.
    before = (tmp_path / "dask" / "same" / "scores.parquet").read_bytes()
    current = pd.read_parquet(settings.data.scoring_path)
    current.loc[2500, "sentiment_score"] = 7.0
    current.to_parquet(settings.data.scoring_path, index=False)
    with pytest.raises(InputError, match=r"'sentiment_score'.*row 2501"):
        score_flow(on_dask, campaign_id="same")
    assert (tmp_path / "dask" / "same" / "scores.parquet").read_bytes() == before
    assert _outputs(tmp_path / "dask" / "same") == [
        "assignment.parquet", "campaign.csv", "features.parquet", "scores.parquet",
    ]  # fmt: skip


def test_without_an_address_the_runner_asks_for_a_local_cluster_on_127_0_0_1() -> None:
    from churn.settings import CampaignSettings
    from flows.score import dask_runner

    runner = dask_runner(CampaignSettings(runner="dask", dask_workers=3))
    kwargs = runner.cluster_kwargs
    assert runner.address is None
    assert kwargs["n_workers"] == 3 and kwargs["host"] == "127.0.0.1"
    assert kwargs["dashboard_address"] is None
    at = dask_runner(CampaignSettings(runner="dask", dask_address="tcp://127.0.0.1:8786"))
    assert at.address == "tcp://127.0.0.1:8786"
