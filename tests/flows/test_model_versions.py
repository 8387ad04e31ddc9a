"""Registered models outlive the code: plain files, checked before they are loaded.

`tests/fixtures/model_v0` is a model saved by the format used before models
were plain files (a cloudpickle of the live `ChurnModel`), with the scores it
gave then (`model_v0_scores.parquet`) for `model_v0_customers.parquet`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from churn.settings import Settings
from tests.conftest import make_settings

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _client(settings: Settings) -> MlflowClient:
    return MlflowClient(tracking_uri=settings.tracking.uri, registry_uri=settings.tracking.uri)


def _register_legacy(settings: Settings) -> str:
    """The fixture registered as version 1 of the model, champion, as an old store holds it."""
    from flows import registry, runs

    client = runs.client_for(settings.tracking)
    name = settings.model.registered_name
    with runs.open_run(
        client, settings.tracking, experiment=settings.tracking.training_experiment,
        run_type="training",
    ) as run_id:  # fmt: skip
        client.log_artifacts(run_id, str(FIXTURES / "model_v0"), "model")
        client.create_registered_model(name)
        source = f"{client.get_run(run_id).info.artifact_uri}/model"
        version = client.create_model_version(name, source, run_id=run_id)
        client.set_registered_model_alias(name, registry.CHAMPION, version.version)
    return str(version.version)


def test_a_version_saved_before_the_plain_format_loads_scores_and_rolls_back(
    prefect_backend: str, tmp_path: Path
) -> None:
    from flows import registry, runs
    from flows.train import train_flow

    settings = make_settings(tmp_path)
    assert _register_legacy(settings) == "1"
    customers = pd.read_parquet(FIXTURES / "model_v0_customers.parquet")
    then = pd.read_parquet(FIXTURES / "model_v0_scores.parquet")["churn_probability"]
    client = runs.client_for(settings.tracking)
    name = settings.model.registered_name
    legacy = registry.load_champion(client, name=name, compiled=True)
    np.testing.assert_allclose(legacy.model.predict_proba(customers), then, rtol=0, atol=1e-9)
    assert legacy.compiled_note is not None and "no compiled trees" in legacy.compiled_note

    # A new version beats it on the same customers (seeded) and replaces it; rolled
    # back, the old one scores again.
    result = train_flow(settings)
    assert (result["model_version"], result["registry_alias"]) == ("2", "champion")
    assert registry.load_champion(client, name=name).version == "2"
    assert registry.rollback(client, settings.tracking, name=name) == ("2", "1")
    back = registry.load_champion(client, name=name)
    assert back.version == "1"
    np.testing.assert_allclose(back.model.predict_proba(customers), then, rtol=0, atol=1e-9)


def test_a_new_version_is_plain_files_that_plain_mlflow_loads(
    prefect_backend: str, tmp_path: Path
) -> None:
    from churn.model_io import BOOSTER_FILE, RECIPE_FILE
    from flows import registry, runs
    from flows.train import train_flow

    settings = make_settings(tmp_path)
    train_flow(settings)
    client = _client(settings)
    name = settings.model.registered_name
    version = client.get_model_version_by_alias(name, "champion")
    local = Path(mlflow.artifacts.download_artifacts(
        artifact_uri=f"models:/{name}/{version.version}", dst_path=str(tmp_path / "dl"),
        tracking_uri=settings.tracking.uri,
    ))  # fmt: skip
    files = {p.name for p in local.rglob("*") if p.is_file()}
    assert {BOOSTER_FILE, RECIPE_FILE} <= files
    assert not any(f.endswith((".pkl", ".pickle", ".cloudpickle")) for f in files), files
    run_tags = client.get_run(version.run_id).data.tags
    assert len(run_tags[registry.BOOSTER_SHA_TAG]) == 64

    # Anyone with MLflow scores the raw customer table from the registry URI alone.
    customers = pd.read_parquet(settings.data.scoring_path).head(300)
    ours = registry.load_champion(runs.client_for(settings.tracking), name=name)
    plain = mlflow.pyfunc.load_model(f"models:/{name}@champion")  # the store client_for set
    np.testing.assert_allclose(
        np.asarray(plain.predict(customers)), ours.model.predict_proba(customers), atol=1e-12
    )


def test_tampered_trees_are_refused_before_they_are_loaded(
    prefect_backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from churn.compiled import LIBRARY_FILE
    from churn.errors import NotReadyError
    from flows import registry, runs
    from flows.train import train_flow

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    settings = make_settings(tmp_path, compile=True)
    run_id = train_flow(settings)["mlflow_run_id"]
    cache = registry.compiled_cache(run_id)
    assert (cache / LIBRARY_FILE).is_file()
    assert (tmp_path / "cache" / "churn-roi").stat().st_mode & 0o777 == 0o700
    client = runs.client_for(settings.tracking)
    name = settings.model.registered_name
    assert registry.load_champion(client, name=name, compiled=True).model.engine == "lleaves"
    # Another program's machine code where the compiled trees were: in this user's cache,
    # then (the cache gone) in the run's artifacts, from which it is downloaded again.
    (cache / LIBRARY_FILE).write_bytes(b"\x7fELF planted")
    with pytest.raises(NotReadyError, match=r"compiled trees .* not the .* recorded by training"):
        registry.load_champion(client, name=name, compiled=True)
    shutil.rmtree(cache)
    (stored,) = (tmp_path / "mlartifacts").rglob(f"compiled/{LIBRARY_FILE}")
    stored.write_bytes(b"\x7fELF planted")
    with pytest.raises(NotReadyError, match=r"compiled trees .* not the .* recorded by training"):
        registry.load_champion(client, name=name, compiled=True)
