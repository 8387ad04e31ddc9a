"""The fault-injection test's engine: a process that imports the pipeline once, then runs
``churn`` commands as forked children (a command starts in milliseconds, not seconds).

A child can be told to SIGKILL itself just after its n-th *checkpoint*: a file or
folder moved into place (``os.replace``, ``os.rename``), a database transaction
committed (the ledger's and the SQLite MLflow store's), or a call of the MLflow
client returned. SIGKILL runs no handler, no ``finally`` and no exit hook: what the
command leaves is what a crash, an OOM kill or a power cut would leave.

Protocol: one JSON request per line on stdin, ``{"args": [...], "cwd": ...,
"log": ..., "kill_at": n or null}``; one JSON answer per line on stdout,
``{"status": exit code (-9 when killed), "checkpoints": the names of those passed}``.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn


def install_checkpoints(kill_at: int | None, record: Path) -> None:
    """Count checkpoints in this process (their names, a line each, in ``record``);
    SIGKILL it just after the ``kill_at``-th."""
    import pyarrow.parquet
    import sqlalchemy.engine
    from mlflow.tracking import MlflowClient

    lock = threading.Lock()
    passed = 0

    def checkpoint(name: str) -> None:
        nonlocal passed
        with lock:
            passed += 1
            with record.open("a") as names:
                names.write(name + "\n")
            if passed == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

    def after(function: Callable[..., Any], name: str) -> Callable[..., Any]:
        @functools.wraps(function)
        def counted(*args: Any, **kwargs: Any) -> Any:
            result = function(*args, **kwargs)
            checkpoint(name)
            return result

        return counted

    os.replace = after(os.replace, "os.replace")
    os.rename = after(os.rename, "os.rename")
    # A part of a table written (a temporary file half done, if killed here).
    writer = pyarrow.parquet.ParquetWriter
    writer.write_table = after(writer.write_table, "ParquetWriter.write_table")
    transaction = sqlalchemy.engine.Transaction
    transaction.commit = after(transaction.commit, "database commit")
    for name, member in list(vars(MlflowClient).items()):
        if callable(member) and not name.startswith("_"):
            setattr(MlflowClient, name, after(member, f"MlflowClient.{name}"))


def run_command(request: dict[str, Any]) -> NoReturn:
    """In the forked child: the command, its output to the log file; then it exits."""
    code = 1
    try:
        os.chdir(request["cwd"])
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(log, 1)
        os.dup2(log, 2)
        install_checkpoints(request["kill_at"], Path(request["log"] + ".checkpoints"))
        sys.argv = ["churn", *request["args"]]
        from flows.cli import main

        try:
            main()
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
    except BaseException:
        traceback.print_exc()
    # The interpreter's own exit, as a command's: threads joined, exit hooks run (loky
    # stops its worker, the scratch folder is removed), never back into the loop.
    raise SystemExit(code)


def serve() -> None:
    from flows.runtime import configure_runtime

    configure_runtime()  # Prefect's settings are read at its import: set them first
    # What the commands import, imported once here (no thread is started by an import).
    import lightgbm  # noqa: F401
    import matplotlib.pyplot  # noqa: F401
    import mlflow.pyfunc  # noqa: F401
    import sklearn.linear_model  # noqa: F401

    import flows.cli
    import flows.measure
    import flows.score
    import flows.train  # noqa: F401

    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        child = os.fork()
        if child == 0:
            run_command(request)
        _, status = os.waitpid(child, 0)
        record = Path(request["log"] + ".checkpoints")
        names = record.read_text().splitlines() if record.exists() else []
        answer = {"status": os.waitstatus_to_exitcode(status), "checkpoints": names}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    serve()
