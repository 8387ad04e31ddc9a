"""Model features from a prepared, validated customer table.

Which columns are features comes from the dataset declaration, captured in a
``FeatureSpec`` that travels with the fitted model: a registered model scores
with the recipe it was trained with. Date pairs become ages in days; numeric
columns become floats; categorical columns become pandas categoricals with the
categories fixed at training time, so a level never seen in training scores
as missing instead of shifting the codes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from churn.dataset import DatasetSettings


@dataclass(frozen=True)
class FeatureSpec:
    """Which columns feed the model, and how."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    # derived feature → (start date column, end date column)
    days_between: dict[str, tuple[str, str]] = field(default_factory=dict)

    @classmethod
    def from_dataset(cls, dataset: DatasetSettings) -> FeatureSpec:
        """The features a dataset declares."""
        return cls(
            numeric=tuple(dataset.numeric),
            categorical=tuple(dataset.categorical),
            days_between={n: (d.start, d.end) for n, d in dataset.days_between.items()},
        )

    @property
    def names(self) -> tuple[str, ...]:
        """Feature names, in the order the booster sees them."""
        return (*self.days_between, *self.numeric, *self.categorical)


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
    for column in spec.numeric:
        features[column] = customers[column].astype("float64")
    for column in spec.categorical:
        values = customers[column].astype(str)
        known = values.where(values.isin(categories[column]))
        features[column] = pd.Categorical(known, categories=categories[column])
    return features
