"""Risk against uplift targeting through the real flows and the real ledger.

On the heterogeneous world (lost causes and sleeping dogs among the riskiest),
four monthly campaigns with exploration and a control group are scored, their
outcomes drawn from the world's truth and measured; the uplift flow learns from
them and its gate lets uplift targeting in. A fifth month is then targeted both
ways at the same contact budget, and each choice is priced by the world's
ground truth, not by any model.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from churn.data import read_table, write_world
from churn.ledger import Ledger
from churn.metric_docs import describe_metric
from churn.settings import (
    CampaignSettings,
    ContactSettings,
    DataSettings,
    DriftSettings,
    LedgerSettings,
    MeasurementSettings,
    Settings,
    UpliftSettings,
)
from churn.synthetic import generate_world
from tests.conftest import make_settings

pytestmark = pytest.mark.slow
CUSTOMERS = 20_000
MONTHS = 4


def month_settings(base: Settings, root: Path, month: int) -> Settings:
    """The world as observed in ``month``: a base of its own (another seed)."""
    folder = root / f"month-{month}"
    world = generate_world(
        CUSTOMERS, seed=100 + month, as_of=date(2026, 6, 30), response="heterogeneous"
    )
    data = base.data.model_copy(
        update={
            "training_path": folder / "customers.parquet",
            "scoring_path": folder / "current.parquet",
            "truth_path": folder / "truth.parquet",
        }
    )
    write_world(world, customers_path=data.training_path, current_path=data.scoring_path,
                truth_path=data.truth_path)  # fmt: skip
    return base.model_copy(update={"data": data})


def true_net_benefit(settings: Settings, campaign_id: str) -> tuple[float, int]:
    """What the campaign's contacts earn by the world's truth: Σ p × effect × value − cost."""
    from flows.score import campaign_folder

    assignment = pd.read_parquet(campaign_folder(settings, campaign_id).assignment)
    treated = assignment.loc[assignment["group"] == "treatment"]
    truth = read_table(settings.data.truth_path)
    truth = truth.loc[truth["snapshot_date"] == truth["snapshot_date"].max()]
    joined = treated.merge(truth, on="customer_id", validate="one_to_one")
    kept = joined["true_churn_probability"] * joined["true_treatment_effect"]
    value = (kept * joined["customer_value"]).sum()
    return float(value - settings.economics.cost_per_contact * len(joined)), len(joined)


def test_uplift_targeting_earns_more_than_risk_once_the_gate_lets_it_in(
    prefect_backend: str, tmp_path: Path
) -> None:
    from flows import cli
    from flows.measure import realized_roi_flow
    from flows.pipeline import simulate_campaign_outcomes
    from flows.registry import load_uplift_champion
    from flows.runs import client_for
    from flows.score import campaign_folder, score_flow
    from flows.train import train_flow
    from flows.uplift import uplift_flow

    base = make_settings(tmp_path, customers=CUSTOMERS).model_copy(
        update={
            "data": DataSettings(
                training_path=tmp_path / "data" / "customers.parquet",
                scoring_path=tmp_path / "data" / "current.parquet",
                truth_path=tmp_path / "data" / "truth.parquet",
                customers=CUSTOMERS, seed=7, as_of=date(2026, 6, 30), response="heterogeneous",
            ),
            "campaign": CampaignSettings(
                output_dir=tmp_path / "outputs", chunk_size=100_000, control_share=0.3,
                exploration_share=0.05,
            ),
            "contact": ContactSettings(cooldown_days=0),
            "measurement": MeasurementSettings(window_months=1),
            "drift": DriftSettings(retrain_on_drift=False, retrain_on_decay=False),
            "uplift": UpliftSettings(bootstrap=500),
        }
    )  # fmt: skip
    first = month_settings(base, tmp_path, 0)
    train_flow(first)
    for month in range(MONTHS):
        settings = month_settings(base, tmp_path, month)
        cid = f"month-{month}"
        scored_at = datetime(2026, 7 + month, 1, 6, tzinfo=UTC)
        summary = score_flow(settings, campaign_id=cid, scored_at=scored_at)
        assert summary["n_flagged"] > 0
        folder = campaign_folder(settings, cid)
        outcomes = simulate_campaign_outcomes(
            folder, settings.data.truth_path, folder.outcomes, seed=month,
            observed_at=date(2026, 8 + month, 2),
        )  # fmt: skip
        realized_roi_flow(settings, cid, outcomes)

    with Ledger.open(base.ledger.url) as ledger:
        experiments = ledger.experiments()
    # Exploration reached below the threshold, and its customers were split too.
    explored = experiments.loc[experiments["selected_by"] == "exploration"]
    assert len(explored) > 1000 and set(explored["group"]) == {"treatment", "control"}
    assert (explored["churn_probability"] <= 0.7).all()
    assert (campaign_folder(base, "month-0").features).exists()

    result = uplift_flow(base)
    print("\n".join(f"{k}: {v}" for k, v in result.rows()))
    assert result.judgement.switch, result.decision
    e = result.judgement.evaluation
    assert e.qini_ci is not None and e.qini_ci[0] > 0
    client = client_for(base.tracking)
    champion = load_uplift_champion(client, name=base.uplift.registered_name)
    assert champion is not None and champion.version == result.registered.version
    logged = client.get_run(result.mlflow_run_id).data.metrics
    for name in logged:
        describe_metric(name)  # every metric the uplift run logs is in docs/metrics.md
    assert {
        "crossfit_qini",
        "crossfit_qini_low",
        "crossfit_auuc_high",
        "gate_profit_difference_low",
    } <= set(logged)

    # A hybrid campaign in the main ledger, once measured, logs what each policy would
    # have earned on its experiment, and `churn campaigns` shows them side by side.
    hybrid = month_settings(base, tmp_path, MONTHS + 1)
    hybrid = hybrid.model_copy(
        update={"campaign": hybrid.campaign.model_copy(update={"targeting": "hybrid"})}
    )
    score_flow(hybrid, campaign_id="hybrid", scored_at=datetime(2026, 11, 1, 6, tzinfo=UTC))
    folder = campaign_folder(hybrid, "hybrid")
    outcomes = simulate_campaign_outcomes(
        folder, hybrid.data.truth_path, folder.outcomes, seed=9, observed_at=date(2026, 12, 2)
    )
    measured = realized_roi_flow(hybrid, "hybrid", outcomes)
    logged = client.get_run(measured["mlflow_run_id"]).data.metrics
    assert {"policy_current_profit", "policy_candidate_profit",
            "policy_profit_difference_low"} <= set(logged)  # fmt: skip
    with Ledger.open(base.ledger.url) as ledger:
        record = ledger.campaign("hybrid")
        rows = ledger.contacts("hybrid")
    assert record.policy == "p>0.7 and uplift, $50 offer"
    assert set(rows["selected_by"]) == {"hybrid", "exploration"}
    assert (rows.loc[rows["selected_by"] == "hybrid", "churn_probability"] > 0.7).all()
    assert record.risk_policy_profit is not None and record.uplift_policy_profit is not None
    config = tmp_path / "ledger-only.yaml"
    config.write_text(f"ledger: {{url: '{base.ledger.url}'}}\n")
    listing = CliRunner().invoke(
        cli.app, ["campaigns", "--config", str(config)], env={"COLUMNS": "250"}
    )
    assert listing.exit_code == 0, listing.output
    assert "uplift targeting" in listing.output and "hybrid" in listing.output

    # Month 5, targeted both ways at the same budget (each in a ledger of its own, so
    # that neither campaign's contacts or holdouts stand in the other's way).
    final = month_settings(base, tmp_path, MONTHS)
    scored_at = datetime(2026, 12, 1, 6, tzinfo=UTC)

    def targeted(policy: str, budget: int | None) -> Settings:
        return final.model_copy(update={
            "campaign": final.campaign.model_copy(
                update={"targeting": policy, "exploration_share": 0.0}
            ),
            "contact": final.contact.model_copy(update={"max_contacts": budget}),
            "ledger": LedgerSettings(url=f"sqlite:///{tmp_path / f'ledger-{policy}.db'}"),
        })  # fmt: skip

    risk = targeted("risk", None)
    score_flow(risk, campaign_id="final-risk", scored_at=scored_at)
    risk_net, risk_contacts = true_net_benefit(risk, "final-risk")
    uplift = targeted("uplift", risk_contacts)
    summary = score_flow(uplift, campaign_id="final-uplift", scored_at=scored_at)
    uplift_net, uplift_contacts = true_net_benefit(uplift, "final-uplift")
    assert uplift_contacts <= risk_contacts
    with Ledger.open(uplift.ledger.url) as ledger:
        record = ledger.campaign("final-uplift")
        rows = ledger.contacts("final-uplift")
    assert record.policy == "uplift, $50 offer"
    assert set(rows["selected_by"]) == {"uplift"}
    assert (rows["churn_probability"] <= 0.7).any()  # it reaches below the risk threshold
    assert summary["expected_roi"]["net_benefit"] > 0
    assert uplift_net >= 1.2 * risk_net, (uplift_net, risk_net)
    print(f"true net benefit at {risk_contacts} contacts: risk ${risk_net:,.0f}, "
          f"uplift ${uplift_net:,.0f} ({uplift_net / risk_net:.2f}x)")  # fmt: skip
    assert np.isfinite(uplift_net)


def test_a_model_that_fails_the_gate_takes_the_champion_alias_away(tmp_path: Path) -> None:
    """Scoring follows the newest judgement: a failed gate leaves no uplift champion."""
    from churn.uplift import UpliftParams, fit_uplift
    from flows.registry import load_uplift_champion, register_uplift
    from flows.runs import client_for, open_run

    settings = make_settings(tmp_path)
    client = client_for(settings.tracking)
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"a": rng.random(400), "b": rng.random(400)})
    model = fit_uplift(x, rng.random(400) < 0.7, (rng.random(400) < 0.3).astype(int),
                       params=UpliftParams(n_estimators=5))  # fmt: skip
    for passed in (True, False):
        verdict = f"gate {'passed' if passed else 'failed'}"
        with open_run(
            client, settings.tracking, experiment="churn-uplift", run_type="uplift"
        ) as run:
            register_uplift(client, model, name="u", run_id=run, gate_passed=passed,
                            explored=12, reason=verdict)  # fmt: skip
        champion = load_uplift_champion(client, name="u")
        if passed:
            assert champion is not None and champion.version == "1" and champion.explored == 12
            np.testing.assert_allclose(champion.model.predict(x), model.predict(x))
    assert champion is None
    first = client.get_model_version("u", "1")
    assert first.tags["champion_removed_by"] == "v2: gate failed"
    assert str(client.get_model_version_by_alias("u", "challenger").version) == "2"
