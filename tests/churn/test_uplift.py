"""The uplift meta-learners on the synthetic worlds: they find who a contact keeps where
effects differ, and the gate keeps risk targeting where they do not."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.features import SYNTHETIC, build_features
from churn.model_io import ModelIntegrityError
from churn.synthetic import contacted_churn_probability, generate_world
from churn.uplift import (
    UpliftJudgement,
    UpliftModel,
    UpliftParams,
    assemble_experiments,
    crossfit_uplift,
    experiment_folds,
    fit_uplift,
    judge_uplift,
)

FEATURES = list(SYNTHETIC.names)


def experiments(
    response: str, *, campaigns: int, customers: int, seed: int, explore: float = 0.05
) -> pd.DataFrame:
    """Campaigns run on the world's truth: risk-flagged (a noisy true probability above
    0.7) plus a random share of the rest explored, 30 % held out, outcomes drawn."""
    rows = []
    for c in range(campaigns):
        world = generate_world(
            customers,
            seed=seed * 100 + c,
            as_of=date(2026, 6, 30),
            response=response,  # type: ignore[arg-type]
        )
        truth = world.truth.loc[world.truth["snapshot_date"] == world.truth["snapshot_date"].max()]
        p = truth["true_churn_probability"].to_numpy()
        effect = truth["true_treatment_effect"].to_numpy()
        rng = np.random.default_rng([seed, c])
        score = np.clip(p + rng.normal(0, 0.05, len(p)), 0, 1)
        flagged = score > 0.7
        chosen = flagged | (rng.random(len(p)) < explore)
        treated = chosen & (rng.random(len(p)) >= 0.3)
        churned = rng.random(len(p)) < np.where(treated, contacted_churn_probability(p, effect), p)
        features = build_features(
            world.current, spec=SYNTHETIC, categories={"plan": ["basic", "premium", "standard"]}
        )
        frame = features.loc[chosen].reset_index(drop=True)
        frame["campaign_id"] = f"c{c}"
        frame["customer_id"] = world.current["customer_id"].to_numpy()[chosen]
        frame["treated"] = treated[chosen]
        frame["churned"] = churned[chosen].astype(int)
        frame["customer_value"] = 1200.0
        frame["churn_probability"] = score[chosen]
        frame["propensity"] = 0.7
        frame["weight"] = np.where(flagged[chosen], 1.0, 1.0 / explore)
        rows.append(frame)
    return pd.concat(rows, ignore_index=True)


def fit_and_judge(frame: pd.DataFrame, learner: str = "x", seed: int = 0) -> UpliftJudgement:
    params = UpliftParams(learner=learner, n_estimators=100, seed=seed)  # type: ignore[arg-type]
    predicted = crossfit_uplift(frame, FEATURES, params=params, folds=3)
    return judge_uplift(
        predicted, frame, threshold=0.7, cost_per_contact=50, n_bootstrap=300, seed=seed
    )


@pytest.mark.parametrize("learner", ["t", "x"])
def test_on_the_heterogeneous_world_the_learner_finds_who_a_contact_keeps(learner: str) -> None:
    frame = experiments("heterogeneous", campaigns=4, customers=20_000, seed=1)
    judged = fit_and_judge(frame, learner)
    assert judged.evaluation.qini_ci is not None and judged.evaluation.qini_ci[0] > 0
    assert judged.evaluation.auuc_ci is not None and judged.evaluation.auuc_ci[0] > 0.5
    assert judged.comparison.difference > 0
    if learner == "x":  # the X-learner's estimate is good enough to pass the gate here
        assert judged.switch, judged.comparison.reason()


@pytest.mark.slow
def test_on_the_independent_world_the_gate_keeps_risk_targeting() -> None:
    """No false switch in at least 95 % of seeded repetitions (here: 20 of 20 or 19)."""
    kept = 0
    for seed in range(20):
        frame = experiments("independent", campaigns=2, customers=15_000, seed=seed + 10)
        judged = fit_and_judge(frame, seed=seed)
        kept += not judged.switch
    assert kept >= 19


def test_a_saved_model_loads_and_predicts_the_same(tmp_path: Path) -> None:
    frame = experiments("heterogeneous", campaigns=1, customers=5_000, seed=2)
    model = fit_uplift(
        frame[FEATURES], frame["treated"].to_numpy(), frame["churned"].to_numpy(),
        params=UpliftParams(n_estimators=20),
    )  # fmt: skip
    written = model.save(tmp_path / "uplift")
    assert {p.name for p in written} == {"effect_control.txt", "effect_treated.txt", "uplift.json"}
    loaded = UpliftModel.load(tmp_path / "uplift")
    np.testing.assert_allclose(loaded.predict(frame[FEATURES]), model.predict(frame[FEATURES]))
    with pytest.raises(ModelIntegrityError, match="tenure_months"):
        loaded.predict(frame[FEATURES].drop(columns="tenure_months"))
    (tmp_path / "uplift" / "effect_control.txt").unlink()
    with pytest.raises(ModelIntegrityError, match="cannot read"):
        UpliftModel.load(tmp_path / "uplift")


def test_the_folds_are_fixed_by_the_customer_whatever_the_campaign() -> None:
    ids = [f"C{i:06d}" for i in range(30_000)]
    frame = pd.DataFrame({"campaign_id": ["a"] * 15_000 + ["b"] * 15_000, "customer_id": ids})
    fold = experiment_folds(frame, folds=3, seed=0)
    assert np.bincount(fold).tolist() == pytest.approx([10_000] * 3, rel=0.05)
    shuffled = frame.sample(frac=1.0, random_state=1)
    again = pd.Series(experiment_folds(shuffled, folds=3, seed=0), index=shuffled.index)
    assert (again.sort_index().to_numpy() == fold).all()
    # The same customer in another campaign is in the same fold: no model sees them.
    elsewhere = frame.assign(campaign_id="c")
    assert (experiment_folds(elsewhere, folds=3, seed=0) == fold).all()


def test_cross_fitted_predictions_come_from_models_that_never_saw_the_customer() -> None:
    """A learner that memorises its data predicts its own customers far better than
    new ones: cross-fitted predictions must look like the new ones."""
    frame = experiments("heterogeneous", campaigns=1, customers=8_000, seed=4)
    # Outcomes that no feature explains: every pattern a model finds is memorised.
    noise = np.random.default_rng(0).random(len(frame)) < 0.3
    frame = frame.assign(churned=noise.astype(int))
    overfit = UpliftParams(learner="t", n_estimators=300, num_leaves=63, min_child_samples=1)
    insample = fit_uplift(
        frame[FEATURES], frame["treated"].to_numpy(), frame["churned"].to_numpy(), params=overfit
    ).predict(frame[FEATURES])
    crossfit = crossfit_uplift(frame, FEATURES, params=overfit, folds=3)
    treated = frame["treated"].to_numpy()
    churned = frame["churned"].to_numpy()
    # In sample, a treated customer's predicted churn is their own outcome, so the
    # predicted uplift tracks who churned; cross-fitted it cannot.
    gap_in = insample[treated & (churned == 0)].mean() - insample[treated & (churned == 1)].mean()
    gap_out = crossfit[treated & (churned == 0)].mean() - crossfit[treated & (churned == 1)].mean()
    assert gap_in > 3 * abs(gap_out)


def _ledger_rows(campaign: str, groups: list[str], control_share: float) -> pd.DataFrame:
    n = len(groups)
    return pd.DataFrame({
        "campaign_id": campaign, "customer_id": [f"{campaign}-{i}" for i in range(n)],
        "group": groups, "churned": [i % 2 for i in range(n)],
        "churn_probability": 0.8, "customer_value": 1200.0,
        "selected_by": ["risk"] * (n - 1) + ["exploration"], "control_share": control_share,
        "exploration_share": 0.05,
    })  # fmt: skip


def test_experiments_leave_out_and_name_campaigns_that_are_no_experiment() -> None:
    split = _ledger_rows("split", ["treatment", "control", "treatment", "control"], 0.5)
    no_control = _ledger_rows("treated-only", ["treatment"] * 4, 0.0)
    partial = _ledger_rows("partial", ["treatment", "control", "treatment", "control"], 0.5)
    features = {
        "split": pd.DataFrame({"customer_id": split["customer_id"], "x": [1.0, 2.0, 3.0, 4.0]}),
        "treated-only": pd.DataFrame({"customer_id": no_control["customer_id"], "x": 1.0}),
        "partial": pd.DataFrame({"customer_id": partial["customer_id"][:3], "x": 1.0}),
    }
    got = assemble_experiments(pd.concat([split, no_control, partial]), features)
    assert got.campaigns == ("split",)
    assert got.without_experiment == ("treated-only",)
    assert got.without_features == ("partial",)
    assert got.features == ["x"]
    assert got.frame["propensity"].tolist() == [0.5] * 4
    assert got.frame["weight"].tolist() == [1.0, 1.0, 1.0, 20.0]  # explored: 1 / 0.05
    assert got.n_explored == 1 and got.n_control == 2
