"""The uplift maths: Qini and AUUC, the IPW profit of a selection, and the gate."""

from __future__ import annotations

import numpy as np
import pytest

import roi


def _experiment(
    n: int, rng: np.random.Generator, *, propensity: float = 0.7
) -> tuple[np.ndarray, ...]:
    """Customers with a known effect: churn 0.5 untouched, 0.5 − effect contacted."""
    effect = rng.uniform(-0.2, 0.4, n)
    treated = rng.random(n) < propensity
    churned = (rng.random(n) < np.where(treated, 0.5 - effect, 0.5)).astype(int)
    return effect, treated, churned


def test_a_score_that_follows_the_effect_beats_its_reverse_and_random_order() -> None:
    effect, treated, churned = _experiment(20_000, np.random.default_rng(3))
    good = roi.evaluate_uplift(churned, treated, effect, n_bootstrap=50)
    bad = roi.evaluate_uplift(churned, treated, -effect, n_bootstrap=50)
    assert good.qini is not None and bad.qini is not None
    assert good.qini > 0.1 > -0.1 > bad.qini
    assert good.auuc is not None and good.auuc > 0.55
    assert good.qini_ci is not None and good.qini_ci[0] > 0
    assert good.auuc_ci is not None and good.auuc_ci[0] > 0.5
    noise = roi.evaluate_uplift(churned, treated, np.random.default_rng(4).random(20_000))
    assert noise.qini_ci is not None and noise.qini_ci[0] < 0 < noise.qini_ci[1]


def test_the_ipw_profit_of_a_selection_is_unbiased() -> None:
    """Over seeded repetitions the estimate's mean is the true kept value, within 3 SE."""
    rng = np.random.default_rng(7)
    estimates, truths = [], []
    for _ in range(300):
        effect, treated, churned = _experiment(2_000, rng, propensity=0.8)
        chosen = effect > 0.1
        inc = roi.incremental_values(churned, treated, np.full(2_000, 0.8), np.full(2_000, 100.0))
        estimates.append(roi.policy_profit(chosen, inc, cost_per_contact=5))
        truths.append(float(((effect * 100 - 5) * chosen).sum()))
    bias = np.mean(estimates) - np.mean(truths)
    assert abs(bias) < 3 * np.std(estimates) / np.sqrt(len(estimates))


def test_the_gate_switches_on_a_better_selection_and_seldom_on_an_equal_one() -> None:
    rng = np.random.default_rng(11)
    effect, treated, churned = _experiment(6_000, rng)
    inc = roi.incremental_values(churned, treated, np.full(6_000, 0.7), np.full(6_000, 100.0))
    by_effect = roi.select_within_budget(effect, budget=2_000)
    at_random = roi.select_within_budget(rng.random(6_000), budget=2_000)
    better = roi.compare_policies(at_random, by_effect, inc, cost_per_contact=5, n_bootstrap=300)
    assert better.switch and better.difference_ci[0] > 0
    assert "earns" in better.reason() and "more than risk targeting" in better.reason()
    same = roi.compare_policies(by_effect, by_effect, inc, cost_per_contact=5, n_bootstrap=50)
    assert same.difference == 0 and same.difference_ci == (0.0, 0.0) and not same.switch
    switches = 0
    for seed in range(100):
        r = np.random.default_rng(100 + seed)
        effect, treated, churned = _experiment(3_000, r)
        inc = roi.incremental_values(churned, treated, np.full(3_000, 0.7), np.full(3_000, 100.0))
        one, two = (roi.select_within_budget(r.random(3_000), budget=1_000) for _ in range(2))
        switches += roi.compare_policies(one, two, inc, cost_per_contact=5, n_bootstrap=200).switch
    assert switches <= 5  # 2.5 % expected of a 95 % two-sided interval: at most 5 %


def test_selection_counts_weights_against_the_budget() -> None:
    chosen = roi.select_within_budget([5.0, 4.0, 3.0], budget=11, weights=[1.0, 10.0, 1.0])
    assert chosen.tolist() == [True, True, False]
    with pytest.raises(ValueError, match="propensity"):
        roi.incremental_values([1], [True], [1.0], [10.0])


def test_evaluation_metrics_are_named_for_mlflow() -> None:
    effect, treated, churned = _experiment(2_000, np.random.default_rng(5))
    metrics = roi.evaluate_uplift(churned, treated, effect, n_bootstrap=20).as_metrics("crossfit_")
    assert {
        "crossfit_qini",
        "crossfit_qini_low",
        "crossfit_qini_high",
        "crossfit_auuc",
        "crossfit_auuc_low",
        "crossfit_auuc_high",
        "crossfit_n_treated",
    } <= set(metrics)
