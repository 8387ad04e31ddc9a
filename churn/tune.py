"""A modest seeded hyper-parameter search: optuna's TPE over cross-validated AUC.

Small tabular data rewards shallow trees, slow learning and regularisation;
the search explores those, scoring each candidate with the same seeded k-fold
cross-validation the training flow logs (calibration included), so its best
value is what ``cv_auc`` will read once the parameters are in the config.

The first two trials are the config's own model section and LightGBM's library
defaults (``LIGHTGBM_DEFAULTS``), so a search never ends below either: a table
where plain LightGBM ranks better than the configured section finds it at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from churn.errors import ConfigError
from churn.features import FeatureSpec
from churn.settings import ModelSettings
from churn.train import cross_validate

# name → (low, high, kind); the space searched.
SPACE: dict[str, tuple[float, float, str]] = {
    "learning_rate": (0.01, 0.1, "log"),
    "num_leaves": (4, 31, "int"),
    "min_child_samples": (20, 200, "int"),
    "reg_lambda": (0.0, 10.0, "float"),
    "colsample_bytree": (0.4, 1.0, "float"),
    "subsample": (0.6, 1.0, "float"),
}


# LightGBM's own defaults, within SPACE (its 100 rounds become early stopping here).
LIGHTGBM_DEFAULTS: dict[str, float] = {
    "learning_rate": 0.1,
    "num_leaves": 31,
    "min_child_samples": 20,
    "reg_lambda": 0.0,
    "colsample_bytree": 1.0,
    "subsample": 1.0,
}


def starting_trials(params: ModelSettings) -> list[dict[str, float]]:
    """The config's section (kept inside ``SPACE``) and LightGBM's defaults, in that order.

    Examples:
        >>> first, second = starting_trials(ModelSettings())
        >>> first["num_leaves"], second["num_leaves"]
        (15, 31)
    """
    current = {
        name: min(max(getattr(params, name), low), high) for name, (low, high, _) in SPACE.items()
    }
    return [current] if current == LIGHTGBM_DEFAULTS else [current, dict(LIGHTGBM_DEFAULTS)]


@dataclass(frozen=True)
class SearchResult:
    """The best parameters found, their cross-validated AUC and every trial."""

    best_params: dict[str, Any]
    best_cv_auc: float
    trials: pd.DataFrame


def search(
    customers: pd.DataFrame,
    *,
    params: ModelSettings,
    spec: FeatureSpec,
    trials: int,
    folds: int = 5,
    timeout_seconds: float | None = None,
) -> SearchResult:
    """Search ``SPACE`` with a TPE sampler seeded by ``params.seed``.

    Without a timeout the same data and seed give the same trials; a timeout
    caps the wall-clock time (and so may stop after fewer trials).
    """
    try:
        import optuna
    except ImportError:
        raise ConfigError(
            "the parameter search needs the optional optuna package: pip install -e '.[tune]'"
        ) from None

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial: optuna.Trial) -> float:
        chosen: dict[str, Any] = {}
        for name, (low, high, kind) in SPACE.items():
            if kind == "int":
                chosen[name] = trial.suggest_int(name, int(low), int(high))
            else:
                chosen[name] = trial.suggest_float(name, low, high, log=kind == "log")
        candidate = params.model_copy(update=chosen)
        scores = cross_validate(customers, params=candidate, spec=spec, folds=folds, baseline=False)
        trial.set_user_attr("cv_ece", scores["cv_ece"])
        return scores["cv_auc"]

    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=params.seed)
    )
    for start in starting_trials(params)[:trials]:
        study.enqueue_trial(start)
    study.optimize(objective, n_trials=trials, timeout=timeout_seconds)
    table = study.trials_dataframe(attrs=("number", "value", "params", "user_attrs"))
    table = table.rename(columns=lambda c: c.removeprefix("params_").removeprefix("user_attrs_"))
    return SearchResult(
        best_params=dict(study.best_params),
        best_cv_auc=float(study.best_value),
        trials=table.rename(columns={"value": "cv_auc"}),
    )
