"""Several simulated months through the real flows: drift, retrain, promotion, rollback."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from churn.errors import NotMeasurableError
from churn.settings import DataSettings, DriftSettings, Settings, WorldDriftSettings
from tests.conftest import make_settings

pytestmark = pytest.mark.slow
START = date(2026, 6, 30)


def month(base: Settings, root: Path, *, as_of: date, customers: int, retrain: bool) -> Settings:
    """The same world observed on ``as_of``, its data in a folder of its own."""
    folder = root / f"{as_of:%Y-%m}"
    data = DataSettings(
        training_path=folder / "customers.parquet",
        scoring_path=folder / "current.parquet",
        truth_path=folder / "truth.parquet",
        customers=customers,
        seed=7,
        as_of=as_of,
        start=START,
        world_drift=WorldDriftSettings(usage_decline_per_month=0.08, ticket_growth_per_month=0.1),
    )
    drift = DriftSettings(retrain_on_drift=retrain, retrain_via="in_process")
    return base.model_copy(update={"data": data, "drift": drift})


def test_months_of_drift_retrain_promotion_and_rollback(
    prefect_backend: str, tmp_path: Path
) -> None:
    from flows.data import generate_data
    from flows.measure import realized_roi_flow
    from flows.pipeline import simulate_outcomes_task
    from flows.registry import promote, rollback
    from flows.runs import client_for
    from flows.score import score_flow
    from flows.train import train_flow

    base = make_settings(tmp_path)
    client: MlflowClient = client_for(base.tracking)

    def champion() -> str:
        return str(client.get_model_version_by_alias("churn-model", "champion").version)

    # Month 0: a first model from a small sample becomes the champion.
    june = month(base, tmp_path, as_of=START, customers=600, retrain=False)
    generate_data.fn(june.data)
    assert train_flow(june)["registry_alias"] == "champion"
    first = score_flow(june, campaign_id="2026-06")
    # Three months on, the same customers are older (tenure) but behave the same.
    assert not {"usage_frequency", "support_tickets_open"} & set(first["drifted_features"])
    assert first["retrain"] is None

    # Month 6: usage has fallen and tickets risen; scoring sees the drift and retrains
    # on the month's labelled data, and the better model is promoted.
    december = month(base, tmp_path, as_of=date(2026, 12, 31), customers=4000, retrain=True)
    generate_data.fn(december.data)
    drifted = score_flow(december, campaign_id="2026-12")
    assert {"usage_frequency", "support_tickets_open"} <= set(drifted["drifted_features"])
    assert drifted["retrain"] is not None and "v2 is champion" in drifted["retrain"]
    scoring_run = client.get_run(drifted["mlflow_run_id"]).data
    assert scoring_run.metrics["psi_usage_frequency"] > 0.2
    assert "PSI above 0.2" in scoring_run.tags["drift.retrain"]
    assert champion() == "2"
    (promotion,) = client.search_runs(
        [client.get_experiment_by_name("churn-registry").experiment_id],
        filter_string="tags.action = 'promote'",
    )
    assert (promotion.data.tags["from_version"], promotion.data.tags["to_version"]) == ("1", "2")

    # A challenger trained on shuffled labels is not promoted; the champion keeps scoring.
    shuffled = pd.read_parquet(december.data.training_path)
    shuffled["churned"] = np.random.default_rng(0).permutation(shuffled["churned"].to_numpy())
    shuffled.to_parquet(december.data.training_path)
    worse = train_flow(december)
    assert (worse["model_version"], worse["registry_alias"]) == ("3", "challenger")
    run = client.get_run(worse["mlflow_run_id"]).data
    assert run.tags["promotion.decision"] == "kept"
    assert run.tags["promotion.reason"].startswith("kept the champion: challenger")
    # A calibrated model of noise predicts about the churn rate for everyone: on this
    # seeded world it flags nobody above 0.7, so its backtest ROI is not measurable.
    assert "roi_pct" not in run.metrics
    assert run.tags["roi_pct"].startswith("not measurable")
    quiet = month(base, tmp_path, as_of=date(2026, 12, 31), customers=4000, retrain=False)
    assert score_flow(quiet, campaign_id="2026-12b")["model_version"] == "2"

    # Rollback restores the previous champion, and scoring follows it.
    assert rollback(client, base.tracking, name="churn-model") == ("2", "1")
    assert champion() == "1"
    assert score_flow(quiet, campaign_id="2026-12c")["model_version"] == "1"

    # Someone promotes the shuffled-label model by hand. Realized outcomes show its
    # AUC collapsed on the customers not contacted: decay triggers a retrain, on the
    # month's (restored) data, and the retrained model takes over.
    promote(client, base.tracking, name="churn-model", version="3", reason="by mistake")
    generate_data.fn(december.data)
    scored = score_flow(quiet, campaign_id="2026-12d")
    assert scored["model_version"] == "3"
    outcomes = simulate_outcomes_task.fn(quiet, "2026-12d")
    assert len(pd.read_parquet(outcomes)) == scored["n_scored"]  # everyone's outcome
    # It flags nobody, so realized ROI is not measurable; decay is measured anyway.
    with pytest.raises(NotMeasurableError, match="none of its 0 flagged customers"):
        realized_roi_flow(quiet, "2026-12d", outcomes)
    measured = client.get_run(scored["mlflow_run_id"]).data
    assert measured.metrics["realized_auc"] < 0.6
    assert "model decay" in measured.tags["realized.warning.decay"]
    tags = measured.tags
    assert "below the floor 0.75" in tags["decay.retrain"]
    assert "v4 is champion" in tags["decay.retrain"]
    assert champion() == "4"
