"""The seeded parameter search: reproducible, inside its space, logged as one MLflow run."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from churn.features import SYNTHETIC
from churn.settings import ModelSettings
from churn.synthetic import generate_world
from churn.tune import LIGHTGBM_DEFAULTS, SPACE, search, starting_trials
from tests.conftest import make_settings


def test_the_search_is_seeded_and_stays_in_its_space() -> None:
    customers = generate_world(2000, seed=3, as_of=date(2026, 6, 30)).customers
    params = ModelSettings(n_estimators=60, early_stopping_rounds=10)
    first = search(customers, params=params, spec=SYNTHETIC, trials=2, folds=2)
    again = search(customers, params=params, spec=SYNTHETIC, trials=2, folds=2)
    pd.testing.assert_frame_equal(first.trials, again.trials)
    assert first.best_cv_auc == first.trials["cv_auc"].max()
    for name, (low, high, _) in SPACE.items():
        assert low <= first.best_params[name] <= high
    # It starts from the config's section, then LightGBM's own defaults: it never ends
    # below either.
    tried = first.trials[list(SPACE)].to_dict("records")
    assert (
        tried
        == starting_trials(params)
        == [
            {name: getattr(params, name) for name in SPACE},
            LIGHTGBM_DEFAULTS,
        ]
    )


@pytest.mark.slow
def test_tune_flow_logs_trials_and_the_best_parameters(
    prefect_backend: str, tmp_path: Path
) -> None:
    from flows.tune import tune_flow

    settings = make_settings(tmp_path)
    result = tune_flow(settings, trials=2)
    client = MlflowClient(settings.tracking.uri)
    run = client.get_run(result["mlflow_run_id"])
    assert run.data.tags["run_type"] == "tuning"
    assert run.data.metrics["best_cv_auc"] == pytest.approx(result["best_cv_auc"])
    assert 0.8 < result["best_cv_auc"] < 0.95
    assert run.data.params["best.num_leaves"] == str(result["best_params"]["num_leaves"])
    trials = client.download_artifacts(run.info.run_id, "trials.csv", str(tmp_path))
    table = pd.read_csv(trials)
    assert len(table) == 2 and table["cv_auc"].max() == pytest.approx(result["best_cv_auc"])
    snippet = client.download_artifacts(run.info.run_id, "best_model_section.yaml", str(tmp_path))
    assert "num_leaves" in Path(snippet).read_text()
