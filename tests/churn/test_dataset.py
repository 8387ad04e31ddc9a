"""Datasets declared in YAML: the declared rules, and errors for what no rule covers."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.data import check_customer_ids, iter_customer_batches, load_customers
from churn.dataset import DatasetSettings, customer_values, undeclared_columns
from churn.errors import ConfigError, InputError
from churn.features import FeatureSpec, build_features, category_levels
from churn.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]

GYM = """
dataset: !replace
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
    path.write_text(f"extends: {ROOT / 'configs' / 'default.yaml'}\n{GYM}")
    return load_settings(path, environ={}).dataset


def _snippets(message: str) -> list[str]:
    """The ``dataset:`` lines an error message says to add to the config."""
    return re.findall(r"`(dataset: [^`]*)`", message)


def _added(tmp_path: Path, lines: list[str], parent: str = "gym.yaml") -> DatasetSettings:
    """The declaration once each line is added, each in a config extending the last one
    (a YAML file cannot hold two `dataset:` keys)."""
    for number, line in enumerate(lines):
        path = tmp_path / f"fix{number}.yaml"
        path.write_text(f"extends: {parent}\n{line}\n")
        parent = path.name
    return load_settings(tmp_path / parent, environ={}).dataset


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
    with pytest.raises(
        InputError,
        match="missing required column 'membership' \\(the file has 'MEMBERSHIP', 'Membership', "
        "which differ only in case or spaces: keep one, or rename the others\\)",
    ):
        load_customers(path, labelled=True, dataset=dataset)


def test_a_misspelled_column_is_answered_with_the_aliases_that_would_fix_it(
    tmp_path: Path,
) -> None:
    dataset = _gym_config(tmp_path)
    path = tmp_path / "gym.csv"
    _gym_rows().rename(columns={"snapshot": "snap_shot"}).to_csv(path, index=False)
    with pytest.raises(InputError) as error:
        load_customers(path, labelled=True, dataset=dataset)
    message = str(error.value)
    fix = "`dataset: {dates: {snapshot: {aliases: [snap_shot]}}}`"
    assert f"(is 'snap_shot' a misspelling of it? If it is the same column under another name, " \
        f"declare that name in its aliases: {fix})" in message  # fmt: skip
    # Added to the config as it is, the line makes the file read.
    table = load_customers(path, labelled=True, dataset=_added(tmp_path, _snippets(message)))
    assert table["snapshot"].tolist() == [pd.Timestamp("2026-06-30")] * 4


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


def test_a_dataset_tagged_replace_is_declared_whole(tmp_path: Path) -> None:
    dataset = _gym_config(tmp_path)
    # Nothing of the synthetic world's declaration leaks into the gym's.
    assert "plan" not in dataset.categorical
    assert "days_since_last_purchase" not in dataset.days_between
    assert set(dataset.numeric) == {"visits_per_week", "fee"}
    assert dataset.features[0] == "days_since_visit"
    # A kind the section leaves out is empty, not the synthetic world's.
    (tmp_path / "small.yaml").write_text(
        "dataset: !replace\n  numeric: {visits: {}}\nmodel: {monotone_constraints: {}}\n"
    )
    small = load_settings(tmp_path / "small.yaml", environ={}).dataset
    assert (small.categorical, small.dates, small.days_between) == ({}, {}, {})
    assert small.features == ("visits",)


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
    assert "`dataset: {numeric: {fee: {nullable: true}}}` (`fill: 0` beside `nullable`" in message
    assert (
        "'gold') — to accept 'gold', add it to the levels: "
        "`dataset: {categorical: {membership: {levels: [flex, annual, gold]}}}`"
    ) in message
    # Done as it says, each line added to the config, the same file reads.
    assert len(_snippets(message)) == 2
    table = load_customers(path, labelled=True, dataset=_added(tmp_path, _snippets(message)))
    assert table["fee"].tolist()[::2] == [30.0, 30.0] and np.isnan(table["fee"].iloc[1])
    assert table["membership"].tolist() == ["flex", "gold", "annual", "flex"]
    # The lines changed only what they name.
    fixed = _added(tmp_path, _snippets(message))
    assert fixed.numeric["fee"].aliases == ["monthly_fee_eur"]
    assert fixed.categorical["membership"].replace == {"Flex ": "flex", "FLEX": "flex"}


@pytest.mark.parametrize(
    ("change", "fix", "read"),
    [
        pytest.param(
            lambda f: f.assign(visits_per_week=["2", "n/a", "?", " "]),
            "if '?', '' mean unknown, add "
            "`dataset: {numeric: {visits_per_week: {missing: [n/a, '?', '']}}}`",
            lambda t: t["visits_per_week"].isna().tolist() == [False, True, True, True],
            id="placeholder-text",
        ),
        pytest.param(
            lambda f: f.assign(monthly_fee_eur=[30.0, -5.0, -1.5, 60.0]),
            "if these values are right, widen the range: `dataset: {numeric: {fee: {min: -5}}}`",
            lambda t: t["fee"].tolist() == [30.0, -5.0, -1.5, 60.0],
            id="range",
        ),
        pytest.param(
            lambda f: f.assign(membership=["flex", None, "annual", "flex"]),
            "if empty means unknown, add `dataset: {categorical: {membership: {nullable: true}}}`",
            lambda t: t["membership"].isna().tolist() == [False, True, False, False],
            id="empty-category",
        ),
        pytest.param(
            lambda f: f.assign(membership=["flex", "gold", "silver", "flex"]),
            "to accept 'gold', 'silver', add them to the levels: "
            "`dataset: {categorical: {membership: {levels: [flex, annual, gold, silver]}}}`",
            lambda t: t["membership"].tolist() == ["flex", "gold", "silver", "flex"],
            id="new-levels",
        ),
    ],
)
def test_the_yaml_line_a_data_error_ends_with_makes_the_file_read(
    tmp_path: Path, change, fix: str, read
) -> None:  # type: ignore[no-untyped-def]
    dataset = _gym_config(tmp_path)
    path = tmp_path / "gym.csv"
    change(_gym_rows()).to_csv(path, index=False)
    with pytest.raises(InputError) as error:
        load_customers(path, labelled=True, dataset=dataset)
    message = str(error.value)
    assert fix in message, message
    table = load_customers(path, labelled=True, dataset=_added(tmp_path, _snippets(message)))
    assert read(table)


def test_a_column_the_file_lacks_is_answered_with_its_aliases_or_its_removal(
    tmp_path: Path,
) -> None:
    dataset = _gym_config(tmp_path)
    path = tmp_path / "gym.csv"
    rows = _gym_rows().rename(columns={"monthly_fee_eur": "price"})
    rows.to_csv(path, index=False)
    with pytest.raises(InputError) as error:
        load_customers(path, labelled=True, dataset=dataset)
    message = str(error.value)
    assert "missing required column 'fee'. The file has columns: member_no, " in message
    aliases = "`dataset: {numeric: {fee: {aliases: [monthly_fee_eur, NAME]}}}`"
    assert f"declare that name in its aliases: {aliases}, NAME as the file spells it " in message
    assert "(its columns no declaration uses: price)" in message
    removal = "`dataset: {drop: [fee], customer_value: null}`"
    assert f"if the table does not have it, remove it from the declaration: {removal}." in message
    assert "!replace" not in message  # one column: not another table

    # Either fix, added to the config as it is, makes the file read.
    named = _added(tmp_path, [_snippets(message)[0].replace("NAME", "price")])
    assert (
        load_customers(path, labelled=True, dataset=named)["fee"].tolist() == rows["price"].tolist()
    )
    dropped = _added(tmp_path, [_snippets(message)[1]])
    table = load_customers(path, labelled=True, dataset=dropped)
    assert "fee" not in table and "fee" not in dropped.features
    assert dropped.drop == ["notes", "fee"] and dropped.customer_value is None
    assert undeclared_columns(list(rows.columns), dropped) == ["price"]


def test_removing_a_date_removes_what_is_derived_from_it(tmp_path: Path) -> None:
    _gym_config(tmp_path)
    path = tmp_path / "gym.csv"
    _gym_rows().drop(columns=["snapshot"]).to_csv(path, index=False)
    with pytest.raises(InputError) as error:
        load_customers(path, labelled=True, dataset=_gym_config(tmp_path))
    message = str(error.value)
    removal = (
        "dataset: {drop: [snapshot, days_since_visit], dates: {last_visit: {not_after: null}}}"
    )
    assert f"remove it from the declaration: `{removal}`." in message
    # The gym constrains days_since_visit: the config error says how to clear that too.
    with pytest.raises(ConfigError, match=r"`model: \{monotone_constraints: \{\}\}`"):
        _added(tmp_path, [removal])
    dataset = _added(tmp_path, [f"{removal}\nmodel: {{monotone_constraints: {{}}}}"])
    assert dataset.features == ("visits_per_week", "fee", "membership")
    table = load_customers(path, labelled=True, dataset=dataset)
    assert table["last_visit"].notna().all() and "snapshot" not in table


def test_a_table_without_ids_is_told_how_to_number_its_rows(tmp_path: Path) -> None:
    dataset = _gym_config(tmp_path)
    path = tmp_path / "gym.csv"
    _gym_rows().drop(columns=["member_no"]).to_csv(path, index=False)
    with pytest.raises(InputError) as error:
        load_customers(path, labelled=True, dataset=dataset)
    message = str(error.value)
    assert "`dataset: {id: {aliases: [NAME]}}`" in message
    assert (
        "if the table has no ids, number its rows: `dataset: {id: {generate: when_missing}}`"
        in message
    )
    table = load_customers(path, labelled=True, dataset=_added(tmp_path, _snippets(message)[1:]))
    assert table["customer_id"].tolist() == ["1", "2", "3", "4"]


def test_another_table_declared_without_replace_is_told_to_replace(tmp_path: Path) -> None:
    # The gym's declaration merged into the synthetic world's: its columns are required too.
    merged = GYM.replace("dataset: !replace", "dataset:")
    (tmp_path / "gym.yaml").write_text(f"extends: {ROOT / 'configs' / 'default.yaml'}\n{merged}")
    dataset = load_settings(tmp_path / "gym.yaml", environ={}).dataset
    assert {"plan", "fee"} <= set(dataset.features)
    path = tmp_path / "gym.csv"
    _gym_rows().to_csv(path, index=False)
    with pytest.raises(InputError) as error:
        load_customers(path, labelled=True, dataset=dataset)
    message = str(error.value)
    assert "missing required columns 'support_tickets_open', 'usage_frequency'" in message
    assert "declare it whole: `dataset: !replace` followed by its declaration" in message


# The README's shortest declaration of a new table, read out of README.md itself.
README_YAML = re.compile(
    r"<!-- shortest-dataset -->\n```yaml\n(?P<yaml>.*?)```\n<!-- /shortest-dataset -->", re.S
)


def test_the_readmes_shortest_declaration_reads_a_new_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = README_YAML.search((ROOT / "README.md").read_text())
    assert found is not None, "README.md lost its <!-- shortest-dataset --> block"
    text = found["yaml"]
    assert len(text.splitlines()) <= 15
    monkeypatch.chdir(tmp_path)  # the declaration's paths are relative, as a user's are
    (tmp_path / "shop.yaml").write_text(text)
    settings = load_settings(tmp_path / "shop.yaml", environ={})
    shop = pd.DataFrame(
        {
            "customer": ["c-01", "c-02", "c-03", "c-04", "c-05"],
            "churn": ["yes", "no", "no", "yes", "no"],
            "orders": [1, 12, 7, 0, 3],
            "spend": [19.5, 410.0, 220.0, 0.0, 80.25],
            "days_since_order": [120, 3, 15, 300, 40],
            "plan": ["free", "pro", "pro", "free", "team"],
        }
    )
    shop.to_csv(settings.data.training_path, index=False)
    shop.drop(columns=["churn"]).to_csv(settings.data.scoring_path, index=False)

    # What the training and scoring flows call on their tables.
    training = settings.data.training_path
    assert check_customer_ids(training, labelled=True, dataset=settings.dataset) == 5
    customers = load_customers(training, labelled=True, dataset=settings.dataset)
    assert customers["customer_id"].tolist() == shop["customer"].tolist()
    assert customers["churned"].tolist() == [1, 0, 0, 1, 0]
    spec = FeatureSpec.from_dataset(settings.dataset)
    features = build_features(customers, spec=spec, categories=category_levels(customers, spec))
    assert list(features.columns) == ["orders", "spend", "days_since_order", "plan"]
    assert undeclared_columns(list(shop.columns), settings.dataset) == []
    scoring = settings.data.scoring_path
    assert check_customer_ids(scoring, dataset=settings.dataset) == 5
    [batch] = iter_customer_batches(scoring, chunk_size=10, dataset=settings.dataset)
    assert batch["spend"].tolist() == shop["spend"].tolist()


def test_a_suppression_list_without_the_id_column_says_the_line_to_add(tmp_path: Path) -> None:
    from churn.data import load_suppression_list

    dataset = _gym_config(tmp_path)
    path = tmp_path / "optouts.csv"
    pd.DataFrame({"member": ["007", "010"]}).to_csv(path, index=False)
    with pytest.raises(InputError) as error:
        load_suppression_list(path, dataset=dataset)
    message = str(error.value)
    assert "declare its name: `dataset: {id: {aliases: [member]}}`." in message
    assert load_suppression_list(path, dataset=_added(tmp_path, _snippets(message))) == [
        "007", "010",
    ]  # fmt: skip
