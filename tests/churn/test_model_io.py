"""A model saved as plain files loads back as the same model, and a changed file is refused."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.drift import DriftMonitor
from churn.model import ChurnModel, IsotonicCalibrator, SigmoidCalibrator, SmoothCalibrator
from churn.model_io import (
    BOOSTER_FILE,
    RECIPE_FILE,
    ModelIntegrityError,
    load_model,
    save_model,
    sha256_of,
)
from churn.settings import ModelSettings
from churn.synthetic import generate_world
from churn.train import split_customers, train_model


@pytest.fixture(scope="module")
def world_split() -> tuple[pd.DataFrame, object]:
    world = generate_world(3000, seed=11, as_of=date(2026, 6, 30))
    split = split_customers(world.customers, test_size=0.2, validation_size=0.2, seed=1)
    rows = world.current.copy()
    rows.loc[rows.index[:20], "plan"] = "platinum"  # a level never seen in training
    return rows, split


@pytest.mark.parametrize("calibration", ["isotonic", "sigmoid", "smooth"])
def test_a_saved_model_loads_as_the_same_model(
    world_split: tuple[pd.DataFrame, object], calibration: str, tmp_path: Path
) -> None:
    rows, split = world_split
    model = train_model(
        split.train,  # type: ignore[attr-defined]
        split.validation,  # type: ignore[attr-defined]
        params=ModelSettings(n_estimators=80, calibration=calibration),
    )
    expected_type = {"isotonic": IsotonicCalibrator, "sigmoid": SigmoidCalibrator,
                     "smooth": SmoothCalibrator}[calibration]  # fmt: skip
    assert isinstance(model.calibrator, expected_type)
    sha = save_model(model, tmp_path / "m")
    loaded = load_model(tmp_path / "m", expected_sha256=sha)
    # Text and JSON keep every digit: the scores are the same numbers.
    np.testing.assert_array_equal(loaded.predict_proba(rows), model.predict_proba(rows))
    assert loaded.spec == model.spec and loaded.categories == model.categories
    assert loaded.best_iteration == model.best_iteration
    reports = []
    for profiles in (model.profiles, loaded.profiles):
        monitor = DriftMonitor(profiles)
        monitor.update(model.features(rows))
        reports.append(monitor.report())
    assert reports[0] == reports[1] and len(reports[0]) == len(model.spec.names)
    # Plain data only: the recipe is JSON, the trees LightGBM's text format.
    recipe = json.loads((tmp_path / "m" / RECIPE_FILE).read_text())
    assert recipe["format"] == "churn-model/1" and recipe["booster_sha256"] == sha
    assert recipe["calibrator"]["kind"] == calibration
    assert (tmp_path / "m" / BOOSTER_FILE).read_text().startswith("tree\n")


@pytest.fixture(scope="module")
def saved(
    world_split: tuple[pd.DataFrame, object], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    _, split = world_split
    model = train_model(
        split.train,  # type: ignore[attr-defined]
        split.validation,  # type: ignore[attr-defined]
        params=ModelSettings(n_estimators=20),
    )
    folder = tmp_path_factory.mktemp("saved") / "m"
    save_model(model, folder)
    return folder


def test_a_changed_booster_is_refused(saved: Path, tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "m"
    shutil.copytree(saved, folder)
    booster = folder / BOOSTER_FILE
    booster.write_text(booster.read_text().replace("leaf_value=", "leaf_value=9", 1))
    with pytest.raises(ModelIntegrityError, match=r"booster.txt has SHA-256 .* model.json"):
        load_model(folder)


def test_a_checksum_changed_beside_the_booster_is_caught_by_the_run_s(
    saved: Path, tmp_path: Path
) -> None:
    import shutil

    folder = tmp_path / "m"
    shutil.copytree(saved, folder)
    recorded = sha256_of(folder / BOOSTER_FILE)
    booster = folder / BOOSTER_FILE
    booster.write_text(booster.read_text().replace("leaf_value=", "leaf_value=9", 1))
    recipe = json.loads((folder / RECIPE_FILE).read_text())
    recipe["booster_sha256"] = sha256_of(booster)  # the tamperer fixed this one too
    (folder / RECIPE_FILE).write_text(json.dumps(recipe))
    with pytest.raises(ModelIntegrityError, match="recorded in the run at training"):
        load_model(folder, expected_sha256=recorded)
    assert isinstance(load_model(saved, expected_sha256=recorded), ChurnModel)


def test_an_unknown_layout_is_refused_by_name(saved: Path, tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "m"
    shutil.copytree(saved, folder)
    recipe = json.loads((folder / RECIPE_FILE).read_text())
    recipe["format"] = "churn-model/99"
    (folder / RECIPE_FILE).write_text(json.dumps(recipe))
    with pytest.raises(ModelIntegrityError, match=r"'churn-model/99'; this version .* reads"):
        load_model(folder)


def test_a_model_pickled_before_derived_features_scores_as_it_did() -> None:
    # tests/flows/test_model_versions.py runs it through the registry (slow); this is the
    # feature recipe alone: a spec pickled without `derived` reads it as none.
    import cloudpickle

    fixtures = Path(__file__).resolve().parents[1] / "fixtures"
    with (fixtures / "model_v0" / "python_model.pkl").open("rb") as handle:
        legacy: ChurnModel = cloudpickle.load(handle).model
    assert legacy.spec.derived == () and "derived" not in vars(legacy.spec)
    customers = pd.read_parquet(fixtures / "model_v0_customers.parquet")
    then = pd.read_parquet(fixtures / "model_v0_scores.parquet")["churn_probability"]
    np.testing.assert_allclose(legacy.predict_proba(customers), then, rtol=0, atol=1e-9)


def test_a_recipe_without_derived_features_is_still_the_first_layout(saved: Path) -> None:
    # An earlier churn-roi reads churn-model/1: a model that needs nothing newer keeps it.
    recipe = json.loads((saved / RECIPE_FILE).read_text())
    assert recipe["format"] == "churn-model/1" and "derived" not in recipe["features"]
    assert load_model(saved).spec.derived == ()


def test_loading_imports_no_lightgbm_until_the_trees_are_used(
    world_split: tuple[pd.DataFrame, object], tmp_path: Path
) -> None:
    """Scoring with the compiled trees never needs LightGBM: loading does not import it
    (1.2-1.5 s of a scoring run); the trees are parsed when first used, and pickle."""
    import pickle
    import subprocess
    import sys

    rows, split = world_split
    model = train_model(
        split.train,  # type: ignore[attr-defined]
        split.validation,  # type: ignore[attr-defined]
        params=ModelSettings(n_estimators=30),
    )
    save_model(model, tmp_path / "m")
    rows.to_parquet(tmp_path / "rows.parquet")
    script = f"""
import sys
from pathlib import Path
import pandas as pd
from churn.model_io import load_model
model = load_model(Path({str(tmp_path / "m")!r}))
print("lightgbm" in sys.modules, "sklearn" in sys.modules)
rows = pd.read_parquet({str(tmp_path / "rows.parquet")!r})
model.predict_proba(rows).dump({str(tmp_path / "scores.npy")!r})
print("lightgbm" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, check=False)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False", "True"]  # parsed once used
    scores = np.load(tmp_path / "scores.npy", allow_pickle=True)
    np.testing.assert_array_equal(scores, model.predict_proba(rows))
    loaded = load_model(tmp_path / "m")
    copy = pickle.loads(pickle.dumps(loaded))  # as it travels to a Dask worker
    np.testing.assert_array_equal(copy.predict_proba(rows), model.predict_proba(rows))
