"""Sixty days of daily scoring through the real flows and the ledger.

A drifting synthetic world is scored every morning by the real scoring flow;
each campaign's outcomes arrive when its one-month window ends and go through
the real realized-ROI flow. The ledger must keep every promise of the contact
history: no customer contacted twice inside the cooldown, no control customer
contacted before their window ends, every campaign's split as configured,
reruns that change nothing, and each campaign counted once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

import roi
from churn.data import write_world
from churn.errors import NotMeasurableError
from churn.ledger import Ledger
from churn.settings import (
    CampaignSettings,
    ContactSettings,
    CostSettings,
    DriftSettings,
    MeasurementSettings,
    Settings,
)
from churn.synthetic import Drift, generate_world
from tests.conftest import make_settings

pytestmark = pytest.mark.slow
START = date(2026, 6, 30)
DAYS = 60
COOLDOWN = 14


def day_settings(base: Settings, root: Path, day: int) -> Settings:
    """The world as observed on ``day``, its tables in a folder of its own."""
    folder = root / f"day-{day:02d}"
    data = base.data.model_copy(
        update={
            "training_path": folder / "customers.parquet",
            "scoring_path": folder / "current.parquet",
            "truth_path": folder / "truth.parquet",
        }
    )
    return base.model_copy(update={"data": data})


def write_day(settings: Settings, day: int) -> None:
    world = generate_world(
        settings.data.customers,
        seed=settings.data.seed,
        as_of=START + timedelta(days=day),
        start=START,
        drift=Drift(usage_decline_per_month=0.03, ticket_growth_per_month=0.05),
    )
    d = settings.data
    write_world(world, customers_path=d.training_path, current_path=None,
                truth_path=d.truth_path)  # fmt: skip
    # Each morning scores the half of the base whose records were refreshed overnight,
    # so the flagged customers change from day to day.
    world.current.sample(frac=0.5, random_state=day).to_parquet(d.scoring_path)


def morning(day: int) -> datetime:
    return datetime.combine(START + timedelta(days=day), datetime.min.time(), UTC).replace(hour=6)


def test_sixty_days_of_daily_campaigns_keep_the_contact_history_true(
    prefect_backend: str, tmp_path: Path
) -> None:
    from flows.measure import realized_roi_flow
    from flows.pipeline import simulate_campaign_outcomes
    from flows.runs import client_for
    from flows.score import campaign_folder, score_flow
    from flows.train import train_flow

    base = make_settings(tmp_path, customers=6000).model_copy(
        update={
            "campaign": CampaignSettings(output_dir=tmp_path / "outputs", chunk_size=100_000),
            "contact": ContactSettings(cooldown_days=COOLDOWN, min_control=10),
            "measurement": MeasurementSettings(window_months=1),
            "drift": DriftSettings(retrain_on_drift=False, retrain_on_decay=False),
            # No fixed costs: cumulative net benefit is then the plain sum over campaigns.
            "costs": CostSettings(fixed_per_month={}),
        }
    )
    first = day_settings(base, tmp_path, 0)
    write_day(first, 0)
    train_flow(first)

    scored: dict[str, Settings] = {}
    measured: list[str] = []
    unmeasurable: list[str] = []
    last_realized: dict = {}
    for day in range(DAYS):
        today = day_settings(base, tmp_path, day)
        write_day(today, day)
        cid = f"day-{day:02d}"
        score_flow(today, campaign_id=cid, scored_at=morning(day))
        scored[cid] = today
        # Outcomes of the campaigns whose one-month window ended today arrive today.
        for done, settings in scored.items():
            if done in measured:
                continue
            end = pd.Timestamp(morning(int(done[4:]))) + pd.DateOffset(months=1)
            if end > pd.Timestamp(morning(day)):
                continue
            outcomes = simulate_campaign_outcomes(
                campaign_folder(settings, done), settings.data.truth_path,
                campaign_folder(settings, done).outcomes, seed=int(done[4:]),
                observed_at=end.date(),
            )  # fmt: skip
            measured.append(done)
            with Ledger.open(base.ledger.url) as ledger:
                record = ledger.campaign(done)
            if record.n_treated + record.n_control == 0 and unmeasurable:
                # Everyone it flagged was in a cooldown or an open holdout: the flow
                # would refuse it as the first such campaign was (below), so save its time.
                unmeasurable.append(done)
                continue
            try:
                last_realized = realized_roi_flow(settings, done, outcomes)
            except NotMeasurableError as exc:
                assert f"Campaign '{done}': realized ROI is not measurable" in str(exc)
                unmeasurable.append(done)
    assert len(measured) >= 25 and len(unmeasurable) < len(measured) / 2, unmeasurable

    with Ledger.open(base.ledger.url) as ledger:
        campaigns = ledger.campaigns()
        with ledger.engine.connect() as conn:
            rows = pd.read_sql(
                sa.text("SELECT campaign_id, customer_id, grp, contacted_at, window_end "
                        "FROM contacts"), conn,
                parse_dates=["contacted_at", "window_end"])  # fmt: skip
    assert len(campaigns) == DAYS

    # Day 1 did not contact day 0's control group, nor anyone day 0 contacted.
    day0, day1 = (rows[rows["campaign_id"] == c] for c in ("day-00", "day-01"))
    assert set(day0.loc[day0["grp"] == "control", "customer_id"]).isdisjoint(
        day1.loc[day1["grp"] == "treatment", "customer_id"]
    )
    assert set(day0.loc[day0["grp"] == "treatment", "customer_id"]).isdisjoint(
        day1.loc[day1["grp"] == "treatment", "customer_id"]
    )
    treated = rows[rows["grp"] == "treatment"]
    assert len(treated) > 1000

    # No customer contacted twice within the cooldown.
    gaps = treated.sort_values("contacted_at").groupby("customer_id")["contacted_at"].diff()
    assert gaps.dropna().min() >= pd.Timedelta(days=COOLDOWN)

    # No control customer contacted before their campaign's window ended.
    control = rows[rows["grp"] == "control"]
    crossed = control.merge(treated, on="customer_id", suffixes=("_held", "_hit"))
    inside = (crossed["contacted_at_hit"] > crossed["contacted_at_held"]) & (
        crossed["contacted_at_hit"] < crossed["window_end_held"]
    )
    assert not inside.any(), crossed[inside].head()

    # Every campaign's split matches its share (raised for the small ones).
    for c in campaigns:
        if c.n_control + c.n_treated >= 20:
            pvalue = roi.split_mismatch_pvalue(
                c.n_treated, c.n_control, control_share=c.control_share
            )
            assert pvalue > 0.001, (c.campaign_id, c.n_treated, c.n_control, c.control_share)

    # Cumulative net benefit is the sum over distinct measured campaigns.
    nets = [c.realized_net_benefit for c in campaigns if c.measured_at is not None]
    assert {c.campaign_id for c in campaigns if c.measured_at is not None} == set(measured) - set(
        unmeasurable
    )
    assert all(
        c.n_treated == 0 or c.n_control == 0 for c in campaigns if c.campaign_id in unmeasurable
    )
    assert last_realized["metrics"]["campaigns_measured"] == len(nets)
    assert last_realized["metrics"]["cumulative_net_benefit"] == pytest.approx(sum(nets))
    assert last_realized["metrics"]["pooled_campaigns"] == len(nets)

    # Rerunning a day's scoring and a measurement changes nothing.
    again = next(c for c in measured if c not in unmeasurable)
    before = ledger_snapshot(base)
    score_flow(scored[again], campaign_id=again, scored_at=morning(int(again[4:])))
    outcomes = campaign_folder(scored[again], again).outcomes
    rerun = realized_roi_flow(scored[again], again, outcomes)
    assert ledger_snapshot(base) == before
    assert rerun["metrics"]["cumulative_net_benefit"] == pytest.approx(sum(nets))
    assert rerun["metrics"]["campaigns_measured"] == len(nets)
    runs = client_for(base.tracking).search_runs(
        [client_for(base.tracking).get_experiment_by_name("churn-scoring").experiment_id],
        filter_string=f"tags.campaign_id = '{again}'",
    )
    assert len(runs) == 2  # a second scoring run, but the same ledger rows


def ledger_snapshot(settings: Settings) -> tuple:
    with Ledger.open(settings.ledger.url) as ledger, ledger.engine.connect() as conn:
        contacts = conn.execute(
            sa.text("SELECT * FROM contacts ORDER BY campaign_id, customer_id")
        ).all()
        campaigns = conn.execute(
            sa.text(
                "SELECT campaign_id, control_share, n_flagged, expected_net_benefit, "
                "realized_net_benefit, realized_roi_pct_low FROM campaigns ORDER BY campaign_id"
            )
        ).all()
    return tuple(map(tuple, contacts)), tuple(map(tuple, campaigns))


def test_a_scheduled_and_a_manual_scoring_at_once_never_contact_a_customer_twice(
    prefect_backend: str, tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    import yaml

    from flows.data import generate_data
    from flows.train import train_flow

    settings = make_settings(tmp_path, customers=3000)
    generate_data.fn(settings.data)
    train_flow(settings)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(settings.model_dump(mode="json")))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "MLFLOW_"))}
    env["PREFECT_API_URL"] = prefect_backend
    churn = str(Path(sys.executable).with_name("churn"))
    both = [
        subprocess.Popen(
            [churn, "score", "--config", str(config), "--campaign-id", cid, "--json"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for cid in ("daily-scoring", "manual-trigger")
    ]
    finished = [p.communicate(timeout=300) for p in both]
    assert [p.returncode for p in both] == [0, 0], [err[-2000:] for _, err in finished]

    with Ledger.open(settings.ledger.url) as ledger:
        a, b = (ledger.contacts(cid) for cid in ("daily-scoring", "manual-trigger"))
    assert len(a) == len(b) > 100  # the same customers were flagged by both
    active = [set(x.loc[x["group"] != "skipped", "customer_id"]) for x in (a, b)]
    assert active[0].isdisjoint(active[1])
    # Whichever recorded second saw the first's contacts and holdouts, and skipped them.
    later = a if (a["group"] == "skipped").any() else b
    assert set(later["skip_reason"].dropna()) == {"cooldown", "holdout"}
    assert (later["group"] == "skipped").all()
