"""Scoring chunks on a Dask cluster through prefect-dask gives the local runner's outputs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import make_settings

pytestmark = pytest.mark.slow


def test_dask_runner_scores_exactly_like_the_local_one(
    prefect_backend: str, tmp_path: Path
) -> None:
    from flows.score import score_flow
    from flows.train import train_flow

    settings = make_settings(tmp_path, compile=True)  # chunks of 1,000 rows: 4 tasks
    train_flow(settings)
    local = score_flow(settings, campaign_id="same")
    on_dask = settings.model_copy(
        update={
            "campaign": settings.campaign.model_copy(
                update={"runner": "dask", "dask_workers": 2, "output_dir": tmp_path / "dask"}
            )
        }
    )
    distributed = score_flow(on_dask, campaign_id="same")

    for name in ("scores.parquet", "assignment.parquet"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(tmp_path / "outputs" / "same" / name),
            pd.read_parquet(tmp_path / "dask" / "same" / name),
        )
    lists = [
        pd.read_csv(root / "same" / "campaign.csv")
        for root in (tmp_path / "outputs", tmp_path / "dask")
    ]
    pd.testing.assert_frame_equal(*(c.drop(columns=["scored_at"]) for c in lists))
    assert distributed["drift"] == local["drift"]
    assert distributed["n_scored"] == 4000
    # Part files are gone; only the three outputs remain.
    assert sorted(p.name for p in (tmp_path / "dask" / "same").iterdir()) == [
        "assignment.parquet", "campaign.csv", "scores.parquet",
    ]  # fmt: skip
    client = MlflowClient(settings.tracking.uri)
    run = client.get_run(distributed["mlflow_run_id"])
    assert run.data.tags["scoring.engine"] == "lleaves"

    # A bad row in one chunk: a clear error from the worker, earlier outputs untouched.
    from churn.errors import InputError

    before = (tmp_path / "dask" / "same" / "scores.parquet").read_bytes()
    current = pd.read_parquet(settings.data.scoring_path)
    current.loc[2500, "sentiment_score"] = 7.0
    current.to_parquet(settings.data.scoring_path, index=False)
    with pytest.raises(InputError, match=r"'sentiment_score'.*row 2501"):
        score_flow(on_dask, campaign_id="same")
    assert (tmp_path / "dask" / "same" / "scores.parquet").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "dask" / "same").iterdir()) == [
        "assignment.parquet", "campaign.csv", "scores.parquet",
    ]  # fmt: skip
