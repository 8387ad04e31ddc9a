from datetime import date

import numpy as np
import pandas as pd
import pytest

from churn.synthetic import generate_world, true_churn_probability

AS_OF = date(2026, 6, 30)


def test_same_seed_same_world_other_seed_other_world() -> None:
    a = generate_world(500, seed=3, as_of=AS_OF)
    b = generate_world(500, seed=3, as_of=AS_OF)
    c = generate_world(500, seed=4, as_of=AS_OF)
    pd.testing.assert_frame_equal(a.customers, b.customers)
    pd.testing.assert_frame_equal(a.current, b.current)
    pd.testing.assert_frame_equal(a.truth, b.truth)
    assert not a.customers["usage_frequency"].equals(c.customers["usage_frequency"])


def test_world_shape_and_truth_kept_apart() -> None:
    w = generate_world(2000, seed=1, as_of=AS_OF, horizon_months=3)
    required = {
        "customer_id",
        "last_purchase_date",
        "support_tickets_open",
        "usage_frequency",
        "sentiment_score",
        "tenure_months",
        "plan",
        "monthly_revenue",
    }
    assert required <= set(w.customers.columns)
    assert "churned" in w.customers and "churned" not in w.current
    assert not {"true_churn_probability", "true_treatment_effect"} & set(w.customers.columns)
    assert (w.current["snapshot_date"] == pd.Timestamp("2026-09-30")).all()
    assert w.current["customer_id"].tolist() == w.customers["customer_id"].tolist()
    effect = w.truth["true_treatment_effect"]
    assert effect.between(0, 1).all() and abs(effect.mean() - 0.625) < 0.02


def test_label_follows_ground_truth() -> None:
    w = generate_world(20_000, seed=5, as_of=AS_OF)
    p = true_churn_probability(w.customers)
    # Seeded: the observed churn rate of a large world matches the mean true probability.
    assert abs(w.customers["churned"].mean() - p.mean()) < 0.01
    assert 0.10 < p.mean() < 0.25
    assert (p > 0.7).mean() > 0.02


@pytest.mark.parametrize("column", ["support_tickets_open", "sentiment_score", "usage_frequency"])
def test_ground_truth_direction(column: str) -> None:
    w = generate_world(300, seed=2, as_of=AS_OF)
    base = true_churn_probability(w.customers)
    bumped = w.customers.assign(**{column: w.customers[column] + 0.5})
    change = true_churn_probability(bumped) - base
    if column == "support_tickets_open":
        assert (change > 0).all()
    else:
        assert (change < 0).all()
    assert np.isfinite(change).all()
