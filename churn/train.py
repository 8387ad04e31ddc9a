"""Splitting labelled customers and fitting the calibrated churn model.

Training is three stages, so that a pipeline can compile the trees between the
fit and the calibration and calibrate (and evaluate) with the compiled trees:
``fit_trees`` (LightGBM with early stopping), then optionally
``churn.compiled.compile_booster``, then ``calibrate``. ``train_model`` is the
first and last of them in one call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from churn.calibration import fit_calibrator
from churn.compiled import CompiledTrees
from churn.drift import FeatureProfile, profile_features
from churn.features import SYNTHETIC, FeatureSpec, build_features, category_levels
from churn.model import ChurnModel
from churn.schema import LABEL_COLUMN
from churn.settings import ModelSettings


@dataclass(frozen=True)
class Split:
    """Train, validation (early stopping and calibration) and test (evaluation) parts."""

    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame


def split_customers(
    customers: pd.DataFrame, *, test_size: float, validation_size: float, seed: int
) -> Split:
    """Split a labelled table three ways, stratified on the label, reproducibly.

    Each class is shuffled with a generator seeded by ``seed`` and cut into
    test, validation and train shares, so every part has the table's churn
    rate (to a customer) and at least one customer of each class. The parts
    keep the table's row order.

    Examples:
        >>> import pandas as pd
        >>> t = pd.DataFrame({"customer_id": range(100), "churned": [0, 1] * 50})
        >>> s = split_customers(t, test_size=0.2, validation_size=0.2, seed=0)
        >>> len(s.train), len(s.validation), len(s.test)
        (60, 20, 20)
        >>> float(s.test["churned"].mean())
        0.5
    """
    labels = customers[LABEL_COLUMN].to_numpy()
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) < 2:
        raise ValueError(
            f"column '{LABEL_COLUMN}' holds only {classes.tolist()}; "
            "training needs both churned (1) and retained (0) customers"
        )
    if counts.min() < 3:
        raise ValueError(
            f"column '{LABEL_COLUMN}' has only {counts.min()} customer(s) of class "
            f"{classes[counts.argmin()]!r}; training needs at least 3 of each class "
            "(one each for train, validation and test)"
        )
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "validation": [], "test": []}
    for value in classes:
        members = rng.permutation(np.flatnonzero(labels == value))
        n_test = max(1, round(len(members) * test_size))
        n_validation = max(1, round(len(members) * validation_size))
        parts["test"].append(members[:n_test])
        parts["validation"].append(members[n_test : n_test + n_validation])
        parts["train"].append(members[n_test + n_validation :])
    taken = {
        name: customers.take(np.sort(np.concatenate(chunks))) for name, chunks in parts.items()
    }
    return Split(**taken)


@dataclass(frozen=True)
class Trees:
    """Boosted trees before calibration, with what scoring needs to rebuild features."""

    booster: Any
    spec: FeatureSpec
    categories: dict[str, list[str]]
    # Trees kept (the best validation loss) and boosting rounds run to find them.
    best_iteration: int
    boosting_rounds: int
    profiles: list[FeatureProfile] = field(default_factory=list)


def lightgbm_classifier(
    params: ModelSettings, *, features: list[str], n_estimators: int | None = None
) -> Any:
    """The unfitted LightGBM classifier of ``params`` for these feature columns.

    ``n_estimators`` overrides the configured boosting rounds (early stopping
    usually ends them sooner).
    """
    import lightgbm as lgb

    return lgb.LGBMClassifier(
        n_estimators=params.n_estimators if n_estimators is None else n_estimators,
        learning_rate=params.learning_rate,
        num_leaves=params.num_leaves,
        min_child_samples=params.min_child_samples,
        subsample=params.subsample,
        subsample_freq=1,
        colsample_bytree=params.colsample_bytree,
        reg_lambda=params.reg_lambda,
        monotone_constraints=[params.monotone_constraints.get(f, 0) for f in features],
        random_state=params.seed,
        n_jobs=2,
        verbose=-1,
    )


def fit_trees(
    train: pd.DataFrame,
    validation: pd.DataFrame,
    *,
    params: ModelSettings,
    spec: FeatureSpec = SYNTHETIC,
) -> Trees:
    """Fit LightGBM on ``train``, stopping early when the loss on ``validation`` stops falling.

    Args:
        train: labelled customers to fit the trees on.
        validation: labelled customers for early stopping.
        params: the model settings.
        spec: which columns are features (the synthetic world's by default).
    """
    import lightgbm as lgb

    categories = category_levels(train, spec)
    x_train = build_features(train, spec=spec, categories=categories)
    x_valid = build_features(validation, spec=spec, categories=categories)
    booster = lightgbm_classifier(params, features=list(x_train.columns))
    booster.fit(
        x_train,
        train[LABEL_COLUMN].to_numpy(),
        eval_X=(x_valid,),
        eval_y=(validation[LABEL_COLUMN].to_numpy(),),
        eval_metric="binary_logloss",
        callbacks=[lgb.early_stopping(params.early_stopping_rounds, verbose=False)],
    )
    (losses,) = booster.evals_result_.values()
    return Trees(
        booster=booster,
        spec=spec,
        categories=categories,
        best_iteration=int(booster.best_iteration_ or params.n_estimators),
        boosting_rounds=len(losses["binary_logloss"]),
        profiles=profile_features(x_train),
    )


class _Uncalibrated:
    """Raw scores unchanged: the calibrator's place while the calibrator is fitted."""

    kind: ClassVar[str] = "none"

    def predict(self, x: np.ndarray) -> np.ndarray:
        return x


def calibrate(
    trees: Trees,
    validation: pd.DataFrame,
    *,
    method: str,
    seed: int = 0,
    compiled: CompiledTrees | None = None,
) -> ChurnModel:
    """The churn model: ``trees`` with a calibrator fitted on ``validation``.

    ``method`` is a ``churn.calibration.fit_calibrator`` method (``seed`` seeds
    ``auto``'s folds). With ``compiled`` (the same trees compiled), the validation
    customers are scored by it, and the model keeps it for scoring.
    """
    model = ChurnModel(
        booster=trees.booster,
        calibrator=_Uncalibrated(),
        spec=trees.spec,
        categories=trees.categories,
        best_iteration=trees.best_iteration,
        profiles=trees.profiles,
        compiled=compiled,
    )
    raw = model.raw_score(model.features(validation))
    model.calibrator = fit_calibrator(
        raw, validation[LABEL_COLUMN].to_numpy(), method=method, seed=seed
    )
    return model


def train_model(
    train: pd.DataFrame,
    validation: pd.DataFrame,
    *,
    params: ModelSettings,
    spec: FeatureSpec = SYNTHETIC,
) -> ChurnModel:
    """Fit LightGBM on ``train`` (early stopping on ``validation``), then calibrate on it."""
    trees = fit_trees(train, validation, params=params, spec=spec)
    return calibrate(trees, validation, method=params.calibration, seed=params.seed)


def cross_validate(
    customers: pd.DataFrame,
    *,
    params: ModelSettings,
    spec: FeatureSpec,
    folds: int,
    baseline: bool = True,
    on_fold: Callable[[int, int, float], None] | None = None,
) -> dict[str, float]:
    """Seeded stratified k-fold estimates of the model's and the baseline's quality.

    Each fold trains exactly as ``train_model`` does — trees on part of the other
    folds, early stopping and calibration on the rest — and scores the held-out
    fold, so the estimate covers the whole recipe, calibration included.

    Returns:
        ``cv_auc``, ``cv_auc_std``, ``cv_pr_auc``, ``cv_brier``, ``cv_ece`` and
        (with ``baseline``) ``baseline_cv_auc``, ``baseline_cv_ece``: means over the folds.

    ``on_fold(fold, folds, auc)`` is called after each fold (progress for people).
    """
    from sklearn.model_selection import StratifiedKFold, train_test_split

    from churn.baseline import fit_baseline
    from churn.evaluate import evaluate_predictions

    labels = customers[LABEL_COLUMN].to_numpy()
    share = params.validation_size / (1 - params.test_size)
    scores: dict[str, list[float]] = {}
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=params.seed)
    for fit_index, held_index in splitter.split(customers, labels):
        rest, held = customers.iloc[fit_index], customers.iloc[held_index]
        train, validation = train_test_split(
            rest, test_size=share, stratify=rest[LABEL_COLUMN], random_state=params.seed
        )
        model = train_model(train, validation, params=params, spec=spec)
        y_held = held[LABEL_COLUMN].to_numpy()
        m = evaluate_predictions(y_held, model.predict_proba(held), threshold=0.5)
        fold = {
            "cv_auc": m["auc"], "cv_pr_auc": m["pr_auc"], "cv_brier": m["brier"],
            "cv_ece": m["ece"],
        }  # fmt: skip
        if baseline:
            reference = fit_baseline(rest, spec=spec, seed=params.seed)
            b = evaluate_predictions(y_held, reference.predict_proba(held), threshold=0.5)
            fold |= {"baseline_cv_auc": b["auc"], "baseline_cv_ece": b["ece"]}
        for key, value in fold.items():
            scores.setdefault(key, []).append(value)
        if on_fold is not None:
            on_fold(len(scores["cv_auc"]), folds, fold["cv_auc"])
    result = {key: float(np.mean(values)) for key, values in scores.items()}
    result["cv_auc_std"] = float(np.std(scores["cv_auc"], ddof=1))
    return result
