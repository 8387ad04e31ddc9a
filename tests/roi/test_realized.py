import numpy as np
import pytest

import roi


def _outcomes(n: int, churners: int) -> list[int]:
    return [1] * churners + [0] * (n - churners)


def test_reference_example_measured() -> None:
    r = roi.realized_roi(_outcomes(1000, 150), _outcomes(1000, 400), clv=1200,
                         cost_per_contact=50)  # fmt: skip
    assert (r.customers_saved, r.revenue_saved, r.campaign_cost) == (250, 300_000, 50_000)
    assert (r.net_benefit, r.roi_pct) == (250_000, 500)
    low, high = r.roi_pct_ci  # type: ignore[misc]
    assert low < 500 < high
    # The interval is carried through monotonically from the rate difference.
    d_low, d_high = r.churn_rate_difference_ci
    assert r.customers_saved_ci == pytest.approx((1000 * d_low, 1000 * d_high))
    assert low == pytest.approx((1000 * d_low * 1200 - 50_000) / 50_000 * 100)


def test_empty_control_group_is_not_measurable() -> None:
    with pytest.raises(ValueError, match="not measurable: the control group is empty"):
        roi.realized_roi([0, 1], [], clv=1200, cost_per_contact=50)
    with pytest.raises(ValueError, match="not measurable: no treated customer"):
        roi.realized_roi([], [0, 1], clv=1200, cost_per_contact=50)


def test_metrics_have_no_nan_and_split_intervals() -> None:
    r = roi.realized_roi(_outcomes(50, 10), _outcomes(10, 5), clv=100, cost_per_contact=0)
    metrics = r.as_metrics()
    assert "realized_roi_pct" not in metrics  # no cost: ROI not measurable
    assert {"realized_net_benefit_low", "realized_net_benefit_high"} <= set(metrics)
    assert all(np.isfinite(v) for v in metrics.values())


def test_a_campaign_that_backfires_has_negative_roi() -> None:
    r = roi.realized_roi(_outcomes(500, 200), _outcomes(500, 150), clv=1200, cost_per_contact=50)
    assert r.customers_saved == -50
    assert r.roi_pct is not None and r.roi_pct < -100


def test_bootstrap_agrees_with_newcombe_for_a_fixed_clv() -> None:
    treated, control = _outcomes(2000, 300), _outcomes(500, 200)
    newcombe = roi.realized_roi(treated, control, clv=1200, cost_per_contact=50)
    boot = roi.realized_roi(treated, control, clv=1200, cost_per_contact=50,
                            method="bootstrap", seed=1)  # fmt: skip
    assert boot.net_benefit == pytest.approx(newcombe.net_benefit)
    for a, b in zip(boot.net_benefit_ci, newcombe.net_benefit_ci, strict=True):
        assert a == pytest.approx(b, rel=0.05)


def test_bootstrap_weights_churn_by_customer_value() -> None:
    # The only treated churner is worth little, the control churners a lot.
    treated = [1, 0, 0, 0]
    control = [1, 1, 0, 0]
    r = roi.realized_roi(treated, control, clv=[100, 1000, 1000, 1000],
                         control_clv=[1000, 1000, 1000, 1000], cost_per_contact=10,
                         method="bootstrap", n_resamples=200)  # fmt: skip
    # Value-weighted churn: control 50 %, treated 100/3100; saved value 3100 × (0.5 − 0.032).
    assert r.revenue_saved == pytest.approx(3100 * 0.5 - 100)


def test_minimum_detectable_effect_shrinks_with_more_customers() -> None:
    small = roi.minimum_detectable_effect(900, 100, control_churn_rate=0.4)
    large = roi.minimum_detectable_effect(9000, 1000, control_churn_rate=0.4)
    assert large < small
    assert large == pytest.approx(small / np.sqrt(10), rel=0.1)


def test_split_mismatch() -> None:
    assert roi.split_mismatch_pvalue(905, 95, control_share=0.1) > 0.05
    assert roi.split_mismatch_pvalue(950, 50, control_share=0.1) < 1e-4
