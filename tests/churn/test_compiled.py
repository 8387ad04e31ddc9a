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
from churn.train import split_customers, train_model


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
    folder, seconds = compile_booster(
        model.booster.booster_, tmp_path / "compiled", num_iteration=model.best_iteration
    )
    assert seconds > 0
    model.compiled = load_compiled(folder)
    try:
        assert model.engine == "lleaves"
        np.testing.assert_allclose(model.raw_score(model.features(rows)), native_raw, atol=1e-9)
        np.testing.assert_allclose(model.predict_proba(rows), native, atol=1e-9, rtol=0)
    finally:
        model.compiled = None
    assert model.engine == "lightgbm"


def test_a_pickled_model_leaves_its_compiled_trees_behind(
    model_and_rows: tuple[ChurnModel, pd.DataFrame], tmp_path: Path
) -> None:
    import pickle

    model, rows = model_and_rows
    folder, _ = compile_booster(model.booster.booster_, tmp_path, num_iteration=5)
    model.compiled = load_compiled(folder)
    try:
        copy = pickle.loads(pickle.dumps(model))
    finally:
        model.compiled = None
    assert copy.compiled is None and copy.engine == "lightgbm"
    np.testing.assert_array_equal(copy.predict_proba(rows), model.predict_proba(rows))


def test_loading_without_a_library_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"model\.txt"):
        load_compiled(tmp_path)
