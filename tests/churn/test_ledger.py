"""The campaign ledger on a real SQLite file and a real PostgreSQL database.

Every test runs on both. PostgreSQL gets one fresh database per test session
(dropped after); each test starts from an empty schema, migrated by Alembic.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from churn.contact_policy import ContactRules
from churn.errors import ConfigError, InputError, NotReadyError
from churn.ledger import (
    SCHEMA_HEAD,
    Ledger,
    Measurement,
    NewCampaign,
    check_campaign_id,
    metadata,
)
from tests.pg import fresh_database

DAY0 = datetime(2026, 7, 1, 6, tzinfo=UTC)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    with fresh_database("churn_ledger") as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    url: str = request.getfixturevalue("postgres_database")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS contacts, campaigns, alembic_version"))
    engine.dispose()
    return url


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    with Ledger.open(ledger_url) as opened:
        yield opened


def customers(n: int, *, start: int = 0, p: float = 0.8) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in range(start, start + n)],
            "churn_probability": p,
            "customer_value": 1200.0,
        }
    )


def campaign(
    cid: str, day: int, *, cooldown: int = 30, share: float = 0.1, budget: int | None = None
) -> NewCampaign:
    scored = DAY0 + timedelta(days=day)
    return NewCampaign(
        campaign_id=cid,
        scored_at=scored,
        window_end=scored + timedelta(days=90),
        model_name="churn-model",
        model_version="1",
        threshold=0.7,
        policy="p>0.7, $50 offer",
        rules=ContactRules(control_share=share, cooldown_days=cooldown, max_contacts=budget),
        cost_per_contact=50.0,
        save_rate=0.625,
        n_scored=10_000,
    )


def outcomes_for(rows: pd.DataFrame, *, day: int, churned: int = 0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": rows["customer_id"],
            "churned": churned,
            "observed_at": pd.Timestamp(DAY0.replace(tzinfo=None) + timedelta(days=day)),
        }
    )


def test_the_schema_is_migrated_by_alembic_and_matches_the_tables(ledger: Ledger) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    assert ledger.schema_version() == SCHEMA_HEAD
    with ledger.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []


def test_the_fast_path_knows_the_latest_migration() -> None:
    from alembic.script import ScriptDirectory

    folder = Path(__import__("churn.ledger").ledger.__file__).with_name("ledger_migrations")
    assert ScriptDirectory(str(folder)).get_current_head() == SCHEMA_HEAD


def test_opening_twice_migrates_once_and_keeps_the_data(ledger_url: str) -> None:
    with Ledger.open(ledger_url) as first:
        first.record_campaign(campaign("a", 0), customers(100))
    with Ledger.open(ledger_url) as again:
        assert [c.campaign_id for c in again.campaigns()] == ["a"]
        assert again.schema_version() == SCHEMA_HEAD


def test_a_campaign_is_recorded_whole_with_its_counts(ledger: Ledger) -> None:
    recorded = ledger.record_campaign(campaign("a", 0), customers(1000))
    c = recorded.campaign
    assert not recorded.existed
    assert (c.n_flagged, c.n_treated + c.n_control, c.n_skipped()) == (1000, 1000, 0)
    assert 60 < c.n_control < 140
    assert c.expected_net_benefit == pytest.approx(c.n_treated * (0.8 * 0.625 * 1200 - 50))
    assert set(recorded.decisions["group"]) == {"treatment", "control"}
    assert c.status(now=DAY0 + timedelta(days=1)) == "scored"
    assert c.status(now=DAY0 + timedelta(days=91)) == "awaiting outcomes"


def test_rescoring_a_campaign_reproduces_its_rows_and_never_duplicates(ledger: Ledger) -> None:
    first = ledger.record_campaign(campaign("a", 0), customers(500))
    # Another scoring of the same campaign (other scores, other customers) changes nothing.
    again = ledger.record_campaign(campaign("a", 0), customers(800, p=0.9))
    assert again.existed
    pd.testing.assert_frame_equal(again.decisions, first.decisions)
    with ledger.engine.connect() as conn:
        n = conn.execute(sa.text("SELECT count(*) FROM contacts")).scalar()
    assert n == 500


def test_a_control_customer_stays_untouched_until_the_window_ends(ledger: Ledger) -> None:
    day1 = ledger.record_campaign(campaign("day1", 0, cooldown=0), customers(2000))
    control = set(day1.decisions.loc[day1.decisions["group"] == "control", "customer_id"])
    day2 = ledger.record_campaign(campaign("day2", 1, cooldown=0), customers(2000)).decisions
    assert control
    assert set(day2.loc[day2["group"] == "treatment", "customer_id"]).isdisjoint(control)
    assert set(day2.loc[day2["skip_reason"] == "holdout", "customer_id"]) == control
    # After day 1's 90-day window, its control customers may be contacted again.
    later = ledger.record_campaign(campaign("later", 91, cooldown=0), customers(2000)).decisions
    assert not (later["skip_reason"] == "holdout").any() or set(
        later.loc[later["skip_reason"] == "holdout", "customer_id"]
    ).isdisjoint(control)
    assert set(later.loc[later["group"] == "treatment", "customer_id"]) & control


def test_the_cooldown_skips_customers_contacted_recently(ledger: Ledger) -> None:
    day1 = ledger.record_campaign(campaign("day1", 0, cooldown=30), customers(1000)).decisions
    treated = set(day1.loc[day1["group"] == "treatment", "customer_id"])
    day2 = ledger.record_campaign(campaign("day2", 1, cooldown=30), customers(1000)).decisions
    assert set(day2.loc[day2["skip_reason"] == "cooldown", "customer_id"]) == treated
    assert (day2["group"] == "treatment").sum() == 0
    day31 = ledger.record_campaign(campaign("day31", 31, cooldown=30), customers(1000)).decisions
    # Day 2 contacted nobody, so day 31 may contact day 1's treated again.
    assert set(day31.loc[day31["group"] == "treatment", "customer_id"]) <= treated


def test_a_campaign_recorded_earlier_but_dated_later_still_blocks(ledger: Ledger) -> None:
    # A manual run that started a little later but recorded first, then the schedule.
    later = ledger.record_campaign(campaign("manual", 1), customers(500)).decisions
    earlier = ledger.record_campaign(campaign("schedule", 0), customers(500)).decisions
    assert not (earlier["group"] == "treatment").any()
    assert set(earlier["skip_reason"]) == {"cooldown", "holdout"}
    assert set(later.loc[later["group"] == "treatment", "customer_id"]) == set(
        earlier.loc[earlier["skip_reason"] == "cooldown", "customer_id"]
    )


def test_without_a_cooldown_no_one_is_contacted_twice_on_one_day(ledger: Ledger) -> None:
    first = ledger.record_campaign(campaign("a", 0, cooldown=0), customers(300)).decisions
    same_day = ledger.record_campaign(campaign("b", 0, cooldown=0), customers(300)).decisions
    next_day = ledger.record_campaign(campaign("c", 1, cooldown=0), customers(300)).decisions
    treated = set(first.loc[first["group"] == "treatment", "customer_id"])
    assert not (same_day["group"] == "treatment").any()
    assert set(next_day.loc[next_day["group"] == "treatment", "customer_id"]) <= treated


def test_the_cooldown_counts_whole_days(ledger: Ledger) -> None:
    first = ledger.record_campaign(campaign("a", 0, cooldown=30), customers(300)).decisions
    treated = set(first.loc[first["group"] == "treatment", "customer_id"])
    # Contacted on day 0: in cooldown through day 29, whatever the hour, free on day 30.
    day29 = campaign("b", 29, cooldown=30)
    late = NewCampaign(**{**day29.__dict__, "scored_at": day29.scored_at + timedelta(hours=17)})
    assert (
        set(
            ledger.record_campaign(late, customers(300)).decisions.query(
                "skip_reason == 'cooldown'"
            )["customer_id"]
        )
        == treated
    )
    day30 = ledger.record_campaign(campaign("c", 30, cooldown=30), customers(300)).decisions
    assert not (day30["skip_reason"] == "cooldown").any()


def test_read_only_commands_do_not_create_a_ledger(tmp_path: Path) -> None:
    with pytest.raises(NotReadyError, match="no campaign ledger at sqlite:///"):
        Ledger.open(f"sqlite:///{tmp_path / 'none.db'}", must_exist=True)
    assert not (tmp_path / "none.db").exists()


@pytest.mark.parametrize("bad", ["", "../x", "/abs", "it's", "a" * 129, "x y"])
def test_campaign_ids_are_names(bad: str) -> None:
    with pytest.raises(ConfigError, match="is not a valid name"):
        check_campaign_id(bad)


def test_suppressed_customers_are_never_contacted(ledger: Ledger) -> None:
    opted_out = [f"C{i:05d}" for i in range(0, 100, 3)]
    d = ledger.record_campaign(campaign("a", 0), customers(100), suppressed=opted_out).decisions
    assert set(d.loc[d["skip_reason"] == "suppressed", "customer_id"]) == set(opted_out)


def test_the_budget_is_recorded_with_what_it_left_out(ledger: Ledger) -> None:
    recorded = ledger.record_campaign(campaign("a", 0, budget=100), customers(1000))
    c = recorded.campaign
    assert c.n_treated == 100 and c.n_skipped("budget") > 0
    assert c.budget_left_out_value > 0
    # As the scoring run logs it: every count, the flagged share of the 10,000 scored.
    metrics = c.as_metrics()
    assert metrics["n_treated"] == 100 and metrics["n_control"] == c.n_control
    assert metrics["n_skipped_budget"] == c.n_skipped("budget") == 1000 - 100 - c.n_control
    assert metrics["n_skipped_cooldown"] == 0 and metrics["flagged_share"] == 0.1
    assert metrics["budget_left_out_net_benefit"] == c.budget_left_out_value


WORKER = """
import sys, time
from datetime import datetime, timedelta, UTC
from pathlib import Path
import pandas as pd
from churn.contact_policy import ContactRules
from churn.ledger import Ledger, NewCampaign
url, cid, start, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
flagged = pd.DataFrame({"customer_id": [f"C{i:05d}" for i in range(start, start + 3000)],
                        "churn_probability": 0.8, "customer_value": 1200.0})
day = datetime(2026, 7, 1, 6, tzinfo=UTC)
new = NewCampaign(cid, day, day + timedelta(days=90), "churn-model", "1", 0.7, "p",
                  ContactRules(control_share=0.1, cooldown_days=30), 50.0, 0.625, 10000)
with Ledger.open(url) as ledger:
    while not go.exists():
        time.sleep(0.005)
    ledger.record_campaign(new, flagged)
"""


def test_two_campaigns_recorded_at_once_never_contact_a_customer_twice(
    ledger_url: str, tmp_path: Path
) -> None:
    import subprocess
    import sys

    Ledger.open(ledger_url).close()
    go = tmp_path / "go"
    # Overlapping customers: C01000..C02999 are flagged by both.
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER, ledger_url, cid, str(start), str(go)])
        for cid, start in (("schedule", 0), ("manual", 1000))
    ]
    go.touch()
    assert [w.wait(timeout=120) for w in workers] == [0, 0]
    with Ledger.open(ledger_url) as ledger:
        a, b = (ledger.contacts(cid) for cid in ("schedule", "manual"))
    both = set(a.loc[a["group"] != "skipped", "customer_id"]) & set(
        b.loc[b["group"] != "skipped", "customer_id"]
    )
    assert both == set()
    # The later of the two saw the earlier's contacts and holdouts as such.
    skipped = pd.concat([a, b]).query("group == 'skipped'")
    assert len(skipped) == 2000
    assert set(skipped["skip_reason"]) == {"cooldown", "holdout"}


def test_outcomes_attach_once_and_twice_change_nothing(ledger: Ledger) -> None:
    rows = ledger.record_campaign(campaign("a", 0), customers(200)).decisions
    outcomes = outcomes_for(rows, day=100, churned=1)
    assert ledger.attach_outcomes("a", outcomes, source="o.csv") == 200
    assert ledger.attach_outcomes("a", outcomes, source="o.csv") == 0
    stored = ledger.contacts("a")
    assert stored["churned"].tolist() == [1] * 200
    assert (stored["observed_at"] == pd.Timestamp("2026-10-09 06:00")).all()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("duplicate", "more than one outcome"),
        ("unknown", "never scored"),
        ("early", "observed before campaign 'a' was scored on 2026-07-01"),
        ("missing", "no outcome for 1 of 200 campaign customers"),
    ],
)
def test_bad_outcomes_are_refused_and_nothing_is_attached(
    ledger: Ledger, change: str, message: str
) -> None:
    rows = ledger.record_campaign(campaign("a", 0), customers(200)).decisions
    outcomes = outcomes_for(rows, day=100)
    if change == "duplicate":
        outcomes = pd.concat([outcomes, outcomes.head(2)], ignore_index=True)
    elif change == "unknown":
        outcomes.loc[0, "customer_id"] = "NOBODY"
    elif change == "early":
        outcomes.loc[3, "observed_at"] = pd.Timestamp("2026-06-30")
    else:
        outcomes = outcomes.iloc[1:]
    with pytest.raises(InputError, match=message):
        ledger.attach_outcomes("a", outcomes, source="o.csv")
    assert ledger.contacts("a")["churned"].isna().all()


def test_outcomes_that_contradict_recorded_ones_are_refused(ledger: Ledger) -> None:
    rows = ledger.record_campaign(campaign("a", 0), customers(50)).decisions
    ledger.attach_outcomes("a", outcomes_for(rows, day=100, churned=0), source="o.csv")
    with pytest.raises(InputError, match="contradict ones already attached"):
        ledger.attach_outcomes("a", outcomes_for(rows, day=100, churned=1), source="o2.csv")


def test_outcomes_of_scored_but_unflagged_customers_are_accepted_not_stored(
    ledger: Ledger,
) -> None:
    rows = ledger.record_campaign(campaign("a", 0), customers(20)).decisions
    outcomes = pd.concat(
        [outcomes_for(rows, day=100), outcomes_for(customers(5, start=900), day=100)]
    )
    known = [f"C{i:05d}" for i in range(900, 905)]
    assert ledger.attach_outcomes("a", outcomes, source="o.csv", known_ids=known) == 20


def test_an_unknown_campaign_names_the_recent_ones(ledger: Ledger) -> None:
    ledger.record_campaign(campaign("a", 0), customers(10))
    with pytest.raises(NotReadyError, match="no campaign 'nope'; recent campaigns: a"):
        ledger.campaign("nope")


def test_a_measurement_is_kept_once_per_campaign(ledger: Ledger) -> None:
    ledger.record_campaign(campaign("a", 0), customers(10))
    for net in (1000.0, 2000.0):
        ledger.record_measurement(
            "a",
            Measurement(
                measured_at=DAY0 + timedelta(days=100), net_benefit=net,
                net_benefit_ci=(net - 10, net + 10), roi_pct=50.0, roi_pct_ci=(40.0, 60.0),
                full_cost_roi_pct=None,
            ),
        )  # fmt: skip
    (record,) = ledger.campaigns()
    assert record.realized_net_benefit == 2000.0 and record.status() == "measured"


def test_a_database_that_does_not_answer_is_one_clear_error() -> None:
    with pytest.raises(NotReadyError) as raised:
        Ledger.open("postgresql+psycopg://churn:s3cret@127.0.0.1:9/ledger")
    text = str(raised.value)
    assert "does not answer" in text and "nothing was scored or written" in text
    assert "s3cret" not in text and "***" in text


def test_a_url_that_is_not_a_database_is_one_clear_error() -> None:
    with pytest.raises(NotReadyError, match="not a database URL"):
        Ledger.open("nosuchdb://x")
