from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from churn.contact_policy import ContactRules, plan_contacts
from churn.data import write_table
from churn.errors import InputError
from churn.model import ChurnModel
from churn.predict import CAMPAIGN_COLUMNS, score_customers, score_file, write_campaign_files
from churn.settings import ModelSettings
from churn.synthetic import generate_world
from churn.train import split_customers, train_model

SCORED_AT = datetime(2026, 9, 30, 6, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def model_and_current() -> tuple[ChurnModel, pd.DataFrame]:
    world = generate_world(5000, seed=8, as_of=date(2026, 6, 30))
    split = split_customers(world.customers, test_size=0.2, validation_size=0.2, seed=0)
    return train_model(split.train, split.validation, params=ModelSettings()), world.current


def _score(model: ChurnModel, source: Path, out: Path, chunk_size: int = 700):  # type: ignore[no-untyped-def]
    return score_file(
        model, source, threshold=0.7, chunk_size=chunk_size, scores_path=out / "scores.parquet"
    )


def _campaign(result, out: Path):  # type: ignore[no-untyped-def]
    plan = plan_contacts(
        result.flagged, campaign_id="c-1", rules=ContactRules(control_share=0.1),
        save_rate=0.625, cost_per_contact=50,
    )  # fmt: skip
    return write_campaign_files(
        plan.decisions, assignment_path=out / "assignment.parquet",
        campaign_path=out / "campaign.csv", campaign_id="c-1", model_version="3",
        scored_at=SCORED_AT,
    )  # fmt: skip


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_campaign_holds_exactly_the_customers_above_threshold(
    tmp_path: Path, model_and_current: tuple[ChurnModel, pd.DataFrame], suffix: str
) -> None:
    model, current = model_and_current
    source = write_table(current, tmp_path / f"current{suffix}")
    result = _score(model, source, tmp_path / "out")
    files = _campaign(result, tmp_path / "out")

    expected = score_customers(model, current)
    above = expected.loc[expected["churn_probability"] > 0.7, "customer_id"]
    assert len(above) > 0
    # Every flagged customer is returned, in score-file order, with their value.
    assert result.flagged["customer_id"].tolist() == above.tolist()
    assert (result.flagged["customer_value"] == 0.0).all()  # no rule, clv=0 given
    # Every flagged customer is assigned to one group.
    assignment = pd.read_parquet(files.assignment_path)
    assert assignment["customer_id"].tolist() == above.tolist()
    assert set(assignment["group"]) == {"treatment", "control"}
    control = assignment.loc[assignment["group"] == "control", "customer_id"]
    assert len(control) > 0
    # The CRM list holds the treatment group only: exactly those above the
    # threshold who are not held out.
    campaign = pd.read_csv(files.campaign_path, dtype={"customer_id": str})
    assert tuple(campaign.columns) == CAMPAIGN_COLUMNS
    assert campaign["customer_id"].tolist() == [c for c in above if c not in set(control)]
    assert (campaign["churn_probability"] > 0.7).all()
    assert set(campaign["model_version"].astype(str)) == {"3"}
    assert set(campaign["scored_at"]) == {"2026-09-30T06:00:00+00:00"}

    scores = pd.read_parquet(result.scores_path)
    assert len(scores) == len(current) == result.n_scored
    pd.testing.assert_series_equal(
        scores["churn_probability"], expected["churn_probability"], check_names=False
    )
    assert result.n_flagged == len(assignment)


def test_chunking_does_not_change_scores(
    tmp_path: Path, model_and_current: tuple[ChurnModel, pd.DataFrame]
) -> None:
    model, current = model_and_current
    source = write_table(current, tmp_path / "current.parquet")
    one = _score(model, source, tmp_path / "a", chunk_size=10_000)
    many = _score(model, source, tmp_path / "b", chunk_size=333)
    pd.testing.assert_frame_equal(
        pd.read_parquet(one.scores_path), pd.read_parquet(many.scores_path)
    )
    pd.testing.assert_frame_equal(one.flagged, many.flagged)
    # Drift counts accumulate chunk by chunk to the same PSI (to rounding).
    assert one.drift_metrics().keys() == many.drift_metrics().keys()
    assert set(one.drift_metrics()) == {f"psi_{n}" for n in model.spec.names} | {"psi_max"}
    for name, value in one.drift_metrics().items():
        assert many.drift_metrics()[name] == pytest.approx(value, abs=1e-12)
    assert one.drift_metrics()["psi_max"] == max(one.drift.values())


def test_bad_chunk_leaves_previous_outputs_untouched(
    tmp_path: Path, model_and_current: tuple[ChurnModel, pd.DataFrame]
) -> None:
    model, current = model_and_current
    out = tmp_path / "out"
    good = write_table(current, tmp_path / "good.parquet")
    _campaign(_score(model, good, out), out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    bad = current.copy()
    bad.loc[4200, "sentiment_score"] = 9.0  # in the 7th chunk: six chunks score first
    source = write_table(bad, tmp_path / "bad.parquet")
    with pytest.raises(InputError, match="row 4201"):
        _score(model, source, out)
    after = {p.name: p.read_bytes() for p in out.iterdir()}
    assert after == before  # same files, same bytes, no temporary leftovers


def test_customers_withheld_are_kept_off_the_list_but_stay_in_the_assignment(
    tmp_path: Path,
) -> None:
    decisions = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "churn_probability": [0.9, 0.8, 0.75],
            "customer_value": 1200.0,
            "group": ["treatment", "treatment", "control"],
            "skip_reason": [None, None, None],
        }
    )
    files = write_campaign_files(
        decisions, assignment_path=tmp_path / "assignment.parquet",
        campaign_path=tmp_path / "campaign.csv", campaign_id="c-1", model_version="3",
        scored_at=SCORED_AT, withheld=["b"],
    )  # fmt: skip
    assert pd.read_csv(files.campaign_path)["customer_id"].tolist() == ["a"]
    assert pd.read_parquet(files.assignment_path)["customer_id"].tolist() == ["a", "b", "c"]
