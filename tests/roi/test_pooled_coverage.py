"""A seeded simulation: pooled and per-campaign realized-ROI intervals cover the true ROI ~95 %.

Every customer of the synthetic world has a known churn probability ``p`` and
a known campaign effect (a contacted customer churns with ``p × (1 − effect)``).
The policy flags the customers above 0.6. A simulated history of that policy
is a mix of small campaigns (10–40 flagged, 30–50 % held out) and none to two
moderate ones (200–800 flagged, 10 % held out), each drawing its own customers
at random from the flagged population and its own random control group.

Since every campaign is a random sample of the flagged population, the true
number saved per treated customer is the mean of ``p × effect`` over that
population, and the true ROI is (that rate × CLV − cost) ÷ cost × 100 —
for the pooled history and for each campaign alike. Each history's pooled
interval is checked, and so is ``realized_roi``'s interval for every campaign
with a control group large enough to be measured on its own.
"""

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import pytest

import roi
from churn.holdout import CONTROL, TREATMENT
from churn.outcomes import simulate_outcomes
from churn.synthetic import generate_world

pytestmark = pytest.mark.slow

CLV, COST = 1200.0, 50.0
HISTORIES = 300
# Campaigns with a control group this large are the ones measured on their own.
MEASURABLE_CONTROL = 10


@dataclass(frozen=True)
class Covered:
    """Whether each pooled and each measurable campaign's interval covered the true ROI."""

    pooled: np.ndarray
    measurable_campaigns: np.ndarray


def _history(rng: np.random.Generator) -> list[tuple[int, float]]:
    """(flagged customers, control share) of each campaign of one history."""
    small = [(int(rng.integers(10, 41)), float(rng.uniform(0.3, 0.5)))
             for _ in range(rng.integers(4, 9))]  # fmt: skip
    moderate = [(int(rng.integers(200, 801)), 0.1) for _ in range(rng.integers(0, 3))]
    return small + moderate


@pytest.fixture(scope="module")
def covered() -> Covered:
    world = generate_world(60_000, seed=11, as_of=date(2026, 6, 30))
    truth = world.truth[world.truth["snapshot_date"] == world.truth["snapshot_date"].max()]
    flagged = truth[truth["true_churn_probability"] > 0.6].reset_index(drop=True)
    assert len(flagged) > 4000
    true_saved_rate = float(
        (flagged["true_churn_probability"] * flagged["true_treatment_effect"]).mean()
    )
    true_roi = (true_saved_rate * CLV - COST) / COST * 100

    rng = np.random.default_rng(20260630)
    pooled, per_campaign = [], []
    for i in range(HISTORIES):
        campaigns = _history(rng)
        sizes = [n for n, _ in campaigns]
        campaign = np.repeat(np.arange(len(campaigns)), sizes)
        control = rng.random(len(campaign)) < np.repeat([s for _, s in campaigns], sizes)
        # The campaigns of one history contact different customers.
        customers = flagged["customer_id"].iloc[rng.permutation(len(flagged))[: len(campaign)]]
        assignment = pd.DataFrame(
            {
                "customer_id": customers.reset_index(drop=True),
                "group": np.where(control, CONTROL, TREATMENT),
            }
        )
        outcomes = simulate_outcomes(assignment, flagged, seed=i, observed_at=date(2027, 1, 1))
        churned = outcomes["churned"].to_numpy()
        history = []
        for c in range(len(campaigns)):
            mine = campaign == c
            outcome = roi.CampaignOutcomes(
                churned[mine & ~control], churned[mine & control], treated_clv=CLV
            )
            history.append(outcome)
            if len(outcome.control_churned) >= MEASURABLE_CONTROL and outcome.measurable:
                r = roi.realized_roi(outcome.treated_churned, outcome.control_churned,
                                     clv=CLV, cost_per_contact=COST)  # fmt: skip
                low, high = r.roi_pct_ci  # type: ignore[misc]
                per_campaign.append(low <= true_roi <= high)
        r = roi.pooled_realized_roi(history, cost_per_contact=COST)
        low, high = r.roi_pct_ci  # type: ignore[misc]
        pooled.append(low <= true_roi <= high)
    return Covered(np.array(pooled), np.array(per_campaign))


def test_pooled_interval_covers_the_true_roi_about_95_percent(covered: Covered) -> None:
    assert len(covered.pooled) == HISTORIES
    coverage = float(covered.pooled.mean())
    assert 0.92 <= coverage <= 0.98, coverage


def test_measurable_campaign_intervals_cover_the_true_roi_about_95_percent(
    covered: Covered,
) -> None:
    assert len(covered.measurable_campaigns) > 800
    coverage = float(covered.measurable_campaigns.mean())
    assert 0.92 <= coverage <= 0.98, coverage
