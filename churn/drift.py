"""Population stability of the features being scored, against the training data.

The population stability index of a feature compares the share of customers
in each bin now (``a``) with the share at training time (``e``):
``PSI = Σ (a − e) × ln(a / e)``. Rule of thumb: below 0.1 stable, 0.1–0.2 a
moderate shift, above 0.2 a shift worth retraining for. Bins are the training
data's deciles (numeric) or its categories, plus one for missing or unseen
values; counts accumulate chunk by chunk, so memory does not grow with the
customer count.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

_EPS = 1e-4


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index between two distributions over the same bins.

    Examples:
        >>> round(psi(np.array([0.5, 0.5]), np.array([0.5, 0.5])), 6)
        0.0
        >>> round(psi(np.array([0.5, 0.5]), np.array([0.9, 0.1])), 3)
        0.879
    """
    e = np.clip(np.asarray(expected, dtype=float), _EPS, None)
    a = np.clip(np.asarray(actual, dtype=float), _EPS, None)
    e, a = e / e.sum(), a / a.sum()
    return float(((a - e) * np.log(a / e)).sum())


@dataclass
class FeatureProfile:
    """How one feature was distributed in the training data."""

    name: str
    edges: np.ndarray | None  # inner cut points of a numeric feature
    categories: list[str] | None  # levels of a categorical feature
    expected: np.ndarray  # share per bin; the last bin is missing / unseen

    def bin_counts(self, values: pd.Series) -> np.ndarray:
        """Counts of ``values`` per bin, the last bin for missing or unseen ones."""
        if self.categories is not None:
            if (
                isinstance(values.dtype, pd.CategoricalDtype)
                and [str(c) for c in values.cat.categories] == self.categories
            ):
                # The features' own levels are the profile's: no re-encoding of every row.
                codes = values.cat.codes.to_numpy()
            else:
                codes = pd.Categorical(values.astype("object"), categories=self.categories).codes
            codes = np.where(codes < 0, len(self.categories), codes)
            return np.bincount(codes, minlength=len(self.categories) + 1)
        assert self.edges is not None
        x = values.to_numpy(dtype=float)
        index = np.where(np.isnan(x), len(self.edges) + 1, np.searchsorted(self.edges, x))
        return np.bincount(index, minlength=len(self.edges) + 2)


def profile_features(features: pd.DataFrame, *, bins: int = 10) -> list[FeatureProfile]:
    """The training-time distribution of every feature."""
    profiles = []
    for name in features.columns:
        column = features[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            categories = [str(c) for c in column.cat.categories]
            profile = FeatureProfile(name, None, categories, np.zeros(len(categories) + 1))
        else:
            quantiles = np.nanquantile(column.to_numpy(dtype=float), np.linspace(0, 1, bins + 1))
            edges = np.unique(quantiles[1:-1])
            profile = FeatureProfile(name, edges, None, np.zeros(len(edges) + 2))
        counts = profile.bin_counts(column)
        profile.expected = counts / max(counts.sum(), 1)
        profiles.append(profile)
    return profiles


@dataclass
class DriftMonitor:
    """Accumulates bin counts of scored chunks; reports PSI per feature."""

    profiles: list[FeatureProfile]
    counts: dict[str, np.ndarray] = field(default_factory=dict)

    def update(self, features: pd.DataFrame) -> None:
        """Add one chunk of features."""
        for profile in self.profiles:
            counts = profile.bin_counts(features[profile.name])
            self.counts[profile.name] = self.counts.get(profile.name, 0) + counts

    def report(self) -> dict[str, float]:
        """PSI of every feature seen so far."""
        return {
            p.name: psi(p.expected, self.counts[p.name])
            for p in self.profiles
            if p.name in self.counts
        }
