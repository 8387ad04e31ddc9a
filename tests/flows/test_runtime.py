"""What a command keeps on this machine besides its outputs: Prefect's record of a failed
run in a private folder, for a week; scratch files in a folder of its own, gone after."""

from __future__ import annotations

import base64
import os
import subprocess
import time
from pathlib import Path

import pytest

from flows import runtime
from tests.flows.test_cli import CHURN, write_bad_training_table, write_config


def test_prefect_results_are_kept_privately_for_a_week(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("PREFECT_LOCAL_STORAGE_PATH", raising=False)
    folder = tmp_path / "churn-roi" / "prefect-results"
    folder.mkdir(parents=True)
    old, recent = folder / "old-result", folder / "recent-result"
    old.write_text("a failed run's exception, eight days ago")
    recent.write_text("yesterday's")
    eight_days_ago = time.time() - 8 * 86400
    os.utime(old, (eight_days_ago, eight_days_ago))
    os.utime(recent, (time.time() - 86400,) * 2)

    assert runtime.private_prefect_results() == folder
    assert os.environ["PREFECT_LOCAL_STORAGE_PATH"] == str(folder)
    assert not old.exists() and recent.exists()
    assert (folder.stat().st_mode & 0o777, folder.parent.stat().st_mode & 0o777) == (0o700, 0o700)


def test_a_users_own_result_storage_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREFECT_LOCAL_STORAGE_PATH", str(tmp_path / "mine"))
    assert runtime.private_prefect_results() == tmp_path / "mine"
    assert os.environ["PREFECT_LOCAL_STORAGE_PATH"] == str(tmp_path / "mine")


@pytest.mark.slow  # a Prefect server and a command in a process of its own
def test_a_failed_command_leaves_its_record_private_and_no_scratch(
    prefect_backend: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path)
    write_bad_training_table(tmp_path / "customers.csv")
    cache = tmp_path / "cache"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_"))}
    env |= {"PREFECT_API_URL": prefect_backend, "XDG_CACHE_HOME": str(cache)}
    result = subprocess.run(
        [CHURN, "retrain", "--config", str(config)], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    # Prefect wrote the failed flow run's exception (it quotes the bad value) here, not
    # in the shared ~/.prefect/storage.
    results = cache / "churn-roi" / "prefect-results"
    assert results.stat().st_mode & 0o777 == 0o700
    kept = [base64.b64decode(p.read_bytes()) for p in results.iterdir()]  # a pickle, encoded
    assert any(b"sentiment_score" in content for content in kept), kept
    # The command's scratch folder went with it.
    assert list((cache / "churn-roi" / "tmp").iterdir()) == []
