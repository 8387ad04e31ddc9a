"""With the tracking server stopped, each command says so in seconds and exits 2."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from tests.flows.test_cli import churn, synthetic_config

pytestmark = pytest.mark.slow


def _stopped_server() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize(
    "command", [["score", "--campaign-id", "c1"], ["retrain"], ["runs"]], ids=" ".join
)
def test_each_command_says_the_server_does_not_answer(
    prefect_backend: str, tmp_path: Path, command: list[str]
) -> None:
    config = synthetic_config(tmp_path, customers=2000, tracking_uri=_stopped_server())
    start = time.perf_counter()
    result = churn(*command, "--config", str(config), cwd=tmp_path, api_url=prefect_backend)
    elapsed = time.perf_counter() - start
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert "does not answer" in result.stderr, result.stderr[-2000:]
    assert "No 'champion'" not in result.stderr
    assert result.stderr.count("error: ") == 1
    assert elapsed < 30, elapsed
    assert not (tmp_path / "outputs" / "c1").exists()
