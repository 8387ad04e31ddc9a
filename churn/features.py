"""Model features from a validated customer table.

Dates become ages in days (``days_since_last_purchase``); categorical columns
become pandas categoricals with the categories fixed at training time, so a
plan never seen in training scores as missing instead of shifting the codes.
"""

from __future__ import annotations

import pandas as pd

NUMERIC_FEATURES = (
    "days_since_last_purchase",
    "support_tickets_open",
    "usage_frequency",
    "sentiment_score",
    "tenure_months",
    "monthly_revenue",
)
CATEGORICAL_FEATURES = ("plan",)
FEATURES = NUMERIC_FEATURES + CATEGORICAL_FEATURES


def category_levels(customers: pd.DataFrame) -> dict[str, list[str]]:
    """The sorted levels of each categorical feature, learnt from training data."""
    return {
        column: sorted(customers[column].dropna().astype(str).unique().tolist())
        for column in CATEGORICAL_FEATURES
    }


def build_features(customers: pd.DataFrame, *, categories: dict[str, list[str]]) -> pd.DataFrame:
    """The model's feature matrix, one row per customer, in ``FEATURES`` order.

    Args:
        customers: a validated customer table.
        categories: levels of each categorical feature, from ``category_levels``.

    Examples:
        >>> import pandas as pd
        >>> c = pd.DataFrame({
        ...     "snapshot_date": pd.to_datetime(["2026-06-30"]),
        ...     "last_purchase_date": pd.to_datetime(["2026-06-20"]),
        ...     "support_tickets_open": [2], "usage_frequency": [3.5],
        ...     "sentiment_score": [-0.2], "tenure_months": [14],
        ...     "monthly_revenue": [59.0], "plan": ["gold"]})
        >>> f = build_features(c, categories={"plan": ["basic", "premium"]})
        >>> int(f.loc[0, "days_since_last_purchase"]), f.loc[0, "plan"]
        (10, nan)
    """
    features = pd.DataFrame(index=customers.index)
    features["days_since_last_purchase"] = (
        customers["snapshot_date"] - customers["last_purchase_date"]
    ).dt.days.astype("float64")
    for column in NUMERIC_FEATURES[1:]:
        features[column] = customers[column].astype("float64")
    for column in CATEGORICAL_FEATURES:
        values = customers[column].astype(str)
        known = values.where(values.isin(categories[column]))
        features[column] = pd.Categorical(known, categories=categories[column])
    return features
