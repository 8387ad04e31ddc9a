"""Process-wide set-up done once by entry points (never at import)."""

from __future__ import annotations

import logging
import os

from churn.errors import ChurnError
from churn.settings import Settings

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
