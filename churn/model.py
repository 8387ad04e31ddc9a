"""The churn model: features, a LightGBM classifier and a probability calibrator.

``ChurnModel.predict_proba`` takes the raw customer table and returns
calibrated churn probabilities: the 0.7 trigger is a probability, so a score of
0.7 must mean that about 70 % of such customers churn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from churn.compiled import CompiledTrees, feature_matrix
from churn.drift import FeatureProfile
from churn.features import FeatureSpec, build_features


class Calibrator(Protocol):
    def predict(self, x: np.ndarray) -> np.ndarray: ...


@dataclass
class SigmoidCalibrator:
    """Platt scaling on the log-odds of the raw score."""

    slope: float
    intercept: float

    def predict(self, x: np.ndarray) -> np.ndarray:
        raw = np.clip(x, 1e-12, 1 - 1e-12)
        logit = np.log(raw / (1 - raw))
        return 1.0 / (1.0 + np.exp(-(self.slope * logit + self.intercept)))


@dataclass
class IsotonicCalibrator:
    """A monotone step-and-ramp map, linear between the fitted points, flat beyond them."""

    x: np.ndarray
    y: np.ndarray

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.interp(np.asarray(x, dtype=float), self.x, self.y)


@dataclass
class ChurnModel:
    """A fitted churn model that scores raw customer tables."""

    booster: Any
    calibrator: Calibrator
    spec: FeatureSpec
    categories: dict[str, list[str]]
    best_iteration: int
    # Training-time feature distributions, for drift monitoring at scoring.
    profiles: list[FeatureProfile] = field(default_factory=list)
    # The same trees compiled (churn.compiled), attached at load time; never pickled.
    compiled: CompiledTrees | None = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "compiled": None}

    def features(self, customers: pd.DataFrame) -> pd.DataFrame:
        """The feature matrix the booster sees."""
        return build_features(customers, spec=self.spec, categories=self.categories)

    @property
    def trees(self) -> Any:
        """The ``lightgbm.Booster`` (a trained model holds the scikit-learn wrapper)."""
        return getattr(self.booster, "booster_", self.booster)

    @property
    def engine(self) -> str:
        """What computes the trees: ``lleaves`` (compiled) or ``lightgbm``."""
        return "lightgbm" if self.compiled is None else "lleaves"

    def raw_score(self, features: pd.DataFrame) -> np.ndarray:
        """The booster's uncalibrated churn probability (compiled trees when attached)."""
        if self.compiled is not None:
            return self.compiled.predict(feature_matrix(features))
        # The wrapper's predict_proba and the booster's predict are one call: the booster
        # stops at the best iteration either way.
        proba: np.ndarray = self.trees.predict(features)
        return proba

    def predict_proba(self, customers: pd.DataFrame) -> np.ndarray:
        """Calibrated churn probability, one per row of ``customers``."""
        if customers.empty:
            return np.empty(0)
        return self.predict_features(self.features(customers))

    def feature_importance(self) -> pd.Series:
        """Total gain of each feature's splits, by feature name."""
        booster = self.trees
        gain = booster.feature_importance(importance_type="gain")
        return pd.Series(gain, index=booster.feature_name(), name="gain")

    def predict_features(self, features: pd.DataFrame) -> np.ndarray:
        """Calibrated churn probability from an already built feature matrix."""
        raw = self.raw_score(features)
        return np.clip(self.calibrator.predict(raw), 0.0, 1.0)
