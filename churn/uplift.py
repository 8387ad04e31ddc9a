"""The uplift model: whom a contact keeps, learned from the campaigns' own experiments.

Every measured campaign with a random control group is an experiment: its
treated and control customers, the features they were scored on
(``features.parquet`` in the campaign's folder), and who churned
(``churn.ledger``). A meta-learner on LightGBM estimates each customer's
**uplift**: how much a contact lowers their churn probability (negative for
the "sleeping dogs" a contact drives away).

- ``t``: two churn models, one per group; uplift = p(control) − p(treated).
- ``x`` (Künzel et al. 2019): the two models, then each group's imputed effects
  regressed on the features, the two blended by the share treated; better when
  one group is much smaller than the other, as control groups are here.

Expected incremental profit of a contact is ``uplift × customer value − cost``.
The learner is judged on experimental customers its models never saw (``crossfit_uplift``)
by ``roi.uplift``: Qini coefficient and AUUC with intervals, and the gate
against risk targeting at the same budget (``judge_uplift``).

Saved as plain files: each booster in LightGBM's text format and
``uplift.json`` (learner, features, blend weight); no pickled objects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

import roi
from churn.errors import NotReadyError
from churn.holdout import unit_draws
from churn.model_io import ModelIntegrityError

Learner = Literal["t", "x"]
UPLIFT_FILE = "uplift.json"
FORMAT_VERSION = 1
# Columns of the experiment table besides the features.
EXPERIMENT_COLUMNS = (
    "campaign_id", "customer_id", "treated", "churned", "customer_value",
    "churn_probability", "propensity", "weight", "selected_by",
)  # fmt: skip


@dataclass(frozen=True)
class UpliftParams:
    """The meta-learner's knobs (``UpliftSettings``)."""

    learner: Learner = "x"
    n_estimators: int = 200
    learning_rate: float = 0.05
    num_leaves: int = 15
    min_child_samples: int = 40
    seed: int = 42


@dataclass(frozen=True)
class UpliftModel:
    """A fitted meta-learner: boosters by role, and the blend of the X-learner."""

    learner: Learner
    feature_names: tuple[str, ...]
    boosters: dict[str, Any]
    treated_share: float

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        """Each customer's uplift: the drop in churn probability a contact brings.

        Raises:
            ModelIntegrityError: a feature the model was trained on is missing.
        """
        missing = [name for name in self.feature_names if name not in features]
        if missing:
            raise ModelIntegrityError(
                f"the uplift model needs features {missing} that the scored table does not "
                "have: the churn model's dataset changed since; retrain the uplift model "
                "(churn uplift)"
            )
        x = features[list(self.feature_names)]
        b = self.boosters
        if self.learner == "t":
            return np.asarray(b["control"].predict(x) - b["treated"].predict(x), dtype=float)
        g = self.treated_share
        # Weight the effect model fitted on the group that is *not* the majority more
        # where the majority's outcomes impute it (Künzel et al.: g × tau_0 + (1-g) × tau_1).
        return np.asarray(
            g * b["effect_control"].predict(x) + (1 - g) * b["effect_treated"].predict(x),
            dtype=float,
        )

    def save(self, folder: Path) -> list[Path]:
        """Write the boosters (LightGBM text) and ``uplift.json``; return the files."""
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for role, booster in self.boosters.items():
            path = folder / f"{role}.txt"
            booster.save_model(str(path))
            written.append(path)
        recipe = {
            "format_version": FORMAT_VERSION,
            "learner": self.learner,
            "feature_names": list(self.feature_names),
            "treated_share": self.treated_share,
            "boosters": sorted(self.boosters),
        }
        (folder / UPLIFT_FILE).write_text(json.dumps(recipe, indent=2) + "\n")
        return [*written, folder / UPLIFT_FILE]

    @classmethod
    def load(cls, folder: Path) -> UpliftModel:
        """Read a model written by ``save``.

        Raises:
            ModelIntegrityError: a file is missing or of an unknown format.
        """
        import lightgbm as lgb

        try:
            recipe = json.loads((folder / UPLIFT_FILE).read_text())
            if recipe.get("format_version") != FORMAT_VERSION:
                raise ModelIntegrityError(
                    f"{folder / UPLIFT_FILE}: unknown format {recipe.get('format_version')!r}"
                )
            boosters = {
                role: lgb.Booster(model_file=str(folder / f"{role}.txt"))
                for role in recipe["boosters"]
            }
        except (OSError, KeyError, ValueError, lgb.basic.LightGBMError) as exc:
            raise ModelIntegrityError(f"cannot read the uplift model in {folder}: {exc}") from None
        return cls(
            learner=recipe["learner"],
            feature_names=tuple(recipe["feature_names"]),
            boosters=boosters,
            treated_share=float(recipe["treated_share"]),
        )


def _booster(
    x: pd.DataFrame, y: np.ndarray, params: UpliftParams, *, objective: str, weight: np.ndarray
) -> Any:
    import lightgbm as lgb

    train = lgb.Dataset(x, label=y, weight=weight, free_raw_data=True)
    return lgb.train(
        {
            "objective": objective,
            "learning_rate": params.learning_rate,
            "num_leaves": params.num_leaves,
            "min_child_samples": params.min_child_samples,
            "subsample": 0.8,
            "subsample_freq": 1,
            "colsample_bytree": 0.8,
            "seed": params.seed,
            "deterministic": True,
            "num_threads": 1,
            "verbose": -1,
        },
        train,
        num_boost_round=params.n_estimators,
    )


def fit_uplift(
    features: pd.DataFrame,
    treated: np.ndarray,
    churned: np.ndarray,
    *,
    params: UpliftParams,
    weight: np.ndarray | None = None,
) -> UpliftModel:
    """Fit the meta-learner on experimental customers.

    Args:
        features: the customers' features as the churn model saw them.
        treated: True if contacted, False if held out.
        churned: 1 if they churned over the window.
        params: the learner and its boosters' knobs.
        weight: each row's weight in the boosters (default 1; the flows give inverse
            propensity weights, ``propensity_weights``).

    Raises:
        NotReadyError: a group is empty.
    """
    t = np.asarray(treated, dtype=bool)
    y = np.asarray(churned, dtype=float)
    w = np.ones(len(y)) if weight is None else np.asarray(weight, dtype=float)
    if t.all() or not t.any():
        raise NotReadyError("an uplift model needs treated and control customers with outcomes")
    names = tuple(features.columns)
    xt, xc = features.loc[t], features.loc[~t]
    boosters = {
        "treated": _booster(xt, y[t], params, objective="binary", weight=w[t]),
        "control": _booster(xc, y[~t], params, objective="binary", weight=w[~t]),
    }
    share = float(w[t].sum() / w.sum())
    if params.learner == "x":
        # Imputed effects (reduction in churn): the other group's model gives the
        # counterfactual of each customer.
        d_treated = boosters["control"].predict(xt) - y[t]
        d_control = y[~t] - boosters["treated"].predict(xc)
        boosters = {
            "effect_treated": _booster(xt, d_treated, params, objective="regression", weight=w[t]),
            "effect_control": _booster(xc, d_control, params, objective="regression", weight=w[~t]),
        }
    return UpliftModel(
        learner=params.learner, feature_names=names, boosters=boosters, treated_share=share
    )


def experiment_folds(experiments: pd.DataFrame, *, folds: int, seed: int) -> np.ndarray:
    """Each experimental customer's fold, 0 to ``folds`` − 1: a seeded hash of the
    customer id, so a row keeps its fold whatever else the ledger holds, and a customer
    in several campaigns is in one fold (never predicted by a model that saw them)."""
    if folds < 2:
        raise ValueError(f"folds={folds} should be at least 2")
    draws = unit_draws(experiments["customer_id"].astype(str), campaign_id=f"uplift-folds-{seed}")
    return np.minimum((draws * folds).astype(int), folds - 1)


def crossfit_uplift(
    experiments: pd.DataFrame, features: list[str], *, params: UpliftParams, folds: int
) -> np.ndarray:
    """Each experimental customer's uplift predicted by a model that never saw them.

    The customers are cut into ``folds`` (``experiment_folds``); each fold is predicted
    by a model fitted on the others. Judging these predictions judges the learner on
    every experimental customer, not on a held-out part only (cross-fitting).
    """
    fold = experiment_folds(experiments, folds=folds, seed=params.seed)
    treated = experiments["treated"].to_numpy(dtype=bool)
    churned = experiments["churned"].to_numpy()
    weight = propensity_weights(treated, experiments["propensity"].to_numpy(dtype=float))
    out = np.empty(len(experiments))
    for k in range(folds):
        fit_on = fold != k
        model = fit_uplift(
            experiments.loc[fit_on, features], treated[fit_on], churned[fit_on],
            params=params, weight=weight[fit_on],
        )  # fmt: skip
        out[~fit_on] = model.predict(experiments.loc[~fit_on, features])
    return out


def expected_incremental_profit(
    uplift: np.ndarray, value: np.ndarray, *, cost_per_contact: float
) -> np.ndarray:
    """Each customer's expected incremental profit of a contact: uplift × value − cost.

    Examples:
        >>> expected_incremental_profit(np.array([0.25, -0.1]), np.array([1200.0, 1200.0]),
        ...                             cost_per_contact=50).tolist()
        [250.0, -170.0]
    """
    return uplift * value - cost_per_contact


@dataclass(frozen=True)
class UpliftJudgement:
    """An uplift model judged on experimental customers, cross-fitted.

    Attributes:
        evaluation: Qini coefficient and AUUC with intervals.
        comparison: uplift targeting against risk targeting at risk's budget.
        n_customers: experimental customers judged (each by a model that never saw them).
    """

    evaluation: roi.UpliftEvaluation
    comparison: roi.PolicyComparison
    n_customers: int

    @property
    def switch(self) -> bool:
        """True when the gate lets uplift targeting replace risk targeting."""
        return self.comparison.switch

    def as_metrics(self) -> dict[str, float]:
        """``crossfit_qini``, ``crossfit_auuc`` (with intervals) and ``gate_*``."""
        return {
            **self.evaluation.as_metrics(prefix="crossfit_"),
            **self.comparison.as_metrics(prefix="gate_"),
            "crossfit_customers": float(self.n_customers),
        }


def judge_uplift(
    uplift: np.ndarray,
    heldout: pd.DataFrame,
    *,
    threshold: float,
    cost_per_contact: float,
    confidence: float = 0.95,
    n_bootstrap: int = 500,
    seed: int = 0,
) -> UpliftJudgement:
    """Judge uplift predictions on experimental customers the predicting models never saw
    (``crossfit_uplift``), and gate uplift targeting against risk targeting.

    Risk targeting contacts the customers above ``threshold``; uplift targeting the
    same number (population-weighted: explored customers stand for the share they
    were sampled from), best expected incremental profit first, never a customer
    whose expected profit is not positive.
    """
    churned = heldout["churned"].to_numpy(dtype=float)
    treated = heldout["treated"].to_numpy(dtype=bool)
    evaluation = roi.evaluate_uplift(
        churned, treated, uplift, confidence=confidence, n_bootstrap=n_bootstrap, seed=seed
    )
    comparison = compare_targeting(
        uplift, heldout, threshold=threshold, cost_per_contact=cost_per_contact,
        confidence=confidence, n_bootstrap=n_bootstrap, seed=seed,
    )  # fmt: skip
    return UpliftJudgement(evaluation=evaluation, comparison=comparison, n_customers=len(heldout))


def compare_targeting(
    uplift: np.ndarray,
    experiments: pd.DataFrame,
    *,
    threshold: float,
    cost_per_contact: float,
    confidence: float = 0.95,
    n_bootstrap: int = 500,
    seed: int = 0,
) -> roi.PolicyComparison:
    """Risk against uplift targeting on experimental customers, at risk's budget.

    Risk targeting contacts those above ``threshold``; uplift targeting as many
    (population-weighted), best expected incremental profit first, never one whose
    expected profit is not positive. Each selection is priced by the inverse
    propensity estimate of what contacting it earns (``roi.incremental_values``).
    """
    value = experiments["customer_value"].to_numpy(dtype=float)
    weight = experiments["weight"].to_numpy(dtype=float)
    increments = roi.incremental_values(
        experiments["churned"].to_numpy(dtype=float),
        experiments["treated"].to_numpy(dtype=bool),
        experiments["propensity"].to_numpy(dtype=float),
        value,
    )
    risk = experiments["churn_probability"].to_numpy(dtype=float) > threshold
    budget = float(weight[risk].sum())
    profit = expected_incremental_profit(uplift, value, cost_per_contact=cost_per_contact)
    chosen = roi.select_within_budget(profit, budget=budget, weights=weight, positive_only=True)
    return roi.compare_policies(
        risk, chosen, increments, cost_per_contact=cost_per_contact, weights=weight,
        confidence=confidence, n_bootstrap=n_bootstrap, seed=seed,
    )  # fmt: skip


@dataclass(frozen=True)
class Experiments:
    """The measured campaigns' treated and control customers, ready to learn from.

    Attributes:
        frame: ``EXPERIMENT_COLUMNS`` and the model's features, one row per customer of
            a campaign.
        campaigns: the campaigns it holds.
        without_features: measured campaigns left out because their features were not
            kept (scored before features were written, or their folder is gone), or
            kept for only some of its customers.
        without_experiment: measured campaigns left out because they hold no random
            split: nobody held out, or nobody contacted.
    """

    frame: pd.DataFrame
    campaigns: tuple[str, ...]
    without_features: tuple[str, ...]
    without_experiment: tuple[str, ...] = ()

    @property
    def features(self) -> list[str]:
        """The model's feature columns."""
        return [str(c) for c in self.frame.columns if c not in EXPERIMENT_COLUMNS]

    @property
    def n_explored(self) -> int:
        """Explored customers (drawn at random beside the targeted)."""
        return int((self.frame["selected_by"] == "exploration").sum()) if len(self.frame) else 0

    @property
    def n_control(self) -> int:
        """Control customers with outcomes."""
        return int((~self.frame["treated"]).sum()) if len(self.frame) else 0


def assemble_experiments(rows: pd.DataFrame, features: dict[str, pd.DataFrame]) -> Experiments:
    """Join the ledger's experimental rows to each campaign's features as scored.

    Args:
        rows: ``Ledger.experiments()``.
        features: per campaign id, its ``features.parquet`` (``customer_id`` and the
            features); a campaign missing here is left out and named.

    Each customer's ``propensity`` is 1 − their campaign's control share; ``weight`` is
    1 for the targeted and 1 ÷ the exploration share for the explored (each stands for
    that many customers the targeting passed over). A campaign with nobody held out or
    nobody contacted is no experiment, and one whose features do not cover every one of
    its customers is not used either (a subset could break the random split): both
    are left out and named.
    """
    parts, missing, no_split = [], [], []
    for campaign_id, part in rows.groupby("campaign_id", sort=True):
        cid = str(campaign_id)
        groups = set(part["group"])
        if groups != {"treatment", "control"} or not 0 < part["control_share"].iloc[0] < 1:
            no_split.append(cid)
            continue
        if cid not in features:
            missing.append(cid)
            continue
        joined = part.merge(
            features[cid], on="customer_id", how="left", validate="one_to_one", indicator=True
        )
        if (joined.pop("_merge") != "both").any():
            missing.append(cid)
            continue
        parts.append(joined)
    if not parts:
        empty = pd.DataFrame(columns=list(EXPERIMENT_COLUMNS))
        return Experiments(empty, (), tuple(missing), tuple(no_split))
    frame = pd.concat(parts, ignore_index=True)
    explored = (frame["selected_by"] == "exploration").to_numpy()
    share = frame["exploration_share"].to_numpy(dtype=float)
    frame["treated"] = (frame["group"] == "treatment").to_numpy()
    frame["propensity"] = 1.0 - frame["control_share"].to_numpy(dtype=float)
    frame["weight"] = np.where(explored & (share > 0), 1.0 / np.where(share > 0, share, 1.0), 1.0)
    frame["churned"] = frame["churned"].astype(int)
    frame = frame.drop(columns=["group", "control_share", "exploration_share"])
    return Experiments(
        frame=frame,
        campaigns=tuple(sorted(frame["campaign_id"].unique())),
        without_features=tuple(missing),
        without_experiment=tuple(no_split),
    )


def propensity_weights(treated: np.ndarray, propensity: np.ndarray) -> np.ndarray:
    """Inverse propensity weights: 1 ÷ p(treated) for the treated, 1 ÷ p(control) for
    the held out. Campaigns with different control shares then weigh each group as if
    every campaign had split alike, so a campaign's own churn level is not read as uplift.

    Examples:
        >>> propensity_weights(np.array([True, False]), np.array([0.8, 0.8])).round(6).tolist()
        [1.25, 5.0]
    """
    return np.where(treated, 1.0 / propensity, 1.0 / (1.0 - propensity))
