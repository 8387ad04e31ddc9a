"""What the campaign ledger costs a large campaign, on SQLite and on PostgreSQL.

The scoring flow records every flagged customer of a campaign in one
transaction (contact policy applied against the history), then reads the
rows back to write the campaign files. At 10 M customers the default world
flags about 430,000; this measures ``--flagged`` rows (default 500,000):

- day 1: an empty ledger (schema migrated before the clock starts);
- day 2: the next day, the same customers flagged again, so the policy reads
  day 1's 500,000 contacts and holdouts and skips them (cooldown, holdout).

Each step is timed with its peak memory, in a fresh process per database.
Usage:

    python bench/ledger_bench.py [--flagged 500000] [--postgres-url URL]

PostgreSQL gets a fresh database on the server at ``--postgres-url`` (default:
the machine's 127.0.0.1:5432), dropped after. Writes
``bench/results/ledger.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(url: str, flagged: int) -> dict[str, float]:
    """Record two daily campaigns of ``flagged`` customers; return the seconds of each."""
    import numpy as np
    import pandas as pd

    from churn.contact_policy import ContactRules
    from churn.ledger import Ledger, NewCampaign

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i:08d}" for i in range(flagged)],
            "churn_probability": rng.uniform(0.7, 1.0, flagged),
            "customer_value": 1200.0,
        }
    )
    times: dict[str, float] = {}
    with Ledger.open(url) as ledger:
        for day in (1, 2):
            scored = datetime(2026, 12, day, 6, tzinfo=UTC)
            new = NewCampaign(
                campaign_id=f"bench-day-{day}", scored_at=scored,
                window_end=scored + timedelta(days=90), model_name="churn-model",
                model_version="1", threshold=0.7, policy="bench",
                rules=ContactRules(control_share=0.1, cooldown_days=90),
                cost_per_contact=50.0, save_rate=0.625, n_scored=10_000_000,
            )  # fmt: skip
            start = time.perf_counter()
            recorded = ledger.record_campaign(new, frame)
            times[f"day{day}_s"] = time.perf_counter() - start
            times[f"day{day}_treated"] = recorded.campaign.n_treated
    times["peak_mb"] = _peak_mb()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flagged", type=int, default=500_000)
    parser.add_argument("--postgres-url", default=ADMIN_URL)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(measure(args.case, args.flagged)))
        return
    import sqlalchemy as sa

    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        sqlite_url = f"sqlite:///{Path(folder) / 'ledger.db'}"
        name = f"churn_bench_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(args.postgres_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        pg_url = sa.engine.make_url(args.postgres_url).set(database=name)
        try:
            for label, url in (
                ("SQLite", sqlite_url),
                ("PostgreSQL", pg_url.render_as_string(hide_password=False)),
            ):
                out = subprocess.run(
                    [sys.executable, __file__, "--case", url, "--flagged", str(args.flagged)],
                    check=True, capture_output=True, text=True,
                )  # fmt: skip
                results[label] = json.loads(out.stdout.strip().splitlines()[-1])
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    lines = [
        f"# Ledger cost, {args.flagged:,} flagged customers a campaign",
        "",
        "| database | day 1: record (empty ledger) | day 2: history + record | peak MB |",
        "|---|---|---|---|",
    ]
    for label, r in results.items():
        lines.append(
            f"| {label} | {r['day1_s']:.1f} s ({r['day1_treated']:,.0f} contacted) | "
            f"{r['day2_s']:.1f} s ({r['day2_treated']:,.0f} contacted) | {r['peak_mb']:,.0f} |"
        )
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "ledger.json").write_text(json.dumps(results, indent=2))
    (out_dir / "ledger.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
