"""The MLflow door leaves the process environment alone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from churn.settings import TrackingSettings, load_settings
from flows.runs import client_for


def test_two_configs_in_one_process_keep_their_own_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    first = f"sqlite:///{tmp_path / 'a.db'}"
    client_for(TrackingSettings(uri=first))
    assert "MLFLOW_TRACKING_URI" not in os.environ
    other = tmp_path / "other.yaml"
    other.write_text(f"tracking:\n  uri: sqlite:///{tmp_path / 'b.db'}\n")
    assert load_settings(other).tracking.uri == f"sqlite:///{tmp_path / 'b.db'}"


def test_a_user_override_in_the_environment_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///user.db")
    client_for(TrackingSettings(uri=f"sqlite:///{tmp_path / 'a.db'}"))
    assert os.environ["MLFLOW_TRACKING_URI"] == "sqlite:///user.db"


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_tracking_server_that_does_not_answer_is_said_in_seconds() -> None:
    import time

    from churn.errors import NotReadyError
    from flows.runs import check_store

    uri = f"http://me:s3cret@127.0.0.1:{_closed_port()}"
    start = time.perf_counter()
    with pytest.raises(NotReadyError, match=r"tracking server at .* does not answer") as raised:
        check_store(TrackingSettings(uri=uri))
    assert time.perf_counter() - start < 10
    assert "s3cret" not in str(raised.value) and "me:***@127.0.0.1" in str(raised.value)


KILLED_WHILE_RUNNING = """
import os, sys
from churn.settings import TrackingSettings
from flows.runs import client_for, open_run
tracking = TrackingSettings(uri=sys.argv[1], artifact_dir=sys.argv[2])
with open_run(client_for(tracking), tracking, experiment="e", run_type="training") as run_id:
    print(run_id, flush=True)
    os._exit(9)  # as SIGKILL: no except, no finally
"""


@pytest.mark.slow  # two commands in processes of their own
def test_a_run_left_running_by_a_killed_process_is_failed_by_the_next_command(
    tmp_path: Path,
) -> None:
    import subprocess
    import sys

    from flows.runs import check_store, open_run

    tracking = TrackingSettings(uri=f"sqlite:///{tmp_path / 'm.db'}", artifact_dir=tmp_path / "a")
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_WHILE_RUNNING, tracking.uri, str(tracking.artifact_dir)],
        capture_output=True, text=True, check=False, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert killed.returncode == 9, killed.stderr[-2000:]
    dead_run = killed.stdout.split()[-1]
    client = client_for(tracking)
    assert client.get_run(dead_run).info.status == "RUNNING"
    with open_run(client, tracking, experiment="e", run_type="scoring") as live_run:
        check_store(tracking)  # what every command does first
        assert client.get_run(live_run).info.status == "RUNNING"  # its process is this one
    dead = client.get_run(dead_run)
    assert dead.info.status == "FAILED"
    assert "ended while the run was open" in dead.data.tags["failed.reason"]
    assert client.get_run(live_run).info.status == "FINISHED"
