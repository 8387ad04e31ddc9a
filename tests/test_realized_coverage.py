"""A seeded simulation: the realized-ROI interval covers the true ROI about 95 % of the time.

Campaigns are drawn from the synthetic world, whose every customer has a known
churn probability and a known campaign effect. Each simulated campaign holds
out its own random control group and draws its outcomes; the true ROI is the
one the campaign's customers would earn in expectation.
"""

from datetime import date

import pytest

import roi
from churn.holdout import CONTROL, assign_groups
from churn.outcomes import simulate_outcomes
from churn.synthetic import generate_world

CLV, COST = 1200.0, 50.0
CAMPAIGNS = 400


@pytest.fixture(scope="module")
def flagged_truth():  # type: ignore[no-untyped-def]
    world = generate_world(60_000, seed=11, as_of=date(2026, 6, 30))
    truth = world.truth[world.truth["snapshot_date"] == world.truth["snapshot_date"].max()]
    flagged = truth.loc[truth["true_churn_probability"] > 0.6, ["customer_id"]]
    flagged = flagged.assign(churn_probability=truth["true_churn_probability"])
    return flagged.reset_index(drop=True), truth


@pytest.mark.slow  # 400 simulated campaigns: about 16 s
def test_interval_covers_the_true_roi_about_95_percent(flagged_truth) -> None:  # type: ignore[no-untyped-def]
    flagged, truth = flagged_truth
    assert len(flagged) > 2000
    merged = flagged.merge(truth, on="customer_id")
    true_saved_rate = float(
        (merged["true_churn_probability"] * merged["true_treatment_effect"]).mean()
    )
    true_roi = (true_saved_rate * CLV - COST) / COST * 100
    covered = 0
    for i in range(CAMPAIGNS):
        assignment = assign_groups(flagged, campaign_id=f"sim-{i}", control_share=0.1)
        outcomes = simulate_outcomes(assignment, truth, seed=i, observed_at=date(2027, 1, 1))
        control = (assignment["group"] == CONTROL).to_numpy()
        churned = outcomes["churned"].to_numpy()
        r = roi.realized_roi(churned[~control], churned[control], clv=CLV, cost_per_contact=COST)
        low, high = r.roi_pct_ci  # type: ignore[misc]
        covered += low <= true_roi <= high
    coverage = covered / CAMPAIGNS
    assert 0.92 <= coverage <= 0.98, coverage
