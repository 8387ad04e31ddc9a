"""Model tests on a seeded synthetic world, where the truth is known."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from churn.evaluate import evaluate_predictions
from churn.model import ChurnModel
from churn.settings import ModelSettings
from churn.synthetic import generate_world, true_churn_probability
from churn.train import split_customers, train_model


@pytest.fixture(scope="module")
def world() -> pd.DataFrame:
    return generate_world(12_000, seed=21, as_of=date(2026, 6, 30)).customers


@pytest.fixture(scope="module", params=["isotonic", "sigmoid", "smooth"])
def fitted(request: pytest.FixtureRequest, world: pd.DataFrame) -> tuple[ChurnModel, pd.DataFrame]:
    split = split_customers(world, test_size=0.2, validation_size=0.2, seed=1)
    model = train_model(
        split.train, split.validation, params=ModelSettings(calibration=request.param)
    )
    return model, split.test


def test_auc_in_the_learnable_band_and_some_customers_above_threshold(
    fitted: tuple[ChurnModel, pd.DataFrame],
) -> None:
    model, test = fitted
    p = model.predict_proba(test)
    metrics = evaluate_predictions(test["churned"].to_numpy(), p, threshold=0.7)
    assert 0.80 <= metrics["auc"] <= 0.92
    assert metrics["n_flagged"] > 0
    # Close to what the ground truth itself achieves on these customers.
    bayes = evaluate_predictions(
        test["churned"].to_numpy(), true_churn_probability(test), threshold=0.7
    )
    assert metrics["auc"] > bayes["auc"] - 0.03


def test_probabilities_are_calibrated(fitted: tuple[ChurnModel, pd.DataFrame]) -> None:
    model, test = fitted
    p = model.predict_proba(test)
    y = test["churned"].to_numpy()
    assert abs(p.mean() - y.mean()) < 0.02
    # Customers flagged above 0.7 churn at 0.7 or more, as the trigger promises
    # (seeded; a tolerance for sampling noise on a few hundred customers).
    assert y[p > 0.7].mean() > 0.7 - 0.08
    # And the model's probabilities track the true ones.
    truth = true_churn_probability(test)
    assert np.corrcoef(p, truth)[0, 1] > 0.85


def test_more_open_tickets_never_lower_risk(fitted: tuple[ChurnModel, pd.DataFrame]) -> None:
    model, test = fitted
    sample = test.head(500)
    base = model.predict_proba(sample)
    for extra in (1, 2, 5):
        more = sample.assign(support_tickets_open=sample["support_tickets_open"] + extra)
        assert (model.predict_proba(more) >= base - 1e-12).all()
    assert model.predict_proba(sample.assign(support_tickets_open=6)).mean() > base.mean()


@pytest.mark.parametrize(
    ("change", "direction"),
    [
        # Directions the synthetic world's truth fixes (see churn/synthetic.py).
        (lambda c: c.assign(sentiment_score=(c["sentiment_score"] + 0.5).clip(-1, 1)), -1),
        (lambda c: c.assign(usage_frequency=c["usage_frequency"] * 3), -1),
        (lambda c: c.assign(last_purchase_date=c["last_purchase_date"] - pd.Timedelta(days=60)), 1),
        (lambda c: c.assign(plan="premium"), -1),
    ],
)
def test_risk_moves_the_way_the_truth_says(
    fitted: tuple[ChurnModel, pd.DataFrame], change, direction: int
) -> None:  # type: ignore[no-untyped-def]
    model, test = fitted
    sample = test.head(2000)
    before, after = model.predict_proba(sample), model.predict_proba(change(sample))
    truth_shift = (
        true_churn_probability(change(sample)).mean() - true_churn_probability(sample).mean()
    )
    assert np.sign(truth_shift) == direction  # the premise of the test
    assert np.sign(after.mean() - before.mean()) == direction
    # Customers move the same way or not at all: trees are flat in places and pick up
    # small interactions, so a few move the other way, but hardly any by more than a
    # point (the plan's true effect is itself a fraction of a point on average).
    assert (direction * (after - before) < -0.01).mean() < 0.05


def test_the_customer_id_does_not_change_the_score(fitted: tuple[ChurnModel, pd.DataFrame]) -> None:
    model, test = fitted
    sample = test.head(500)
    renamed = sample.assign(customer_id=[f"X{i}" for i in range(len(sample))])
    np.testing.assert_array_equal(model.predict_proba(sample), model.predict_proba(renamed))


def test_training_is_reproducible(world: pd.DataFrame) -> None:
    small = world.head(3000)
    split = split_customers(small, test_size=0.2, validation_size=0.2, seed=3)
    a = train_model(split.train, split.validation, params=ModelSettings(seed=3))
    b = train_model(split.train, split.validation, params=ModelSettings(seed=3))
    np.testing.assert_array_equal(a.predict_proba(split.test), b.predict_proba(split.test))


def test_unseen_plan_scores_instead_of_failing(fitted: tuple[ChurnModel, pd.DataFrame]) -> None:
    model, test = fitted
    p = model.predict_proba(test.head(3).assign(plan="enterprise"))
    assert np.isfinite(p).all()


def test_split_refuses_a_single_class(world: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="column 'churned' holds only \\[0\\]"):
        split_customers(world[world["churned"] == 0], test_size=0.2, validation_size=0.2, seed=0)


def test_small_validation_sets_never_claim_certainty() -> None:
    world = generate_world(1500, seed=2, as_of=date(2026, 6, 30)).customers
    split = split_customers(world, test_size=0.2, validation_size=0.2, seed=2)
    model = train_model(split.train, split.validation, params=ModelSettings())
    p = model.predict_proba(world)
    assert p.min() > 0.0 and p.max() < 1.0
