"""The contact policy on small hand-written frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churn.contact_policy import (
    ContactRules,
    effective_control_share,
    plan_contacts,
)
from churn.holdout import assign_groups


def flagged(n: int, *, p: float | list[float] = 0.8) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:04d}" for i in range(n)],
            "churn_probability": p if isinstance(p, float) else np.asarray(p),
            "customer_value": 1200.0,
        }
    )


def plan(frame: pd.DataFrame, rules: ContactRules, **history):  # type: ignore[no-untyped-def]
    return plan_contacts(
        frame, campaign_id="c1", rules=rules, save_rate=0.625, cost_per_contact=50, **history
    )


def test_without_history_the_split_is_the_campaign_hash_as_before() -> None:
    frame = flagged(2000)
    decided = plan(frame, ContactRules(control_share=0.1))
    before = assign_groups(frame, campaign_id="c1", control_share=0.1)
    assert decided.decisions["group"].tolist() == before["group"].tolist()
    assert decided.control_share == 0.1


def test_skip_reasons_rank_suppressed_then_holdout_then_cooldown() -> None:
    frame = flagged(4)
    decided = plan(
        frame,
        ContactRules(control_share=0.0),
        suppressed={"C0000", "C0001"},
        held_out={"C0001", "C0002"},
        cooling_down={"C0002", "C0003", "C0000"},
    )
    assert decided.decisions["skip_reason"].tolist() == [
        "suppressed",
        "suppressed",
        "holdout",
        "cooldown",
    ]
    assert set(decided.decisions["group"]) == {"skipped"}


@pytest.mark.parametrize(
    ("eligible", "expected"),
    [(1000, 0.1), (300, 0.1), (200, 0.15), (100, 0.3), (16, 0.5), (0, 0.1)],
)
def test_small_campaigns_raise_the_control_share_up_to_the_cap(
    eligible: int, expected: float
) -> None:
    share = effective_control_share(
        eligible, control_share=0.1, min_control=30, max_control_share=0.5
    )
    assert share == pytest.approx(expected)


def test_no_holdout_asked_means_none_created_for_small_campaigns() -> None:
    assert effective_control_share(5, control_share=0.0, min_control=30, max_control_share=0.5) == 0


def test_budget_contacts_the_best_expected_value_and_keeps_the_split_unbiased() -> None:
    rng = np.random.default_rng(3)
    p = rng.uniform(0.7, 1.0, 3000).tolist()
    frame = flagged(3000, p=p)
    decided = plan(frame, ContactRules(control_share=0.2, max_contacts=1000))
    d = decided.decisions
    treated, control = d[d["group"] == "treatment"], d[d["group"] == "control"]
    assert len(treated) == 1000
    over = d[d["skip_reason"] == "budget"]
    # Everyone kept ranks above everyone cut, and the control comes from the same ranks.
    assert d.loc[d["group"] != "skipped", "expected_value"].min() >= over["expected_value"].max()
    assert len(control) / (len(control) + len(treated)) == pytest.approx(0.2, abs=0.03)
    assert abs(control["churn_probability"].mean() - treated["churn_probability"].mean()) < 0.01
    # What the budget left out: the would-be contacts among the cut, at their expected value.
    would = over[~over["customer_id"].isin(control["customer_id"])]
    assert decided.budget_left_out_value > 0
    assert decided.budget_left_out_value <= would["expected_value"].clip(lower=0).sum() + 1e-6


def test_budget_not_reached_skips_nobody() -> None:
    decided = plan(flagged(100), ContactRules(control_share=0.1, max_contacts=500))
    assert decided.count("skipped") == 0 and decided.budget_left_out_value == 0


def test_same_inputs_same_plan() -> None:
    frame = flagged(500, p=np.linspace(0.71, 0.99, 500).tolist())
    rules = ContactRules(control_share=0.1, max_contacts=200)
    first = plan(frame, rules, cooling_down={"C0001"})
    again = plan(frame.sample(frac=1, random_state=1), rules, cooling_down={"C0001"})
    by_id = again.decisions.set_index("customer_id").loc[first.decisions["customer_id"]]
    assert by_id["group"].tolist() == first.decisions["group"].tolist()


def test_under_a_budget_the_raised_share_still_holds_out_min_control() -> None:
    decided = plan(
        flagged(1000),
        ContactRules(control_share=0.1, max_contacts=50, min_control=30, max_control_share=0.5),
    )
    assert decided.count("treatment") == 50
    assert decided.control_share == pytest.approx(30 / 80)
    assert 18 <= decided.count("control") <= 45


def test_under_uplift_targeting_the_budget_ranks_by_expected_incremental_profit() -> None:
    """The riskiest customer is a lost cause: the budget goes to those a contact keeps."""
    flagged = pd.DataFrame({
        "customer_id": ["lost", "kept", "also"],
        "churn_probability": [0.95, 0.4, 0.3],
        "customer_value": [1200.0] * 3,
        "expected_value": [-40.0, 310.0, 130.0],
        "selected_by": ["uplift"] * 3,
    })  # fmt: skip
    plan = plan_contacts(
        flagged, campaign_id="u", rules=ContactRules(0.0, max_contacts=2), save_rate=0.625,
        cost_per_contact=50,
    )  # fmt: skip
    groups = dict(zip(plan.decisions["customer_id"], plan.decisions["group"], strict=True))
    assert groups == {"lost": "skipped", "kept": "treatment", "also": "treatment"}
    assert plan.decisions["expected_value"].tolist() == [-40.0, 310.0, 130.0]


def test_explored_customers_do_not_spend_the_budget() -> None:
    flagged = pd.DataFrame({
        "customer_id": [f"r{i}" for i in range(5)] + ["x1", "x2"],
        "churn_probability": [0.9, 0.85, 0.8, 0.75, 0.72, 0.1, 0.05],
        "customer_value": [1200.0] * 7,
        "selected_by": ["risk"] * 5 + ["exploration"] * 2,
    })  # fmt: skip
    plan = plan_contacts(
        flagged, campaign_id="e", rules=ContactRules(0.0, max_contacts=3), save_rate=0.625,
        cost_per_contact=50,
    )  # fmt: skip
    groups = dict(zip(plan.decisions["customer_id"], plan.decisions["group"], strict=True))
    assert [groups[f"r{i}"] for i in range(5)] == ["treatment"] * 3 + ["skipped"] * 2
    assert groups["x1"] == groups["x2"] == "treatment"
