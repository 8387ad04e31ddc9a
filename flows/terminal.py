"""What the ``churn`` command shows a person: a quiet terminal while it works (one
progress line on a terminal), each error once, and a short summary at the end.

Prefect's and MLflow's step-by-step lines still reach the Prefect server and the
log files; ``churn --verbose`` (or ``PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL=INFO``)
shows them here too. ``--json`` prints the full result for machines instead.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from rich.markup import escape

from churn.report import dollars, interval, percent

# A user error's text, once Prefect has logged it: its later copies are dropped.
_user_errors: list[str] = []


def quiet_terminal(*, verbose: bool) -> None:
    """Before Prefect and MLflow are imported: warnings and errors only on the terminal
    (a user's own settings kept), no download progress bars."""
    level = "INFO" if verbose else "WARNING"
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", level)
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", level)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def remember_user_error(text: str) -> None:
    """A user error Prefect logged: the terminal shows it once, from the command."""
    _user_errors.append(text[:80])


def _user_error_names() -> set[str]:
    """The class names of every user error (``ChurnError`` and its subclasses)."""
    from churn.errors import ChurnError

    names, todo = set(), [ChurnError]
    while todo:
        cls = todo.pop()
        names.add(cls.__name__)
        todo += cls.__subclasses__()
    return names


class OnceOnTheTerminal(logging.Filter):
    """Drop log records that repeat a user error the command will print itself: those
    carrying it, and Prefect's state lines that quote it ("… an exception InputError: …")."""

    def __init__(self) -> None:
        super().__init__()
        names = "|".join(sorted(_user_error_names()))
        self.quoted = re.compile(rf"exception:? ({names})\b")

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "churn_user_error", False):
            return False
        message = record.getMessage()
        if self.quoted.search(message):
            return False
        return not any(text in message for text in _user_errors)


class ProgressLine(logging.Handler):
    """The latest step, on one line of a terminal that is rewritten in place."""

    def __init__(self, status: Any, width: int = 110) -> None:
        super().__init__(level=logging.INFO)
        self.status = status
        self.width = width  # one line: the spinner and the text within the terminal

    def emit(self, record: logging.LogRecord) -> None:
        lines = record.getMessage().splitlines()
        message = lines[0] if lines else ""
        if record.name == "prefect" and "temporary server" in message:
            message = "Starting Prefect's temporary server (10-25 s; `make serve` keeps one)"
        if not message or "Finished in state" in message:
            return
        if len(message) > self.width:
            message = message[: self.width - 1] + "…"
        self.status.update(f"[dim]{escape(message)}[/dim]")


def _console_handlers() -> list[logging.Handler]:
    from prefect.logging.handlers import PrefectConsoleHandler

    return [h for h in logging.getLogger().handlers if isinstance(h, PrefectConsoleHandler)]


@contextmanager
def terminal(*, as_json: bool) -> Iterator[None]:
    """While a command runs: each error once; on a terminal, a progress line."""
    once = OnceOnTheTerminal()
    for handler in _console_handlers():
        handler.addFilter(once)
    if as_json or not sys.stderr.isatty():
        yield
        return
    from rich.console import Console

    console = Console(stderr=True)
    with console.status("Starting…", spinner="dots") as status:
        progress = ProgressLine(status, width=max(20, console.width - 4))
        root = logging.getLogger()
        root.addHandler(progress)
        try:
            yield
        finally:
            root.removeHandler(progress)


# What the summaries show: (label, text) rows, for the terminal and for tests.
Rows = list[tuple[str, str]]


def training_rows(result: Mapping[str, Any]) -> Rows:
    """A training run in five lines."""
    m, r = result["metrics"], result["roi"]
    auc = f"{m['auc']:.4f} on the test split (baseline {m.get('baseline_auc', float('nan')):.4f}"
    if "cv_auc" in m:
        auc += f"; {m['cv_auc']:.4f} ± {m.get('cv_auc_std', 0):.4f} cross-validated"
    rows = [
        ("model", f"{result['registered_model']} v{result['model_version']}, "
                  f"{result['registry_alias']}"),
        ("AUC", auc + ")"),
        ("decision", result.get("promotion_reason") or "the first model: champion"),
        ("backtest", f"{r['n_targeted']:,.0f} test customers contacted: net benefit "
                     f"{dollars(r['net_benefit'])}, ROI {percent(r.get('roi_pct'))}"),
    ]  # fmt: skip
    if "best_threshold" in r:
        rows.append((
            "threshold",
            f"best net benefit at {r['best_threshold']:.2f} "
            f"({dollars(r.get('best_threshold_net_benefit'))}); break-even "
            f"{r['break_even_probability']:.2f}",
        ))  # fmt: skip
    return rows


def scoring_rows(result: Mapping[str, Any]) -> Rows:
    """A scoring run: who is contacted and the expected dollars."""
    e = result["expected_roi"]
    skipped = ", ".join(f"{n:,} {r}" for r, n in result["skipped"].items() if n) or "none"
    rows = [
        ("campaign", f"{result['campaign_id']}, model v{result['model_version']}"
                     + (" (already in the ledger: kept as recorded)"
                        if result.get("already_recorded") else "")),
        ("customers", f"{result['n_scored']:,} scored, {result['n_flagged']:,} flagged: "
                      f"{result['n_treated']:,} to contact, {result['n_control']:,} held out; "
                      f"skipped {skipped}"),
        ("expected", f"net benefit {dollars(e.get('net_benefit'))}, ROI "
                     f"{percent(e.get('roi_pct'))} (full cost "
                     f"{percent(result.get('expected_full_cost_roi_pct'))})"),
        ("list", str(result["campaign_path"])),
    ]  # fmt: skip
    if result.get("drifted_features"):
        rows.append(("drift", ", ".join(result["drifted_features"])))
    if result.get("retrain"):
        rows.append(("retrain", str(result["retrain"])))
    return rows


def realized_rows(result: Mapping[str, Any]) -> Rows:
    """A measured campaign: the realized dollars and ROI with their intervals."""
    m = result["metrics"]
    net = interval(m.get("realized_net_benefit_low"), m.get("realized_net_benefit_high"), "$")
    pct = interval(m.get("realized_roi_pct_low"), m.get("realized_roi_pct_high"), "%")
    rows = [
        ("realized", f"net benefit {dollars(m.get('realized_net_benefit'))} ({net}), "
                     f"ROI {percent(m.get('realized_roi_pct'))} ({pct}), 95 % intervals"),
        ("full cost", f"ROI {percent(m.get('realized_full_cost_roi_pct'))} with compute "
                      "and fixed costs"),
    ]  # fmt: skip
    if "cumulative_net_benefit" in m:
        n = int(m["campaigns_measured"])
        rows.append((
            "to date",
            f"{dollars(m['cumulative_net_benefit'])} net over {n} measured "
            f"campaign{'s' if n != 1 else ''}, after fixed and upfront costs",
        ))  # fmt: skip
    rows += [("warning", text) for text in result.get("warnings", {}).values()]
    if result.get("retrain"):
        rows.append(("retrain", str(result["retrain"])))
    return rows


def next_steps(*, config: str | None, campaign_id: str | None = None) -> str:
    """Where to look next."""
    flag = f" --config {config}" if config else ""
    steps = [f"`make ui` (or `churn ui{flag}`) opens MLflow on http://127.0.0.1:5000"]
    if campaign_id:
        steps.append(f"`churn campaigns{flag}` lists the ledger")
    return "Next: " + "; ".join(steps) + "."


def print_summary(title: str, sections: list[tuple[str, Rows]], footer: str) -> None:
    """A short table per section, then where to look next (stdout)."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"[bold green]{title}[/bold green]")
    for heading, rows in sections:
        table = Table(show_header=False, box=None, pad_edge=False, title=None)
        table.add_column(style="bold", no_wrap=True)
        table.add_column(overflow="fold")
        if heading:
            console.print(f"[bold]{heading}[/bold]")
        for label, text in rows:
            table.add_row(f"  {label}", text)
        console.print(table)
    console.print(footer)
