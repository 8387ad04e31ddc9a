"""Deployments hold a config path, read when each run starts; no password is stored in
Prefect, by a deployment or by a flow run of the settings."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import yaml

from churn.errors import ConfigError
from churn.settings import Settings, load_settings
from flows import serve
from flows.retrain import SCORE_DEPLOYMENT, TRAIN_DEPLOYMENT, trigger_retrain
from tests.conftest import make_settings

# Deployments live on a Prefect server (the session's temporary one): flow tests.
pytestmark = pytest.mark.slow
SERVER_URI = "http://churn:secret@127.0.0.1:9"
LEDGER_URL = "postgresql+psycopg://churn:secret@127.0.0.1:9/ledger"


def write_config(path: Path, *, threshold: float) -> Path:
    raw = {
        "campaign": {"threshold": threshold},
        "tracking": {"uri": "http://config:secret@127.0.0.1:8"},
        "ledger": {"url": LEDGER_URL},
    }
    path.write_text(yaml.safe_dump(raw))
    return path


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def applied(
    prefect_backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    """Both deployments registered with the test server from ``churn.yaml`` (named
    relative to the current folder), with a password in the config and the environment;
    removed afterwards (the server is the session's)."""
    from prefect.client.orchestration import get_client

    monkeypatch.setenv("MLFLOW_TRACKING_URI", SERVER_URI)
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path / "churn.yaml", threshold=0.6)
    deployments = serve.build_deployments(load_settings(config), Path("churn.yaml"))
    ids = [deployment.apply() for deployment in deployments]
    try:
        with get_client(sync_client=True) as client:
            yield {d.name: d for d in (client.read_deployment(i) for i in ids)}
    finally:
        with get_client(sync_client=True) as client:
            for deployment_id in ids:
                client.delete_deployment(deployment_id)


def test_deployments_store_the_config_path_and_no_password(
    applied: dict[str, Any], tmp_path: Path
) -> None:
    assert set(applied) == {TRAIN_DEPLOYMENT, SCORE_DEPLOYMENT}
    for deployment in applied.values():
        # Absolute: a worker's working directory may differ from serve's.
        assert deployment.parameters == {"config": str(tmp_path / "churn.yaml")}
        assert "settings" not in deployment.parameter_openapi_schema["properties"]
        stored = json.dumps(deployment.model_dump(mode="json"))
        assert "secret" not in stored


def test_a_drift_retrain_passes_only_the_reason(
    applied: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.client.orchestration import get_client

    from flows import retrain

    tags: dict[str, str] = {}
    monkeypatch.setattr(retrain.runs, "set_tags", lambda client, run_id, t: tags.update(t))
    settings = make_settings(tmp_path)
    settings = settings.model_copy(
        update={"drift": settings.drift.model_copy(update={"retrain_via": "deployment"})}
    )
    how = trigger_retrain(settings, "run-1", "PSI above 0.2 for tenure (0.31)")
    assert how.startswith(f"deployment churn-train/{TRAIN_DEPLOYMENT}, flow run ")
    assert tags["drift.retrain"].endswith(how)
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(UUID(how.rpartition(" ")[2]))
        try:
            assert run.parameters == {
                "config": str(tmp_path / "churn.yaml"),
                "reason": "drift.retrain: PSI above 0.2 for tenure (0.31)",
            }
            assert "secret" not in run.model_dump_json()
        finally:
            client.delete_flow_run(run.id)


def test_a_deployment_run_reads_the_config_when_it_starts(
    applied: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.flow_engine import run_flow

    # The training itself has tests of its own: here, the settings it is given.
    seen: list[Settings] = []
    monkeypatch.setattr(serve.train_flow, "fn", seen.append)

    def run_as_a_worker_would() -> None:
        run: Any = run_deployment(f"churn-train/{TRAIN_DEPLOYMENT}", timeout=0)
        try:
            run_flow(serve.train_from_config, flow_run=run, parameters=run.parameters)
        finally:
            with get_client(sync_client=True) as client:
                client.delete_flow_run(run.id)

    run_as_a_worker_would()
    write_config(tmp_path / "churn.yaml", threshold=0.65)  # no re-serve
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///elsewhere.db")
    run_as_a_worker_would()
    assert [s.campaign.threshold for s in seen] == [0.6, 0.65]
    # Secrets come from the environment of the process that runs the flow, at run time.
    assert [s.tracking.uri for s in seen] == [SERVER_URI, "sqlite:///elsewhere.db"]


def test_a_missing_config_fails_the_run_with_the_file_named(
    prefect_backend: str, tmp_path: Path
) -> None:
    missing = tmp_path / "gone.yaml"
    handler = Records()
    logging.getLogger("prefect").addHandler(handler)
    try:
        state = serve.score_from_config(config=str(missing), return_state=True)
    finally:
        logging.getLogger("prefect").removeHandler(handler)
    # One message, no traceback, in the run's log.
    records = handler.records
    failed = [r for r in records if "gone.yaml does not exist" in r.getMessage()]
    assert failed, [r.getMessage() for r in records]
    assert not [r for r in records if r.exc_info or r.exc_text]
    assert state.is_failed()
    assert f"Config file {missing} does not exist" in str(state.message)
    with pytest.raises(ConfigError, match=r"gone\.yaml does not exist"):
        state.result()


def test_an_in_process_run_stores_its_settings_without_the_password() -> None:
    from flows.score import score_flow
    from flows.train import train_flow

    settings = load_settings(
        environ={"MLFLOW_TRACKING_URI": SERVER_URI, "CHURN_LEDGER_URL": LEDGER_URL}
    )
    assert settings.tracking.uri == SERVER_URI  # the flows still connect with it
    for flow in (train_flow, score_flow):
        # What Prefect's engine sends its server as the flow run's parameters.
        stored = json.dumps(flow.serialize_parameters({"settings": settings}))
        assert "secret" not in stored
        assert "http://churn:***@127.0.0.1:9" in stored
