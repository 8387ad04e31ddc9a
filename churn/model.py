"""The churn model: features, a LightGBM classifier and a probability calibrator.

``ChurnModel.predict_proba`` takes the raw customer table and returns
calibrated churn probabilities: the 0.7 trigger is a probability, so a score of
0.7 must mean that about 70 % of such customers churn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np
import pandas as pd

from churn.compiled import CompiledTrees, feature_matrix
from churn.drift import FeatureProfile
from churn.features import FeatureSpec, build_features


class Calibrator(Protocol):
    # The name a config, a saved model and a training run call it by.
    kind: ClassVar[str]

    def predict(self, x: np.ndarray) -> np.ndarray: ...


def _logit(p: np.ndarray) -> np.ndarray:
    clipped = np.clip(p, 1e-12, 1 - 1e-12)
    return np.log(clipped / (1 - clipped))


def _expit(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


@dataclass
class SigmoidCalibrator:
    """Platt scaling on the log-odds of the raw score."""

    kind: ClassVar[str] = "sigmoid"
    slope: float
    intercept: float

    def predict(self, x: np.ndarray) -> np.ndarray:
        return _expit(self.slope * _logit(np.asarray(x, dtype=float)) + self.intercept)


@dataclass
class IsotonicCalibrator:
    """A monotone step-and-ramp map, linear between the fitted points, flat beyond them."""

    kind: ClassVar[str] = "isotonic"
    x: np.ndarray
    y: np.ndarray

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.interp(np.asarray(x, dtype=float), self.x, self.y)


@dataclass
class SmoothCalibrator:
    """Isotonic regression's blocks joined by straight lines: strictly increasing.

    ``x`` and ``y`` are the knots, one per isotonic block: its customers' mean raw
    score and their observed churn rate, both strictly increasing. Between knots the
    map is linear; beyond the outermost knot a raw score keeps its odds ratio to that
    knot's raw score (a slope of one in log-odds), so it never flattens. Different raw
    scores therefore get different probabilities and only tied raw scores tie: the
    trees' ranking survives calibration, where isotonic steps give whole blocks of
    customers one score.
    """

    kind: ClassVar[str] = "smooth"
    x: np.ndarray
    y: np.ndarray

    def predict(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        p = np.interp(x, self.x, self.y)
        ends_x, ends_y = self.x[[0, -1]], self.y[[0, -1]]
        shift = _logit(ends_y) - _logit(ends_x)
        low, high = x < ends_x[0], x > ends_x[1]
        p[low] = _expit(_logit(x[low]) + shift[0])
        p[high] = _expit(_logit(x[high]) + shift[1])
        return p


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
