"""Fitting the calibrator that turns raw tree scores into churn probabilities.

Three maps, all monotone, all fitted on the validation split:

- ``smooth``: isotonic regression's blocks joined by straight lines
  (``churn.model.SmoothCalibrator``); strictly increasing, so the trees'
  ranking and every distinct score survive;
- ``isotonic``: the step-and-ramp map itself; flexible, but each block of
  customers gets one score, which ties the ranking and can cost AUC;
- ``sigmoid``: Platt scaling; strictly increasing, two parameters, right when
  the trees are only over- or under-confident.

``auto`` picks one of them on the validation split alone (:func:`choose_calibration`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from churn.model import Calibrator, IsotonicCalibrator, SigmoidCalibrator, SmoothCalibrator

# Simplest first: two parameters, then a knot per isotonic block joined smoothly, then
# the same knots as steps (which tie customers). ``auto`` prefers the earlier on a tie.
CANDIDATES = ("sigmoid", "smooth", "isotonic")
# The most cross-validated AUC a calibrator may cost against the raw scores (issue 17).
AUC_TOLERANCE = 0.001
CHOICE_FOLDS = 5


def _isotonic(raw: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Isotonic regression's fitted points and its fitted value for each customer."""
    from sklearn.isotonic import IsotonicRegression

    # Isotonic steps reach exactly 0 or 1 where a tail of the validation data is
    # all one class; no finite sample proves certainty, so keep half a customer
    # of doubt at each end.
    doubt = 0.5 / len(y)
    iso = IsotonicRegression(y_min=doubt, y_max=1.0 - doubt, out_of_bounds="clip")
    fitted = iso.fit_transform(raw, y)
    return iso.X_thresholds_.copy(), iso.y_thresholds_.copy(), np.asarray(fitted, dtype=float)


def fit_calibrator(raw: np.ndarray, y: np.ndarray, *, method: str, seed: int = 0) -> Calibrator:
    """Fit a monotone map from raw scores to observed churn rates.

    Args:
        raw: the trees' raw churn probabilities of the validation customers.
        y: whether each of them churned (0/1).
        method: ``smooth``, ``isotonic``, ``sigmoid``, or ``auto`` (the one
            :func:`choose_calibration` picks).
        seed: of ``auto``'s cross-validation folds.

    Examples:
        >>> raw = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9])
        >>> y = np.array([0, 0, 1, 0, 0, 1, 1, 1])
        >>> cal = fit_calibrator(raw, y, method="smooth")
        >>> cal.x.round(3).tolist(), cal.y.round(3).tolist()  # block means: raw, churn rate
        ([0.15, 0.433, 0.8], [0.062, 0.333, 0.938])
        >>> p = cal.predict(np.array([0.2, 0.2, 0.25, 0.5]))
        >>> bool(p[0] == p[1] and p[1] < p[2] < p[3])  # only tied raw scores tie
        True
    """
    y = np.asarray(y, dtype=float)
    raw = np.asarray(raw, dtype=float)
    if method == "auto":
        method = choose_calibration(raw, y, seed=seed).method
    if method == "isotonic":
        # Kept as its fitted points, so a saved model is data (churn.model_io), not a pickle.
        x_points, y_points, _ = _isotonic(raw, y)
        return IsotonicCalibrator(x=x_points, y=y_points)
    if method == "smooth":
        _, _, fitted = _isotonic(raw, y)
        # A block is a run of customers with one fitted value (adjacent blocks differ,
        # and the fit is monotone, so the value names the block); its knot is the
        # block's mean raw score and its churn rate, strictly increasing in both.
        levels, block = np.unique(fitted, return_inverse=True)
        centres = np.bincount(block, weights=raw) / np.bincount(block)
        return SmoothCalibrator(x=centres, y=levels)
    if method == "sigmoid":
        from sklearn.linear_model import LogisticRegression

        clipped = np.clip(raw, 1e-12, 1 - 1e-12)
        logit = np.log(clipped / (1 - clipped)).reshape(-1, 1)
        lr = LogisticRegression(C=1e6).fit(logit, y)
        return SigmoidCalibrator(slope=float(lr.coef_[0, 0]), intercept=float(lr.intercept_[0]))
    raise ValueError(
        f"calibration method {method!r} is not one of 'auto', 'smooth', 'isotonic', 'sigmoid'"
    )


@dataclass(frozen=True)
class CalibrationChoice:
    """What ``auto`` chose and the cross-validated evidence it chose on.

    ``log_loss`` and ``auc`` are by candidate, measured on the held-out folds of
    the validation split; ``raw_auc`` is the trees' own AUC on the same folds, and
    ``log_loss_se`` the standard error of each candidate's log loss minus the best one's.
    """

    method: str
    log_loss: dict[str, float]
    log_loss_se: dict[str, float]
    auc: dict[str, float]
    raw_auc: float
    folds: int


def choose_calibration(
    raw: np.ndarray, y: np.ndarray, *, seed: int, folds: int = CHOICE_FOLDS
) -> CalibrationChoice:
    """The calibrator with the lowest cross-validated log loss that keeps the ranking.

    Each candidate is fitted on ``folds - 1`` folds of the validation customers and
    scored on the one left out. A candidate whose mean held-out AUC falls more than
    ``AUC_TOLERANCE`` below the raw scores' on the same folds is out, however well
    it fits: calibration is there to make 0.7 mean 70 %, not to reorder customers.
    Of the rest, the lowest log loss wins, where a loss within one standard error of
    the lowest counts as a tie and ties go to the simpler map (``CANDIDATES``, in
    order): a difference smaller than its own noise would flip the choice, and with
    it hundreds of flagged customers, from one validation draw to the next. With
    fewer than two customers of a class per fold, the simplest map is kept.

    Examples:
        >>> rng = np.random.default_rng(0)
        >>> raw = rng.uniform(0.01, 0.99, 4000)
        >>> y = (rng.uniform(size=4000) < raw).astype(int)  # calibrated already
        >>> choose_calibration(raw, y, seed=0).method  # two parameters suffice
        'sigmoid'
        >>> step = np.where(raw < 0.5, 0.2, 0.8)  # a jump no sigmoid follows
        >>> y = (rng.uniform(size=4000) < step).astype(int)
        >>> choice = choose_calibration(raw, y, seed=0)
        >>> choice.method, round(choice.log_loss["sigmoid"], 3), round(choice.log_loss["smooth"], 3)
        ('smooth', 0.559, 0.503)
        >>> # Isotonic steps fit the jump closer still, but tie customers and cost AUC.
        >>> choice.log_loss["isotonic"] < choice.log_loss["smooth"]
        True
        >>> round(choice.raw_auc - choice.auc["isotonic"], 4)
        0.003
    """
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(y, dtype=int)
    raw = np.asarray(raw, dtype=float)
    folds = min(folds, int(np.bincount(y, minlength=2).min()))
    if folds < 2:
        nan = dict.fromkeys(CANDIDATES, float("nan"))
        return CalibrationChoice(
            method=CANDIDATES[0], log_loss=nan, log_loss_se=nan, auc=nan, raw_auc=float("nan"),
            folds=0,
        )  # fmt: skip
    losses = {name: np.empty(len(y)) for name in CANDIDATES}
    aucs: dict[str, list[float]] = {name: [] for name in ("raw", *CANDIDATES)}
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fit, held in splitter.split(raw, y):
        aucs["raw"].append(float(roc_auc_score(y[held], raw[held])))
        for name in CANDIDATES:
            p = fit_calibrator(raw[fit], y[fit], method=name).predict(raw[held])
            aucs[name].append(float(roc_auc_score(y[held], p)))
            p = np.clip(p, 1e-15, 1 - 1e-15)
            losses[name][held] = -np.where(y[held] == 1, np.log(p), np.log(1 - p))
    auc = {name: float(np.mean(values)) for name, values in aucs.items()}
    raw_auc = auc.pop("raw")
    # The smooth map is strictly increasing, so it keeps every fold's AUC: never empty.
    keeps_ranking = [name for name in CANDIDATES if auc[name] >= raw_auc - AUC_TOLERANCE]
    best = min(keeps_ranking, key=lambda name: losses[name].mean())
    se = {
        name: float(np.std(losses[name] - losses[best], ddof=1) / np.sqrt(len(y)))
        for name in CANDIDATES
    }
    method = next(
        name for name in keeps_ranking
        if losses[name].mean() - losses[best].mean() <= se[name]
    )  # fmt: skip
    return CalibrationChoice(
        method=method, log_loss={name: float(v.mean()) for name, v in losses.items()},
        log_loss_se=se, auc=auc, raw_auc=raw_auc, folds=folds,
    )  # fmt: skip
