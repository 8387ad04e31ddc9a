from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.data import load_outcomes
from churn.errors import InputError
from churn.outcomes import join_outcomes, simulate_outcomes

N = 40_000


@pytest.fixture(scope="module")
def world() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)
    ids = [f"C{i}" for i in range(N)]
    truth = pd.DataFrame({
        "customer_id": ids,
        "true_churn_probability": rng.uniform(0.3, 0.9, N),
        "true_treatment_effect": rng.uniform(0.4, 0.8, N),
    })  # fmt: skip
    assignment = pd.DataFrame({
        "customer_id": ids,
        "group": np.where(rng.random(N) < 0.5, "control", "treatment"),
        "churn_probability": 0.8,
        "campaign_id": "c",
    })  # fmt: skip
    return truth, assignment


def test_simulated_churn_follows_the_truth(world: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    truth, assignment = world
    out = simulate_outcomes(assignment, truth, seed=3, observed_at=date(2027, 1, 1))
    merged = out.merge(truth).merge(assignment)
    control = merged[merged["group"] == "control"]
    treated = merged[merged["group"] == "treatment"]
    # Seeded; 20,000 customers a group: 4 standard errors is about 0.014.
    assert abs(control["churned"].mean() - control["true_churn_probability"].mean()) < 0.014
    expected_treated = (
        treated["true_churn_probability"] * (1 - treated["true_treatment_effect"])
    ).mean()
    assert abs(treated["churned"].mean() - expected_treated) < 0.014
    assert (out["observed_at"] == pd.Timestamp("2027-01-01")).all()


def test_missing_outcomes_are_named(world: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, assignment = world
    outcomes = pd.DataFrame({"customer_id": assignment["customer_id"][5:], "churned": 0})
    with pytest.raises(InputError, match=r"o\.csv: no outcome for 5 of 40000.*'C0'"):
        join_outcomes(assignment, outcomes, source="o.csv")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("customer_id,churned\nC1,1\nC2,yes\n", "row 2, customer_id 'C2': 'yes'"),
        ("customer_id,churned\nC1,1\nC1,0\n", "duplicate value"),
        ("customer_id,churned\nC1,2\n", "neither churned (1) nor stayed (0)"),
        # Half a churn is not a 0 (it used to be read as one, and changed the net benefit).
        ("customer_id,churned\nC1,1\nC2,0.5\nC3,1.0\n", "row 2, customer_id 'C2': 0.5"),
        ("customer,churned\nC1,1\n", "'customer_id' (is 'customer' a misspelling"),
        ("customer_id,churned\n", "has no rows"),
    ],
)
def test_bad_outcome_files(tmp_path: Path, content: str, fragment: str) -> None:
    path = tmp_path / "outcomes.csv"
    path.write_text(content)
    with pytest.raises(InputError) as info:
        load_outcomes(path)
    assert str(path) in str(info.value) and fragment in str(info.value), str(info.value)
