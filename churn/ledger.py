"""The campaign ledger: the system of record of every contact and every holdout.

A campaign is written whole, in one transaction, with the contact policy applied
to what the ledger already holds; two campaigns recorded at once take turns (an
advisory lock on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so the second sees
the first's contacts. A campaign id already in the ledger returns its rows as
they were written: a re-scoring never duplicates or changes a campaign.

The schema is created and migrated by Alembic (``churn/ledger_migrations``) when
the ledger is opened. SQLite by default (a file beside the MLflow store);
PostgreSQL by URL (``postgresql+psycopg://user@host/db``).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from churn.contact_policy import (
    BUDGET,
    COOLDOWN,
    DECISION_COLUMNS,
    HOLDOUT,
    RISK,
    SKIP_REASONS,
    SKIPPED,
    SUPPRESSED,
    ContactPlan,
    ContactRules,
    plan_contacts,
)
from churn.errors import ConfigError, InputError, NotReadyError
from churn.holdout import CONTROL, TREATMENT
from churn.urls import masked

SCHEMA_HEAD = "0002"
_LOCK_KEY = 7_261_803_117  # any constant: the ledger's one advisory lock on PostgreSQL

metadata = sa.MetaData()
campaigns = sa.Table(
    "campaigns",
    metadata,
    sa.Column("campaign_id", sa.String(128), primary_key=True),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.Column("scored_at", sa.DateTime(), nullable=False),
    sa.Column("window_end", sa.DateTime(), nullable=False),
    sa.Column("model_name", sa.String(256), nullable=False),
    sa.Column("model_version", sa.String(64), nullable=False),
    sa.Column("threshold", sa.Float(), nullable=False),
    sa.Column("policy", sa.String(256), nullable=False),
    sa.Column("control_share", sa.Float(), nullable=False),
    sa.Column("configured_control_share", sa.Float(), nullable=False),
    sa.Column("cooldown_days", sa.Integer(), nullable=False),
    sa.Column("max_contacts", sa.Integer(), nullable=True),
    sa.Column("cost_per_contact", sa.Float(), nullable=False),
    sa.Column("n_scored", sa.Integer(), nullable=False),
    sa.Column("n_flagged", sa.Integer(), nullable=False),
    sa.Column("expected_net_benefit", sa.Float(), nullable=False),
    sa.Column("budget_left_out_value", sa.Float(), nullable=False),
    sa.Column("mlflow_run_id", sa.String(64), nullable=True),
    sa.Column("compute_seconds", sa.Float(), nullable=True),
    sa.Column("measured_at", sa.DateTime(), nullable=True),
    sa.Column("realized_net_benefit", sa.Float(), nullable=True),
    sa.Column("realized_net_benefit_low", sa.Float(), nullable=True),
    sa.Column("realized_net_benefit_high", sa.Float(), nullable=True),
    sa.Column("realized_roi_pct", sa.Float(), nullable=True),
    sa.Column("realized_roi_pct_low", sa.Float(), nullable=True),
    sa.Column("realized_roi_pct_high", sa.Float(), nullable=True),
    sa.Column("realized_full_cost_roi_pct", sa.Float(), nullable=True),
    sa.Column("exploration_share", sa.Float(), nullable=False, server_default="0"),
    sa.Column("risk_policy_profit", sa.Float(), nullable=True),
    sa.Column("uplift_policy_profit", sa.Float(), nullable=True),
)
contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column(
        "campaign_id", sa.String(128), sa.ForeignKey("campaigns.campaign_id"), primary_key=True
    ),
    sa.Column("customer_id", sa.String(256), primary_key=True),
    sa.Column("grp", sa.String(16), nullable=False),
    sa.Column("skip_reason", sa.String(16), nullable=True),
    sa.Column("churn_probability", sa.Float(), nullable=False),
    sa.Column("customer_value", sa.Float(), nullable=False),
    sa.Column("expected_value", sa.Float(), nullable=False),
    sa.Column("contacted_at", sa.DateTime(), nullable=False),
    sa.Column("window_end", sa.DateTime(), nullable=False),
    sa.Column("churned", sa.SmallInteger(), nullable=True),
    sa.Column("observed_at", sa.DateTime(), nullable=True),
    sa.Column("selected_by", sa.String(16), nullable=False, server_default=RISK),
    sa.Index("ix_contacts_customer", "customer_id"),
    sa.Index("ix_contacts_group_window", "grp", "window_end"),
)

STATUS_SCORED, STATUS_AWAITING, STATUS_MEASURED = "scored", "awaiting outcomes", "measured"


@dataclass(frozen=True)
class NewCampaign:
    """What the scoring flow knows of a campaign before the policy is applied."""

    campaign_id: str
    scored_at: datetime
    window_end: datetime
    model_name: str
    model_version: str
    threshold: float
    policy: str
    rules: ContactRules
    cost_per_contact: float
    save_rate: float
    n_scored: int
    exploration_share: float = 0.0


@dataclass(frozen=True)
class CampaignRecord:
    """A campaign as the ledger holds it, with its counts by group and skip reason."""

    campaign_id: str
    created_at: datetime
    scored_at: datetime
    window_end: datetime
    model_name: str
    model_version: str
    threshold: float
    policy: str
    control_share: float
    configured_control_share: float
    cooldown_days: int
    max_contacts: int | None
    cost_per_contact: float
    n_scored: int
    n_flagged: int
    expected_net_benefit: float
    budget_left_out_value: float
    mlflow_run_id: str | None
    compute_seconds: float | None
    measured_at: datetime | None
    realized_net_benefit: float | None
    realized_net_benefit_low: float | None
    realized_net_benefit_high: float | None
    realized_roi_pct: float | None
    realized_roi_pct_low: float | None
    realized_roi_pct_high: float | None
    realized_full_cost_roi_pct: float | None
    exploration_share: float = 0.0
    risk_policy_profit: float | None = None
    uplift_policy_profit: float | None = None
    n_treated: int = 0
    n_control: int = 0
    skipped: tuple[tuple[str, int], ...] = ()

    def status(self, now: datetime | None = None) -> str:
        """``measured``, ``awaiting outcomes`` (window over) or ``scored`` (window open)."""
        if self.measured_at is not None:
            return STATUS_MEASURED
        now = _naive(now or datetime.now(UTC))
        return STATUS_AWAITING if now >= self.window_end else STATUS_SCORED

    def n_skipped(self, reason: str | None = None) -> int:
        """Customers skipped (for ``reason``, or for any)."""
        return sum(n for r, n in self.skipped if reason is None or r == reason)

    def as_metrics(self) -> dict[str, float]:
        """The campaign's counts as metrics: flagged, contacted, held out, skipped by
        reason, the flagged share of the scored, and what the budget left out."""
        return {
            "n_flagged": float(self.n_flagged),
            "n_treated": float(self.n_treated),
            "n_control": float(self.n_control),
            "n_skipped_suppressed": float(self.n_skipped(SUPPRESSED)),
            "n_skipped_holdout": float(self.n_skipped(HOLDOUT)),
            "n_skipped_cooldown": float(self.n_skipped(COOLDOWN)),
            "n_skipped_budget": float(self.n_skipped(BUDGET)),
            "budget_left_out_net_benefit": self.budget_left_out_value,
            "flagged_share": self.n_flagged / max(self.n_scored, 1),
        }

    def as_dict(self) -> dict[str, Any]:
        """Plain values for ``--json``: dates as ISO text, skips by reason."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.isoformat() if isinstance(value, datetime) else value
        out["skipped"] = {reason: self.n_skipped(reason) for reason in SKIP_REASONS}
        out["status"] = self.status()
        return out


@dataclass(frozen=True)
class RecordedCampaign:
    """A campaign's decisions as recorded; ``existed`` when it was in the ledger already."""

    campaign: CampaignRecord
    decisions: pd.DataFrame
    existed: bool


@dataclass(frozen=True)
class Measurement:
    """A campaign's latest realized figures, kept on its ledger row."""

    measured_at: datetime
    net_benefit: float
    net_benefit_ci: tuple[float, float]
    roi_pct: float | None
    roi_pct_ci: tuple[float, float] | None
    full_cost_roi_pct: float | None


def _naive(moment: datetime) -> datetime:
    """UTC without a zone: what both databases store the same way."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _parse(url: str) -> sa.engine.URL:
    try:
        return sa.engine.make_url(url)
    except Exception as exc:
        raise NotReadyError(
            f"ledger.url {masked(url)} is not a database URL SQLAlchemy can use "
            f"({type(exc).__name__}: {_first_line(exc)}). Set ledger.url (or "
            "CHURN_LEDGER_URL) to e.g. sqlite:///ledger.db or "
            "postgresql+psycopg://user@host:5432/db."
        ) from None


CAMPAIGN_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"


def check_campaign_id(campaign_id: str) -> str:
    """A campaign id is a name: letters, digits, ``.``, ``_``, ``-``; at most 128.

    Raises:
        ConfigError: the id is empty, too long or has other characters.

    Examples:
        >>> check_campaign_id("campaign-2026-12-01")
        'campaign-2026-12-01'
    """
    import re

    if not re.fullmatch(CAMPAIGN_ID_PATTERN, campaign_id):
        shown = campaign_id if len(campaign_id) <= 60 else campaign_id[:60] + "…"
        raise ConfigError(
            f"Campaign id {shown!r} is not a valid name: use 1 to 128 letters, digits, '.', "
            "'_' or '-', starting with a letter or digit (e.g. campaign-2026-12-01)."
        )
    return campaign_id


_ENGINES: dict[str, sa.Engine] = {}


def _engine(url: str) -> sa.Engine:
    """One engine (and connection pool) per URL and process, as SQLAlchemy intends."""
    if url not in _ENGINES:
        _ENGINES[url] = _new_engine(url)
    return _ENGINES[url]


def _new_engine(url: str) -> sa.Engine:
    parsed = _parse(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 60})

        @sa.event.listens_for(engine, "connect")
        def _no_implicit_transactions(dbapi_connection: Any, record: Any) -> None:
            dbapi_connection.isolation_level = None

        @sa.event.listens_for(engine, "begin")
        def _write_lock_first(connection: sa.Connection) -> None:
            # Take the write lock at BEGIN: two campaigns planned at once take turns
            # instead of both reading the history before either writes.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    connect_args = {"connect_timeout": 10} if parsed.get_backend_name() == "postgresql" else {}
    return sa.create_engine(url, connect_args=connect_args, pool_pre_ping=True)


class Ledger:
    """The campaign ledger on one database. Open it with ``Ledger.open(url)``."""

    def __init__(self, url: str, engine: sa.Engine) -> None:
        self.url = url
        self.engine = engine

    @classmethod
    def open(cls, url: str, *, must_exist: bool = False) -> Ledger:
        """Connect, and create or migrate the schema to the current version.

        Args:
            url: the SQLAlchemy URL.
            must_exist: for commands that only read: a SQLite file that is not there
                is an error, not a new empty ledger.

        Raises:
            NotReadyError: the database does not answer (the message masks passwords),
                or ``must_exist`` and there is no ledger file.
        """
        if must_exist:
            parsed = _parse(url)
            if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
                raise NotReadyError(
                    f"There is no campaign ledger at {masked(url)} yet: score a campaign "
                    "first (churn score or churn run), or set ledger.url / CHURN_LEDGER_URL "
                    "to the ledger you mean."
                )
        try:
            engine = _engine(url)
        except Exception as exc:
            raise NotReadyError(
                f"ledger.url {masked(url)} is not a database URL SQLAlchemy can use "
                f"({type(exc).__name__}: {_first_line(exc)}). Set ledger.url (or "
                "CHURN_LEDGER_URL) to e.g. sqlite:///ledger.db or "
                "postgresql+psycopg://user@host:5432/db."
            ) from None
        ledger = cls(url, engine)
        try:
            ledger._migrate()
        except Exception as exc:
            _ENGINES.pop(url, None)
            engine.dispose()
            raise NotReadyError(
                f"The campaign ledger at {masked(url)} does not answer "
                f"({type(exc).__name__}: {_first_line(exc)}); nothing was scored or written. "
                "Start the database, or set ledger.url / CHURN_LEDGER_URL to one that answers."
            ) from None
        return ledger

    def close(self) -> None:
        """Nothing to release: connections go back to the URL's pool after each use."""

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sa.Connection]:
        """One transaction that holds the ledger's write lock."""
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            yield conn

    def _migrate(self) -> None:
        with self.engine.connect() as conn:
            if _schema_version(conn) == SCHEMA_HEAD:
                conn.rollback()
                return
            conn.rollback()
        from alembic import command
        from alembic.config import Config

        config = Config()
        migrations = Path(__file__).with_name("ledger_migrations")
        config.set_main_option("script_location", str(migrations))
        with self._transaction() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    def schema_version(self) -> str | None:
        """The Alembic revision the database is at."""
        with self.engine.connect() as conn:
            return _schema_version(conn)

    # --- campaigns -------------------------------------------------------------------

    def record_campaign(
        self, new: NewCampaign, flagged: pd.DataFrame, *, suppressed: Sequence[str] = ()
    ) -> RecordedCampaign:
        """Apply the contact policy against the history and record the campaign whole.

        A campaign id already in the ledger is returned as it was recorded.
        """
        scored_at = _naive(new.scored_at)
        plan = None
        with self._transaction() as conn:
            if _campaign_row(conn, new.campaign_id) is None:
                held_out, cooling = _history(conn, new.campaign_id, scored_at, new.rules)
                plan = plan_contacts(
                    flagged, campaign_id=new.campaign_id, rules=new.rules,
                    save_rate=new.save_rate, cost_per_contact=new.cost_per_contact,
                    suppressed=suppressed, held_out=held_out, cooling_down=cooling,
                )  # fmt: skip
                _insert_campaign(conn, new, plan, scored_at)
        # What was just written is in memory: reading 500 k rows back costs seconds.
        rows = self.contacts(new.campaign_id) if plan is None else plan.decisions
        return RecordedCampaign(
            campaign=self.campaign(new.campaign_id),
            decisions=decision_frame(rows),
            existed=plan is None,
        )

    def campaign(self, campaign_id: str) -> CampaignRecord:
        """One campaign.

        Raises:
            NotReadyError: the ledger has no such campaign (recent ids are named).
        """
        found = self.campaigns(campaign_id=campaign_id)
        if found:
            return found[0]
        recent = [c.campaign_id for c in self.campaigns()[-5:]]
        raise NotReadyError(
            f"The campaign ledger at {masked(self.url)} has no campaign '{campaign_id}'; "
            f"recent campaigns: {', '.join(reversed(recent)) or 'none'}. Score it first "
            "(churn score --campaign-id ...)."
        )

    def campaigns(
        self, *, campaign_id: str | None = None, policy: str | None = None
    ) -> list[CampaignRecord]:
        """Campaigns in the order they were scored, with their counts."""
        query = sa.select(campaigns).order_by(campaigns.c.scored_at, campaigns.c.created_at)
        if campaign_id is not None:
            query = query.where(campaigns.c.campaign_id == campaign_id)
        if policy is not None:
            query = query.where(campaigns.c.policy == policy)
        counts_query = sa.select(
            contacts.c.campaign_id, contacts.c.grp, contacts.c.skip_reason, sa.func.count()
        ).group_by(contacts.c.campaign_id, contacts.c.grp, contacts.c.skip_reason)
        if campaign_id is not None:
            counts_query = counts_query.where(contacts.c.campaign_id == campaign_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
            counts: dict[str, dict[tuple[str, str | None], int]] = {}
            for cid, grp, reason, n in conn.execute(counts_query):
                counts.setdefault(cid, {})[(grp, reason)] = int(n)
        records = []
        for row in rows:
            c = counts.get(row["campaign_id"], {})
            records.append(
                CampaignRecord(
                    **dict(row),
                    n_treated=c.get((TREATMENT, None), 0),
                    n_control=c.get((CONTROL, None), 0),
                    skipped=tuple((r, c.get((SKIPPED, r), 0)) for r in SKIP_REASONS),
                )
            )
        return records

    def contacts(self, campaign_id: str, *, groups: Sequence[str] | None = None) -> pd.DataFrame:
        """A campaign's rows: every flagged customer with group, reason and outcome."""
        with self.engine.connect() as conn:
            return _contacts(conn, campaign_id, groups=groups)

    def measured_outcomes(self, policy: str) -> pd.DataFrame:
        """Treated and control rows, with outcomes, of the measured campaigns of a policy:
        ``campaign_id, group, churned, customer_value``, in one query."""
        query = (
            sa.select(
                contacts.c.campaign_id, contacts.c.grp.label("group"), contacts.c.churned,
                contacts.c.customer_value,
            )
            .join(campaigns, campaigns.c.campaign_id == contacts.c.campaign_id)
            .where(campaigns.c.policy == policy, campaigns.c.measured_at.is_not(None))
            .where(contacts.c.grp.in_([TREATMENT, CONTROL]))
        )  # fmt: skip
        with self.engine.connect() as conn:
            result = conn.execute(query)
            return pd.DataFrame(result.fetchall(), columns=list(result.keys()))

    def experiments(self, campaign_id: str | None = None) -> pd.DataFrame:
        """Every treated and control customer with an outcome, of every measured campaign
        (or of one): ``campaign_id, customer_id, group, churned, churn_probability,
        customer_value, selected_by, control_share, exploration_share`` — the uplift
        model's data."""
        query = (
            sa.select(
                contacts.c.campaign_id, contacts.c.customer_id, contacts.c.grp.label("group"),
                contacts.c.churned, contacts.c.churn_probability, contacts.c.customer_value,
                contacts.c.selected_by, campaigns.c.control_share,
                campaigns.c.exploration_share,
            )
            .join(campaigns, campaigns.c.campaign_id == contacts.c.campaign_id)
            .where(campaigns.c.measured_at.is_not(None), contacts.c.churned.is_not(None))
            .where(contacts.c.grp.in_([TREATMENT, CONTROL]))
            .order_by(contacts.c.campaign_id, contacts.c.customer_id)
        )  # fmt: skip
        if campaign_id is not None:
            query = query.where(contacts.c.campaign_id == campaign_id)
        with self.engine.connect() as conn:
            result = conn.execute(query)
            return pd.DataFrame(result.fetchall(), columns=list(result.keys()))

    def attach_run(self, campaign_id: str, *, run_id: str, compute_seconds: float) -> None:
        """Remember the MLflow scoring run that logged the campaign (the latest one), and
        add its compute: every scoring of a campaign is charged, each once."""
        spent = sa.func.coalesce(campaigns.c.compute_seconds, 0.0) + compute_seconds
        with self._transaction() as conn:
            conn.execute(
                campaigns.update()
                .where(campaigns.c.campaign_id == campaign_id)
                .values(mlflow_run_id=run_id, compute_seconds=spent)
            )

    def first_of_model(self, campaign_id: str, *, model_name: str, model_version: str) -> bool:
        """Whether this is the first campaign scored by that model version.

        The training run's compute is charged to that campaign alone, once.
        """
        with self.engine.connect() as conn:
            first = conn.execute(
                sa.select(campaigns.c.campaign_id)
                .where(campaigns.c.model_name == model_name)
                .where(campaigns.c.model_version == model_version)
                .order_by(campaigns.c.created_at, campaigns.c.campaign_id)
                .limit(1)
            ).scalar()
        return first == campaign_id

    # --- outcomes and measurement ---------------------------------------------------

    def attach_outcomes(
        self,
        campaign_id: str,
        outcomes: pd.DataFrame,
        *,
        source: str | Path,
        known_ids: Sequence[str] | None = None,
    ) -> int:
        """Attach observed outcomes to the campaign's rows; return how many rows changed.

        The same outcomes attached twice change nothing. Nothing is written when any
        check fails.

        Args:
            campaign_id: the campaign.
            outcomes: ``customer_id, churned[, observed_at]``.
            source: the outcomes file, for messages.
            known_ids: other customers the campaign scored (not flagged): their
                outcomes are accepted (for decay) but not stored.

        Raises:
            InputError: duplicated customers, customers the campaign never held,
                outcomes observed before the campaign, or outcomes that contradict
                ones already attached.
        """
        campaign = self.campaign(campaign_id)
        ids = outcomes["customer_id"].astype(str)
        repeated = ids[ids.duplicated(keep=False)]
        if len(repeated):
            raise InputError(
                f"{source}: {repeated.nunique()} customers have more than one outcome "
                f"(e.g. {sorted(set(repeated))[:3]}); give each customer one row."
            )
        observed = _observed_at(outcomes)
        early = observed < campaign.scored_at
        if early.any():
            raise InputError(
                f"{source}: {int(early.sum())} outcomes were observed before campaign "
                f"'{campaign_id}' was scored on {campaign.scored_at:%Y-%m-%d} (e.g. "
                f"{ids[early].head(3).tolist()} on {observed[early].iloc[0]:%Y-%m-%d}); "
                "outcomes must be read after the campaign."
            )
        # Checked and written under the ledger's lock: two attachments at once take turns.
        with self._transaction() as conn:
            rows = _contacts(conn, campaign_id)
            fresh = _new_outcomes(rows, ids, outcomes, observed, known_ids, campaign_id, source)
            if fresh.empty:
                return 0
            statement = (
                contacts.update()
                .where(contacts.c.campaign_id == sa.bindparam("cid"))
                .where(contacts.c.customer_id == sa.bindparam("cust"))
                .where(contacts.c.churned.is_(None))
                .values(churned=sa.bindparam("ch"), observed_at=sa.bindparam("obs"))
            )
            params = [
                {"cid": campaign_id, "cust": c, "ch": int(ch),
                 "obs": pd.Timestamp(o).to_pydatetime()}
                for c, ch, o in zip(
                    fresh["customer_id"], fresh["new"], fresh["new_observed"], strict=True
                )
            ]  # fmt: skip
            conn.execute(statement, params)
        return len(params)

    def record_policy_profits(self, campaign_id: str, *, risk: float, uplift: float) -> None:
        """Keep what risk and uplift targeting would each have earned on the campaign's
        experiment (estimated from its treated and control customers)."""
        with self._transaction() as conn:
            conn.execute(
                campaigns.update()
                .where(campaigns.c.campaign_id == campaign_id)
                .values(risk_policy_profit=risk, uplift_policy_profit=uplift)
            )

    def record_measurement(self, campaign_id: str, measurement: Measurement) -> None:
        """Keep the campaign's latest realized figures (each campaign counts once)."""
        low, high = measurement.roi_pct_ci or (None, None)
        with self._transaction() as conn:
            conn.execute(
                campaigns.update()
                .where(campaigns.c.campaign_id == campaign_id)
                .values(
                    measured_at=_naive(measurement.measured_at),
                    realized_net_benefit=measurement.net_benefit,
                    realized_net_benefit_low=measurement.net_benefit_ci[0],
                    realized_net_benefit_high=measurement.net_benefit_ci[1],
                    realized_roi_pct=measurement.roi_pct,
                    realized_roi_pct_low=low,
                    realized_roi_pct_high=high,
                    realized_full_cost_roi_pct=measurement.full_cost_roi_pct,
                )
            )


def _contacts(
    conn: sa.Connection, campaign_id: str, *, groups: Sequence[str] | None = None
) -> pd.DataFrame:
    query = sa.select(
        contacts.c.customer_id, contacts.c.churn_probability, contacts.c.customer_value,
        contacts.c.expected_value, contacts.c.grp.label("group"), contacts.c.skip_reason,
        contacts.c.contacted_at, contacts.c.window_end, contacts.c.churned,
        contacts.c.observed_at, contacts.c.selected_by,
    ).where(contacts.c.campaign_id == campaign_id)  # fmt: skip
    if groups is not None:
        query = query.where(contacts.c.grp.in_(list(groups)))
    result = conn.execute(query)
    frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    # Rows come back in key order on one database and insertion order on another.
    return frame.sort_values("customer_id", kind="stable", ignore_index=True)


def _new_outcomes(
    rows: pd.DataFrame,
    ids: pd.Series,
    outcomes: pd.DataFrame,
    observed: pd.Series,
    known_ids: Sequence[str] | None,
    campaign_id: str,
    source: str | Path,
) -> pd.DataFrame:
    """The outcomes not yet attached, once every check passed (``InputError`` if not)."""
    held = set(rows["customer_id"])
    known = held | set(map(str, known_ids or ()))
    unknown = ids[~ids.isin(known)]
    if len(unknown):
        raise InputError(
            f"{source}: {len(unknown)} outcomes are for customers campaign '{campaign_id}' "
            f"never scored (e.g. {unknown.head(3).tolist()}); is it the outcomes file "
            "of another campaign?"
        )
    mine = pd.DataFrame(
        {"customer_id": ids, "new": outcomes["churned"].astype(int).to_numpy(),
         "new_observed": observed.to_numpy()}
    ).merge(rows[["customer_id", "churned"]], on="customer_id")  # fmt: skip
    clash = mine["churned"].notna() & (mine["churned"] != mine["new"])
    if clash.any():
        raise InputError(
            f"{source}: {int(clash.sum())} outcomes contradict ones already attached to "
            f"campaign '{campaign_id}' (e.g. {mine.loc[clash, 'customer_id'].head(3).tolist()}"
            "); an outcome, once recorded, is not changed."
        )
    measured = rows.loc[rows["group"].isin([TREATMENT, CONTROL])]
    missing = measured.loc[measured["churned"].isna() & ~measured["customer_id"].isin(ids)]
    if len(missing):
        raise InputError(
            f"{source}: no outcome for {len(missing)} of {len(measured)} campaign customers "
            f"(e.g. {missing['customer_id'].head(3).tolist()}); every contacted and control "
            "customer needs one, measured over the whole window. Nothing was attached."
        )
    return mine.loc[mine["churned"].isna()]


def decision_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """``DECISION_COLUMNS`` by customer id, a missing skip reason as None: the same frame
    whether the rows were just planned or read back from either database."""
    frame = rows[list(DECISION_COLUMNS)].sort_values("customer_id", ignore_index=True)
    reasons = frame["skip_reason"].astype(object)
    return frame.assign(skip_reason=reasons.where(reasons.notna(), None))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else ""


def _schema_version(conn: sa.Connection) -> str | None:
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def _campaign_row(conn: sa.Connection, campaign_id: str) -> Any:
    query = sa.select(campaigns.c.campaign_id).where(campaigns.c.campaign_id == campaign_id)
    return conn.execute(query).first()


def _history(
    conn: sa.Connection, campaign_id: str, scored_at: datetime, rules: ContactRules
) -> tuple[set[str], set[str]]:
    """Customers held out with an open window, and customers inside the cooldown.

    Both count in whole days, and have no upper bound: a campaign recorded earlier
    but dated later (a concurrent run that started a little after this one, or a
    backfill) blocks its customers too. A customer contacted on a day is in
    cooldown through day + ``cooldown_days`` − 1; with a cooldown of 0, never
    twice on the same day.
    """
    others = contacts.c.campaign_id != campaign_id
    day = datetime.combine(scored_at.date(), datetime.min.time())
    held_out = sa.select(contacts.c.customer_id).where(
        others, contacts.c.grp == CONTROL, contacts.c.window_end >= day
    )
    cooldown_start = day - pd.Timedelta(days=max(rules.cooldown_days, 1) - 1)
    cooling = sa.select(contacts.c.customer_id).where(
        others, contacts.c.grp == TREATMENT, contacts.c.contacted_at >= cooldown_start
    )
    return set(conn.execute(held_out).scalars()), set(conn.execute(cooling).scalars())


def _insert_campaign(
    conn: sa.Connection, new: NewCampaign, plan: ContactPlan, scored_at: datetime
) -> None:
    decisions = plan.decisions
    treated = decisions["group"] == TREATMENT
    window_end = _naive(new.window_end)
    conn.execute(
        campaigns.insert().values(
            campaign_id=new.campaign_id,
            created_at=_naive(datetime.now(UTC)),
            scored_at=scored_at,
            window_end=window_end,
            model_name=new.model_name,
            model_version=new.model_version,
            threshold=new.threshold,
            policy=new.policy,
            control_share=plan.control_share,
            configured_control_share=new.rules.control_share,
            cooldown_days=new.rules.cooldown_days,
            max_contacts=new.rules.max_contacts,
            cost_per_contact=new.cost_per_contact,
            n_scored=new.n_scored,
            n_flagged=len(decisions),
            expected_net_benefit=float(decisions.loc[treated, "expected_value"].sum()),
            budget_left_out_value=plan.budget_left_out_value,
            exploration_share=new.exploration_share,
        )
    )
    if decisions.empty:
        return
    rows = {
        "customer_id": decisions["customer_id"].astype(str),
        "grp": decisions["group"],
        "skip_reason": decisions["skip_reason"],
        "churn_probability": decisions["churn_probability"].astype(float),
        "customer_value": decisions["customer_value"].astype(float),
        "expected_value": decisions["expected_value"].astype(float),
        "selected_by": decisions["selected_by"].astype(str),
    }
    same = {"campaign_id": new.campaign_id, "contacted_at": scored_at, "window_end": window_end}
    _bulk_insert(conn, rows, same=same)


def _bulk_insert(conn: sa.Connection, rows: dict[str, pd.Series], *, same: dict[str, Any]) -> None:
    """Rows into ``contacts`` in bulk, ``same`` holding the values every row shares:
    COPY on PostgreSQL (psycopg), one executemany of plain tuples on SQLite.
    SQLAlchemy's per-row processing costs a minute at 500 k rows, and converting
    timestamps row by row seconds, so rows are built from plain lists."""
    n = len(next(iter(rows.values())))
    if conn.dialect.name == "sqlite":
        # SQLAlchemy's own text form of a SQLite DateTime, so that its comparisons hold.
        same = {
            k: v.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime) else v
            for k, v in same.items()
        }
    names = [*rows, *same]
    columns = [_plain(column) for column in rows.values()]
    records = zip(*columns, *(itertools.repeat(v, n) for v in same.values()), strict=False)
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY contacts ({', '.join(names)}) FROM STDIN") as copy:
            for record in records:
                copy.write_row(record)
        return
    if conn.dialect.name == "sqlite":
        marks = ", ".join("?" * len(names))
        conn.exec_driver_sql(
            f"INSERT INTO contacts ({', '.join(names)}) VALUES ({marks})", list(records)
        )
        return
    conn.execute(contacts.insert(), [dict(zip(names, record, strict=True)) for record in records])


def _plain(column: pd.Series) -> list[Any]:
    """A column as Python values, missing ones as None."""
    if column.hasnans:
        return column.astype(object).where(column.notna(), None).tolist()
    return column.tolist()


def _observed_at(outcomes: pd.DataFrame) -> pd.Series:
    """When each outcome was read, UTC without a zone; outcomes without a date: now."""
    if "observed_at" not in outcomes:
        return pd.Series(pd.Timestamp(_naive(datetime.now(UTC))), index=outcomes.index)
    observed = pd.to_datetime(outcomes["observed_at"])
    if observed.dt.tz is not None:
        observed = observed.dt.tz_convert("UTC").dt.tz_localize(None)
    return observed.astype("datetime64[us]")


def campaigns_as_json(records: Sequence[CampaignRecord]) -> str:
    """The campaigns as JSON text (for ``churn campaigns --json``)."""
    return json.dumps([r.as_dict() for r in records], indent=2, default=_json_default)


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)
