"""One labelled file as both tables: ``data.score_rows`` picks the rows scored."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from churn.data import load_customers, write_table
from churn.dataset import DatasetSettings
from churn.errors import InputError
from churn.model import ChurnModel
from churn.predict import score_customers, score_file
from churn.score_rows import DateRows, load_training_rows, write_rows_to_score
from churn.settings import ModelSettings
from churn.synthetic import generate_world
from churn.train import split_customers, train_model

LATEST = DateRows(date_column="snapshot_date", latest=True)


@pytest.fixture(scope="module")
def model() -> ChurnModel:
    world = generate_world(1000, seed=8, as_of=date(2026, 6, 30))
    split = split_customers(world.customers, test_size=0.2, validation_size=0.2, seed=0)
    return train_model(split.train, split.validation, params=ModelSettings(n_estimators=30))


@pytest.fixture(scope="module")
def labelled() -> pd.DataFrame:
    return generate_world(60, seed=3, as_of=date(2026, 6, 30)).customers


def _snapshots(labelled: pd.DataFrame) -> pd.DataFrame:
    """Two snapshots of the same customers: March's labelled, June's not yet."""
    march = labelled.assign(snapshot_date=pd.Timestamp("2026-03-31"))
    march["last_purchase_date"] = march["last_purchase_date"] - pd.Timedelta(days=91)
    june = labelled.assign(churned=None)
    return pd.concat([march, june], ignore_index=True)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_stayed_scores_only_the_customers_who_stayed_and_ignores_the_label(
    tmp_path: Path, model: ChurnModel, labelled: pd.DataFrame, suffix: str
) -> None:
    path = write_table(labelled, tmp_path / f"all{suffix}")
    rows = tmp_path / "campaign" / f"rows_to_score{suffix}"
    assert write_rows_to_score(path, "stayed", dataset=DatasetSettings(), destination=rows) == (
        int((labelled["churned"] == 0).sum())
    )
    copied = pd.read_csv(rows) if suffix == ".csv" else pd.read_parquet(rows)
    assert "churned" not in copied
    result = score_file(
        model, rows, threshold=0.5, chunk_size=7, scores_path=tmp_path / "scores.parquet"
    )
    stayed = labelled.loc[labelled["churned"] == 0]
    scores = pd.read_parquet(result.scores_path)
    assert scores["customer_id"].tolist() == stayed["customer_id"].tolist()
    # Scored as the same customers would be without any label: it never reaches the model.
    expected = score_customers(model, stayed.drop(columns=["churned"]))
    pd.testing.assert_frame_equal(scores, expected, check_dtype=False)
    # Training reads every row of the file, as the packaged source's.
    assert len(load_training_rows(path, None, dataset=DatasetSettings())) == len(labelled)


@pytest.mark.parametrize(
    ("rule", "scored_day"),
    [
        (LATEST, "2026-06-30"),
        (DateRows(date_column="Snapshot_Date", after=date(2026, 4, 1)), "2026-06-30"),
        (DateRows(date_column="snapshot_date", after=date(2026, 1, 1)), None),
    ],
)
def test_a_date_rule_scores_the_latest_snapshot_and_trains_on_the_older(
    tmp_path: Path, labelled: pd.DataFrame, rule: DateRows, scored_day: str | None
) -> None:
    path = tmp_path / "snapshots.csv"
    _snapshots(labelled).to_csv(path, index=False)
    rows = tmp_path / "rows_to_score.csv"
    if scored_day is None:  # every row is after 2026-01-01: nothing left to train on
        with pytest.raises(InputError, match=r"scores every row.*none is left to train on"):
            load_training_rows(path, rule, dataset=DatasetSettings())
        return
    assert write_rows_to_score(path, rule, dataset=DatasetSettings(), destination=rows) == 60
    scored = load_customers(rows, labelled=False)
    assert (scored["snapshot_date"] == pd.Timestamp(scored_day)).all()
    assert scored["customer_id"].tolist() == labelled["customer_id"].tolist()
    training = load_training_rows(path, rule, dataset=DatasetSettings())
    assert (training["snapshot_date"] == pd.Timestamp("2026-03-31")).all()
    assert training["churned"].tolist() == labelled["churned"].tolist()


def test_a_date_rule_reads_a_parquet_folder(tmp_path: Path, labelled: pd.DataFrame) -> None:
    folder = tmp_path / "snapshots"
    folder.mkdir()
    both = _snapshots(labelled)
    both.iloc[:50].to_parquet(folder / "part-0.parquet")
    both.iloc[50:].to_parquet(folder / "part-1.parquet")
    rows = tmp_path / "rows_to_score.parquet"
    assert write_rows_to_score(folder, LATEST, dataset=DatasetSettings(), destination=rows) == 60
    assert "churned" not in pd.read_parquet(rows)
    assert len(load_training_rows(folder, LATEST, dataset=DatasetSettings())) == 60


def test_generated_ids_keep_the_files_row_numbers(tmp_path: Path, labelled: pd.DataFrame) -> None:
    dataset = DatasetSettings(id={"generate": "when_missing"})
    path = tmp_path / "snapshots.csv"
    _snapshots(labelled).drop(columns=["customer_id"]).to_csv(path, index=False)
    rows = tmp_path / "rows_to_score.csv"
    write_rows_to_score(path, LATEST, dataset=dataset, destination=rows)
    scored = load_customers(rows, labelled=False, dataset=dataset)
    assert scored["customer_id"].tolist() == [str(n) for n in range(61, 121)]
    training = load_training_rows(path, LATEST, dataset=dataset)
    assert training["customer_id"].tolist() == [str(n) for n in range(1, 61)]


def test_rule_errors_name_the_file_the_column_and_the_rows(
    tmp_path: Path, labelled: pd.DataFrame
) -> None:
    both = _snapshots(labelled)
    path = tmp_path / "snapshots.csv"
    both.to_csv(path, index=False)
    rows = tmp_path / "rows_to_score.csv"
    with pytest.raises(InputError, match=r"date_column 'snapshot' is not a column of the file"):
        write_rows_to_score(
            path, DateRows(date_column="snapshot", latest=True),
            dataset=DatasetSettings(), destination=rows,
        )  # fmt: skip
    both.astype({"snapshot_date": object}).assign(
        snapshot_date=lambda f: f["snapshot_date"].where(f.index != 4, "someday")
    ).to_csv(path, index=False)
    with pytest.raises(InputError, match=r"'snapshot_date'.*1 rows without a readable date.*row 5"):
        write_rows_to_score(path, LATEST, dataset=DatasetSettings(), destination=rows)
    write_table(labelled.assign(churned=1), path)
    with pytest.raises(InputError, match=r"selects no row to score \(the customers who stayed\)"):
        write_rows_to_score(path, "stayed", dataset=DatasetSettings(), destination=rows)
    assert not rows.exists()
