"""A tracking server that goes away in the middle of a run: the command ends soon, and
once the server is back the run it left open is FAILED, not RUNNING forever."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from tests.mlflow_server import free_port, start_server, stop

pytestmark = pytest.mark.slow
CHURN = str(Path(sys.executable).with_name("churn"))


def test_a_server_stopped_mid_run_ends_the_command_and_its_run_is_failed_once_back(
    prefect_backend: str, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "data": {"training_path": str(tmp_path / "customers.parquet"),
                 "scoring_path": str(tmp_path / "current.parquet"),
                 "truth_path": str(tmp_path / "truth.parquet"), "customers": 20_000},
        # The run opens before the trees are compiled and cross-validated: seconds in which
        # to stop the server while it is open.
        "model": {"cv_folds": 3, "compile": True},
        "campaign": {"output_dir": str(tmp_path / "outputs")},
        "tracking": {"uri": url, "artifact_dir": str(tmp_path / "unused")},
        "ledger": {"url": f"sqlite:///{tmp_path / 'ledger.db'}"},
    }))  # fmt: skip
    env = {**os.environ, "PREFECT_API_URL": prefect_backend, "NO_COLOR": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    server = start_server(tmp_path, port)
    client = MlflowClient(tracking_uri=url)
    command = subprocess.Popen(
        [CHURN, "retrain", "--config", str(config)], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        # Wait for the training run to be open, then take the server away.
        run = None
        for _ in range(240):
            experiment = client.get_experiment_by_name("churn-training")
            if experiment is not None:
                found = client.search_runs([experiment.experiment_id])
                if found:
                    run = found[0]
                    break
            assert command.poll() is None, command.communicate()
            time.sleep(0.25)
        assert run is not None and run.info.status == "RUNNING"
        stop(server)
        stopped = time.monotonic()
        _, stderr = command.communicate(timeout=90)
        took = time.monotonic() - stopped
    finally:
        if command.poll() is None:
            command.kill()
        if server.poll() is None:
            stop(server)
    assert took < 60, stderr
    assert command.returncode != 0
    assert "Traceback" not in stderr, stderr
    assert f"127.0.0.1:{port}" in stderr and "does not answer" in stderr, stderr

    # The server comes back: the next command marks the abandoned run FAILED.
    server = start_server(tmp_path, port)
    try:
        listed = subprocess.run(
            [CHURN, "runs", "--config", str(config)], cwd=tmp_path, env=env,
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert listed.returncode == 0, listed.stderr
        after = client.get_run(run.info.run_id)
        assert after.info.status == "FAILED"
    finally:
        stop(server)
    print(f"command ended {took:.1f} s after the server stopped")
