"""Measuring a campaign from its ledger rows, on small hand-made campaigns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import roi
from churn.measurement import (
    CampaignFacts,
    Decay,
    drift_to_act_on,
    measure_campaign,
    model_decay,
    not_measurable_reason,
    pooled_metrics,
)
from churn.settings import Settings

SETTINGS = Settings()
WINDOW_END = pd.Timestamp("2026-09-30")


def rows(
    treated: int, treated_churned: int, control: int, control_churned: int, *, observed: str
) -> pd.DataFrame:
    """Treated and control rows as the ledger returns them."""
    n = treated + control
    churned = np.r_[
        np.ones(treated_churned), np.zeros(treated - treated_churned),
        np.ones(control_churned), np.zeros(control - control_churned),
    ]  # fmt: skip
    return pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(n)],
            "group": ["treatment"] * treated + ["control"] * control,
            "churned": churned.astype(int),
            "churn_probability": 0.8,
            "customer_value": 1200.0,
            "observed_at": pd.Timestamp(observed),
        }
    )


def facts(**overrides: object) -> CampaignFacts:
    values: dict[str, object] = {
        "n_flagged": 1100, "skipped": (), "control_share": 100 / 1100,
        "cost_per_contact": 50.0, "window_end": WINDOW_END, "compute_seconds": 3600.0,
        "expected_roi_pct": 450.0,
    }  # fmt: skip
    values.update(overrides)
    return CampaignFacts(**values)  # type: ignore[arg-type]


def test_the_reference_campaign_is_measured_with_its_checks() -> None:
    # The domain brief's campaign: 1,000 contacted at 15 % churn against 40 % without.
    campaign = rows(1000, 150, 100, 40, observed="2026-10-01")
    measured = measure_campaign(campaign, facts(), SETTINGS)
    r = measured.realized
    assert r is not None and measured.not_measurable is None
    assert r.customers_saved == pytest.approx(250)
    assert r.roi_pct == pytest.approx(500)
    expected = roi.realized_roi(
        campaign["churned"][:1000], campaign["churned"][1000:], clv=1200.0,
        control_clv=1200.0, cost_per_contact=50.0,
    )  # fmt: skip
    assert r.roi_pct_ci == pytest.approx(expected.roi_pct_ci)
    assert measured.metrics["realized_minus_expected_roi_pct"] == pytest.approx(50)
    # Full cost: an hour of compute at $0.20 and the month's fixed $2,700 on top.
    full = measured.metrics["realized_full_cost_roi_pct"]
    assert full == pytest.approx((300_000 - 50_000 - 0.20 - 2700) / (50_000 + 0.20 + 2700) * 100)
    assert measured.warnings == {}
    assert measured.qini is not None and len(measured.qini) > 1


def test_small_groups_a_broken_split_and_an_early_reading_are_each_said() -> None:
    # Outcomes read too early, and groups too small to see the assumed effect.
    small = measure_campaign(rows(36, 6, 4, 2, observed="2026-08-01"), facts(), SETTINGS)
    assert set(small.warnings) == {"power", "window"}
    assert "4 control customers" in small.warnings["power"]
    assert "40 outcomes were read before" in small.warnings["window"]
    # 10 % of customers held out where a third was configured.
    skewed = measure_campaign(
        rows(360, 54, 40, 16, observed="2026-10-01"), facts(control_share=1 / 3), SETTINGS
    )
    assert set(skewed.warnings) == {"split"}
    assert (
        "10.0% of customers are in the control group, configured 33.3%"
        in (skewed.warnings["split"])
    )


@pytest.mark.parametrize(
    ("campaign", "overrides", "reason"),
    [
        (rows(0, 0, 0, 0, observed="2026-10-01"), {"skipped": (("cooldown", 7),)},
         "all 1,100 flagged customers were skipped (7 cooldown)"),
        (rows(10, 1, 0, 0, observed="2026-10-01"), {"control_share": 0.0},
         "no control group (control_share was 0)"),
        (rows(10, 1, 0, 0, observed="2026-10-01"), {},
         "none of its 10 flagged customers fell in the 9% control group"),
        (rows(0, 0, 10, 1, observed="2026-10-01"), {}, "the campaign contacted nobody"),
    ],
)  # fmt: skip
def test_a_campaign_that_cannot_be_measured_says_why(
    campaign: pd.DataFrame, overrides: dict[str, object], reason: str
) -> None:
    stated = not_measurable_reason(campaign, facts(**overrides))
    assert stated is not None and reason in stated
    decay = Decay(metrics={"realized_auc": 0.6}, warnings={"decay": "d"}, decayed=True)
    measured = measure_campaign(campaign, facts(**overrides), SETTINGS, decay=decay)
    assert measured.realized is None and measured.not_measurable == stated
    # The decay check stands even when ROI cannot be measured.
    assert measured.decayed and measured.metrics == {"realized_auc": 0.6}


def test_decay_is_judged_on_enough_customers_not_contacted() -> None:
    rng = np.random.default_rng(0)
    n = 400
    scores = pd.DataFrame({"customer_id": [f"C{i}" for i in range(n)],
                           "churn_probability": rng.uniform(size=n)})  # fmt: skip
    # Outcomes unrelated to the scores: AUC about 0.5, below the floor.
    outcomes = pd.DataFrame({"customer_id": scores["customer_id"],
                             "churned": rng.integers(0, 2, n)})  # fmt: skip
    treated = scores["customer_id"][:100]
    rules = {"threshold": 0.7, "auc_floor": 0.75, "min_customers": 300}
    decay = model_decay(scores, outcomes, treated, **rules)
    assert decay.decayed and decay.metrics["realized_auc_customers"] == 300
    assert "300 realized outcomes" in decay.warnings["decay"] and decay.note is None
    # Outcomes that follow the scores: no decay.
    good = outcomes.assign(churned=(scores["churn_probability"] > 0.5).astype(int))
    assert not model_decay(scores, good, treated, **rules).decayed
    # Too few customers (299 not contacted), or no scores kept: nothing is judged, and why.
    few = model_decay(scores.head(399), outcomes, treated, **rules)
    assert not few.decayed and few.metrics == {} and few.warnings == {}
    assert few.note is not None and "299 not contacted" in few.note
    assert "min_customers = 300" in few.note
    unkept = model_decay(None, outcomes, treated, **rules)
    assert not unkept.decayed and unkept.note is not None and "not kept" in unkept.note


def test_drift_is_acted_on_only_with_enough_customers() -> None:
    drift = {"usage_frequency": 0.35, "plan": 0.01}
    rules = {"psi_threshold": 0.2, "min_customers": 500}
    assert drift_to_act_on(drift, n_scored=500, **rules) == (["usage_frequency"], None)
    # A 60-row file: its PSI says nothing, and it must not replace the champion.
    drifted, why = drift_to_act_on(drift, n_scored=60, **rules)
    assert drifted == [] and why is not None and "60 scored" in why


def test_pooling_needs_a_campaign_with_all_its_outcomes() -> None:
    campaign = rows(1000, 150, 100, 40, observed="2026-10-01").assign(campaign_id="a")
    pooled = pooled_metrics(campaign, cost_per_contact=50.0, confidence=0.95)
    assert pooled["pooled_campaigns"] == 1
    assert pooled["pooled_realized_roi_pct"] == pytest.approx(500)
    waiting = campaign.assign(churned=np.where(campaign.index < 5, np.nan, campaign["churned"]))
    assert pooled_metrics(waiting, cost_per_contact=50.0, confidence=0.95) == {}


def test_per_customer_values_are_weighed_by_the_bootstrap_or_the_run_says_why_not() -> None:
    """The control group's churners are worth $4,800, everyone else $300: newcombe prices
    each saved customer at the mean value, the bootstrap at their own."""
    campaign = rows(1000, 150, 100, 40, observed="2026-10-01")
    control_churner = (campaign["group"] == "control") & (campaign["churned"] == 1)
    campaign["customer_value"] = np.where(control_churner, 4800.0, 300.0)
    weighted = roi.realized_roi(
        campaign["churned"][:1000], campaign["churned"][1000:],
        clv=campaign["customer_value"][:1000], control_clv=campaign["customer_value"][1000:],
        cost_per_contact=50.0, method="bootstrap",
    )  # fmt: skip
    auto = measure_campaign(campaign, facts(), SETTINGS)
    assert auto.realized is not None and "interval" not in auto.warnings
    assert auto.realized.revenue_saved == pytest.approx(weighted.revenue_saved)
    assert auto.realized.net_benefit_ci == pytest.approx(weighted.net_benefit_ci)
    fixed = SETTINGS.model_copy(
        update={"measurement": SETTINGS.measurement.model_copy(update={"method": "newcombe"})}
    )
    averaged = measure_campaign(campaign, facts(), fixed)
    assert averaged.realized is not None
    assert averaged.realized.revenue_saved != pytest.approx(weighted.revenue_saved)
    assert "set `measurement: {method: auto}`" in averaged.warnings["interval"]
