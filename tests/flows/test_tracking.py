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
