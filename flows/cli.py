"""The ``churn`` command line.

Heavy libraries (Prefect, MLflow, LightGBM) are imported inside the commands
that use them, so ``churn --help`` answers at once.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from churn.errors import ChurnError
from churn.settings import Settings, load_settings

app = typer.Typer(
    help="Churn pipeline that proves, in dollars, whether the churn model pays for itself.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="Customer data: the synthetic world.", no_args_is_help=True)
app.add_typer(data_app, name="data")

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML config file (default: configs/default.yaml)."),
]
# A flag takes no value: typer would show "<bool>" beside it.
FLAG = " "
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print the whole result as JSON.", metavar=FLAG)
]
DEFAULT_CONFIG = Path("configs/default.yaml")


def _settings(config: Path | None) -> Settings:
    if config is None and DEFAULT_CONFIG.is_file():
        config = DEFAULT_CONFIG
    return load_settings(config)


# Set by the options every command shares (``churn --verbose …``).
_options = {"verbose": False}


@app.callback()
def _common(
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            metavar=FLAG,
            help="Show every step's log line (Prefect, MLflow) as it runs.",
        ),
    ] = False,
) -> None:
    _options["verbose"] = verbose


def _emit(
    summary: dict[str, Any],
    as_json: bool,
    title: str,
    sections: list[tuple[str, list[tuple[str, str]]]] | None = None,
    footer: str = "",
) -> None:
    """The result: all of it as JSON for machines, or a short summary for people."""
    if as_json:
        typer.echo(json.dumps(summary, indent=2, default=str))
        return
    from flows.terminal import print_summary

    if sections is None:
        rows = [(k, _plain(v)) for k, v in summary.items() if not isinstance(v, dict)]
        sections = [("", rows)]
    print_summary(title, sections, footer)


def _plain(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none"
    return "none" if value is None else str(value)


def _check_campaign_id(campaign_id: str | None) -> None:
    """A bad campaign id is refused before Prefect starts (the flows check it too)."""
    if campaign_id is not None:
        from churn.ledger import check_campaign_id

        check_campaign_id(campaign_id)


def _flows_ready() -> None:
    """Before Prefect and MLflow are imported: their defaults, and a quiet terminal."""
    from flows.runtime import configure_runtime, use_private_scratch
    from flows.terminal import quiet_terminal

    quiet_terminal(verbose=_options["verbose"])
    configure_runtime()
    use_private_scratch()


def _config_text(config: Path | None) -> str | None:
    return None if config is None else str(config)


@data_app.command("generate")
def data_generate(
    customers: Annotated[int | None, typer.Option(min=1, help="How many customers.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (same seed, same world).")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Labelled history table (.parquet or .csv).")
    ] = None,
    current: Annotated[
        Path | None, typer.Option(help="Also write the current, unlabelled snapshot here.")
    ] = None,
    truth: Annotated[
        Path | None, typer.Option(help="Also write the ground truth (for tests and simulation).")
    ] = None,
    as_of: Annotated[str | None, typer.Option(help="Date of the labelled snapshot.")] = None,
    horizon_months: Annotated[int | None, typer.Option(min=1, help="Prediction horizon.")] = None,
    start: Annotated[
        str | None, typer.Option(help="The world's month 0; later --as-of dates drift.")
    ] = None,
    usage_decline: Annotated[float | None, typer.Option(help="Usage lost per month.")] = None,
    ticket_growth: Annotated[float | None, typer.Option(help="Ticket growth per month.")] = None,
    sentiment_shift: Annotated[float | None, typer.Option(help="Sentiment shift a month.")] = None,
    response: Annotated[
        str | None,
        typer.Option(help="The campaign's effect: independent | heterogeneous."),
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Generate the synthetic customer world; unset options come from the config's data."""
    from churn.data import write_world
    from churn.synthetic import Drift, generate_world

    data = _settings(config).data
    moves = data.world_drift

    def parse(value: str | None, default: date | None, hint: str) -> date | None:
        if value is None:
            return default
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise typer.BadParameter(
                f"{value!r} is not a date like 2026-06-30", param_hint=hint
            ) from None

    n = customers or data.customers
    try:
        world = generate_world(
            n,
            seed=data.seed if seed is None else seed,
            as_of=parse(as_of, data.as_of, "--as-of") or data.as_of,
            horizon_months=horizon_months or data.horizon_months,
            start=parse(start, data.start, "--start"),
            drift=Drift(
                moves.usage_decline_per_month if usage_decline is None else usage_decline,
                moves.ticket_growth_per_month if ticket_growth is None else ticket_growth,
                moves.sentiment_shift_per_month if sentiment_shift is None else sentiment_shift,
            ),
            response=response or data.response,  # type: ignore[arg-type]  # checked inside
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    written = write_world(
        world, customers_path=out or data.training_path, current_path=current, truth_path=truth
    )
    summary = {
        "written": [str(p) for p in written],
        "customers": n,
        "churn_rate": float(world.customers["churned"].mean()),
    }
    _emit(summary, as_json, "Generated the synthetic world")


@app.command("train")
@app.command("retrain")
def retrain(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Train a model now: log it to MLflow with AUC and backtest ROI, and register it."""
    settings = _settings(config)
    _flows_ready()
    from flows.terminal import next_steps, terminal, training_rows
    from flows.train import train_flow

    with terminal(as_json=as_json):
        result = train_flow(settings)
    _emit(result, as_json, "Trained", [("", training_rows(result))],
          next_steps(config=_config_text(config)))  # fmt: skip


@app.command("tune")
def tune(
    config: ConfigOption = None,
    trials: Annotated[int, typer.Option(min=1, help="Parameter sets to try.")] = 30,
    timeout: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (fewer trials).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Search the model's parameters (seeded, by cross-validated AUC) and log the trials."""
    settings = _settings(config)
    _flows_ready()
    from flows.terminal import terminal
    from flows.tune import tune_flow

    with terminal(as_json=as_json):
        result = tune_flow(settings, trials=trials, timeout_seconds=timeout)
    _emit(result, as_json, "Tuned")


@app.command("score")
def score(
    config: ConfigOption = None,
    campaign_id: Annotated[
        str | None, typer.Option(help="Campaign id (default: campaign-<today>).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Score every customer with the champion model and write the campaign list."""
    settings = _settings(config)
    _check_campaign_id(campaign_id)
    _flows_ready()
    from flows.score import score_flow
    from flows.terminal import next_steps, scoring_rows, terminal

    with terminal(as_json=as_json):
        result = score_flow(settings, campaign_id=campaign_id)
    footer = next_steps(config=_config_text(config), campaign_id=result["campaign_id"])
    _emit(result, as_json, "Scored", [("", scoring_rows(result))], footer)


@app.command("run")
def run(
    config: ConfigOption = None,
    campaign_id: Annotated[str | None, typer.Option(help="Campaign id.")] = None,
    as_json: JsonOption = False,
) -> None:
    """The whole pipeline: (synthetic data) → train → score → campaign list
    (→ simulated outcomes → realized ROI, on synthetic data)."""
    settings = _settings(config)
    _check_campaign_id(campaign_id)
    _flows_ready()
    from flows.pipeline import pipeline_flow
    from flows.terminal import next_steps, realized_rows, scoring_rows, terminal, training_rows

    with terminal(as_json=as_json):
        result = pipeline_flow(settings, campaign_id=campaign_id)
    sections = [("Training", training_rows(result["training"])),
                ("Campaign", scoring_rows(result["scoring"]))]  # fmt: skip
    if "realized" in result:
        sections.append(("Realized (simulated outcomes)", realized_rows(result["realized"])))
    footer = next_steps(config=_config_text(config), campaign_id=result["scoring"]["campaign_id"])
    _emit(result, as_json, "Pipeline finished", sections, footer)


@app.command("roi")
def realized(
    campaign: Annotated[str, typer.Option("--campaign", help="The campaign id.")],
    outcomes: Annotated[
        Path, typer.Option(help="Outcomes table: customer_id, churned (0/1)[, observed_at].")
    ],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Measure a campaign's realized ROI against its control group, with intervals."""
    settings = _settings(config)
    _check_campaign_id(campaign)
    _flows_ready()
    from flows.measure import realized_roi_flow
    from flows.terminal import next_steps, realized_rows, terminal

    with terminal(as_json=as_json):
        result = realized_roi_flow(settings, campaign, outcomes)
    footer = next_steps(config=_config_text(config), campaign_id=campaign)
    _emit(result, as_json, f"Realized ROI of {campaign}", [("", realized_rows(result))], footer)


@app.command("uplift")
def uplift(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Learn whom a contact keeps from the measured campaigns' experiments, and gate the
    uplift model against risk targeting (champion only when it earns more, surely)."""
    settings = _settings(config)
    _flows_ready()
    from flows.terminal import terminal
    from flows.uplift import uplift_flow

    with terminal(as_json=as_json):
        result = uplift_flow(settings)
    _emit(result.as_summary(), as_json, "Uplift model", [("", result.rows())])


@data_app.command("outcomes")
def data_outcomes(
    campaign: Annotated[str, typer.Option("--campaign", help="The campaign id.")],
    out: Annotated[Path | None, typer.Option(help="Where to write (default: beside it).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    config: ConfigOption = None,
) -> None:
    """Simulate a campaign's outcomes from the synthetic world's ground truth."""
    from flows.pipeline import simulate_campaign

    settings = _settings(config)
    _check_campaign_id(campaign)
    typer.echo(str(simulate_campaign(settings, campaign, seed=seed, out=out)))


@app.command("runs")
def runs(
    kind: Annotated[str, typer.Option(help="training or scoring")] = "training",
    last: Annotated[int, typer.Option(min=1, help="How many runs, newest first.")] = 10,
    wide: Annotated[
        bool, typer.Option("--wide", metavar=FLAG, help="More columns (status, data, …).")
    ] = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Compare the last runs side by side: model version, data, AUC and ROI."""
    if kind not in ("training", "scoring"):
        raise typer.BadParameter(f"{kind!r} is not 'training' or 'scoring'", param_hint="--kind")
    settings = _settings(config)
    from flows import runs
    from flows.runtime import remove_debris

    runs.check_store(settings.tracking)
    remove_debris(settings)
    client = runs.client_for(settings.tracking)
    rows = runs.recent_runs(client, settings.tracking, kind=kind, last=last)
    if as_json:
        typer.echo(json.dumps(rows, indent=2, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    columns = RUN_VIEW[kind] + (RUN_VIEW_WIDE[kind] if wide else [])
    cells = {key: [_cell(key, row) for row in rows] for _, key in columns}
    # Text is cut at 20 characters (with an ellipsis); numbers keep their width.
    widths = {
        key: min(20, w) if key in TEXT_CELLS else w
        for header, key in columns
        for w in [max([len(header), *(len(c) for c in cells[key])])]
    }
    console = Console()
    # Numbers are never wrapped nor cut: columns that do not fit are left out (the
    # least telling first) and named, and the text columns give way.
    hidden: list[str] = []
    while sum(widths[k] + 3 for _, k in columns) + 1 > console.width and len(columns) > 2:
        header, key = min(columns, key=lambda c: DROP_ORDER.get(c[1], 99))
        columns = [c for c in columns if c[1] != key]
        hidden.append(header)
    notes = [f"left out to fit: {', '.join(hidden)}"] if hidden else []
    notes += [] if wide else ["--wide for more columns"]
    table = Table(
        title=f"Last {len(rows)} {kind} runs ({settings.tracking.uri})",
        caption="; ".join([*notes, "--json for everything"]),
    )
    for header, key in columns:
        table.add_column(
            header, justify="left" if key in TEXT_CELLS else "right", no_wrap=True,
            overflow="ellipsis", min_width=widths[key], max_width=widths[key],
        )  # fmt: skip
    for i in range(len(rows)):
        table.add_row(*(cells[key][i] for _, key in columns))
    console.print(table)


# Short headers; the numbers' units in them.
RUN_VIEW = {
    "training": [("run", "run_id"), ("started", "started"), ("v", "model_version"),
                 ("decision", "promotion"), ("AUC", "auc"), ("PR AUC", "pr_auc"),
                 ("net $", "net_benefit"), ("ROI %", "roi_pct")],
    "scoring": [("run", "run_id"), ("started", "started"), ("campaign", "campaign_id"),
                ("v", "model_version"), ("scored", "n_scored"), ("flagged", "n_flagged"),
                ("exp. ROI %", "expected_roi_pct"), ("realized ROI % (95 % CI)", "realized")],
}  # fmt: skip
RUN_VIEW_WIDE = {
    "training": [("status", "status"), ("data", "dataset_digest"), ("Brier", "brier"),
                 ("flagged", "n_flagged"), ("EMPC $", "empc")],
    "scoring": [("status", "status"), ("data", "dataset_digest"), ("PSI max", "psi_max"),
                ("full-cost ROI %", "realized_full_cost_roi_pct")],
}  # fmt: skip
TEXT_CELLS = {"campaign_id", "promotion", "status", "dataset_digest"}
# Left out first when the terminal is narrow (the rest last, in their order).
DROP_ORDER = {"started": 0, "run_id": 1, "status": 2, "dataset_digest": 3, "pr_auc": 4,
              "n_scored": 5, "brier": 6, "empc": 7, "psi_max": 8}  # fmt: skip


def _cell(key: str, row: dict[str, Any]) -> str:
    from churn.report import percent

    if key == "realized":
        value = row.get("realized_roi_pct")
        if value is None:
            return ""
        low, high = row.get("realized_roi_pct_low"), row.get("realized_roi_pct_high")
        shown = percent(value).removesuffix(" %")
        if low is None or high is None:
            return shown
        return f"{shown} ({low:,.0f} to {high:,.0f})"
    value = row.get(key)
    if value is None:
        return ""
    if key == "run_id":
        return str(value)[:8]
    if key == "started":
        return str(value)[5:]  # month-day hour:minute: the year is rarely in doubt
    if isinstance(value, float):
        if key in ("auc", "pr_auc", "brier", "psi_max"):
            return f"{value:.4f}"
        return f"{value:,.0f}"
    return str(value)


@app.command("campaigns")
def campaigns(
    last: Annotated[int, typer.Option(min=1, help="How many campaigns, newest first.")] = 20,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """The campaigns in the ledger: status, contacts, skips, expected and realized dollars."""
    settings = _settings(config)
    from churn.ledger import Ledger, campaigns_as_json
    from churn.urls import masked

    with Ledger.open(settings.ledger.url, must_exist=True) as ledger:
        records = ledger.campaigns()[-last:][::-1]
    if as_json:
        typer.echo(campaigns_as_json(records))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"Last {len(records)} campaigns (ledger {masked(settings.ledger.url)})",
        caption="skipped: cooldown/holdout/suppressed/budget; intervals at 95 %",
    )
    compared = any(c.uplift_policy_profit is not None for c in records)
    columns = ["campaign", "scored", "status", "model", "contacted", "held out", "skipped",
               "expected net", "realized net", "realized ROI"]  # fmt: skip
    if compared:
        columns += ["risk targeting", "uplift targeting"]
        table.caption = f"{table.caption}; risk vs uplift: each policy on the campaign's experiment"
    for column in columns:
        table.add_column(column, no_wrap=column in ("skipped", "scored"))
    for c in records:
        skipped = "/".join(
            str(c.n_skipped(r)) for r in ("cooldown", "holdout", "suppressed", "budget")
        )
        realized = roi_text = ""
        if c.realized_net_benefit is not None:
            realized = (
                f"${c.realized_net_benefit:,.0f} (${c.realized_net_benefit_low or 0:,.0f} to "
                f"${c.realized_net_benefit_high or 0:,.0f})"
            )
        if c.realized_roi_pct is not None:
            roi_text = (
                f"{c.realized_roi_pct:,.0f} % ({c.realized_roi_pct_low or 0:,.0f} to "
                f"{c.realized_roi_pct_high or 0:,.0f} %)"
            )
        cells = [
            c.campaign_id, f"{c.scored_at:%Y-%m-%d}", c.status(), f"v{c.model_version}",
            f"{c.n_treated:,}", f"{c.n_control:,}", skipped,
            f"${c.expected_net_benefit:,.0f}", realized, roi_text,
        ]  # fmt: skip
        if compared:
            cells += [_money(c.risk_policy_profit), _money(c.uplift_policy_profit)]
        table.add_row(*cells)
    Console().print(table)


def _money(amount: float | None) -> str:
    if amount is None:
        return ""
    return f"{'-' if amount < 0 else ''}${abs(amount):,.0f}"


@app.command("promote")
def promote(
    version: Annotated[str, typer.Argument(help="The model version to make champion.")],
    reason: Annotated[str, typer.Option(help="Why, for the log.")] = "promoted by hand",
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Make a model version the champion (logged in the registry experiment)."""
    settings = _settings(config)
    from flows import registry, runs

    client = runs.client_for(settings.tracking)
    name = settings.model.registered_name
    previous = registry.promote(
        client, settings.tracking, name=name, version=version, reason=reason
    )
    _emit({"model": name, "champion": version, "replaced": previous}, as_json, "Promoted")


@app.command("rollback")
def rollback(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Restore the champion that the current one replaced (logged)."""
    settings = _settings(config)
    from flows import registry, runs

    client = runs.client_for(settings.tracking)
    name = settings.model.registered_name
    current, previous = registry.rollback(client, settings.tracking, name=name)
    _emit({"model": name, "champion": previous, "rolled_back": current}, as_json, "Rolled back")


@app.command("serve")
def serve(config: ConfigOption = None) -> None:
    """Serve the training and scoring flows on their cron schedules (needs a Prefect server).

    The deployments hold the config's path: each run reads the file when it starts.
    """
    if config is None and DEFAULT_CONFIG.is_file():
        config = DEFAULT_CONFIG
    settings = _settings(config)  # a bad config fails here, not at the first run
    _options["verbose"] = True  # a server's console is its operators' log
    _flows_ready()
    from flows.serve import serve_deployments

    # A server stops on Ctrl-C the way Prefect's does: letting its runs finish or fail.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    serve_deployments(settings, config)


@app.command("ui")
def ui(
    config: ConfigOption = None,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 5000,
) -> None:
    """Open the MLflow UI on the configured tracking store, bound to 127.0.0.1."""
    settings = _settings(config)
    mlflow_bin = shutil.which("mlflow") or str(Path(sys.executable).with_name("mlflow"))
    settings.tracking.artifact_dir.mkdir(parents=True, exist_ok=True)
    command = [
        mlflow_bin, "ui",
        "--backend-store-uri", settings.tracking.uri,
        "--default-artifact-root", settings.tracking.artifact_dir.resolve().as_uri(),
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    typer.echo(f"MLflow UI on http://127.0.0.1:{port} (store {settings.tracking.uri})")
    raise typer.Exit(subprocess.call(command, env=os.environ.copy()))


INTERRUPTED = (
    "interrupted: stopped at once. Nothing half-written is kept (files are replaced whole, "
    "the ledger's transaction is rolled back); an MLflow run left open is marked FAILED by "
    "the next command.\n"
)


# Set by Ctrl-C: whatever the unwinding then raises (Prefect can fail recording a task
# run it had not finished creating) is the interruption, not a bug to show.
_interrupted = threading.Event()


class Interrupted(BaseException):
    """Ctrl-C, raised where the command was (not KeyboardInterrupt, which click turns
    into "Aborted!" and exit 1)."""


def _stop_at_once(signum: int, frame: object) -> None:
    # With Prefect's temporary backend, unwinding would ask its server, which the same
    # Ctrl-C has stopped, to record the crash: minutes of retries. Every write is atomic
    # or transactional, and the next command marks the open run FAILED, so nothing is
    # lost by leaving now. A real Prefect server is told (Prefect records the flow run as
    # crashed while unwinding); a second Ctrl-C leaves at once there too.
    if os.environ.get("PREFECT_API_URL") and signal.getsignal(signal.SIGINT) is _stop_at_once:
        signal.signal(signal.SIGINT, _stop_now)
        _interrupted.set()
        # Prefect reports the crash to its server; its log lines (with tracebacks) would
        # bury the one line that says what happened.
        logging.disable(logging.CRITICAL)
        # Unwinding waits on the server and on whatever the flow was doing: give it 3 s.
        watchdog = threading.Timer(3.0, _stop_now, args=(signum, None))
        watchdog.daemon = True  # a command that ends first is not kept waiting
        watchdog.start()
        raise Interrupted
    _stop_now(signum, frame)


def _stop_now(signum: int, frame: object) -> None:
    os.write(2, INTERRUPTED.encode())
    os._exit(128 + signum)


def main() -> None:
    """Entry point: user errors print one paragraph and exit non-zero, without a traceback;
    Ctrl-C stops at once with one line (exit 130)."""
    signal.signal(signal.SIGINT, _stop_at_once)
    try:
        app()
    except Interrupted:
        sys.stderr.write(INTERRUPTED)
        sys.exit(130)
    except Exception as exc:
        if _interrupted.is_set():
            sys.stderr.write(INTERRUPTED)
            sys.exit(130)
        if not isinstance(exc, ChurnError):
            raise
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
