"""The terminal's pieces: a user error shown once, the progress line, the summaries."""

from __future__ import annotations

import logging

from flows.terminal import (
    OnceOnTheTerminal,
    ProgressLine,
    realized_rows,
    remember_user_error,
    scoring_rows,
)


def _record(message: str, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("prefect.task_runs", logging.ERROR, __file__, 1, message, (), None)
    record.__dict__.update(extra)
    return record


def test_prefect_copies_of_a_user_error_are_not_shown() -> None:
    once = OnceOnTheTerminal()
    quoted = 'Finished in state Failed("Task run encountered an exception InputError: x.csv: …")'
    assert not once.filter(_record(quoted))
    assert not once.filter(_record("Flow run encountered an exception: ConfigError: bad key"))
    assert not once.filter(_record("Task run failed with exception", churn_user_error=True))
    remember_user_error("data.csv: missing required column 'tenure_months'")
    assert not once.filter(_record("Crash: data.csv: missing required column 'tenure_months'"))
    # A bug is not a user error: Prefect's lines about it stay.
    assert once.filter(_record("Encountered exception during execution: KeyError('x')"))


class _Status:
    def __init__(self) -> None:
        self.shown: list[str] = []

    def update(self, text: str) -> None:
        self.shown.append(text)


def test_the_progress_line_shows_the_latest_step() -> None:
    status = _Status()
    line = ProgressLine(status)
    line.emit(_record("Cross-validation fold 2 of 5: AUC 0.8900."))
    line.emit(_record("Finished in state Completed()"))  # no news
    start = logging.LogRecord("prefect", logging.INFO, __file__, 1, "Starting temporary server "
                              "on http://127.0.0.1:8234", (), None)  # fmt: skip
    line.emit(start)
    assert status.shown == [
        "[dim]Cross-validation fold 2 of 5: AUC 0.8900.[/dim]",
        "[dim]Starting Prefect's temporary server (10-25 s; `make serve` keeps one)[/dim]",
    ]


def test_summaries_round_for_people() -> None:
    scored = {
        "campaign_id": "c1", "model_version": "2", "already_recorded": False,
        "n_scored": 20000, "n_flagged": 854, "n_treated": 776, "n_control": 78,
        "skipped": {"suppressed": 0, "holdout": 3, "cooldown": 0, "budget": 0},
        "expected_roi": {"net_benefit": 479788.4, "roi_pct": 1236.6},
        "expected_full_cost_roi_pct": 1149.6, "campaign_path": "out/c1/campaign.csv",
        "drifted_features": [], "retrain": None,
    }  # fmt: skip
    assert dict(scoring_rows(scored)) == {
        "campaign": "c1, model v2",
        "customers": "20,000 scored, 854 flagged: 776 to contact, 78 held out; skipped 3 holdout",
        "expected": "net benefit $479,788, ROI 1,237 % (full cost 1,150 %)",
        "list": "out/c1/campaign.csv",
    }
    realized = {"metrics": {"realized_net_benefit": 530308.2, "realized_net_benefit_low": -1.0,
                            "realized_net_benefit_high": 575457.0, "realized_roi_pct": 1366.77,
                            "realized_roi_pct_low": 1164.0, "realized_roi_pct_high": 1483.0,
                            "realized_full_cost_roi_pct": 1271.0},
                "warnings": {"window": "measured before the window ended"}}  # fmt: skip
    rows = dict(realized_rows(realized))
    assert rows["realized"] == (
        "net benefit $530,308 (-$1 to $575,457), ROI 1,367 % (1,164 % to 1,483 %), 95 % intervals"
    )
    assert rows["warning"] == "measured before the window ended"
