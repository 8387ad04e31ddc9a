"""Process-wide set-up done once by entry points (never at import)."""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from churn.atomic import sweep_stale_temporaries, temporary_name
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


def user_cache_dir() -> Path:
    """This user's own folder for churn-roi's caches and scratch files
    (``$XDG_CACHE_HOME/churn-roi``, else ``~/.cache/churn-roi``), mode 0700: another user
    can neither read what is kept there nor plant anything in it."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "churn-roi"
    base.mkdir(parents=True, exist_ok=True)
    base.chmod(0o700)
    return base


# Prefect writes a failed flow run's exception to its result storage whatever the
# persistence setting (its flow engine passes write_result=True), and a user error's
# message quotes data values: kept in a private folder, for a week.
PREFECT_RESULTS_DAYS = 7


def private_prefect_results() -> Path:
    """Prefect's local result storage in this user's private folder (unless the user set
    ``PREFECT_LOCAL_STORAGE_PATH``), its files older than a week removed."""
    configured = os.environ.get("PREFECT_LOCAL_STORAGE_PATH")
    if configured:
        return Path(configured)
    folder = user_cache_dir() / "prefect-results"
    folder.mkdir(exist_ok=True)
    folder.chmod(0o700)
    cutoff = time.time() - PREFECT_RESULTS_DAYS * 86400
    for entry in folder.iterdir():
        try:
            if entry.is_file() and entry.stat().st_mtime < cutoff:
                entry.unlink()
        except OSError:
            pass  # another command removed it first
    os.environ["PREFECT_LOCAL_STORAGE_PATH"] = str(folder)
    return folder


_scratch: dict[int, Path] = {}


def _scratch_root() -> Path:
    return user_cache_dir() / "tmp"


def use_private_scratch() -> Path:
    """This process's temporary files (its own and its libraries': MLflow's downloads,
    model folders, plots) go to a folder of its own under the user's cache folder, named
    with its pid; the folders of processes that died (killed) are removed first, and this
    one at exit. Without it, each killed command left its temporaries in /tmp."""
    pid = os.getpid()
    if pid in _scratch:
        return _scratch[pid]
    root = _scratch_root()
    root.mkdir(mode=0o700, exist_ok=True)
    sweep_stale_temporaries(root)
    scratch = root / temporary_name("scratch")
    scratch.mkdir(mode=0o700)
    tempfile.tempdir = str(scratch)
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    _scratch[pid] = scratch
    return scratch


def remove_debris(settings: Settings) -> list[Path]:
    """Remove what commands that were killed left behind: the temporaries of their writes
    in the campaign folders and the compiled-tree cache, and their scratch folders (the
    runs they left open are failed by ``runs.check_store``); return them."""
    folders = [settings.campaign.output_dir, user_cache_dir() / "compiled", _scratch_root()]
    return [removed for folder in folders for removed in sweep_stale_temporaries(folder)]


def configure_runtime() -> None:
    """Environment defaults for Prefect and MLflow (a user's own values kept), Prefect's
    results kept privately, and quiet logging of user errors."""
    for key, value in {**PREFECT_DEFAULTS, **MLFLOW_DEFAULTS}.items():
        os.environ.setdefault(key, value)
    private_prefect_results()
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
