"""The flows unchanged against a real ``mlflow server`` process on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from churn.settings import TrackingSettings
from tests.conftest import make_settings
from tests.mlflow_server import free_port, start_server, stop

pytestmark = pytest.mark.slow


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    server = start_server(tmp_path, port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(server)


def test_pipeline_against_a_tracking_server(
    prefect_backend: str, mlflow_server: str, tmp_path: Path
) -> None:
    from flows.pipeline import pipeline_flow

    local = make_settings(tmp_path / "run")
    settings = local.model_copy(
        update={"tracking": TrackingSettings(uri=mlflow_server, artifact_dir=tmp_path / "unused")}
    )
    result = pipeline_flow(settings, campaign_id="server-1")
    client = MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)
    train = client.get_run(result["training"]["mlflow_run_id"])
    assert {"auc", "roi_pct"} <= set(train.data.metrics)
    champion = client.get_model_version_by_alias("churn-model", "champion")
    assert str(champion.version) == "1"
    score = client.get_run(result["scoring"]["mlflow_run_id"])
    assert "realized_roi_pct" in score.data.metrics
    # Artifacts went through the server to its own store, not to a local folder.
    assert train.info.artifact_uri.startswith("mlflow-artifacts:")
    assert any((tmp_path / "server-artifacts").rglob("assignment.parquet"))
    assert not (tmp_path / "unused").exists()


def test_an_unreachable_store_fails_the_run_before_training(
    prefect_backend: str, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from churn.errors import NotReadyError
    from flows.train import train_flow

    nobody = f"http://127.0.0.1:{free_port()}"
    settings = make_settings(tmp_path).model_copy(
        update={"tracking": TrackingSettings(uri=nobody, artifact_dir=tmp_path / "unused")}
    )
    state = train_flow(settings, return_state=True)
    assert state.is_failed()
    with pytest.raises(NotReadyError, match=rf"tracking server at {nobody} does not answer"):
        state.result()
    flow_run = FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
    with get_client(sync_client=True) as prefect:
        tasks = {t.name.rsplit("-", 1)[0] for t in prefect.read_task_runs(flow_run_filter=flow_run)}
    assert "check_tracking" in tasks
    assert not tasks & {"split_data", "boost_trees", "compile_trees", "register"}
