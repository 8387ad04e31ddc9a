"""The default model section against plain LightGBM with its library defaults, on the
same seeded folds, on each table the project declares: never more than 0.003 behind."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from churn.data import load_customers
from churn.features import FeatureSpec, build_features, category_levels
from churn.schema import LABEL_COLUMN
from churn.settings import Settings, load_settings
from churn.synthetic import generate_world
from churn.train import cross_validate

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def plain_lightgbm_cv_auc(customers: pd.DataFrame, settings: Settings) -> float:
    """LGBMClassifier() as the library ships it, on the recipe's folds and features."""
    spec = FeatureSpec.from_dataset(settings.dataset)
    y = customers[LABEL_COLUMN].to_numpy()
    x = build_features(customers, spec=spec, categories=category_levels(customers, spec))
    folds = StratifiedKFold(5, shuffle=True, random_state=settings.model.seed)
    aucs = []
    for fit, held in folds.split(x, y):
        model = lgb.LGBMClassifier(verbose=-1, random_state=0).fit(x.iloc[fit], y[fit])
        aucs.append(roc_auc_score(y[held], model.predict_proba(x.iloc[held])[:, 1]))
    return float(np.mean(aucs))


def default_world(tmp_path: Path) -> tuple[pd.DataFrame, Settings]:
    settings = load_settings(ROOT / "configs" / "default.yaml", environ={})
    world = generate_world(20_000, seed=42, as_of=date(2026, 6, 30))
    world.customers.to_parquet(tmp_path / "customers.parquet")
    return load_customers(tmp_path / "customers.parquet", dataset=settings.dataset,
                          labelled=True), settings  # fmt: skip


def telco(tmp_path: Path) -> tuple[pd.DataFrame, Settings]:
    from churn.packaged import write_rdataset

    settings = load_settings(ROOT / "configs" / "telco.yaml", environ={})
    write_rdataset(str(settings.data.rdataset), settings.dataset,
                   training_path=tmp_path / "telco.parquet",
                   scoring_path=tmp_path / "telco-current.parquet")  # fmt: skip
    return load_customers(tmp_path / "telco.parquet", dataset=settings.dataset,
                          labelled=True), settings  # fmt: skip


@pytest.mark.parametrize("table", [default_world, telco], ids=["default-world", "telco"])
def test_the_model_section_is_not_behind_plain_lightgbm(table, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    customers, settings = table(tmp_path)
    spec = FeatureSpec.from_dataset(settings.dataset)
    ours = cross_validate(customers, params=settings.model, spec=spec, folds=5, baseline=False)
    plain = plain_lightgbm_cv_auc(customers, settings)
    assert ours["cv_auc"] >= plain - 0.003, (ours["cv_auc"], plain)
