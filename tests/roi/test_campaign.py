import math

import numpy as np
import pytest

import roi


def test_reference_example_to_the_cent() -> None:
    r = roi.campaign_roi(1000, 0.40, 0.15, clv=1200, cost_per_contact=50)
    assert r.n_targeted == 1000
    assert r.customers_saved == 250
    assert r.revenue_saved == 300_000.00
    assert r.campaign_cost == 50_000.00
    assert r.net_benefit == 250_000.00
    assert r.roi_pct == 500.0


@pytest.mark.parametrize(
    ("without", "with_", "expected_roi"),
    [
        (0.40, 0.40, -100.0),  # the campaign saves nobody: all cost lost
        (0.05, 0.05 - 50 / 1200 / 1000 * 1000, 0.0),  # break-even to the cent
        (0.10, 0.12, -148.0),  # the campaign backfires: more churn than without it
    ],
)
def test_zero_and_negative_benefit(without: float, with_: float, expected_roi: float) -> None:
    r = roi.campaign_roi(1000, without, with_, clv=1200, cost_per_contact=50)
    assert r.roi_pct == pytest.approx(expected_roi, abs=1e-9)
    assert r.net_benefit == pytest.approx(r.revenue_saved - r.campaign_cost)


def test_no_targeted_customers_is_not_measurable_not_nan() -> None:
    r = roi.campaign_roi(0, 0.4, 0.15, clv=1200, cost_per_contact=50)
    assert r.roi_pct is None
    metrics = r.as_metrics()
    assert "roi_pct" not in metrics
    assert all(math.isfinite(v) for v in metrics.values())


def test_expected_roi_matches_reference_when_probabilities_are_the_rate() -> None:
    r = roi.expected_roi(np.full(1000, 0.4), save_rate=0.625, clv=1200, cost_per_contact=50)
    assert r.customers_saved == pytest.approx(250)
    assert r.roi_pct == pytest.approx(500)


def test_expected_roi_uses_per_customer_clv() -> None:
    r = roi.expected_roi([0.5, 0.5], save_rate=1.0, clv=[1000, 3000], cost_per_contact=100)
    assert r.revenue_saved == pytest.approx(0.5 * 1000 + 0.5 * 3000)
    assert r.campaign_cost == 200


def test_backtest_counts_only_flagged_churners() -> None:
    y = np.array([1, 1, 0, 0, 1])
    flagged = np.array([True, False, True, False, False])
    r = roi.backtest_roi(y, flagged, save_rate=0.5, clv=1000, cost_per_contact=10)
    assert r.n_targeted == 2
    assert r.customers_saved == 0.5
    assert r.net_benefit == 500 - 20


def test_backtest_with_nobody_flagged() -> None:
    r = roi.backtest_roi([1, 0], [False, False], save_rate=0.5, clv=1000, cost_per_contact=10)
    assert (r.n_targeted, r.campaign_cost, r.roi_pct) == (0, 0.0, None)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: roi.campaign_roi(10, 1.4, 0.1, clv=1, cost_per_contact=1),
            "churn_rate_without=1.4",
        ),
        (lambda: roi.campaign_roi(-1, 0.4, 0.1, clv=1, cost_per_contact=1), "n_targeted=-1"),
        (lambda: roi.expected_roi([0.5], save_rate=2, clv=1, cost_per_contact=1), "save_rate=2"),
        (
            lambda: roi.backtest_roi([1, 0], [True], save_rate=0.5, clv=1, cost_per_contact=1),
            "shape",
        ),
        (lambda: roi.roi_pct(1, -5), "cost=-5"),
    ],
)
def test_bad_arguments_name_the_value(call, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=match):
        call()


def test_break_even_matches_the_brief() -> None:
    p = roi.break_even_probability(save_rate=0.625, clv=1200, cost_per_contact=50)
    assert p == pytest.approx(50 / 750)
    # Contacting a customer exactly at break-even is worth nothing.
    r = roi.expected_roi([p], save_rate=0.625, clv=1200, cost_per_contact=50)
    assert r.net_benefit == pytest.approx(0, abs=1e-9)


def test_backtest_roi_values_each_saved_churner_at_their_own_clv() -> None:
    # Two flagged churners worth 1,000 and 3,000, one flagged stayer, one unflagged churner.
    r = roi.backtest_roi(
        [1, 1, 0, 1], [True, True, True, False], save_rate=0.5,
        clv=[1000, 3000, 9999, 9999], cost_per_contact=100,
    )  # fmt: skip
    assert r.customers_saved == 1.0
    assert r.revenue_saved == 0.5 * (1000 + 3000)
    assert r.net_benefit == 2000 - 300
