"""Model features from a prepared, validated customer table.

Which columns are features comes from the dataset declaration, captured in a
``FeatureSpec`` that travels with the fitted model: a registered model scores
with the recipe it was trained with. Date pairs become ages in days; numeric
columns become floats; derived columns (sums, differences, products, ratios of
numeric columns: ``churn.derived``) are computed from them; categorical columns
become pandas categoricals with the categories fixed at training time, so a
level never seen in training scores as missing instead of shifting the codes.
Columns declared ``role: value`` are no part of the spec: never features.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from churn.dataset import DatasetSettings
from churn.derived import derive_column


@dataclass(frozen=True)
class DerivedFeature:
    """A feature computed from numeric columns: ``operation`` of ``columns``."""

    name: str
    operation: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class FeatureSpec:
    """Which columns feed the model, and how."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    # derived feature → (start date column, end date column)
    days_between: dict[str, tuple[str, str]] = field(default_factory=dict)
    # A class-level default, not a factory: a spec unpickled from a model saved before
    # derived features existed has no such attribute of its own and reads this one.
    derived: tuple[DerivedFeature, ...] = ()

    @classmethod
    def from_dataset(cls, dataset: DatasetSettings) -> FeatureSpec:
        """The features a dataset declares (not its ``role: value`` columns)."""
        return cls(
            numeric=tuple(n for n, c in dataset.numeric.items() if c.role == "feature"),
            categorical=tuple(dataset.categorical),
            days_between={n: (d.start, d.end) for n, d in dataset.days_between.items()},
            derived=tuple(
                DerivedFeature(name, *d.operation)
                for name, d in dataset.derived.items()
                if d.role == "feature"
            ),
        )

    @property
    def names(self) -> tuple[str, ...]:
        """Feature names, in the order the booster sees them."""
        return (*self.numbers, *self.categorical)

    @property
    def numbers(self) -> tuple[str, ...]:
        """The numeric features, derived ones included, in ``names`` order."""
        return (*self.days_between, *(d.name for d in self.derived), *self.numeric)


SYNTHETIC = FeatureSpec.from_dataset(DatasetSettings())


def category_levels(customers: pd.DataFrame, spec: FeatureSpec) -> dict[str, list[str]]:
    """The sorted levels of each categorical feature, learnt from training data."""
    return {
        column: sorted(customers[column].dropna().astype(str).unique().tolist())
        for column in spec.categorical
    }


def build_features(
    customers: pd.DataFrame, *, spec: FeatureSpec, categories: dict[str, list[str]]
) -> pd.DataFrame:
    """The model's feature matrix, one row per customer, in ``spec.names`` order.

    Args:
        customers: a prepared, validated customer table.
        spec: which columns are features.
        categories: levels of each categorical feature, from ``category_levels``.

    Examples:
        >>> import pandas as pd
        >>> c = pd.DataFrame({
        ...     "snapshot_date": pd.to_datetime(["2026-06-30"]),
        ...     "last_purchase_date": pd.to_datetime(["2026-06-20"]),
        ...     "support_tickets_open": [2], "usage_frequency": [3.5],
        ...     "sentiment_score": [-0.2], "tenure_months": [14],
        ...     "monthly_revenue": [59.0], "plan": ["gold"]})
        >>> f = build_features(c, spec=SYNTHETIC, categories={"plan": ["basic", "premium"]})
        >>> int(f.loc[0, "days_since_last_purchase"]), f.loc[0, "plan"]
        (10, nan)
    """
    features = pd.DataFrame(index=customers.index)
    for name, (start, end) in spec.days_between.items():
        features[name] = (customers[end] - customers[start]).dt.days.astype("float64")
    for derived in spec.derived:
        features[derived.name] = derive_column(
            customers, operation=derived.operation, columns=derived.columns
        )
    for column in spec.numeric:
        features[column] = customers[column].astype("float64")
    for column in spec.categorical:
        values = customers[column].astype(str)
        known = values.where(values.isin(categories[column]))
        features[column] = pd.Categorical(known, categories=categories[column])
    return features
