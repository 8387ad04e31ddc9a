"""A trained model's evaluation, backtest and challenge, on a small seeded world."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

import roi
from churn.assessment import (
    ACCEPT_RATE_CONCENTRATION,
    Backtest,
    Evaluation,
    backtest_model,
    challenge,
    evaluate_model,
)
from churn.evaluate import evaluate_predictions
from churn.model import ChurnModel
from churn.settings import ModelSettings, Settings
from churn.synthetic import generate_world
from churn.train import Split, split_customers, train_model

SETTINGS = Settings()


@pytest.fixture(scope="module")
def trained() -> tuple[ChurnModel, Split]:
    world = generate_world(4000, seed=3, as_of=date(2026, 6, 30))
    split = split_customers(world.customers, test_size=0.3, validation_size=0.2, seed=1)
    return train_model(split.train, split.validation, params=ModelSettings(n_estimators=60)), split


def test_the_evaluation_holds_the_model_the_baseline_and_empc(
    trained: tuple[ChurnModel, Split],
) -> None:
    model, split = trained
    baseline = np.full(len(split.test), 0.2)  # a baseline that ranks nobody
    evaluation = evaluate_model(model, split.test, baseline, SETTINGS)
    y = split.test["churned"].to_numpy()
    assert (
        evaluation.metrics["auc"]
        == evaluate_predictions(y, model.predict_proba(split.test), threshold=0.7)["auc"]
    )
    assert evaluation.metrics["baseline_auc"] == 0.5
    assert 0.8 < evaluation.metrics["auc"] < 0.95
    empc = roi.expected_max_profit(
        y, evaluation.y_score, clv=1200.0, cost_per_contact=50.0,
        alpha=0.625 * ACCEPT_RATE_CONCENTRATION, beta=0.375 * ACCEPT_RATE_CONCENTRATION,
    )  # fmt: skip
    assert evaluation.metrics["empc"] == pytest.approx(empc.value)
    assert (evaluation.values == 1200.0).all()
    assert list(evaluation.importance.index) == list(model.spec.names)


@pytest.fixture(scope="module")
def assessed(trained: tuple[ChurnModel, Split]) -> tuple[Evaluation, Backtest]:
    model, split = trained
    evaluation = evaluate_model(model, split.test, np.zeros(len(split.test)), SETTINGS)
    return evaluation, backtest_model(evaluation, SETTINGS)


def test_the_backtest_is_the_campaign_at_the_threshold_and_the_best_other(
    assessed: tuple[Evaluation, Backtest],
) -> None:
    evaluation, tested = assessed
    direct = roi.backtest_roi(
        evaluation.y_true, evaluation.y_score > 0.7, save_rate=0.625, clv=1200.0,
        cost_per_contact=50.0,
    )  # fmt: skip
    assert tested.campaign == direct
    assert tested.metrics["net_benefit"] == direct.net_benefit
    # Break-even is cost / (save rate × CLV) = 50 / 750; the best threshold earns the most:
    # no less than the configured one or any of the curve's, and exactly what it earns.
    assert tested.metrics["break_even_probability"] == pytest.approx(50 / 750)
    assert tested.metrics["best_threshold_net_benefit"] >= direct.net_benefit
    assert tested.metrics["best_threshold_net_benefit"] >= tested.curve["net_benefit"].max()
    best = roi.backtest_roi(
        evaluation.y_true, evaluation.y_score > tested.metrics["best_threshold"],
        save_rate=0.625, clv=1200.0, cost_per_contact=50.0,
    )  # fmt: skip
    assert tested.metrics["best_threshold_net_benefit"] == best.net_benefit


def test_a_champion_on_shuffled_labels_loses_the_challenge(
    trained: tuple[ChurnModel, Split], assessed: tuple[Evaluation, Backtest]
) -> None:
    (model, split), (evaluation, tested) = trained, assessed
    rng = np.random.default_rng(0)
    shuffled = split.train.assign(churned=rng.permutation(split.train["churned"].to_numpy()))
    noise = train_model(shuffled, split.validation, params=ModelSettings(n_estimators=60))
    outcome = challenge(noise, split.test, evaluation, tested, SETTINGS)
    assert outcome.decision.promote
    assert outcome.metrics["champion_auc"] < evaluation.metrics["auc"] - 0.1
    # The paired bootstrap of the backtest net benefit says how surely, and the reason too.
    assert outcome.metrics["challenger_minus_champion_net_benefit_low"] > 0
    assert "backtest net benefit +$" in outcome.decision.reason
    assert "(95% interval +$" in outcome.decision.reason
    # Against itself, the challenger is no better: the champion stays.
    itself = challenge(model, split.test, evaluation, tested, SETTINGS)
    assert itself.metrics["champion_auc"] == evaluation.metrics["auc"]
    assert itself.metrics["champion_net_benefit"] == tested.campaign.net_benefit


@pytest.mark.parametrize(
    ("n_targeted", "net_benefit", "best_net", "advice"),
    [
        (0, 0.0, 41_500.0, "No test customer scores above the 0.7 threshold: a campaign at it "
         "would contact nobody and its ROI cannot be measured; the test split's most net "
         "benefit is at 0.08 ($41,500); to act on it, set `campaign: {threshold: 0.08}` in "
         "the config"),
        (40, -2_000.0, 41_500.0, "At the 0.7 threshold the backtest loses $2,000; the test "
         "split's most net benefit is at 0.08 ($41,500); to act on it, set "
         "`campaign: {threshold: 0.08}` in the config"),
        (40, 9_000.0, 41_500.0, None),  # it pays at 0.7: the mission's threshold stands
        (0, 0.0, -10.0, None),  # no threshold pays: nothing to advise
    ],
)  # fmt: skip
def test_threshold_advice_only_when_the_threshold_contacts_nobody_or_loses(
    n_targeted: int, net_benefit: float, best_net: float, advice: str | None
) -> None:
    frame = pd.DataFrame({"threshold": [0.5]})
    campaign = roi.CampaignROI(n_targeted, 0.0, 0.0, 0.0, net_benefit, None)
    metrics = {"best_threshold": 0.08, "best_threshold_net_benefit": best_net}
    assert Backtest(campaign, metrics, frame, frame).threshold_advice(0.7) == advice
