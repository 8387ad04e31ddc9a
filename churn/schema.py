"""Declared schemas of the input tables, and errors a person can act on.

``validate_customers`` checks a table against its schema and raises an
``InputError`` that names the file, each offending column and check, how many
rows fail and a few example rows (by row number and customer id).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from churn.dataset import (
    ID_COLUMN,
    LABEL_COLUMN,
    DatasetSettings,
    column_section,
    prepare,
    prepare_outcomes,
    yaml_snippet,
)
from churn.errors import InputError

if TYPE_CHECKING:
    from pandera.pandas import DataFrameSchema

_EXAMPLES = 3


def _id_column():  # type: ignore[no-untyped-def]
    import pandera.pandas as pa

    return pa.Column(
        str, pa.Check.str_length(min_value=1), nullable=False, unique=True, coerce=True
    )


def _bound(value: float | None) -> float | int | None:
    """A declared bound, whole numbers as integers (messages read ``>= 0``, not ``0.0``)."""
    return int(value) if value is not None and float(value).is_integer() else value


@lru_cache(maxsize=32)
def _customer_schema(declaration: str, labelled: bool) -> DataFrameSchema:
    import pandera.pandas as pa

    dataset = DatasetSettings.model_validate_json(declaration)
    columns = {ID_COLUMN: _id_column()}
    for name, number in dataset.numeric.items():
        checks = []
        low, high = _bound(number.min), _bound(number.max)
        if low is not None and high is not None:
            checks.append(pa.Check.in_range(low, high))
        elif low is not None:
            checks.append(pa.Check.ge(low))
        elif high is not None:
            checks.append(pa.Check.le(high))
        nullable = number.nullable or bool(number.missing)
        if number.integer and not nullable:
            columns[name] = pa.Column(int, checks, nullable=False, coerce=True)
            continue
        if number.integer:
            checks.append(pa.Check(lambda s: s.isna() | (s == s.round()), name="whole number"))
        # inf, -inf, "Infinity", a number too long for a float: no customer has that.
        checks.append(pa.Check(lambda s: ~np.isinf(s), name="finite number", ignore_na=True))
        columns[name] = pa.Column(float, checks, nullable=nullable, coerce=True)
    for name, category in dataset.categorical.items():
        checks = [] if category.levels is None else [pa.Check.isin(category.levels)]
        columns[name] = pa.Column(str, checks, nullable=category.nullable, coerce=True)
    checks = []
    for name, date in dataset.dates.items():
        columns[name] = pa.Column(pa.DateTime, nullable=False, coerce=True)
        if date.not_after is not None:
            checks.append(_not_after(name, date.not_after))
    if labelled:
        columns[LABEL_COLUMN] = pa.Column(int, pa.Check.isin([0, 1]), coerce=True)
    return pa.DataFrameSchema(
        columns, checks=checks, strict=False, name=f"{dataset.name} customer table"
    )


def _not_after(column: str, limit: str):  # type: ignore[no-untyped-def]
    import pandera.pandas as pa

    return pa.Check(
        lambda df: df[column] <= df[limit], name=f"{column} is not after {limit}", ignore_na=True
    )


def customer_schema(dataset: DatasetSettings, *, labelled: bool) -> DataFrameSchema:
    """The pandera schema of a prepared customer table, derived from its declaration."""
    return _customer_schema(dataset.model_dump_json(), labelled)


@cache
def outcome_schema() -> DataFrameSchema:
    """The pandera schema of a campaign outcomes table: who churned over the window."""
    import pandera.pandas as pa

    columns = {
        ID_COLUMN: _id_column(),
        LABEL_COLUMN: pa.Column(int, pa.Check.isin([0, 1]), coerce=True),
        # When the outcome was read: checked against the measurement window.
        "observed_at": pa.Column(pa.DateTime, nullable=False, coerce=True, required=False),
    }
    return pa.DataFrameSchema(columns, strict=False, name="outcomes table")


def _short(text: str, limit: int = 60) -> str:
    """A value as shown in a message: long ones cut, so that one bad cell of a million
    characters makes a line, not a megabyte."""
    return text if len(text) <= limit else f"{text[: limit - 1]}… ({len(text):,} characters)"


# A fix lists at most this many refused values, of at most this many characters: more,
# or longer, are not a few placeholders or categories to declare one by one.
_LISTED = 5
_LONGEST = 40


def _few(texts: list[str]) -> bool:
    return len(texts) <= _LISTED and all(len(t) <= _LONGEST for t in texts)


def yaml_fix(
    column: str, check: str, dataset: DatasetSettings, values: Sequence[object] = ()
) -> str | None:
    """The declaration that would accept what a check refused, for the error to show.

    It is a ``dataset:`` line to add to the config: the line merges into the
    declaration (``churn.settings``), so it names only the key that changes.

    Args:
        column: the declared column.
        check: the pandera check that refused values.
        dataset: the declaration.
        values: the values refused, as pandera reports them.

    Examples:
        >>> yaml_fix("tenure_months", "not_nullable", DatasetSettings())
        'if an empty tenure_months means unknown, add `dataset: {numeric: {tenure_months: {nullable: true}}}` (`fill: 0` beside `nullable` reads it as 0)'
        >>> yaml_fix("plan", "isin(['basic', 'standard', 'premium'])", DatasetSettings(),
        ...          ["gold"])
        "to accept 'gold', add it to the levels: `dataset: {categorical: {plan: {levels: [basic, standard, premium, gold]}}}` (or rename it to one of them with the column's `replace`)"
    """  # noqa: E501
    refused = [v.item() if isinstance(v, np.generic) else v for v in values]
    texts = list(dict.fromkeys(str(v).strip() for v in refused if v is not None and v == v))
    shown = ", ".join(repr(t) for t in texts)
    it = "it" if len(texts) == 1 else "them"

    def snippet(change: dict[str, object]) -> str:
        return f"`{yaml_snippet(column_section(dataset, column, change))}`"

    if column in dataset.numeric:
        number = dataset.numeric[column]
        if check.startswith("not_nullable") or (check.startswith("coerce_dtype") and not texts):
            return (
                f"if an empty {column} means unknown, add {snippet({'nullable': True})} "
                "(`fill: 0` beside `nullable` reads it as 0)"
            )
        if check.startswith("coerce_dtype"):
            if not _few(texts):
                listed = [t for t in texts if len(t) <= _LONGEST][:_LISTED]
                example = f", e.g. {snippet({'missing': [*number.missing, *listed]})}"
                return "if such text means unknown, list it under the column's `missing`" + (
                    example if listed else ""
                )
            return (
                f"if {shown} mean{'s' if len(texts) == 1 else ''} unknown, add "
                f"{snippet({'missing': [*number.missing, *texts]})} (`fill: 0` beside "
                f"`missing` reads {it} as 0)"
            )
        if check.startswith(("greater_than", "less_than", "in_range")):
            numbers = pd.to_numeric(pd.Series(refused, dtype=object), errors="coerce").dropna()
            change: dict[str, object] = {}
            if len(numbers) and number.min is not None and numbers.min() < number.min:
                change["min"] = _bound(float(numbers.min()))
            if len(numbers) and number.max is not None and numbers.max() > number.max:
                change["max"] = _bound(float(numbers.max()))
            if not change:
                return f"if these values are right, widen `min`/`max` of {column}"
            return f"if these values are right, widen the range: {snippet(change)}"
    if column in dataset.categorical:
        category = dataset.categorical[column]
        if check.startswith("isin") and category.levels is not None:
            if not _few(texts):
                return (
                    f"the column has {len(texts)} different values outside its levels; to "
                    f"accept any value, {snippet({'levels': None})}"
                )
            return (
                f"to accept {shown}, add {it} to the levels: "
                f"{snippet({'levels': [*category.levels, *texts]})} (or rename {it} to one "
                "of them with the column's `replace`)"
            )
        if check.startswith("not_nullable"):
            return f"if empty means unknown, add {snippet({'nullable': True})}"
    return None


def _describe_failures(
    source: str,
    frame: pd.DataFrame,
    failures: pd.DataFrame,
    row_offset: int,
    names: dict[str, str] | None = None,
    dataset: DatasetSettings | None = None,
) -> str:
    # A value that cannot be coerced also fails the dtype and value checks; report it once.
    coerce_failed = set(
        failures.loc[failures["check"].astype(str).str.startswith("coerce_dtype"), "column"]
    )
    lines = []
    for (column, check), group in failures.groupby(["column", "check"], sort=False, dropna=False):
        check = str(check)
        if column in coerce_failed and not check.startswith("coerce_dtype"):
            continue
        index = pd.to_numeric(group["index"], errors="coerce").dropna().astype(int).unique()
        examples = []
        for position in index[:_EXAMPLES]:
            row = int(position) + row_offset + 1
            cid = frame[ID_COLUMN].iloc[position] if ID_COLUMN in frame else None
            value = group.loc[
                pd.to_numeric(group["index"], errors="coerce") == position, "failure_case"
            ].iloc[0]
            if isinstance(value, np.generic):
                value = value.item()
            shown = "empty" if pd.isna(value) else _short(repr(value))
            who = f", customer_id {cid!r}" if column != ID_COLUMN and pd.notna(cid) else ""
            examples.append(f"row {row}{who}: {shown}")
        what = check.replace("coerce_dtype", "expected type").replace("not_nullable", "empty value")
        what = what.replace("field_uniqueness", "duplicate value")
        shown_name = (names or {}).get(column, column) if isinstance(column, str) else column
        where = f"column '{shown_name}'" if isinstance(column, str) else "table"
        count = len(index) if len(index) else len(group)
        fix = (
            yaml_fix(column, check, dataset, group["failure_case"].tolist())
            if dataset and isinstance(column, str)
            else None
        )
        lines.append(
            f"{where} fails {what} in {count} row{'s' if count != 1 else ''}"
            + (f" (e.g. {'; '.join(examples)})" if examples else "")
            + (f" — {fix}" if fix else "")
        )
    return f"{source}: " + "; ".join(lines) + "."


def validate_customers(
    frame: pd.DataFrame,
    *,
    source: str | Path,
    labelled: bool,
    dataset: DatasetSettings | None = None,
    row_offset: int = 0,
) -> pd.DataFrame:
    """Prepare a raw customer table by its declaration and check it; return it typed.

    Args:
        frame: the table as read.
        source: the file it came from, named in errors.
        labelled: whether the target is required.
        dataset: the table's declaration (the synthetic world's when None).
        row_offset: row number of ``frame``'s first row within the file (for chunks).

    Raises:
        InputError: naming the file, the columns, the checks and example rows.

    Examples:
        >>> import pandas as pd
        >>> bad = pd.DataFrame({"customer_id": ["C1"], "sentiment_scroe": [0.1]})
        >>> validate_customers(bad, source="c.csv", labelled=False)
        Traceback (most recent call last):
        ...
        churn.errors.InputError: c.csv: missing required columns ..., 'sentiment_score' (is ...
    """
    source = str(source)
    dataset = DatasetSettings() if dataset is None else dataset
    if frame.empty:
        raise InputError(f"{source}: the table has no rows; expected one row per customer.")
    prepared = prepare(frame, dataset, source=source, labelled=labelled, row_offset=row_offset)
    return _validate(
        prepared,
        customer_schema(dataset, labelled=labelled),
        source=source,
        row_offset=row_offset,
        names=prepared.attrs.pop("source_columns", None),
        dataset=dataset,
    )


def validate_outcomes(
    frame: pd.DataFrame, *, source: str | Path, dataset: DatasetSettings | None = None
) -> pd.DataFrame:
    """Check a campaign outcomes table against its schema.

    The table has ``customer_id, churned`` (0/1), or the dataset's own id and
    target columns with its declared churned and stayed values.

    Raises:
        InputError: naming the file, the columns, the checks and example rows.
    """
    source = str(source)
    if frame.empty:
        raise InputError(f"{source}: the table has no rows; expected one row per customer.")
    dataset = DatasetSettings() if dataset is None else dataset
    prepared = prepare_outcomes(frame, dataset, source=source)
    return _validate(prepared, outcome_schema(), source=source, row_offset=0)


def _validate(
    frame: pd.DataFrame,
    schema: DataFrameSchema,
    *,
    source: str,
    row_offset: int,
    names: dict[str, str] | None = None,
    dataset: DatasetSettings | None = None,
) -> pd.DataFrame:
    import pandera.errors

    try:
        validated: pd.DataFrame = schema.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        raise InputError(
            _describe_failures(source, frame, exc.failure_cases, row_offset, names, dataset)
            + " Nothing was written; fix the file and run again."
        ) from None
    return validated
