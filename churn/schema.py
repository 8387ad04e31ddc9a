"""Declared schemas of the input tables, and errors a person can act on.

``validate_customers`` checks a table against its schema and raises an
``InputError`` that names the file, each offending column and check, how many
rows fail and a few example rows (by row number and customer id).
"""

from __future__ import annotations

import difflib
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from churn.errors import InputError
from churn.synthetic import PLANS

if TYPE_CHECKING:
    from pandera.pandas import DataFrameSchema

ID_COLUMN = "customer_id"
LABEL_COLUMN = "churned"
_EXAMPLES = 3


def _id_column():  # type: ignore[no-untyped-def]
    import pandera.pandas as pa

    return pa.Column(
        str, pa.Check.str_length(min_value=1), nullable=False, unique=True, coerce=True
    )


@cache
def customer_schema(*, labelled: bool) -> DataFrameSchema:
    """The pandera schema of a customer table (``labelled`` adds the ``churned`` label)."""
    import pandera.pandas as pa

    columns = {
        ID_COLUMN: _id_column(),
        "snapshot_date": pa.Column(pa.DateTime, nullable=False, coerce=True),
        "last_purchase_date": pa.Column(pa.DateTime, nullable=False, coerce=True),
        "support_tickets_open": pa.Column(int, pa.Check.ge(0), coerce=True),
        "usage_frequency": pa.Column(float, pa.Check.ge(0), coerce=True),
        "sentiment_score": pa.Column(float, pa.Check.in_range(-1.0, 1.0), coerce=True),
        "tenure_months": pa.Column(int, pa.Check.ge(0), coerce=True),
        "plan": pa.Column(str, pa.Check.isin(list(PLANS)), coerce=True),
        "monthly_revenue": pa.Column(float, pa.Check.ge(0), coerce=True),
    }
    if labelled:
        columns[LABEL_COLUMN] = pa.Column(int, pa.Check.isin([0, 1]), coerce=True)
    checks = [
        pa.Check(
            lambda df: df["last_purchase_date"] <= df["snapshot_date"],
            name="last_purchase_date is not after snapshot_date",
            ignore_na=True,
        )
    ]
    return pa.DataFrameSchema(columns, checks=checks, strict=False, name="customer table")


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


def required_columns(*, labelled: bool) -> list[str]:
    """The columns a customer table must have."""
    return list(customer_schema(labelled=labelled).columns)


def check_columns(columns: list[str], *, source: str | Path, labelled: bool) -> None:
    """Raise an ``InputError`` naming required columns absent from ``columns``.

    A missing column that closely resembles a present one is pointed out as a
    likely misspelling.
    """
    _check_required(columns, required_columns(labelled=labelled), source=source)


def _check_required(columns: list[str], required: list[str], *, source: str | Path) -> None:
    found = [str(c) for c in columns]
    missing = [c for c in required if c not in found]
    if not missing:
        return
    parts = []
    for column in missing:
        close = difflib.get_close_matches(column, found, n=1, cutoff=0.75)
        hint = f" (is '{close[0]}' a misspelling of it?)" if close else ""
        parts.append(f"'{column}'{hint}")
    raise InputError(
        f"{source}: missing required column{'s' if len(missing) > 1 else ''} "
        f"{', '.join(parts)}. The file has columns: {', '.join(found) or 'none'}."
    )


def _describe_failures(
    source: str, frame: pd.DataFrame, failures: pd.DataFrame, row_offset: int
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
            shown = "empty" if pd.isna(value) else repr(value)
            who = f", customer_id {cid!r}" if column != ID_COLUMN and pd.notna(cid) else ""
            examples.append(f"row {row}{who}: {shown}")
        what = check.replace("coerce_dtype", "expected type").replace("not_nullable", "empty value")
        what = what.replace("field_uniqueness", "duplicate value")
        where = f"column '{column}'" if isinstance(column, str) else "table"
        count = len(index) if len(index) else len(group)
        lines.append(
            f"{where} fails {what} in {count} row{'s' if count != 1 else ''}"
            + (f" (e.g. {'; '.join(examples)})" if examples else "")
        )
    return f"{source}: " + "; ".join(lines) + "."


def validate_customers(
    frame: pd.DataFrame, *, source: str | Path, labelled: bool, row_offset: int = 0
) -> pd.DataFrame:
    """Check a customer table against its schema; return it with declared dtypes.

    Args:
        frame: the table as read.
        source: the file it came from, named in errors.
        labelled: whether the ``churned`` label is required.
        row_offset: row number of ``frame``'s first row within the file (for chunks).

    Raises:
        InputError: naming the file, the columns, the checks and example rows.

    Examples:
        >>> import pandas as pd
        >>> bad = pd.DataFrame({"customer_id": ["C1"], "sentiment_scroe": [0.1]})
        >>> validate_customers(bad, source="c.csv", labelled=False)
        Traceback (most recent call last):
        ...
        churn.errors.InputError: c.csv: missing required columns 'snapshot_date', ...
    """
    source = str(source)
    if frame.empty:
        raise InputError(f"{source}: the table has no rows; expected one row per customer.")
    check_columns(list(frame.columns), source=source, labelled=labelled)
    return _validate(
        frame, customer_schema(labelled=labelled), source=source, row_offset=row_offset
    )


def validate_outcomes(frame: pd.DataFrame, *, source: str | Path) -> pd.DataFrame:
    """Check a campaign outcomes table (``customer_id, churned``) against its schema.

    Raises:
        InputError: naming the file, the columns, the checks and example rows.
    """
    source = str(source)
    if frame.empty:
        raise InputError(f"{source}: the table has no rows; expected one row per customer.")
    _check_required(list(frame.columns), [ID_COLUMN, LABEL_COLUMN], source=source)
    return _validate(frame, outcome_schema(), source=source, row_offset=0)


def _validate(
    frame: pd.DataFrame, schema: DataFrameSchema, *, source: str, row_offset: int
) -> pd.DataFrame:
    import pandera.errors

    try:
        validated: pd.DataFrame = schema.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        raise InputError(
            _describe_failures(source, frame, exc.failure_cases, row_offset)
            + " Nothing was written; fix the file and run again."
        ) from None
    return validated
