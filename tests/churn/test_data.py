"""Every kind of bad input ends in one clear InputError, and nothing is written."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from churn.data import check_customer_ids, iter_customer_batches, load_customers, write_table
from churn.errors import InputError
from churn.synthetic import generate_world


@pytest.fixture(scope="module")
def good() -> pd.DataFrame:
    return generate_world(40, seed=11, as_of=date(2026, 6, 30)).customers


def _rename(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.rename(columns={"sentiment_score": "sentiment_scroe"})


def _set(column: str, rows: list[int], value: object) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.copy()
        frame[column] = frame[column].astype(object)
        for row in rows:
            frame.loc[row, column] = value
        return frame

    return change


BAD_TABLES = [
    # (mutation, expected fragments of the message)
    (_rename, ["missing required column", "'sentiment_score'", "'sentiment_scroe' a misspelling"]),
    (lambda f: f.drop(columns=["churned"]), ["missing required column", "'churned'"]),
    (
        _set("support_tickets_open", [3, 9], "many"),
        ["'support_tickets_open'", "expected type", "row 4", "'many'"],
    ),
    (_set("customer_id", [5], None), ["'customer_id'", "row 6"]),
    (_set("customer_id", [7], "C0000001"), ["'customer_id'", "duplicate"]),
    (_set("sentiment_score", [2], 1.7), ["'sentiment_score'", "in_range", "row 3", "1.7"]),
    (_set("usage_frequency", [0, 1, 2, 3], -1.0), ["'usage_frequency'", "4 rows"]),
    (_set("plan", [12], "platinum"), ["'plan'", "isin", "row 13", "platinum"]),
    (_set("churned", [4], 3), ["'churned'", "row 5"]),
    (_set("last_purchase_date", [6], "not a date"), ["'last_purchase_date'", "row 7"]),
    (_set("usage_frequency", [2], float("inf")), ["'usage_frequency'", "finite number", "row 3"]),
    (_set("usage_frequency", [5], "Infinity"), ["'usage_frequency'", "finite number", "row 6"]),
    # One cell of a million characters: the message names it, it does not repeat it.
    (
        _set("usage_frequency", [1], "9" * 1_000_000 + "x"),
        ["'usage_frequency'", "row 2", "… (1,000,003 characters)"],
    ),
]


@pytest.mark.parametrize(("mutate", "fragments"), BAD_TABLES)
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_bad_table_is_named_with_column_and_rows(
    tmp_path: Path,
    good: pd.DataFrame,
    mutate,
    fragments: list[str],
    suffix: str,  # type: ignore[no-untyped-def]
) -> None:
    bad = mutate(good)
    if suffix == ".parquet":
        # Parquet keeps types: write object columns as strings, like an export would.
        bad = bad.astype({c: str for c in bad.columns if bad[c].dtype == object})
    path = tmp_path / f"customers{suffix}"
    if suffix == ".csv":
        bad.to_csv(path, index=False)
    else:
        bad.to_parquet(path, index=False)
    with pytest.raises(InputError) as info:
        load_customers(path, labelled=True)
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message[:2000]
    assert "\n" not in message and len(message) < 2000


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nowhere\.parquet: the file does not exist"):
        load_customers(tmp_path / "nowhere.parquet", labelled=True)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(InputError, match=r"empty\.csv: the file is empty"):
        load_customers(path, labelled=True)


def test_header_only_csv_has_no_rows(tmp_path: Path, good: pd.DataFrame) -> None:
    path = tmp_path / "header.csv"
    good.head(0).to_csv(path, index=False)
    with pytest.raises(InputError, match="has no rows"):
        load_customers(path, labelled=True)
    with pytest.raises(InputError, match="has no rows"):
        check_customer_ids(path)


def test_truncated_parquet(tmp_path: Path, good: pd.DataFrame) -> None:
    path = tmp_path / "cut.parquet"
    good.to_parquet(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"cut\.parquet: cannot be read as parquet"):
        load_customers(path, labelled=True)


def test_unsupported_extension(tmp_path: Path) -> None:
    path = tmp_path / "customers.xlsx"
    path.write_text("x")
    with pytest.raises(InputError, match=r"unsupported file type '\.xlsx'"):
        load_customers(path, labelled=True)


def test_duplicates_across_chunks_are_found_before_any_chunk(
    tmp_path: Path, good: pd.DataFrame
) -> None:
    bad = good.copy()
    bad.loc[39, "customer_id"] = bad.loc[0, "customer_id"]
    path = write_table(bad, tmp_path / "dupes.parquet")
    # Chunk by chunk, each chunk of 10 looks fine...
    assert sum(len(c) for c in iter_customer_batches(path, chunk_size=10, labelled=True)) == 40
    # ...so the id pre-check reads the id column alone, across the whole file.
    with pytest.raises(InputError, match=r"duplicate ids.*C0000001"):
        check_customer_ids(path)


def test_chunk_errors_give_file_row_numbers(tmp_path: Path, good: pd.DataFrame) -> None:
    bad = good.copy()
    bad.loc[25, "sentiment_score"] = 5.0
    path = write_table(bad, tmp_path / "rows.parquet")
    with pytest.raises(InputError, match="row 26"):
        list(iter_customer_batches(path, chunk_size=10))


def test_write_table_is_atomic_and_keeps_the_old_file_on_failure(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    write_table(pd.DataFrame({"a": [1, 2]}), path)
    unwritable = pd.DataFrame({"a": [object()]})  # pyarrow cannot convert this
    with pytest.raises(Exception):  # noqa: B017 - any failure; the point is what remains
        write_table(unwritable, path)
    assert pd.read_parquet(path)["a"].tolist() == [1, 2]
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_column_present_twice_is_refused(tmp_path: Path, good: pd.DataFrame, suffix: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    twice = pd.concat([good, good[["usage_frequency"]]], axis=1)
    path = tmp_path / f"customers{suffix}"
    if suffix == ".csv":
        twice.to_csv(path, index=False)
    else:
        pq.write_table(pa.Table.from_arrays(
            [pa.array(twice.iloc[:, i]) for i in range(twice.shape[1])],
            names=[str(c) for c in twice.columns],
        ), path)  # fmt: skip
    with pytest.raises(InputError, match=r"'usage_frequency' \(2 times\) appear more than once"):
        load_customers(path, labelled=True)
    with pytest.raises(InputError, match="usage_frequency"):
        check_customer_ids(path, labelled=True)


@pytest.mark.parametrize(("suffix", "magic"), [(".csv.gz", b"\x1f\x8b"), (".csv.zip", b"PK")])
def test_a_compressed_csv_reads_as_the_plain_one(
    tmp_path: Path, good: pd.DataFrame, suffix: str, magic: bytes
) -> None:
    plain = load_customers(write_table(good, tmp_path / "customers.csv"), labelled=True)
    packed = write_table(good, tmp_path / f"customers{suffix}")
    assert packed.read_bytes()[:2] == magic  # really compressed, by its name
    pd.testing.assert_frame_equal(load_customers(packed, labelled=True), plain)
    batches = list(iter_customer_batches(packed, chunk_size=15, labelled=True))
    pd.testing.assert_frame_equal(pd.concat(batches, ignore_index=True), plain)
    assert check_customer_ids(packed, labelled=True) == len(good)


def test_an_unknown_compression_names_what_is_read(tmp_path: Path) -> None:
    path = tmp_path / "customers.parquet.gz"
    path.write_bytes(b"\x1f\x8b")
    with pytest.raises(InputError, match=r"unsupported file type '\.parquet\.gz'.*\.csv\.gz"):
        load_customers(path, labelled=True)


def test_a_zip_of_one_csv_reads_as_the_plain_one_whatever_the_names(
    tmp_path: Path, good: pd.DataFrame
) -> None:
    import zipfile

    from churn.data import file_digest, plan_chunks, read_chunk, table_columns

    plain = load_customers(write_table(good, tmp_path / "customers.csv"), labelled=True)
    packed = tmp_path / "telco.zip"
    with zipfile.ZipFile(packed, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.write(tmp_path / "customers.csv", "WA_Fn-UseC_-Telco-Customer-Churn.csv")
        archive.writestr("__MACOSX/._WA_Fn-UseC_-Telco-Customer-Churn.csv", "macOS metadata")
    pd.testing.assert_frame_equal(load_customers(packed, labelled=True), plain)
    batches = list(iter_customer_batches(packed, chunk_size=15, labelled=True))
    pd.testing.assert_frame_equal(pd.concat(batches, ignore_index=True), plain)
    chunks = plan_chunks(packed, chunk_size=15)
    frames = [read_chunk(chunk, labelled=True) for chunk in chunks]
    pd.testing.assert_frame_equal(pd.concat(frames, ignore_index=True), plain)
    assert check_customer_ids(packed, labelled=True) == len(good)
    assert table_columns(packed) == list(good.columns)
    assert len(file_digest(packed)) == 16
    # Written under such a name, the archive holds a CSV named for it, and reads back.
    written = write_table(good, tmp_path / "export.zip")
    assert zipfile.ZipFile(written).namelist() == ["export.csv"]
    pd.testing.assert_frame_equal(load_customers(written, labelled=True), plain)


@pytest.mark.parametrize(
    ("members", "message"),
    [
        (["march.csv", "april.csv"], r"holds 2 CSV files \(march\.csv, april\.csv\)"),
        (["notes.txt", "data.xlsx"], r"holds no CSV file \(it holds notes\.txt, data\.xlsx\)"),
    ],
)
def test_a_zip_of_several_csvs_or_none_names_what_it_holds(
    tmp_path: Path, members: list[str], message: str
) -> None:
    import zipfile

    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for member in members:
            archive.writestr(member, "customer_id\nC1\n")
    with pytest.raises(InputError, match=rf"export\.zip: the archive {message}"):
        load_customers(path, labelled=True)
    with pytest.raises(InputError, match=message):
        check_customer_ids(path)


def _parquet_folder(good: pd.DataFrame, folder: Path, cuts: list[int]) -> Path:
    """``good`` cut into part files as pyarrow names them (part-0 … part-10: unpadded)."""
    folder.mkdir()
    bounds = [0, *cuts, len(good)]
    for i, (start, stop) in enumerate(itertools.pairwise(bounds)):
        good.iloc[start:stop].to_parquet(folder / f"part-{i}.parquet")
    (folder / "_SUCCESS").write_text("")  # Spark's marker is not a part
    return folder


def test_a_parquet_folder_reads_as_one_table_in_file_name_order(
    tmp_path: Path, good: pd.DataFrame
) -> None:
    from churn.data import file_digest, plan_chunks, read_chunk, table_columns, table_dtypes

    single = write_table(good, tmp_path / "customers.parquet")
    whole = load_customers(single, labelled=True)
    # Eleven parts: part-10 comes after part-9, not after part-1.
    folder = _parquet_folder(good, tmp_path / "current", [3, 6, 9, 12, 15, 18, 21, 24, 27, 30])
    pd.testing.assert_frame_equal(load_customers(folder, labelled=True), whole)
    batches = list(iter_customer_batches(folder, chunk_size=7, labelled=True))
    assert [len(b) for b in batches] == [7, 7, 7, 7, 7, 5]  # whole chunks across files
    pd.testing.assert_frame_equal(pd.concat(batches, ignore_index=True), whole)
    chunks = plan_chunks(folder, chunk_size=7)
    frames = [read_chunk(chunk, labelled=True) for chunk in chunks]
    pd.testing.assert_frame_equal(pd.concat(frames, ignore_index=True), whole)
    assert check_customer_ids(folder, labelled=True) == len(good)
    assert table_columns(folder) == table_columns(single)
    assert table_dtypes(folder).equals(table_dtypes(single))
    before = file_digest(folder)
    (folder / "part-10.parquet").write_bytes((folder / "part-0.parquet").read_bytes())
    assert file_digest(folder) != before


def test_a_parquet_folder_with_a_part_of_another_schema_names_the_part(
    tmp_path: Path, good: pd.DataFrame
) -> None:
    folder = _parquet_folder(good, tmp_path / "current", [20])
    good.iloc[:3].drop(columns=["plan"]).to_parquet(folder / "part-2.parquet")
    with pytest.raises(
        InputError, match=r"current: the file part-2\.parquet has other columns than "
        r"part-0\.parquet; it lacks \['plan'\]"
    ):  # fmt: skip
        load_customers(folder, labelled=True)
    good.iloc[:3].assign(plan=1).to_parquet(folder / "part-2.parquet")
    with pytest.raises(InputError, match=r"part-2\.parquet stores column 'plan' as int64"):
        list(iter_customer_batches(folder, chunk_size=10, labelled=True))
    with pytest.raises(InputError, match=r"part-2\.parquet"):
        check_customer_ids(folder, labelled=True)


def test_a_folder_without_parquet_files_says_what_it_holds(tmp_path: Path) -> None:
    folder = tmp_path / "current"
    folder.mkdir()
    (folder / "customers.csv").write_text("customer_id\nC1\n")
    with pytest.raises(InputError, match=r"current: the folder holds no parquet files.*customers"):
        load_customers(folder, labelled=True)
