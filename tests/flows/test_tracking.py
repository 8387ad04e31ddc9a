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
