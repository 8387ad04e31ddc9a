"""A logistic-regression baseline, logged beside the boosted model for comparison.

One-hot categories (unseen and missing levels get a column of their own or
none), median-imputed and standardised numbers, L2-regularised logistic
regression: the model a churn study usually starts from. If LightGBM does not
beat it, that is worth seeing in the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from churn.dataset import LABEL_COLUMN
from churn.features import FeatureSpec, build_features, category_levels


@dataclass
class Baseline:
    """A fitted baseline: its feature recipe and the scikit-learn pipeline."""

    spec: FeatureSpec
    categories: dict[str, list[str]]
    pipeline: Any

    def predict_proba(self, customers: pd.DataFrame) -> np.ndarray:
        """Churn probability, one per row of ``customers``."""
        proba: np.ndarray = self.pipeline.predict_proba(self._matrix(customers))[:, 1]
        return proba

    def _matrix(self, customers: pd.DataFrame) -> pd.DataFrame:
        features = build_features(customers, spec=self.spec, categories=self.categories)
        for column in self.spec.categorical:
            features[column] = features[column].astype(object).where(features[column].notna(), "")
        return features


# A dozen coefficients are settled long before this many customers.
MAX_ROWS = 100_000


def baseline_rows(*frames: pd.DataFrame, seed: int, max_rows: int = MAX_ROWS) -> pd.DataFrame:
    """The customers of ``frames`` a baseline is fitted on: all, or a seeded sample of
    ``max_rows`` of them, which keeps the comparison cheap at scale."""
    rows = pd.concat(frames) if len(frames) > 1 else frames[0]
    return rows.sample(n=max_rows, random_state=seed) if len(rows) > max_rows else rows


def fit_baseline(
    train: pd.DataFrame, *, spec: FeatureSpec, seed: int, max_rows: int = MAX_ROWS
) -> Baseline:
    """Fit the logistic-regression baseline on labelled customers (``baseline_rows`` of them)."""
    train = baseline_rows(train, seed=seed, max_rows=max_rows)
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numbers = list(spec.numbers)
    columns = ColumnTransformer(
        [
            ("numbers", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numbers),
            ("categories", OneHotEncoder(handle_unknown="ignore"), list(spec.categorical)),
        ]
    )
    pipeline = make_pipeline(columns, LogisticRegression(max_iter=2000, random_state=seed))
    baseline = Baseline(spec=spec, categories=category_levels(train, spec), pipeline=pipeline)
    pipeline.fit(baseline._matrix(train), train[LABEL_COLUMN].to_numpy())
    return baseline


def baseline_scores(
    train: pd.DataFrame, test: pd.DataFrame, *, spec: FeatureSpec, seed: int
) -> np.ndarray:
    """Fit the baseline on ``train`` and return its churn probabilities for ``test``."""
    return fit_baseline(train, spec=spec, seed=seed).predict_proba(test)
