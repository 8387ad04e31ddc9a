"""Process-wide set-up done once by entry points (never at import)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from typing import Any

from churn.errors import ChurnError
from churn.settings import Settings
from flows import server_watchdog

# Prefect's temporary local server takes 10-25 s to start on a 2-core machine and
# times out at its default 20 s about one first run in three; with no internet its
# telemetry fails and has locked the SQLite database.
PREFECT_DEFAULTS = {
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    # Without it the temporary server prints a telemetry banner on a terminal.
    "DO_NOT_TRACK": "1",
}


# MLflow retries an HTTP tracking server 7 times with a back-off doubling from 2 s:
# about 4 minutes per call when the server is gone (times any task retry). A user
# waiting on a command wants the "does not answer" message in seconds; a server
# restarting under a scheduled run is covered by these 2 retries (about 3 s).
MLFLOW_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}


class _NoTracebackForUserErrors(logging.Filter):
    """Drop the traceback Prefect logs for a user error: its message says it all."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], ChurnError):
            from flows.terminal import remember_user_error

            # The command prints it once; the terminal drops Prefect's copies.
            remember_user_error(str(record.exc_info[1]))
            record.churn_user_error = True
            record.exc_info = None
            record.exc_text = None
        return True


class _NoCompletedNoise(logging.Filter):
    """Drop "Finished in state Completed()" of each task: every step logs what it found
    or decided instead (failures and the flow's own end are kept)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "Finished in state Completed()"


def configure_runtime() -> None:
    """Environment defaults for Prefect and MLflow (a user's own values kept), and quiet
    logging of user errors."""
    for key, value in {**PREFECT_DEFAULTS, **MLFLOW_DEFAULTS}.items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("MPLBACKEND", "Agg")
    error_filter = _NoTracebackForUserErrors()
    for name in ("prefect.flow_runs", "prefect.task_runs", "prefect.engine"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _NoTracebackForUserErrors) for f in logger.filters):
            logger.addFilter(error_filter)
    tasks = logging.getLogger("prefect.task_runs")
    if not any(isinstance(f, _NoCompletedNoise) for f in tasks.filters):
        tasks.addFilter(_NoCompletedNoise())
    if prefect_api_url() is None:
        watch_temporary_server()


# Held so that a watchdog still running is not reported as leaked (it ends with its
# server, at this process's exit at the latest).
_watchdogs: list[subprocess.Popen[bytes]] = []


def watch_temporary_server() -> None:
    """Have Prefect's temporary server stopped when this process dies, even by SIGKILL.

    Prefect stops the server in an exit handler, which a killed process never runs.
    Next to each server Prefect starts, a watchdog process (flows/server_watchdog.py)
    stops it once this process is gone. A watchdog rather than PR_SET_PDEATHSIG:
    Prefect's ``Popen`` takes no pre-exec hook, and that signal fires when the *thread*
    that started the server ends, not the process.
    """
    # Prefect imports it anyway to start the temporary server: no time is added.
    from prefect.server.api.server import SubprocessASGIServer

    start_server = SubprocessASGIServer._run_uvicorn_command
    if getattr(start_server, "watched", False):
        return

    def start_watched_server(self: SubprocessASGIServer) -> subprocess.Popen[Any]:
        process = start_server(self)
        watchdog = [sys.executable, "-I", "-S", server_watchdog.__file__]
        _watchdogs.append(
            subprocess.Popen(
                [*watchdog, str(os.getpid()), str(process.pid)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        return process

    start_watched_server.watched = True  # type: ignore[attr-defined]
    SubprocessASGIServer._run_uvicorn_command = start_watched_server  # type: ignore[method-assign]


def prefect_api_url() -> str | None:
    """The Prefect server this process talks to; None means the temporary local backend."""
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    return str(url) if url else None


def artifact_key(settings: Settings, kind: str) -> str:
    """A Prefect artifact key of this model's (Prefect keys: lowercase letters, digits,
    dashes), so that two configs' summaries do not overwrite each other.

    Examples:
        >>> from churn.settings import ModelSettings
        >>> artifact_key(Settings(model=ModelSettings(registered_name="Telco_Churn")), "x")
        'telco-churn-x'
    """
    import re

    name = re.sub(r"[^a-z0-9-]+", "-", settings.model.registered_name.lower()).strip("-")
    return f"{name or 'churn'}-{kind}"
