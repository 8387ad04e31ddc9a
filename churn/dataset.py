"""A dataset declared in configuration, and the rules that bring a raw table into shape.

A customer table arrives in its own shape: its own column names, ``"Yes"``
and ``"No"`` for the label, blanks in numeric columns, several spellings of
one category. The ``dataset`` section of a config declares all of it — the id
column (or that one is generated), the target and which values mean churned,
the numeric, categorical and date columns with their checks, the derived
features, the columns to drop, and how a customer's value is obtained — and
``prepare`` applies exactly those rules, nothing implicit: a value no rule
covers fails validation with the file, column and rows named.

After ``prepare`` every table has the same canonical form: ``customer_id``
(text), the declared columns under their declared names, and ``churned`` (0/1)
when labelled. Everything downstream reads that form only.

The defaults declare the synthetic world, so ``dataset:`` may be left out of
a config for the embedded default. A config's ``dataset`` section merges into
the declaration it extends (``churn.settings``), so an error can end with the
one line of YAML that fixes it (``yaml_snippet``).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from churn.derived import OPERATIONS
from churn.errors import InputError

if TYPE_CHECKING:  # pandas loads only where tables are handled: `churn --help` stays fast
    import numpy as np
    import pandas as pd

ID_COLUMN = "customer_id"
LABEL_COLUMN = "churned"
VALUE_COLUMN = "customer_value"
# The keys of a declaration that map column names to their declarations.
COLUMN_KINDS = ("numeric", "categorical", "dates", "days_between", "derived")
_EXAMPLES = 3


def value_key(value: Any) -> str:
    """A value as text for matching declared values: 1, 1.0 and "1" all read "1"."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        return value_key(value.item())
    return "" if value is None or value != value else str(value).strip()


def _values(*values: str | int | bool) -> list[str | int | bool]:
    return list(values)


class _Declaration(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IdDeclaration(_Declaration):
    """Where each customer's id comes from."""

    column: str = Field(ID_COLUMN, description="the file's column of customer ids")
    aliases: list[str] = Field(default_factory=list, description="other names of the column")
    generate: str = Field(
        "never",
        pattern="^(never|when_missing|always)$",
        description="number the rows 1, 2, …: never (the column is required), when_missing "
        "(if the file has no id column) or always (even if it has one)",
    )


class TargetDeclaration(_Declaration):
    """The label column and which of its values mean churned and stayed."""

    column: str = Field(LABEL_COLUMN, description="the file's column of the label")
    aliases: list[str] = Field(default_factory=list, description="other names of the column")
    churned: list[str | int | bool] = Field(
        default_factory=lambda: _values(1),
        description='values meaning the customer churned, e.g. [Yes]; 1, 1.0 and "1" match',
    )
    stayed: list[str | int | bool] = Field(
        default_factory=lambda: _values(0),
        description='values meaning the customer stayed, e.g. [No]; 0, 0.0 and "0" match',
    )

    @model_validator(mode="after")
    def _disjoint(self) -> TargetDeclaration:
        both = set(map(value_key, self.churned)) & set(map(value_key, self.stayed))
        if both:
            raise ValueError(f"values {sorted(both)} are declared both churned and stayed")
        return self


class NumericColumn(_Declaration):
    """A numeric column, its range, and which values mean missing."""

    aliases: list[str] = Field(default_factory=list, description="other names of the column")
    min: float | None = Field(None, description="smallest allowed value (default: none)")
    max: float | None = Field(None, description="largest allowed value (default: none)")
    integer: bool = Field(False, description="values must be whole numbers")
    missing: list[str] = Field(
        default_factory=list,
        description="text that stands for a missing value, compared after stripping spaces "
        '("" is a blank cell); declaring it allows missing values',
    )
    nullable: bool = Field(False, description="missing values are allowed")
    fill: float | None = Field(
        None, description="the value that replaces a missing one (default: left missing)"
    )
    role: Literal["feature", "value"] = Field(
        "feature",
        description="feature (the model sees it) or value (read and validated, usable as "
        "customer_value.revenue_column, never a feature)",
    )


class CategoricalColumn(_Declaration):
    """A categorical column: optional allowed levels, and values renamed before checking."""

    aliases: list[str] = Field(default_factory=list, description="other names of the column")
    levels: list[str] | None = Field(
        None, description="the allowed values, after replace (default: any value)"
    )
    replace: dict[str, str] = Field(
        default_factory=dict,
        description="values renamed before checking, file value: level, e.g. {FLEX: flex}",
    )
    nullable: bool = Field(False, description="missing values are allowed")


class DateColumn(_Declaration):
    """A date column; ``not_after`` names a date column it may not come after."""

    aliases: list[str] = Field(default_factory=list, description="other names of the column")
    not_after: str | None = Field(
        None, description="a declared date column this one may not come after"
    )


class DaysBetween(_Declaration):
    """A derived feature: whole days from one date column to another."""

    start: str = Field(description="the declared date column counted from")
    end: str = Field(description="the declared date column counted to")


class DerivedColumn(_Declaration):
    """A derived numeric column: one operation on declared numeric columns.

    ``sum`` and ``product`` take two or more columns, ``difference`` (first minus
    second) and ``ratio`` (first over second) exactly two. A row whose result is not
    a finite number (a missing operand, a zero denominator) is missing
    (``churn.derived``).
    """

    sum: list[str] | None = Field(None, description="two or more numeric columns to add")
    product: list[str] | None = Field(None, description="two or more numeric columns to multiply")
    difference: list[str] | None = Field(
        None, description="two numeric columns: the first minus the second"
    )
    ratio: list[str] | None = Field(
        None, description="two numeric columns: the first over the second"
    )
    role: Literal["feature", "value"] = Field(
        "feature",
        description="feature (the model sees it) or value (usable as "
        "customer_value.revenue_column, never a feature)",
    )

    @model_validator(mode="after")
    def _one_operation(self) -> DerivedColumn:
        given = [op for op in OPERATIONS if getattr(self, op) is not None]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of {', '.join(OPERATIONS)} (a list of numeric columns), "
                f"not {' and '.join(given) or 'none'}; e.g. {{sum: [fee_a, fee_b]}}"
            )
        (op,) = given
        least, most = OPERATIONS[op]
        count = len(getattr(self, op))
        if count < least or (most is not None and count > most):
            wanted = f"exactly {least}" if least == most else f"at least {least}"
            raise ValueError(f"{op} takes {wanted} columns, not {count}")
        return self

    @property
    def operation(self) -> tuple[str, tuple[str, ...]]:
        """The operation's name and its columns."""
        op = next(op for op in OPERATIONS if getattr(self, op) is not None)
        return op, tuple(getattr(self, op))


class CustomerValue(_Declaration):
    """Per-customer lifetime value: a revenue column times an expected lifetime.

    Without it every customer is worth ``economics.clv``.
    """

    revenue_column: str = Field(description="numeric or derived column of monthly revenue, dollars")
    lifetime_months: float = Field(
        gt=0, description="expected lifetime in months that revenue is multiplied by"
    )


def _synthetic_numeric() -> dict[str, NumericColumn]:
    return {
        "support_tickets_open": NumericColumn(min=0, integer=True),
        "usage_frequency": NumericColumn(min=0),
        "sentiment_score": NumericColumn(min=-1, max=1),
        "tenure_months": NumericColumn(min=0, integer=True),
        "monthly_revenue": NumericColumn(min=0),
    }


def _synthetic_dates() -> dict[str, DateColumn]:
    return {
        "snapshot_date": DateColumn(),
        "last_purchase_date": DateColumn(not_after="snapshot_date"),
    }


class DatasetSettings(_Declaration):
    """The declaration of a customer table; the defaults describe the synthetic world."""

    name: str = Field(
        "synthetic", description="the table's name, shown in messages and on MLflow runs"
    )
    id: IdDeclaration = Field(IdDeclaration(), description="where each customer's id comes from")
    target: TargetDeclaration = Field(
        TargetDeclaration(),
        description="the label column and which of its values mean churned and stayed",
    )
    numeric: dict[str, NumericColumn] = Field(
        default_factory=_synthetic_numeric,
        description="numeric columns by name: range, integer, missing values, fill, role",
    )
    categorical: dict[str, CategoricalColumn] = Field(
        default_factory=lambda: {
            "plan": CategoricalColumn(levels=["basic", "standard", "premium"])
        },
        description="categorical columns by name: allowed levels, values renamed, nullable",
    )
    dates: dict[str, DateColumn] = Field(
        default_factory=_synthetic_dates,
        description="date columns by name, each optionally not after another",
    )
    days_between: dict[str, DaysBetween] = Field(
        default_factory=lambda: {
            "days_since_last_purchase": DaysBetween(start="last_purchase_date", end="snapshot_date")
        },
        description="derived features by name: whole days from one date column to another",
    )
    derived: dict[str, DerivedColumn] = Field(
        default_factory=dict,
        description="derived numeric columns by name: a sum, product, difference or ratio",
    )
    drop: list[str] = Field(
        default_factory=list, description="columns known and deliberately not used"
    )
    customer_value: CustomerValue | None = Field(
        None,
        description="each customer's value as revenue × lifetime (default: economics.clv)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> DatasetSettings:
        names = [*self.numeric, *self.categorical, *self.dates, *self.days_between, *self.derived]
        reserved = {ID_COLUMN, LABEL_COLUMN, VALUE_COLUMN, self.id.column, self.target.column}
        clash = sorted({n for n in names if names.count(n) > 1} | (set(names) & reserved))
        if clash:
            raise ValueError(f"columns {clash} are declared twice or clash with id/target")
        both = sorted(set(self.drop) & set(names))
        if both:
            raise ValueError(
                f"columns {both} are both declared and listed in drop: a column is used or "
                "dropped, not both"
            )
        if not self.features:
            raise ValueError(
                "declare at least one feature: a numeric or derived column without "
                "`role: value`, a categorical column or a days_between feature"
            )
        for name, derived in self.days_between.items():
            for column in (derived.start, derived.end):
                if column not in self.dates:
                    raise ValueError(
                        f"days_between.{name}: '{column}' is not a declared date"
                        + _dropped_fix(column, self.drop, {"drop": [name]})
                    )
        for name, date in self.dates.items():
            if date.not_after is not None and date.not_after not in self.dates:
                raise ValueError(
                    f"dates.{name}.not_after: '{date.not_after}' is not a date"
                    + _dropped_fix(
                        date.not_after, self.drop, {"dates": {name: {"not_after": None}}}
                    )
                )
        for name, rule in self.derived.items():
            self._check_operands(name, rule)
        value = self.customer_value
        if value is not None and value.revenue_column not in {*self.numeric, *self.derived}:
            raise ValueError(
                f"customer_value.revenue_column '{value.revenue_column}' is not a numeric column"
                + _dropped_fix(value.revenue_column, self.drop, {"customer_value": None})
            )
        return self

    def _check_operands(self, name: str, derived: DerivedColumn) -> None:
        """Each column a derived column names is a declared numeric column, or the error
        says the declaration that would make it one."""
        op, columns = derived.operation
        for column in columns:
            if column in self.numeric and (
                derived.role == "value" or self.numeric[column].role == "feature"
            ):
                continue
            if column in self.numeric:
                # A feature computed from a value-only column would carry it into the model.
                raise ValueError(
                    f"derived.{name}.{op}: '{column}' is declared `role: value` (never a "
                    f"feature), so the feature '{name}' cannot be computed from it; make "
                    f"'{name}' a value-only column too: "
                    f"`{yaml_snippet({'derived': {name: {'role': 'value'}}})}`"
                )
            where = f"derived.{name}.{op}: '{column}' is not a declared numeric column"
            if column in self.drop:
                raise ValueError(where + _dropped_fix(column, self.drop, {"drop": [name]}))
            kinds = ("categorical", "dates", "days_between", "derived")
            kind = next((k for k in kinds if column in getattr(self, k)), None)
            if kind is not None:
                raise ValueError(
                    f"{where} (it is declared under {kind}; a derived column combines numeric "
                    "columns only)"
                )
            close = difflib.get_close_matches(column, list(self.numeric), n=1, cutoff=0.75)
            if close:
                fixed = [close[0] if c == column else c for c in columns]
                raise ValueError(
                    f"{where}; is it a misspelling of '{close[0]}'? Write "
                    f"`{yaml_snippet({'derived': {name: {op: fixed}}})}`"
                )
            raise ValueError(
                f"{where} (numeric columns: {', '.join(self.numeric) or 'none'}); declare it "
                f"(`{yaml_snippet({'numeric': {column: {}}})}`, with its checks) or name "
                "another column"
            )

    @property
    def features(self) -> tuple[str, ...]:
        """The model's features, in the order the booster sees them: not the columns
        declared ``role: value``."""
        return (
            *self.days_between,
            *(n for n, d in self.derived.items() if d.role == "feature"),
            *(n for n, c in self.numeric.items() if c.role == "feature"),
            *self.categorical,
        )

    def aliases(self) -> dict[str, list[str]]:
        """Every declared column (id and target included) → the names it may have."""
        declared: dict[str, Iterable[str]] = {
            **{n: c.aliases for n, c in self.numeric.items()},
            **{n: c.aliases for n, c in self.categorical.items()},
            **{n: c.aliases for n, c in self.dates.items()},
        }
        return {name: [name, *others] for name, others in declared.items()}


def yaml_snippet(section: dict[str, Any]) -> str:
    """The ``dataset:`` line a user adds to a config to change its declaration.

    It merges into the declaration the config extends (``churn.settings``), so it
    names only what changes.

    Examples:
        >>> yaml_snippet({"numeric": {"fee": {"nullable": True}}})
        'dataset: {numeric: {fee: {nullable: true}}}'
        >>> yaml_snippet({"target": {"churned": ["Yes", ""]}, "customer_value": None})
        "dataset: {target: {churned: ['Yes', '']}, customer_value: null}"
    """
    import yaml

    flow = yaml.safe_dump(
        section, default_flow_style=True, sort_keys=False, allow_unicode=True, width=1 << 20
    )
    return f"dataset: {flow.strip()}"


def _dropped_fix(column: str, drop: list[str], section: dict[str, Any]) -> str:
    """The end of a message about a name that no longer refers to a column because
    ``drop`` removed it: what else to change."""
    if column not in drop:
        return ""
    return f" ('{column}' is dropped; add `{yaml_snippet(section)}` too)"


def removal_section(dataset: DatasetSettings, columns: list[str]) -> dict[str, Any]:
    """The ``dataset`` section that removes ``columns`` from a declaration, with what is
    derived from them (``days_between``) and the checks and value that name them.

    Examples:
        >>> removal_section(DatasetSettings(), ["snapshot_date"])
        {'drop': ['snapshot_date', 'days_since_last_purchase'], 'dates': {'last_purchase_date': {'not_after': None}}}
    """  # noqa: E501
    gone = set(columns)
    derived = [n for n, d in dataset.days_between.items() if {d.start, d.end} & gone]
    derived += [n for n, d in dataset.derived.items() if set(d.operation[1]) & gone]
    section: dict[str, Any] = {"drop": [*columns, *(n for n in derived if n not in gone)]}
    checks = {
        name: {"not_after": None}
        for name, date in dataset.dates.items()
        if date.not_after in gone and name not in gone
    }
    if checks:
        section["dates"] = checks
    value = dataset.customer_value
    if value is not None and value.revenue_column in gone | set(derived):
        section["customer_value"] = None
    return section


_Column = IdDeclaration | TargetDeclaration | NumericColumn | CategoricalColumn | DateColumn


def _declaration_of(dataset: DatasetSettings, column: str) -> tuple[_Column, tuple[str, ...]]:
    """A declared column's declaration and its place in the ``dataset`` section."""
    if column == dataset.id.column:
        return dataset.id, ("id",)
    if column == dataset.target.column:
        return dataset.target, ("target",)
    for kind in ("numeric", "categorical", "dates"):
        declared = getattr(dataset, kind)
        if column in declared:
            return declared[column], (kind, column)
    raise KeyError(column)


def column_section(dataset: DatasetSettings, column: str, change: dict[str, Any]) -> dict[str, Any]:
    """The ``dataset`` section that changes keys of one declared column.

    Examples:
        >>> column_section(DatasetSettings(), "plan", {"nullable": True})
        {'categorical': {'plan': {'nullable': True}}}
    """
    _, place = _declaration_of(dataset, column)
    section: dict[str, Any] = change
    for key in reversed(place):
        section = {key: section}
    return section


def aliases_section(dataset: DatasetSettings, column: str, alias: str) -> dict[str, Any]:
    """The ``dataset`` section that adds ``alias`` to a declared column's ``aliases``: the
    whole list, since a list in a config replaces the one it extends."""
    declaration, _ = _declaration_of(dataset, column)
    return column_section(dataset, column, {"aliases": [*declaration.aliases, alias]})


def value_keys(values: pd.Series) -> pd.Series:
    import pandas as pd

    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_integer_dtype(values):
        return values.astype(str)
    if pd.api.types.is_float_dtype(values):
        whole = values.notna() & (values == values.round())
        out = values.astype(str)
        return out.where(~whole, values.where(whole).astype("Int64").astype(str)).where(
            values.notna(), ""
        )
    return values.astype("string").fillna("").str.strip().astype(object)


def _find(found: list[str], names: list[str]) -> str | None:
    """The file's column for a declared one: a name as declared, else the one column that
    differs from a declared name only in case or surrounding spaces (exports disagree on
    ``Churn`` and ``churn``); two such columns match neither.

    Examples:
        >>> _find(["customerID", " Churn "], ["churn"]), _find(["Churn", "CHURN"], ["churn"])
        (' Churn ', None)
    """
    exact = next((n for n in names if n in found), None)
    if exact is not None:
        return exact
    for name in names:
        loose = [c for c in found if c.strip().casefold() == name.strip().casefold()]
        if len(loose) == 1:
            return loose[0]
    return None


def missing_columns_error(
    source: str | Path,
    missing: list[str],
    found: list[str],
    dataset: DatasetSettings,
    *,
    ids_required: bool = False,
) -> InputError:
    """The error for declared columns (by their declared names) absent from a file, ending
    with the YAML that fixes it: the file's name for a column in its ``aliases``, or the
    column out of the declaration (``drop``).

    Args:
        source: the file, named in the message.
        missing: the declared names of the columns not found.
        found: the file's columns.
        dataset: the declaration.
        ids_required: the table cannot do with numbered rows instead of ids (outcomes).
    """
    # A misspelling is looked for among the columns no other declaration uses.
    unused = undeclared_columns(found, dataset)
    parts, absent = [], []
    for column in missing:
        declaration, _ = _declaration_of(dataset, column)
        names = {n.strip().casefold() for n in (column, *declaration.aliases)}
        twins = [c for c in found if c.strip().casefold() in names]
        close = difflib.get_close_matches(column, unused, n=1, cutoff=0.75)
        if len(twins) > 1:
            parts.append(
                f"'{column}' (the file has {', '.join(map(repr, twins))}, which differ only in "
                "case or spaces: keep one, or rename the others)"
            )
        elif close:
            fix = yaml_snippet(aliases_section(dataset, column, close[0]))
            parts.append(
                f"'{column}' (is '{close[0]}' a misspelling of it? If it is the same column "
                f"under another name, declare that name in its aliases: `{fix}`)"
            )
        else:
            parts.append(f"'{column}'")
            absent.append(column)
    message = (
        f"{source}: missing required column{'s' if len(missing) > 1 else ''} "
        f"{', '.join(parts)}. The file has columns: {', '.join(found) or 'none'}."
    )
    return InputError(message + _absent_fixes(absent, unused, dataset, ids_required))


def _absent_fixes(
    absent: list[str], unused: list[str], dataset: DatasetSettings, ids_required: bool
) -> str:
    """What to declare for columns a file does not have under any close name."""
    name = "NAME as the file spells it" + (
        f" (its columns no declaration uses: {', '.join(unused)})" if unused else ""
    )
    fixes = []
    if dataset.id.column in absent:
        numbered = yaml_snippet({"id": {"generate": "when_missing"}})
        fixes.append(
            f" If the file names its id column otherwise, declare that name: "
            f"`{yaml_snippet(aliases_section(dataset, dataset.id.column, 'NAME'))}`, {name}"
            + (
                "."
                if ids_required
                else f"; if the table has no ids, number its rows: `{numbered}`."
            )
        )
    if dataset.target.column in absent:
        fixes.append(
            f" If the file names its target column otherwise, declare that name: "
            f"`{yaml_snippet(aliases_section(dataset, dataset.target.column, 'NAME'))}`, "
            f"{name}."
        )
    columns = [c for c in absent if c not in (dataset.id.column, dataset.target.column)]
    if len(columns) == 1:
        fixes.append(
            f" If the file has '{columns[0]}' under another name, declare that name in its "
            f"aliases: `{yaml_snippet(aliases_section(dataset, columns[0], 'NAME'))}`, {name}; "
            "if the table does not have it, remove it from the declaration: "
            f"`{yaml_snippet(removal_section(dataset, columns))}`."
        )
    elif columns:
        fixes.append(
            " If the file has them under other names, declare those in their aliases, e.g. "
            f"`{yaml_snippet(aliases_section(dataset, columns[0], 'NAME'))}`, {name}; if the "
            "table does not have them, remove them from the declaration: "
            f"`{yaml_snippet(removal_section(dataset, columns))}`. If this is another table "
            "than the one the config extends, declare it whole: `dataset: !replace` followed "
            "by its declaration (docs/datasets.md)."
        )
    return "".join(fixes)


def source_columns(
    found: list[str], dataset: DatasetSettings, *, source: str | Path, labelled: bool
) -> dict[str, str]:
    """Map each declared column to its name in a file with columns ``found``.

    The id maps to ``customer_id`` and the target to ``churned``; a generated
    id is absent from the map.

    Raises:
        InputError: a declared column is absent under every name it may have; a
            close match is pointed out as a likely misspelling.
    """
    found = [str(c) for c in found]
    wanted = dataset.aliases()
    identity = dataset.id
    if identity.generate != "always":
        wanted[ID_COLUMN] = [identity.column, *identity.aliases]
    if labelled:
        wanted[LABEL_COLUMN] = [dataset.target.column, *dataset.target.aliases]
    mapping: dict[str, str] = {}
    missing = []
    for name, names in wanted.items():
        hit = _find(found, names)
        if hit is not None:
            mapping[name] = hit
        elif not (name == ID_COLUMN and identity.generate == "when_missing"):
            missing.append(names[0])
    if missing:
        raise missing_columns_error(source, missing, found, dataset)
    return mapping


def prepare(
    frame: pd.DataFrame,
    dataset: DatasetSettings,
    *,
    source: str | Path,
    labelled: bool,
    row_offset: int = 0,
) -> pd.DataFrame:
    """Bring a raw table into canonical form by the declared rules (before validation).

    Renames declared columns from their aliases, sets ``customer_id`` (from its
    column or row numbers), maps the target to ``churned`` 0/1, turns declared
    missing-value text into missing values (then ``fill``), renames categories
    by ``replace``, adds ``customer_value`` when declared, and drops the rest.

    Raises:
        InputError: a declared column is absent, or a target value is neither
            churned nor stayed.

    Examples:
        >>> import pandas as pd
        >>> raw = pd.DataFrame({"Churn": ["Yes", "No"], "Total": [" ", "10.5"]})
        >>> d = DatasetSettings(
        ...     id={"generate": "when_missing"},
        ...     target={"column": "Churn", "churned": ["Yes"], "stayed": ["No"]},
        ...     numeric={"total": {"aliases": ["Total"], "missing": [""], "fill": 0}},
        ...     categorical={}, dates={}, days_between={})
        >>> prepare(raw, d, source="t.csv", labelled=True)
          customer_id total  churned
        0           1   0.0        1
        1           2  10.5        0
    """
    import numpy as np
    import pandas as pd

    mapping = source_columns(list(frame.columns), dataset, source=source, labelled=labelled)
    out = pd.DataFrame(index=frame.index)
    if ID_COLUMN in mapping:
        ids = frame[mapping[ID_COLUMN]]
        if isinstance(ids.dtype, pd.StringDtype):
            out[ID_COLUMN] = ids.str.strip()  # in Arrow: 10 M ids in 0.1 s, not 2 s
        else:
            out[ID_COLUMN] = ids.where(ids.isna(), value_keys(ids))
    else:
        out[ID_COLUMN] = (np.arange(len(frame)) + row_offset + 1).astype(str)
    for name, column in dataset.numeric.items():
        values = frame[mapping[name]]
        if not pd.api.types.is_numeric_dtype(values):
            # Text in a numeric column: the schema converts it, or names the rows.
            values = values.astype(object)
            if column.missing:
                text = values.astype("string").str.strip()
                values = values.mask(text.isin(column.missing))
        if column.fill is not None:
            values = values.fillna(column.fill)
        out[name] = values
    for name, category in dataset.categorical.items():
        values = frame[mapping[name]]
        text = value_keys(values).where(values.notna())
        if category.replace:
            # Matched like every declared value: surrounding spaces do not count.
            text = text.replace({value_key(k): v for k, v in category.replace.items()})
        out[name] = text
    for name in dataset.dates:
        out[name] = frame[mapping[name]]
    if labelled:
        out[LABEL_COLUMN] = _target(frame[mapping[LABEL_COLUMN]], out, dataset, source, row_offset)
    # The file's own column names, for error messages.
    out.attrs["source_columns"] = mapping
    return out


def _plain(value: object) -> object:
    """A numpy scalar as the Python value it holds (messages show 0.5, not np.float64(0.5))."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def _target(
    raw: pd.Series, out: pd.DataFrame, dataset: DatasetSettings, source: str | Path, offset: int
) -> pd.Series:
    import numpy as np
    import pandas as pd

    target = dataset.target
    keys = value_keys(raw)
    churned = keys.isin([value_key(v) for v in target.churned])
    stayed = keys.isin([value_key(v) for v in target.stayed])
    unknown = ~(churned | stayed)
    if unknown.any():
        rows = np.flatnonzero(unknown.to_numpy())
        examples = "; ".join(
            f"row {r + offset + 1}, customer_id {out[ID_COLUMN].iloc[r]!r}: "
            + ("empty" if keys.iloc[r] == "" else repr(_plain(raw.iloc[r])))
            for r in rows[:_EXAMPLES]
        )
        mean = "values that mean" if len(rows) > 1 else "value that means"
        churned_values = ", ".join(map(value_key, target.churned))
        stayed_values = ", ".join(map(value_key, target.stayed))
        raise InputError(
            f"{source}: column '{raw.name}' has {len(rows)} {mean} neither churned "
            f"({churned_values}) nor stayed ({stayed_values}) (e.g. {examples}). Declare them "
            "under dataset.target, or fix the file."
        )
    return pd.Series(churned.astype("int64").to_numpy(), index=raw.index)


def customer_values(customers: pd.DataFrame, dataset: DatasetSettings, clv: float) -> np.ndarray:
    """Each customer's lifetime value: revenue × lifetime if declared, else ``clv``.

    The revenue column may be a derived column (computed here from its operands);
    a customer whose revenue is missing is worth nothing.

    Examples:
        >>> import pandas as pd
        >>> d = DatasetSettings(customer_value={"revenue_column": "monthly_revenue",
        ...                                     "lifetime_months": 24})
        >>> customer_values(pd.DataFrame({"monthly_revenue": [50.0, 10.0]}), d, 1200).tolist()
        [1200.0, 240.0]
    """
    import numpy as np

    rule = dataset.customer_value
    if rule is None:
        return np.full(len(customers), float(clv))
    derived = dataset.derived.get(rule.revenue_column)
    if derived is None:
        revenue = customers[rule.revenue_column].to_numpy(dtype=float)
    else:
        from churn.derived import derive_column

        op, columns = derived.operation
        revenue = derive_column(customers, operation=op, columns=columns).to_numpy(dtype=float)
    return np.nan_to_num(revenue, nan=0.0) * rule.lifetime_months


def undeclared_columns(found: list[str], dataset: DatasetSettings) -> list[str]:
    """Columns of a file that the declaration neither uses nor drops (they are ignored).

    Examples:
        >>> undeclared_columns(["customer_id", "plan", "notes", "churned"], DatasetSettings())
        ['notes']
    """
    known = {n for names in dataset.aliases().values() for n in names}
    known |= {dataset.id.column, *dataset.id.aliases, dataset.target.column}
    known |= {*dataset.target.aliases, *dataset.drop}
    folded = {n.strip().casefold() for n in known}
    return [str(c) for c in found if str(c).strip().casefold() not in folded]


def prepare_outcomes(
    frame: pd.DataFrame, dataset: DatasetSettings, *, source: str | Path
) -> pd.DataFrame:
    """An outcomes table with ``customer_id`` and ``churned`` 0/1, from the dataset's own
    id and target columns (a CRM export of ``customerID, Churn``) or the canonical ones.

    Raises:
        InputError: the id or target column is absent, or a target value is neither
            churned nor stayed.

    Examples:
        >>> import pandas as pd
        >>> d = DatasetSettings(id={"column": "customerID"},
        ...     target={"column": "Churn", "churned": ["Yes"], "stayed": ["No"]})
        >>> prepare_outcomes(pd.DataFrame({"customerID": ["A"], "Churn": ["Yes"]}), d,
        ...                  source="o.csv").to_dict("records")
        [{'customer_id': 'A', 'churned': 1}]
    """
    found = [str(c) for c in frame.columns]
    id_column = _find(found, [ID_COLUMN, dataset.id.column, *dataset.id.aliases])
    target_column = _find(found, [LABEL_COLUMN, dataset.target.column, *dataset.target.aliases])
    missing = [
        name
        for name, hit in ((dataset.id.column, id_column), (dataset.target.column, target_column))
        if hit is None
    ]
    if id_column is None or target_column is None:
        raise missing_columns_error(source, missing, found, dataset, ids_required=True)
    out = frame.rename(columns={id_column: ID_COLUMN})
    out[ID_COLUMN] = value_keys(out[ID_COLUMN]).where(out[ID_COLUMN].notna())
    if target_column == LABEL_COLUMN:
        # The canonical column holds 0 or 1 exactly: 0.5 or "yes" is an error, not a 0.
        canonical = dataset.target.model_copy(update={"churned": [1], "stayed": [0]})
        dataset = dataset.model_copy(update={"target": canonical})
    out[LABEL_COLUMN] = _target(frame[target_column], out, dataset, source, 0)
    if target_column != LABEL_COLUMN:
        out = out.drop(columns=[target_column])
    return out
