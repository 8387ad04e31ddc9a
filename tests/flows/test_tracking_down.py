"""With the tracking server stopped, each command says so in seconds and exits 2."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
import yaml

from tests.flows.test_cli import churn

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
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "data": {"training_path": str(tmp_path / "customers.parquet"),
                 "scoring_path": str(tmp_path / "current.parquet"),
                 "truth_path": str(tmp_path / "truth.parquet"), "customers": 2000},
        "model": {"cv_folds": 0},
        "campaign": {"output_dir": str(tmp_path / "outputs")},
        "tracking": {"uri": _stopped_server(), "artifact_dir": str(tmp_path / "art")},
        "ledger": {"url": f"sqlite:///{tmp_path / 'ledger.db'}"},
    }))  # fmt: skip
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
