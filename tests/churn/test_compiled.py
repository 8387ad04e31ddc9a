"""Compiled trees score exactly as LightGBM does, calibration unchanged."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.compiled import compile_booster, load_compiled
from churn.model import ChurnModel
from churn.settings import ModelSettings
from churn.synthetic import generate_world
from churn.train import calibrate, fit_trees, split_customers, train_model


@pytest.fixture(scope="module")
def model_and_rows() -> tuple[ChurnModel, pd.DataFrame]:
    world = generate_world(6000, seed=5, as_of=date(2026, 6, 30))
    split = split_customers(world.customers, test_size=0.2, validation_size=0.2, seed=1)
    model = train_model(split.train, split.validation, params=ModelSettings())
    rows = world.current.copy()
    rows.loc[rows.index[:50], "plan"] = "platinum"  # never seen in training: missing
    return model, rows


def test_compiled_and_native_scores_agree_to_1e9(
    model_and_rows: tuple[ChurnModel, pd.DataFrame], tmp_path: Path
) -> None:
    model, rows = model_and_rows
    native_raw = model.raw_score(model.features(rows))
    native = model.predict_proba(rows)
    compiled = compile_booster(
        model.booster.booster_, tmp_path / "compiled", num_iteration=model.best_iteration
    )
    assert compiled.compile_seconds > 0
    # As compiled, and as scoring loads it later from the folder.
    for trees in (compiled, load_compiled(tmp_path / "compiled")):
        model.compiled = trees
        try:
            assert model.engine == "lleaves"
            np.testing.assert_allclose(
                model.raw_score(model.features(rows)), native_raw, atol=1e-9, rtol=0
            )
            np.testing.assert_allclose(model.predict_proba(rows), native, atol=1e-9, rtol=0)
        finally:
            model.compiled = None
    assert model.engine == "lightgbm"


def test_calibrating_on_compiled_scores_gives_the_native_model(tmp_path: Path) -> None:
    world = generate_world(3000, seed=9, as_of=date(2026, 6, 30))
    split = split_customers(world.customers, test_size=0.2, validation_size=0.2, seed=2)
    trees = fit_trees(split.train, split.validation, params=ModelSettings())
    compiled = compile_booster(
        trees.booster.booster_, tmp_path / "c", num_iteration=trees.best_iteration
    )
    native = calibrate(trees, split.validation, method="isotonic")
    fast = calibrate(trees, split.validation, method="isotonic", compiled=compiled)
    assert fast.engine == "lleaves" and native.engine == "lightgbm"
    np.testing.assert_allclose(
        fast.predict_proba(world.current), native.predict_proba(world.current), atol=1e-9, rtol=0
    )


def test_compiling_replaces_a_folder_whole_and_a_failure_leaves_none(
    model_and_rows: tuple[ChurnModel, pd.DataFrame], tmp_path: Path
) -> None:
    model, _ = model_and_rows
    folder = tmp_path / "compiled"
    folder.mkdir()
    (folder / "stale.txt").write_text("from an earlier compile")
    compile_booster(model.booster.booster_, folder, num_iteration=3)
    assert sorted(p.name for p in folder.iterdir()) == ["model.so", "model.txt"]

    class Broken:
        def save_model(self, path: str, *, num_iteration: int) -> None:
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        compile_booster(Broken(), tmp_path / "other", num_iteration=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["compiled"]


def test_a_pickled_model_leaves_its_compiled_trees_behind(
    model_and_rows: tuple[ChurnModel, pd.DataFrame], tmp_path: Path
) -> None:
    import pickle

    model, rows = model_and_rows
    model.compiled = compile_booster(model.booster.booster_, tmp_path, num_iteration=5)
    try:
        copy = pickle.loads(pickle.dumps(model))
    finally:
        model.compiled = None
    assert copy.compiled is None and copy.engine == "lightgbm"
    np.testing.assert_array_equal(copy.predict_proba(rows), model.predict_proba(rows))


def test_loading_without_a_library_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"model\.txt"):
        load_compiled(tmp_path)
