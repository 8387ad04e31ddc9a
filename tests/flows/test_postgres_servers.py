"""The MLflow tracking server and the Prefect server on PostgreSQL, as a team runs them.

Each test starts the real server process on a free loopback port against a fresh
database (``tests.pg.fresh_database``, dropped after), talks to it as a client
would, and then reads that database directly: the rows must be in PostgreSQL,
not in a SQLite file a default left behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from sqlalchemy import create_engine, text

from tests.pg import fresh_database

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

# Both servers run their migrations on first start: 15-30 s on a 2-core machine, 55 s
# seen with the other xdist worker busy.
PREFECT_STARTUP_SECONDS = 120
MLFLOW_STARTUP_SECONDS = 120


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bin(name: str) -> str:
    """A console script of this virtualenv (PATH may point at another one)."""
    return str(Path(sys.executable).with_name(name))


def _wait_healthy(url: str, server: subprocess.Popen[bytes], log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"{url} exited with {server.returncode}:\n{log.read_text()}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
            if response.status == 200:
                return
        time.sleep(0.5)
    pytest.fail(f"{url} did not answer within {seconds:.0f} s:\n{log.read_text()}")


def _stop(server: subprocess.Popen[bytes]) -> None:
    """Stop the server and every process it started: they share its process group
    (``mlflow server`` runs uvicorn as a child)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)


def _rows(db_url: str, sql: str, **params: object) -> list[tuple[object, ...]]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


@dataclass(frozen=True)
class Server:
    """A running server: where clients reach it, its database, the folder it works in."""

    url: str
    database_url: str
    workdir: Path


@pytest.fixture
def mlflow_on_postgres(tmp_path: Path) -> Iterator[Server]:
    """``mlflow server`` on a fresh database, its artifacts under ``tmp_path / "artifacts"``."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    workdir = tmp_path / "mlflow-server"
    workdir.mkdir()
    log_path = tmp_path / "mlflow-server.log"
    with fresh_database("churn_mlflow_test") as db_url, log_path.open("w") as log:
        # MLflow's job runner (eight processes, 1.1 GB) serves GenAI jobs this project does
        # not use; on two cores it doubles the server's start-up and slows every request.
        process = subprocess.Popen(
            [_bin("mlflow"), "server",
             "--backend-store-uri", db_url,
             "--artifacts-destination", str(tmp_path / "artifacts"),
             "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
            cwd=workdir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            _wait_healthy(f"{url}/health", process, log_path, MLFLOW_STARTUP_SECONDS)
            yield Server(url, db_url, workdir)
        finally:
            _stop(process)


@pytest.fixture
def prefect_on_postgres(tmp_path: Path) -> Iterator[Server]:
    """``prefect server start`` on a fresh database; ``url`` is its API URL and
    ``workdir`` its PREFECT_HOME."""
    port = _free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    home = tmp_path / "prefect-home"
    log_path = tmp_path / "prefect-server.log"
    with fresh_database("churn_prefect_test") as db_url, log_path.open("w") as log:
        # The server speaks asyncpg: the same database through another driver.
        async_url = db_url.replace("postgresql+psycopg://", "postgresql+asyncpg://", 1)
        process = subprocess.Popen(
            [_bin("prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env={**_prefect_env(home), "PREFECT_API_DATABASE_CONNECTION_URL": async_url},
            cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            _wait_healthy(f"{api_url}/health", process, log_path, PREFECT_STARTUP_SECONDS)
            yield Server(api_url, db_url, home)
        finally:
            _stop(process)


def _prefect_env(home: Path) -> dict[str, str]:
    """The environment of a Prefect process that keeps its files under ``home``."""
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    env.pop("PREFECT_API_URL", None)
    return env


def test_mlflow_server_keeps_runs_and_registry_in_postgres(
    mlflow_on_postgres: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, db_url = mlflow_on_postgres.url, mlflow_on_postgres.database_url
    # MLflow's first tracked call starts a telemetry thread that, with no internet, pops
    # _MLFLOW_TELEMETRY_SESSION_ID from os.environ while requests copies it (a KeyError in
    # runs/create, one run in three); disabling telemetry is read on every call.
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    # A server that stops answering fails the test in seconds, not after minutes of backoff.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
    client = MlflowClient(tracking_uri=url, registry_uri=url)

    experiment_id = client.create_experiment("pg-smoke")
    run_id = client.create_run(experiment_id).info.run_id
    client.log_metric(run_id, "auc", 0.83)
    note = tmp_path / "note.txt"
    note.write_text("kept by the server\n")
    client.log_artifact(run_id, str(note))
    client.set_terminated(run_id)
    client.create_registered_model("pg-smoke-model")
    version = client.create_model_version(
        "pg-smoke-model", source=f"runs:/{run_id}/note.txt", run_id=run_id
    )
    client.set_registered_model_alias("pg-smoke-model", "champion", version.version)

    assert _rows(
        db_url, "SELECT name FROM experiments WHERE experiment_id = :id", id=int(experiment_id)
    ) == [("pg-smoke",)]
    [(status, artifact_uri)] = _rows(
        db_url, "SELECT status, artifact_uri FROM runs WHERE run_uuid = :id", id=run_id
    )
    assert status == "FINISHED"
    assert str(artifact_uri).startswith("mlflow-artifacts:")
    assert _rows(db_url, "SELECT key, value FROM metrics WHERE run_uuid = :id", id=run_id) == [
        ("auc", 0.83)
    ]
    assert _rows(
        db_url,
        "SELECT m.name, a.alias, a.version FROM registered_models m "
        "JOIN registered_model_aliases a ON a.name = m.name",
    ) == [("pg-smoke-model", "champion", 1)]
    # The artifact went through the server to its store; nothing fell back to a local file.
    [stored] = (tmp_path / "artifacts").rglob("note.txt")
    assert stored.read_text() == "kept by the server\n"
    assert not any(mlflow_on_postgres.workdir.iterdir())


FLOW_SCRIPT = """
from prefect import flow

@flow(name="pg-smoke")
def pg_smoke() -> int:
    return 42

assert pg_smoke() == 42
"""


def test_prefect_server_keeps_flow_runs_in_postgres(
    prefect_on_postgres: Server, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", FLOW_SCRIPT],
        env={
            **_prefect_env(prefect_on_postgres.workdir),
            "PREFECT_API_URL": prefect_on_postgres.url,
        },
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr

    assert _rows(
        prefect_on_postgres.database_url,
        "SELECT r.state_type::text, r.state_name FROM flow_run r "
        "JOIN flow f ON f.id = r.flow_id WHERE f.name = :name",
        name="pg-smoke",
    ) == [("COMPLETED", "Completed")]
    # No SQLite database was made on the side (Prefect's default is PREFECT_HOME/prefect.db).
    assert not any(prefect_on_postgres.workdir.rglob("*.db"))
