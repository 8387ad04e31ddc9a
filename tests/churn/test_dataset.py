"""Datasets declared in YAML: the declared rules, and errors for what no rule covers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.data import check_customer_ids, iter_customer_batches, load_customers
from churn.dataset import DatasetSettings, customer_values, undeclared_columns
from churn.errors import ConfigError, InputError
from churn.settings import load_settings

GYM = """
dataset:
  name: gym
  id: {column: member_no}
  target: {column: left_club, churned: ["Y"], stayed: ["N"]}
  numeric:
    visits_per_week: {min: 0, missing: ["n/a"]}
    fee: {aliases: [monthly_fee_eur], min: 0}
  categorical:
    membership: {levels: [flex, annual], replace: {"Flex ": flex, FLEX: flex}}
  dates:
    joined: {}
    last_visit: {not_after: snapshot}
    snapshot: {}
  days_between:
    days_since_visit: {start: last_visit, end: snapshot}
  drop: [notes]
  customer_value: {revenue_column: fee, lifetime_months: 12}
model:
  monotone_constraints: {days_since_visit: 1}
"""


def _gym_config(tmp_path: Path) -> DatasetSettings:
    path = tmp_path / "gym.yaml"
    path.write_text(f"extends: {Path.cwd() / 'configs' / 'default.yaml'}\n{GYM}")
    return load_settings(path, environ={}).dataset


def _gym_rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "member_no": ["007", "008", "009", "010"],
            "left_club": ["Y", "N", "N", "Y"],
            "visits_per_week": ["2", "n/a", "0.5", "3"],
            "monthly_fee_eur": [30.0, 45.0, 30.0, 60.0],
            "membership": ["flex", "Flex ", "annual", "FLEX"],
            "joined": ["2024-01-05", "2025-03-01", "2023-07-19", "2026-01-02"],
            "last_visit": ["2026-06-01", "2026-06-20", "2026-05-02", "2026-06-29"],
            "snapshot": ["2026-06-30"] * 4,
            "notes": ["", "vip", "", ""],
        }
    )


def test_a_yaml_declaration_prepares_a_differently_shaped_csv(tmp_path: Path) -> None:
    dataset = _gym_config(tmp_path)
    path = tmp_path / "gym.csv"
    _gym_rows().to_csv(path, index=False)
    table = load_customers(path, labelled=True, dataset=dataset)
    # Ids stay text ("007", not 7); the target maps Y/N; "n/a" is missing; spellings merge.
    assert table["customer_id"].tolist() == ["007", "008", "009", "010"]
    assert table["churned"].tolist() == [1, 0, 0, 1]
    assert np.isnan(table["visits_per_week"].iloc[1])
    assert table["visits_per_week"].iloc[2] == 0.5
    assert table["fee"].tolist() == [30.0, 45.0, 30.0, 60.0]
    assert table["membership"].tolist() == ["flex", "flex", "annual", "flex"]
    assert "notes" not in table
    assert customer_values(table, dataset, clv=999).tolist() == [360.0, 540.0, 360.0, 720.0]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_columns_match_whatever_their_case_and_spaces(tmp_path: Path, suffix: str) -> None:
    dataset = _gym_config(tmp_path)
    rows = _gym_rows().rename(
        columns={"member_no": "Member_No", "left_club": " LEFT_CLUB", "membership": "Membership"}
    )
    path = tmp_path / f"gym{suffix}"
    rows.to_csv(path, index=False) if suffix == ".csv" else rows.to_parquet(path)
    assert check_customer_ids(path, labelled=True, dataset=dataset) == 4
    table = load_customers(path, labelled=True, dataset=dataset)
    assert table["customer_id"].tolist() == ["007", "008", "009", "010"]  # still text
    assert table["churned"].tolist() == [1, 0, 0, 1]
    assert table["membership"].tolist() == ["flex", "flex", "annual", "flex"]
    assert undeclared_columns(list(rows.columns), dataset) == []


def test_two_columns_differing_only_in_case_match_neither(tmp_path: Path) -> None:
    dataset = _gym_config(tmp_path)
    path = tmp_path / "gym.csv"
    _gym_rows().assign(MEMBERSHIP=["flex"] * 4, Membership=["annual"] * 4).drop(
        columns=["membership"]
    ).to_csv(path, index=False)
    with pytest.raises(InputError, match="missing required column 'membership'"):
        load_customers(path, labelled=True, dataset=dataset)


def test_a_misspelled_column_is_answered_with_the_aliases_that_would_fix_it(
    tmp_path: Path,
) -> None:
    dataset = _gym_config(tmp_path)
    path = tmp_path / "gym.csv"
    _gym_rows().rename(columns={"snapshot": "snap_shot"}).to_csv(path, index=False)
    with pytest.raises(
        InputError, match=r"declare that name in the column's `aliases: \['snap_shot'\]`"
    ):
        load_customers(path, labelled=True, dataset=dataset)


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        # A value no rule covers fails, named by the file's own column and the row.
        (lambda f: f.assign(visits_per_week=["2", " ", "1", "1"]), ["'visits_per_week'", "row 2"]),
        (
            lambda f: f.assign(monthly_fee_eur=[30.0, -1.0, 1.0, 1.0]),
            ["'monthly_fee_eur'", "row 2"],
        ),
        (
            lambda f: f.assign(membership=["flex", "gold", "annual", "flex"]),
            ["'membership'", "'gold'"],
        ),
        (lambda f: f.assign(left_club=["Y", "N", "maybe", "Y"]), ["'left_club'", "row 3", "'009'"]),
        (lambda f: f.drop(columns=["monthly_fee_eur"]), ["missing required column 'fee'"]),
        (lambda f: f.rename(columns={"snapshot": "snapshott"}), ["'snapshot' (is 'snapshott'"]),
        (
            lambda f: f.assign(last_visit=["2026-07-01"] * 4),
            ["last_visit is not after snapshot", "4 rows"],
        ),
    ],
)
def test_values_no_rule_covers_are_errors_naming_column_and_row(
    tmp_path: Path, change, fragments: list[str]
) -> None:  # type: ignore[no-untyped-def]
    dataset = _gym_config(tmp_path)
    path = tmp_path / "gym.csv"
    change(_gym_rows()).to_csv(path, index=False)
    with pytest.raises(InputError) as info:
        load_customers(path, labelled=True, dataset=dataset)
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message


def test_generated_ids_number_rows_across_chunks(tmp_path: Path) -> None:
    dataset = _gym_config(tmp_path).model_copy(
        update={"id": DatasetSettings().id.model_copy(update={"generate": "when_missing"})}
    )
    path = tmp_path / "gym.parquet"
    _gym_rows().drop(columns=["member_no"]).to_parquet(path, index=False)
    assert check_customer_ids(path, dataset=dataset) is None
    chunks = list(iter_customer_batches(path, chunk_size=3, dataset=dataset))
    assert [c["customer_id"].tolist() for c in chunks] == [["1", "2", "3"], ["4"]]


@pytest.mark.parametrize(
    ("section", "fragment"),
    [
        ("dataset: {days_between: {x: {start: a, end: b}}}", "'a' is not a declared date"),
        ("dataset: {target: {churned: [1], stayed: [1]}}", "declared both churned and stayed"),
        ("dataset: {customer_value: {revenue_column: nope, lifetime_months: 3}}", "'nope'"),
        ("model: {monotone_constraints: {tickets: 1}}", "not features of dataset 'synthetic'"),
        ("dataset: {id: {generate: sometimes}}", "dataset.id.generate"),
    ],
)
def test_bad_declarations_are_config_errors(tmp_path: Path, section: str, fragment: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(section)
    with pytest.raises(ConfigError, match="invalid") as info:
        load_settings(path, environ={})
    assert fragment in str(info.value)


def test_a_dataset_section_replaces_the_parents_whole(tmp_path: Path) -> None:
    dataset = _gym_config(tmp_path)
    # Nothing of the synthetic world's declaration leaks into the gym's.
    assert "plan" not in dataset.categorical
    assert "days_since_last_purchase" not in dataset.days_between
    assert dataset.features[0] == "days_since_visit"


def test_outcomes_may_come_in_the_datasets_own_columns(tmp_path: Path) -> None:
    from churn.data import load_outcomes

    dataset = _gym_config(tmp_path)
    own = tmp_path / "crm.csv"
    pd.DataFrame({"member_no": ["007", "008"], "left_club": ["N", "Y"]}).to_csv(own, index=False)
    canonical = tmp_path / "outcomes.csv"
    pd.DataFrame({"customer_id": ["007", "008"], "churned": [0, 1]}).to_csv(canonical, index=False)
    for path in (own, canonical):
        table = load_outcomes(path, dataset=dataset)
        assert table[["customer_id", "churned"]].to_dict("list") == {
            "customer_id": ["007", "008"], "churned": [0, 1],
        }  # fmt: skip
    pd.DataFrame({"member_no": ["007"], "left_club": ["gone"]}).to_csv(own, index=False)
    with pytest.raises(InputError, match=r"column 'left_club' has 1 value .*'gone'"):
        load_outcomes(own, dataset=dataset)


def test_each_data_error_says_which_declaration_would_accept_it(tmp_path: Path) -> None:
    dataset = _gym_config(tmp_path)
    path = tmp_path / "gym.csv"
    rows = _gym_rows().assign(
        monthly_fee_eur=[30.0, None, 30.0, 60.0], membership=["flex", "gold", "annual", "flex"]
    )
    rows.to_csv(path, index=False)
    with pytest.raises(InputError) as error:
        load_customers(path, labelled=True, dataset=dataset)
    message = str(error.value)
    assert "row 2, customer_id '008': empty) — if an empty fee means unknown, add " in message
    assert "`nullable: true` to dataset.numeric.fee (and `fill: 0`" in message
    assert "'gold') — to accept it, add it to the column's `levels`" in message
    assert "under dataset.categorical.membership" in message
    # Done as it says, the same file reads.
    fee = dataset.numeric["fee"].model_copy(update={"nullable": True, "fill": 0})
    membership = dataset.categorical["membership"]
    membership = membership.model_copy(update={"levels": [*membership.levels, "gold"]})
    fixed = dataset.model_copy(
        update={"numeric": {**dataset.numeric, "fee": fee},
                "categorical": {**dataset.categorical, "membership": membership}}
    )  # fmt: skip
    table = load_customers(path, labelled=True, dataset=fixed)
    assert table["fee"].tolist() == [30.0, 0.0, 30.0, 60.0]
    assert table["membership"].tolist() == ["flex", "gold", "annual", "flex"]
