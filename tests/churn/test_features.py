"""Derived columns and value-only columns, declared in YAML: what the model sees, and not."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.data import load_customers
from churn.dataset import DatasetSettings, customer_values, removal_section
from churn.errors import ConfigError
from churn.features import DerivedFeature, FeatureSpec, build_features, category_levels
from churn.model import ChurnModel
from churn.model_io import RECIPE_FILE, load_model, save_model
from churn.settings import ModelSettings, load_settings
from churn.synthetic import generate_world
from churn.train import split_customers, train_model

ROOT = Path(__file__).resolve().parents[2]

SHOP = """
dataset: !replace
  name: shop
  id: {column: customer}
  target: {column: churn, churned: ["yes"], stayed: ["no"]}
  numeric:
    fee_a: {min: 0}
    fee_b: {min: 0}
    fee_c: {min: 0, missing: [""], fill: 0}
    total: {min: 0}
    tenure: {min: 0}
    lifetime_value: {min: 0, role: value}
  categorical:
    plan: {}
  derived:
    monthly_bill: {sum: [fee_a, fee_b, fee_c]}
    charge_per_month: {ratio: [total, tenure]}
    fee_gap: {difference: [fee_a, fee_b]}
  customer_value: {revenue_column: lifetime_value, lifetime_months: 1}
model: {registered_name: shop-model, monotone_constraints: {monthly_bill: 1}}
"""


def _shop(tmp_path: Path) -> DatasetSettings:
    path = tmp_path / "shop.yaml"
    path.write_text(f"extends: {ROOT / 'configs' / 'default.yaml'}\n{SHOP}")
    return load_settings(path, environ={}).dataset


def _shop_rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer": ["a", "b", "c", "d"],
            "churn": ["yes", "no", "no", "yes"],
            "fee_a": [10.0, 20.0, 5.0, 0.0],
            "fee_b": [1.0, 2.0, 3.0, 4.0],
            "fee_c": ["0.5", "", "1", "2"],
            "total": [120.0, 0.0, 30.0, 8.0],
            "tenure": [12.0, 0.0, 0.0, 2.0],
            "lifetime_value": [900.0, 50.0, 70.0, 10.0],
            "plan": ["basic", "gold", "basic", "gold"],
        }
    )


def test_a_derived_sum_is_the_sum_and_a_feature(tmp_path: Path) -> None:
    dataset = _shop(tmp_path)
    path = tmp_path / "shop.csv"
    _shop_rows().to_csv(path, index=False)
    table = load_customers(path, labelled=True, dataset=dataset)
    spec = FeatureSpec.from_dataset(dataset)
    assert spec.names == (
        "monthly_bill", "charge_per_month", "fee_gap", "fee_a", "fee_b", "fee_c", "total",
        "tenure", "plan",
    )  # fmt: skip
    assert spec.names == dataset.features
    features = build_features(table, spec=spec, categories=category_levels(table, spec))
    assert list(features.columns) == list(spec.names)
    # fee_c's blank is declared missing and filled with 0 before the sum.
    assert features["monthly_bill"].tolist() == [11.5, 22.0, 9.0, 6.0]
    assert features["fee_gap"].tolist() == [9.0, 18.0, 2.0, -4.0]
    assert features["monthly_bill"].dtype == "float64"


def test_a_ratio_over_zero_is_missing() -> None:
    spec = FeatureSpec(
        numeric=(),
        categorical=(),
        derived=(DerivedFeature("per_month", "ratio", ("total", "tenure")),),
    )
    customers = pd.DataFrame({"total": [120.0, 5.0, 0.0, np.nan], "tenure": [12, 0, 0, 3]})
    got = build_features(customers, spec=spec, categories={})["per_month"]
    # x/0 and 0/0 are missing, not ±inf: the trees send them where missing values go.
    assert got.iloc[0] == 10.0 and got.iloc[1:].isna().all()


def test_a_value_only_column_is_read_but_never_a_feature(tmp_path: Path) -> None:
    dataset = _shop(tmp_path)
    path = tmp_path / "shop.csv"
    _shop_rows().to_csv(path, index=False)
    table = load_customers(path, labelled=True, dataset=dataset)
    assert table["lifetime_value"].tolist() == [900.0, 50.0, 70.0, 10.0]
    assert "lifetime_value" not in FeatureSpec.from_dataset(dataset).names
    assert customer_values(table, dataset, clv=1).tolist() == [900.0, 50.0, 70.0, 10.0]


def _fixed(tmp_path: Path, bad: str, message: str) -> DatasetSettings:
    """The declaration once the ``dataset:`` line ``message`` ends with is added to ``bad``."""
    (fix,) = re.findall(r"`(dataset: [^`]*)`", message)
    (tmp_path / "bad.yaml").write_text(f"extends: shop.yaml\n{bad}\n")
    (tmp_path / "fixed.yaml").write_text(f"extends: bad.yaml\n{fix}\n")
    return load_settings(tmp_path / "fixed.yaml", environ={}).dataset


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        (
            "dataset: {derived: {bill: {sum: [fee_a, fee_bb]}}}",
            "derived.bill.sum: 'fee_bb' is not a declared numeric column; is it a "
            "misspelling of 'fee_b'? Write `dataset: {derived: {bill: {sum: [fee_a, fee_b]}}}`",
        ),
        (
            "dataset: {derived: {bill: {sum: [fee_a, discount]}}}",
            "derived.bill.sum: 'discount' is not a declared numeric column (numeric "
            "columns: fee_a, fee_b, fee_c, total, tenure, lifetime_value); declare it "
            "(`dataset: {numeric: {discount: {}}}`, with its checks) or name another column",
        ),
        (
            "dataset: {derived: {ltv_per_month: {ratio: [lifetime_value, tenure]}}}",
            "'lifetime_value' is declared `role: value` (never a feature), so the feature "
            "'ltv_per_month' cannot be computed from it; make 'ltv_per_month' a value-only "
            "column too: `dataset: {derived: {ltv_per_month: {role: value}}}`",
        ),
        (
            "dataset: {drop: [total]}",
            "derived.charge_per_month.ratio: 'total' is not a declared numeric column ('total' "
            "is dropped; add `dataset: {drop: [charge_per_month]}` too)",
        ),
    ],
)
def test_a_derived_column_naming_no_numeric_column_is_told_the_yaml_fix(
    tmp_path: Path, bad: str, expected: str
) -> None:
    _shop(tmp_path)
    (tmp_path / "bad.yaml").write_text(f"extends: shop.yaml\n{bad}\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml is invalid") as error:
        load_settings(tmp_path / "bad.yaml", environ={})
    message = str(error.value)
    assert expected in message, message
    # The line the message ends with, added to the config as it is, makes it load.
    assert isinstance(_fixed(tmp_path, bad, message), DatasetSettings)


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        ("dataset: {derived: {x: {}}}", "give exactly one of sum, product, difference, ratio"),
        ("dataset: {derived: {x: {sum: [fee_a], ratio: [a, b]}}}", "not sum and ratio"),
        ("dataset: {derived: {x: {difference: [fee_a, fee_b, fee_c]}}}", "exactly 2 columns"),
        ("dataset: {derived: {x: {sum: [fee_a]}}}", "sum takes at least 2 columns, not 1"),
        ("dataset: {derived: {x: {sums: [fee_a, fee_b]}}}", "did you mean 'sum'"),
        ("dataset: {derived: {x: {ratio: [fee_a, plan]}}}", "it is declared under categorical"),
        # Declared again under another kind, a column leaves its parent's kind.
        ("dataset: {derived: {tenure: {sum: [fee_a, fee_b]}}}", "'tenure' is not a declared"),
        ("dataset: {numeric: {fee_a: {role: target}}}", "'feature' or 'value'"),
        ("model: {monotone_constraints: {lifetime_value: 1}}", "not features of dataset 'shop'"),
        (
            "dataset: {customer_value: {revenue_column: plan, lifetime_months: 1}}",
            "'plan' is not a numeric column",
        ),
    ],
)
def test_bad_derived_declarations_are_config_errors(
    tmp_path: Path, bad: str, fragment: str
) -> None:
    _shop(tmp_path)
    (tmp_path / "bad.yaml").write_text(f"extends: shop.yaml\n{bad}\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml is invalid") as error:
        load_settings(tmp_path / "bad.yaml", environ={})
    assert fragment in str(error.value), str(error.value)


def test_a_derived_name_is_not_a_column_name_too() -> None:
    with pytest.raises(ValueError, match=r"columns \['fee'\] are declared twice"):
        DatasetSettings(numeric={"fee": {}, "a": {}}, derived={"fee": {"sum": ["a", "a"]}})


def test_removing_a_column_removes_what_is_derived_from_it(tmp_path: Path) -> None:
    dataset = _shop(tmp_path)
    assert removal_section(dataset, ["fee_a"]) == {"drop": ["fee_a", "monthly_bill", "fee_gap"]}
    assert removal_section(dataset, ["lifetime_value"]) == {
        "drop": ["lifetime_value"],
        "customer_value": None,
    }


def _with_value_columns(customers: pd.DataFrame) -> pd.DataFrame:
    # The label in disguise: as a feature it would give an AUC near 1.
    out = customers.copy()
    out["lifetime_value"] = out["churned"] * 5000.0 + out["monthly_revenue"] * 24
    return out


@pytest.fixture(scope="module")
def valued() -> tuple[DatasetSettings, ChurnModel, pd.DataFrame]:
    base = DatasetSettings()
    dataset = DatasetSettings(
        numeric={**base.numeric, "lifetime_value": {"min": 0, "role": "value"}},
        derived={
            "revenue_per_ticket": {"ratio": ["monthly_revenue", "support_tickets_open"]},
            "engagement": {"sum": ["usage_frequency", "sentiment_score"]},
            "value_per_year": {"ratio": ["lifetime_value", "tenure_months"], "role": "value"},
        },
        customer_value={"revenue_column": "lifetime_value", "lifetime_months": 1},
    )
    world = generate_world(3000, seed=5, as_of=date(2026, 6, 30)).customers
    split = split_customers(_with_value_columns(world), test_size=0.3, validation_size=0.2, seed=2)
    spec = FeatureSpec.from_dataset(dataset)
    model = train_model(
        split.train, split.validation, params=ModelSettings(n_estimators=60), spec=spec
    )
    return dataset, model, split.test


def test_a_value_only_column_is_provably_not_a_model_feature(
    valued: tuple[DatasetSettings, ChurnModel, pd.DataFrame],
) -> None:
    from sklearn.metrics import roc_auc_score

    dataset, model, test = valued
    booster_features = model.trees.feature_name()
    assert booster_features == list(model.spec.names)
    for value_only in ("lifetime_value", "value_per_year"):
        assert value_only not in model.spec.names and value_only not in booster_features
    assert {"revenue_per_ticket", "engagement"} <= set(booster_features)
    # Shuffling (or removing) the value column changes no score.
    scores = model.predict_proba(test)
    shuffled = test.assign(
        lifetime_value=np.random.default_rng(0).permutation(test["lifetime_value"].to_numpy())
    )
    np.testing.assert_array_equal(model.predict_proba(shuffled), scores)
    np.testing.assert_array_equal(model.predict_proba(test.drop(columns="lifetime_value")), scores)
    # It is the label in disguise, and the model ranks no better than the world allows.
    assert roc_auc_score(test["churned"], scores) < 0.93
    # It is what each customer is worth.
    values = customer_values(test, dataset, clv=1200)
    np.testing.assert_array_equal(values, test["lifetime_value"].to_numpy())


def test_a_model_with_derived_features_saves_and_loads_its_recipe(
    valued: tuple[DatasetSettings, ChurnModel, pd.DataFrame], tmp_path: Path
) -> None:
    _, model, test = valued
    save_model(model, tmp_path / "m")
    recipe = json.loads((tmp_path / "m" / RECIPE_FILE).read_text())
    assert recipe["format"] == "churn-model/2"
    assert recipe["features"]["derived"] == {
        "revenue_per_ticket": {"ratio": ["monthly_revenue", "support_tickets_open"]},
        "engagement": {"sum": ["usage_frequency", "sentiment_score"]},
    }
    assert "lifetime_value" not in json.dumps(recipe["features"])
    loaded = load_model(tmp_path / "m")
    assert loaded.spec == model.spec
    np.testing.assert_array_equal(loaded.predict_proba(test), model.predict_proba(test))
