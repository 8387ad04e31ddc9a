"""Ctrl-C in a terminal: the command stops at once, says so in one line, and the run it
left open is marked FAILED by the next command. A killed command leaves no temporary
Prefect server behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import psutil
import pytest

from tests.flows.test_cli import CHURN, churn, synthetic_config

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("backend", ["temporary", "server"])
def test_ctrl_c_stops_training_at_once_and_the_open_run_is_failed(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    config = synthetic_config(tmp_path, customers=20000)
    # As a terminal runs it: its own process group, Prefect's temporary backend in it.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "MLFLOW_"))}
    if backend == "server":  # Prefect is told the flow run crashed; the run ends FAILED
        env["PREFECT_API_URL"] = request.getfixturevalue("prefect_backend")
    command = subprocess.Popen(
        [CHURN, "--verbose", "retrain", "--config", str(config)], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    lines: list[str] = []
    opened = threading.Event()

    def read() -> None:
        assert command.stdout is not None
        for line in command.stdout:
            lines.append(line)
            if "split_data" in line:  # the training run is open by then
                opened.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert opened.wait(240), "".join(lines)[-3000:]
    os.killpg(command.pid, signal.SIGINT)  # what Ctrl-C sends
    pressed = time.monotonic()
    returncode = command.wait(timeout=60)
    stopped_after = time.monotonic() - pressed
    reader.join(10)
    output = "".join(lines)
    assert returncode == 130, output[-3000:]
    # 5 s on a quiet machine; here another test process runs beside it.
    assert stopped_after < 10, (stopped_after, output[-3000:])
    assert output.count("interrupted: stopped at once") == 1
    assert "Traceback" not in output
    # The temporary Prefect server went with it.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.killpg(command.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.5)
    else:
        pytest.fail("processes of the interrupted command are still running")

    listed = churn("runs", "--config", str(config), "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    (run,) = json.loads(listed.stdout)
    assert run["status"] == "FAILED"


def test_temporary_server_stops_when_the_command_is_killed(tmp_path: Path) -> None:
    config = synthetic_config(tmp_path, customers=20000)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "MLFLOW_"))}
    command = subprocess.Popen(
        [CHURN, "--verbose", "retrain", "--config", str(config)], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    lines: list[str] = []
    running = threading.Event()

    def read() -> None:
        assert command.stdout is not None
        for line in command.stdout:
            lines.append(line)
            if "split_data" in line:  # the temporary server is up and the flow is running
                running.set()

    threading.Thread(target=read, daemon=True).start()
    started: list[psutil.Process] = []
    try:
        assert running.wait(240), "".join(lines)[-3000:]
        started = psutil.Process(command.pid).children(recursive=True)
        assert any("prefect.server.api.server:create_app" in p.cmdline() for p in started)
        assert command.poll() is None, "".join(lines)[-3000:]
        command.kill()  # SIGKILL: no handler, no atexit
        command.wait(timeout=10)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and _still_running(started):
            time.sleep(0.5)
        assert not _still_running(started), [p.cmdline() for p in _still_running(started)]
    finally:
        for process in _still_running(started):  # never leave a server listening
            process.kill()


def _still_running(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those not gone (a zombie has exited: it only waits for its new parent to reap it)."""
    left = []
    for process in processes:
        try:
            if process.status() != psutil.STATUS_ZOMBIE:
                left.append(process)
        except psutil.NoSuchProcess:
            pass
    return left
