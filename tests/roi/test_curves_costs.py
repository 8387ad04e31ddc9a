import numpy as np
import pytest

import roi

ECON = {"save_rate": 0.625, "clv": 1200.0, "cost_per_contact": 50.0}


@pytest.fixture(scope="module")
def scores() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(4)
    p = rng.beta(1, 6, 3000)
    return p, (rng.random(3000) < p).astype(int)


def test_profit_curve_matches_brute_force(scores: tuple[np.ndarray, np.ndarray]) -> None:
    p, y = scores
    curve = roi.profit_curve(p, y_true=y, **ECON)
    for _, row in curve.sample(15, random_state=0).iterrows():
        brute = roi.backtest_roi(y, p > row["threshold"], **ECON)
        assert row["n_targeted"] == brute.n_targeted
        assert row["net_benefit"] == pytest.approx(brute.net_benefit)


def test_best_threshold_is_the_true_maximum(scores: tuple[np.ndarray, np.ndarray]) -> None:
    p, y = scores
    c = roi.compare_thresholds(p, threshold=0.7, y_true=y, **ECON)
    brute = max(roi.backtest_roi(y, p > t, **ECON).net_benefit for t in np.unique(p))
    assert c.best_net_benefit == pytest.approx(max(brute, 0.0))
    assert c.configured_net_benefit == roi.backtest_roi(y, p > 0.7, **ECON).net_benefit
    assert c.missed_net_benefit >= 0


def test_expected_profit_peaks_at_break_even(scores: tuple[np.ndarray, np.ndarray]) -> None:
    p, _ = scores
    c = roi.compare_thresholds(p, threshold=0.7, **ECON)
    # Every customer above break-even adds value and every one below costs: the
    # best threshold is the last score below the break-even probability.
    assert c.best_threshold < c.break_even_probability
    assert not ((p > c.best_threshold) & (p < c.break_even_probability)).any()


def test_gains_and_qini_end_points(scores: tuple[np.ndarray, np.ndarray]) -> None:
    p, y = scores
    gains = roi.cumulative_gains(y, p)
    assert gains.iloc[0].tolist() == [0.0, 0.0] and gains.iloc[-1].tolist() == [1.0, 1.0]
    treated = np.arange(len(p)) % 10 != 0
    qini = roi.qini_curve(y, treated, p)
    assert len(qini) == len(p) + 1 and qini["qini"].iloc[0] == 0


def test_full_cost_is_never_better_than_campaign_only() -> None:
    campaign = roi.campaign_roi(1000, 0.4, 0.15, clv=1200, cost_per_contact=50)
    full = roi.full_cost_roi(campaign.revenue_saved, campaign.campaign_cost,
                             compute_seconds=3600, price_per_hour=2.0, fixed_cost=2700)  # fmt: skip
    assert full.compute_cost == 2.0
    assert full.total_cost == 50_000 + 2 + 2700
    assert full.roi_pct is not None and full.roi_pct < campaign.roi_pct  # type: ignore[operator]
    with pytest.raises(ValueError, match="compute_seconds=-1"):
        roi.full_cost_roi(1, 1, compute_seconds=-1, price_per_hour=1, fixed_cost=0)


def test_payback_never_reached() -> None:
    timeline = roi.payback([100, 100], fixed_cost_per_month=500, upfront_cost=1000)
    assert timeline["cumulative"].tolist() == [-1400, -1800]
    assert roi.payback_month(timeline) is None


def test_profit_curve_with_per_customer_clv_matches_the_backtest_at_each_threshold() -> None:
    rng = np.random.default_rng(5)
    p, y = rng.random(300), rng.integers(0, 2, 300)
    clv = rng.uniform(100, 3000, 300)
    curve = roi.profit_curve(p, save_rate=0.6, clv=clv, cost_per_contact=40, y_true=y)
    for _, row in curve.iloc[::17].iterrows():
        backtest = roi.backtest_roi(y, p > row["threshold"], save_rate=0.6, clv=clv,
                                    cost_per_contact=40)  # fmt: skip
        assert row["net_benefit"] == pytest.approx(backtest.net_benefit)
    best = roi.compare_thresholds(p, threshold=0.7, save_rate=0.6, clv=clv,
                                  cost_per_contact=40, y_true=y)  # fmt: skip
    assert best.best_net_benefit >= curve["net_benefit"].max() - 1e-9
