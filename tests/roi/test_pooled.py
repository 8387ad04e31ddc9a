import numpy as np
import pytest

import roi


def _outcomes(n: int, churners: int) -> list[int]:
    return [1] * churners + [0] * (n - churners)


def _campaign(treated: tuple[int, int], control: tuple[int, int], clv: float = 1200):
    return roi.CampaignOutcomes(_outcomes(*treated), _outcomes(*control), treated_clv=clv)


def test_one_campaign_pooled_has_realized_roi_point_estimates() -> None:
    treated, control = _outcomes(40, 9), _outcomes(12, 6)
    single = roi.realized_roi(treated, control, clv=1200, cost_per_contact=50)
    pooled = roi.pooled_realized_roi(
        [roi.CampaignOutcomes(treated, control, treated_clv=1200)], cost_per_contact=50
    )
    for field in (
        "n_treated",
        "n_control",
        "treated_churn_rate",
        "control_churn_rate",
        "churn_rate_difference",
        "customers_saved",
        "revenue_saved",
        "campaign_cost",
        "net_benefit",
        "roi_pct",
    ):
        assert getattr(pooled, field) == pytest.approx(getattr(single, field)), field
    low, high = pooled.roi_pct_ci  # type: ignore[misc]
    assert low < pooled.roi_pct < high  # type: ignore[operator]


def test_reference_example_split_in_two_campaigns() -> None:
    half = _campaign((500, 75), (500, 200))
    r = roi.pooled_realized_roi([half, half], cost_per_contact=50)
    assert (r.n_treated, r.n_control) == (1000, 1000)
    assert (r.customers_saved, r.revenue_saved, r.campaign_cost) == (250, 300_000, 50_000)
    assert (r.net_benefit, r.roi_pct) == (250_000, 500)
    assert (r.treated_churn_rate, r.control_churn_rate) == pytest.approx((0.15, 0.40))
    # The same evidence as one campaign of 1,000: about the same interval.
    whole = roi.realized_roi(_outcomes(1000, 150), _outcomes(1000, 400), clv=1200,
                             cost_per_contact=50)  # fmt: skip
    assert r.roi_pct_ci == pytest.approx(whole.roi_pct_ci, abs=2)
    # The intervals are carried through consistently.
    d_low, d_high = r.churn_rate_difference_ci
    assert r.customers_saved_ci == pytest.approx((1000 * d_low, 1000 * d_high))
    assert r.net_benefit_ci == pytest.approx((1000 * d_low * 1200 - 50_000,
                                              1000 * d_high * 1200 - 50_000))  # fmt: skip


def test_stratified_estimate_avoids_simpsons_bias() -> None:
    # Low risk, 10 % held out: 900 × (0.30 − 0.20) = 90 saved.
    large = _campaign((900, 180), (100, 30))
    # High risk, half held out: 10 × (0.9 − 0.5) = 4 saved.
    small = _campaign((10, 5), (10, 9))
    r = roi.pooled_realized_roi([large, small], cost_per_contact=50)
    separate = [
        roi.realized_roi(c.treated_churned, c.control_churned, clv=1200, cost_per_contact=50)
        for c in (large, small)
    ]
    assert r.customers_saved == pytest.approx(94)
    assert r.customers_saved == pytest.approx(sum(s.customers_saved for s in separate))
    assert r.revenue_saved == pytest.approx(sum(s.revenue_saved for s in separate))
    assert r.campaign_cost == pytest.approx(sum(s.campaign_cost for s in separate))
    # Raw pooling: 910 × (39/110 − 185/910) ≈ 137.6, half as much again.
    naive = roi.realized_roi(_outcomes(910, 185), _outcomes(110, 39), clv=1200,
                             cost_per_contact=50)  # fmt: skip
    assert naive.customers_saved == pytest.approx(910 * 39 / 110 - 185)
    assert naive.customers_saved > r.customers_saved + 40
    assert r.churn_rate_difference == pytest.approx(94 / 910)
    assert r.control_churn_rate == pytest.approx((900 * 0.3 + 10 * 0.9) / 910)


def test_campaign_clv_weights_its_own_saved_customers() -> None:
    cheap = _campaign((100, 10), (100, 30), clv=100)  # 20 saved × $100
    dear = roi.CampaignOutcomes(_outcomes(100, 10), _outcomes(100, 20),
                                treated_clv=np.full(100, 1000.0))  # fmt: skip
    r = roi.pooled_realized_roi([cheap, dear], cost_per_contact=10)
    assert r.customers_saved == pytest.approx(30)
    assert r.revenue_saved == pytest.approx(20 * 100 + 10 * 1000)
    assert r.roi_pct == pytest.approx((12_000 - 2_000) / 2_000 * 100)


def test_campaigns_without_a_control_or_treated_group_are_left_out() -> None:
    measured = _campaign((90, 18), (10, 4))
    no_control = _campaign((16, 3), (0, 0))
    no_treated = _campaign((0, 0), (4, 2))
    assert measured.measurable
    assert not no_control.measurable
    assert not no_treated.measurable
    alone = roi.pooled_realized_roi([measured], cost_per_contact=50)
    r = roi.pooled_realized_roi([no_control, measured, no_treated], cost_per_contact=50)
    assert r == alone
    assert (r.n_treated, r.n_control, r.campaign_cost) == (90, 10, 4500)


def test_a_control_group_of_one_still_has_an_interval() -> None:
    # A plain Wald variance would be 0 here: every rate is 0 or 1.
    tiny = _campaign((15, 0), (1, 1))
    r = roi.pooled_realized_roi([tiny], cost_per_contact=50)
    low, high = r.churn_rate_difference_ci
    assert r.churn_rate_difference == 1
    assert low < 0.5
    assert high == 1  # a difference of churn rates cannot pass 1


def test_nothing_measurable_raises() -> None:
    with pytest.raises(ValueError, match="not measurable: none of the 2 campaigns"):
        roi.pooled_realized_roi(
            [_campaign((16, 3), (0, 0)), _campaign((0, 0), (3, 1))], cost_per_contact=50
        )
    with pytest.raises(ValueError, match="not measurable: none of the 0 campaigns"):
        roi.pooled_realized_roi([], cost_per_contact=50)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"treated_churned": [0, 0.5], "control_churned": [1]}, r"treated_churned .* \[0\.5\]"),
        ({"treated_churned": [0, 1], "control_churned": [2]}, r"control_churned .* \[2\.0\]"),
        ({"treated_churned": [[0, 1]], "control_churned": [1]}, "one outcome per customer"),
        (
            {"treated_churned": [0, 1], "control_churned": [1], "treated_clv": [1200.0]},
            "treated_clv has shape",
        ),
    ],
)
def test_bad_outcomes_are_rejected(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        roi.CampaignOutcomes(**{"treated_clv": 1200, **kwargs})


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"cost_per_contact": 50, "confidence": 1.0}, "confidence=1.0"),
        ({"cost_per_contact": -1}, "cost_per_contact=-1"),
    ],
)
def test_bad_options_are_rejected(options: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        roi.pooled_realized_roi([_campaign((10, 2), (5, 2))], **options)


def test_no_cost_has_no_roi() -> None:
    r = roi.pooled_realized_roi([_campaign((10, 2), (5, 2))], cost_per_contact=0)
    assert r.roi_pct is None and r.roi_pct_ci is None
    assert all(np.isfinite(v) for v in r.as_metrics().values())
