"""MLflow runs: the one door to the tracking store (with ``flows/registry.py`` for
models).

Run ids are passed explicitly (``MlflowClient``): MLflow keeps its fluent
"active run" per thread and Prefect runs tasks in worker threads, where a
fluent ``log_metric`` would silently open a new run. Every run is opened by
``open_run``, which ends it FINISHED or FAILED.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from churn.errors import NotReadyError
from churn.settings import TrackingSettings
from churn.urls import masked


def client_for(tracking: TrackingSettings) -> MlflowClient:
    """A client on the configured store (also MLflow's default in this process, for its
    fluent calls), leaving the process environment as it was."""
    # mlflow.set_tracking_uri also exports MLFLOW_TRACKING_URI, which load_settings reads
    # as the user's override: the next config loaded in this process would get this store.
    saved = {name: os.environ.get(name) for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    mlflow.set_tracking_uri(tracking.uri)
    mlflow.set_registry_uri(tracking.uri)
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    client = MlflowClient(tracking_uri=tracking.uri, registry_uri=tracking.uri)
    if not tracking.uri.startswith(("http://", "https://")):
        return client
    return cast(MlflowClient, _AnsweringClient(client))


class _AnsweringClient:
    """An MLflow client whose calls to a tracking server that has gone away (connection
    refused or reset, after MLflow's own bounded retries) raise the user's error — "does
    not answer", with what to do — instead of MLflow's exception and its traceback."""

    def __init__(self, client: MlflowClient) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return attribute(*args, **kwargs)
            except MlflowException as exc:
                if not _connection_lost(exc):
                    raise
                uri = self._client.tracking_uri
                raise NotReadyError(
                    f"The MLflow tracking server at {masked(uri)} does not answer any more "
                    f"(it stopped during {name}); the run this command had open is marked "
                    "FAILED by the next command once the server is back. Start the server "
                    "(make mlflow-server) and run the command again."
                ) from None

        return call


def _connection_lost(exc: BaseException) -> bool:
    """True when an MLflow error was caused by a connection that could not be made or
    was cut (the server is gone), not by anything the server said."""
    import requests

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, requests.exceptions.ConnectionError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _answers(uri: str, timeout: float) -> str | None:
    """None if the server at ``uri`` answers its health check, else why not."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout):
            return None
    except urllib.error.HTTPError:
        return None  # it answered (an older server, or one behind a proxy): the calls will tell
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"{type(reason).__name__}: {reason}"


def check_store(tracking: TrackingSettings, *, timeout: float = 5.0) -> None:
    """Open the tracking store and read from it; an HTTP server is first asked once,
    with a short timeout, whether it answers at all.

    Raises:
        NotReadyError: it cannot be reached.
    """
    uri = tracking.uri
    hint = (
        "Start the server (make mlflow-server) or set tracking.uri / MLFLOW_TRACKING_URI "
        "to a store that answers."
    )
    if uri.startswith(("http://", "https://")):
        why = _answers(uri, timeout)
        if why is not None:
            raise NotReadyError(
                f"The MLflow tracking server at {masked(uri)} does not answer ({why[:300]}); "
                f"nothing was trained or scored. {hint}"
            )
    client = client_for(tracking)
    try:
        client.search_experiments(max_results=1)
    except Exception as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise NotReadyError(
            f"The MLflow tracking store {masked(uri)} cannot be reached "
            f"({type(exc).__name__}: {first_line[:300]}); nothing was trained or scored. {hint}"
        ) from exc
    fail_abandoned_runs(client)


def fail_abandoned_runs(client: MlflowClient) -> list[str]:
    """Mark FAILED the runs still RUNNING whose process, on this machine, is gone (killed
    while the run was open), with a tag saying so; return their ids. Runs held by
    processes of other machines are left alone: they cannot be checked from here."""
    from churn.atomic import is_running

    host = socket.gethostname()
    experiments = [e.experiment_id for e in client.search_experiments()]
    if not experiments:
        return []
    quoted = host.replace("'", "\\'")
    held_here = client.search_runs(
        experiments,
        filter_string=f"attributes.status = 'RUNNING' and tags.`process.host` = '{quoted}'",
        max_results=1000,
    )
    failed = []
    for run in held_here:
        pid = run.data.tags.get("process.pid", "")
        if not pid.isdigit() or is_running(int(pid)):
            continue
        run_id = run.info.run_id
        set_tags(client, run_id, {"failed.reason": (
            f"process {pid} on {host} ended while the run was open (killed?); marked FAILED "
            f"on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by a later command"
        )})  # fmt: skip
        client.set_terminated(run_id, status="FAILED")
        failed.append(run_id)
    return failed


# MLflow 3's UI opens an experiment without this tag on its GenAI traces page.
EXPERIMENT_TAGS = {"mlflow.experimentKind": "custom_model_development"}

# Each experiment's description (the MLflow UI shows it on the experiment's page).
EXPERIMENT_DESCRIPTIONS = {
    "uplift": "One run per uplift model, learnt from the measured campaigns' treated and "
    "control customers: Qini coefficient and AUUC on held-out experimental customers with "
    "bootstrap intervals, and the gate against risk targeting at the same budget (the run's "
    "description says the verdict). Metrics: docs/metrics.md.",
    "training": "One run per training of the churn model: test AUC against a logistic "
    "baseline and the champion, the backtest's dollars and ROI at the threshold, the profit "
    "curve and plots, the model card, and the version it registered (each run's description "
    "says the decision). Metrics: docs/metrics.md.",
    "scoring": "One run per campaign (named after it): who was scored, flagged, contacted and "
    "held out, the expected dollars and ROI, and, once its outcomes are measured, the "
    "realized net benefit and ROI with their 95 % intervals. Each run's description is the "
    "campaign's answer in dollars; campaign_report.html is the same for readers without MLflow.",
    "registry": "One run per promotion or rollback of the champion: from and to which "
    "version, and why.",
    "tuning": "Parameter searches by cross-validated AUC: one run per search, its trials in "
    "trials.csv and the best model section in best_model_section.yaml.",
}


def experiment_id(
    client: MlflowClient, name: str, artifact_dir: Path, *, description: str | None = None
) -> str:
    """The experiment's id, creating it with its own artifact folder if new (tagged as
    model development, so that the MLflow UI opens it on its runs, and described)."""
    tags = EXPERIMENT_TAGS | ({"mlflow.note.content": description} if description else {})
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        for key, value in tags.items():
            if key not in experiment.tags:  # made by an earlier version
                client.set_experiment_tag(experiment.experiment_id, key, value)
        return str(experiment.experiment_id)
    location = None
    if not client.tracking_uri.startswith(("http://", "https://", "databricks")):
        # A local store gets a local folder; a tracking server keeps its own artifact store.
        folder = artifact_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        location = folder.resolve().as_uri()
    try:
        return str(client.create_experiment(name, artifact_location=location, tags=tags))
    except MlflowException:
        # Another process created it between our look-up and create.
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return str(found.experiment_id)


def prefect_tags() -> dict[str, str]:
    """Tags that link an MLflow run to the Prefect flow run that made it."""
    from importlib.metadata import version

    from prefect.runtime import flow_run

    tags = {"host.python": platform.python_version(), "code_version": version("churn-roi")}
    if flow_run.id:
        tags["prefect.flow_run_id"] = str(flow_run.id)
        tags["prefect.flow_run_name"] = str(flow_run.name)
        tags["prefect.flow_name"] = str(flow_run.flow_name)
    return tags


@contextmanager
def open_run(
    client: MlflowClient,
    tracking: TrackingSettings,
    *,
    experiment: str,
    run_type: str,
    run_name: str | None = None,
    tags: dict[str, str] | None = None,
) -> Iterator[str]:
    """A run that always ends: FINISHED when the block completes, FAILED when it
    raises (an interrupt too). Yields the run id, tagged with its type and the Prefect
    flow run that made it."""
    exp_id = experiment_id(
        client, experiment, tracking.artifact_dir, description=EXPERIMENT_DESCRIPTIONS.get(run_type)
    )
    # Who holds the run open: a later command marks it FAILED if that process is gone.
    holder = {"process.host": socket.gethostname(), "process.pid": str(os.getpid())}
    all_tags = {"run_type": run_type, **prefect_tags(), **holder, **(tags or {})}
    # Named after what it is and the Prefect flow run that made it ("training ·
    # rousing-newt", "campaign-2026-12-01 · brave-fox"), not MLflow's random words.
    name = run_name or run_type
    if "prefect.flow_run_name" in all_tags:
        name = f"{name} · {all_tags['prefect.flow_run_name']}"
    run_id = str(client.create_run(exp_id, run_name=name, tags=all_tags).info.run_id)
    try:
        yield run_id
    except BaseException:
        # The block's own error is the one to report, even if the store is gone too.
        with suppress(Exception):
            client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id, status="FINISHED")


def log_metrics(client: MlflowClient, run_id: str, metrics: dict[str, float]) -> None:
    """Log a batch of metrics to the run."""
    from mlflow.entities import Metric

    now = int(pd.Timestamp.now(tz="UTC").timestamp() * 1000)
    client.log_batch(
        run_id, metrics=[Metric(key, float(value), now, 0) for key, value in metrics.items()]
    )


def log_params(client: MlflowClient, run_id: str, params: dict[str, Any]) -> None:
    """Log a batch of params (stringified) to the run."""
    from mlflow.entities import Param

    client.log_batch(run_id, params=[Param(key, str(value)) for key, value in params.items()])


def set_tags(client: MlflowClient, run_id: str, tags: dict[str, str]) -> None:
    """Set tags on the run (one request)."""
    from mlflow.entities import RunTag

    client.log_batch(run_id, tags=[RunTag(key, str(value)) for key, value in tags.items()])


def log_text(client: MlflowClient, run_id: str, text: str, path: str) -> None:
    """Keep a text (markdown, CSV, JSON, YAML) as an artifact of the run at ``path``."""
    client.log_text(run_id, text, path)


def _colspec_type(dtype: Any) -> str:
    """MLflow's name for a pandas column type (its schema's ``mlflow_colspec``)."""
    kind = getattr(dtype, "kind", "O")
    return {"b": "boolean", "i": "long", "u": "long", "f": "double", "M": "datetime"}.get(
        kind, "string"
    )


def rename_run(client: MlflowClient, run_id: str, name: str) -> None:
    """Rename a run once what it made is known (a model version, say), keeping the
    Prefect flow run's name after it."""
    flow_run = prefect_tags().get("prefect.flow_run_name")  # as open_run named it
    client.update_run(run_id, name=f"{name} · {flow_run}" if flow_run else name)


def describe_run(client: MlflowClient, run_id: str, markdown: str) -> None:
    """The run's description, the first thing its MLflow page shows (markdown)."""
    set_tags(client, run_id, {"mlflow.note.content": markdown})


def log_dataset(
    client: MlflowClient,
    run_id: str,
    *,
    name: str,
    path: Path,
    digest: str,
    context: str,
    dtypes: pd.Series,
    n_rows: int,
) -> None:
    """Record the table a run read as its input dataset (MLflow's Dataset column):
    its name, content digest, where it lives, its columns and size."""
    from mlflow.entities import Dataset, DatasetInput, InputTag

    colspec = [{"name": str(c), "type": _colspec_type(t)} for c, t in dtypes.items()]
    dataset = Dataset(
        name=name,
        digest=digest,
        source_type="local",
        source=json.dumps({"uri": str(Path(path).resolve())}),
        schema=json.dumps({"mlflow_colspec": colspec}),
        profile=json.dumps({"num_rows": n_rows}),
    )
    client.log_inputs(
        run_id, datasets=[DatasetInput(dataset, [InputTag("mlflow.data.context", context)])]
    )


def log_files(client: MlflowClient, run_id: str, files: list[Path], folder: str) -> None:
    """Copy files into the run's artifacts under ``folder``."""
    for file in files:
        client.log_artifact(run_id, str(file), folder)


def run_metrics(client: MlflowClient, run_id: str) -> dict[str, float]:
    """The latest value of each metric of a run."""
    return dict(client.get_run(run_id).data.metrics)


def log_figures(client: MlflowClient, run_id: str, figures: dict[str, bytes]) -> None:
    """Log PNG images, by file name, under ``plots/`` (one upload)."""
    with tempfile.TemporaryDirectory(prefix="churn-plots-") as folder:
        for name, png in figures.items():
            (Path(folder) / name).write_bytes(png)
        client.log_artifacts(run_id, folder, "plots")


def run_started_at(client: MlflowClient, run_id: str) -> datetime:
    """When a run started, in UTC."""
    started = client.get_run(run_id).info.start_time
    return datetime.fromtimestamp(started / 1000, tz=UTC)


def run_compute_seconds(client: MlflowClient, run_id: str) -> float:
    """The ``compute_seconds`` a run logged (0 if it logged none)."""
    return float(client.get_run(run_id).data.metrics.get("compute_seconds", 0.0))


def find_campaign_run(client: MlflowClient, tracking: TrackingSettings, campaign_id: str) -> Any:
    """The latest scoring run of a campaign.

    Raises:
        NotReadyError: no scoring run carries that campaign id.
    """
    experiment = client.get_experiment_by_name(tracking.scoring_experiment)
    runs: list[Any] = []
    if experiment is not None:
        runs = client.search_runs(
            [experiment.experiment_id],
            filter_string=f"tags.campaign_id = '{campaign_id}'",
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
    if not runs:
        known = []
        if experiment is not None:
            recent = client.search_runs([experiment.experiment_id], max_results=5,
                                        order_by=["attributes.start_time DESC"])  # fmt: skip
            known = [r.data.tags.get("campaign_id") for r in recent]
        raise NotReadyError(
            f"No scoring run for campaign '{campaign_id}' in experiment "
            f"'{tracking.scoring_experiment}' of {tracking.uri}; recent campaigns: "
            f"{', '.join(k for k in known if k) or 'none'}."
        )
    return runs[0]


RUN_COLUMNS = {
    "training": ["auc", "pr_auc", "brier", "n_flagged", "roi_pct", "net_benefit", "empc"],
    "scoring": ["n_scored", "n_flagged", "psi_max", "expected_roi_pct", "realized_roi_pct",
                "realized_roi_pct_low", "realized_roi_pct_high", "realized_full_cost_roi_pct"],
}  # fmt: skip


def recent_runs(
    client: MlflowClient, tracking: TrackingSettings, *, kind: str, last: int
) -> list[dict[str, Any]]:
    """The last runs of a kind, newest first, with the same columns for each."""
    name = tracking.training_experiment if kind == "training" else tracking.scoring_experiment
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        return []
    runs = client.search_runs(
        [experiment.experiment_id], order_by=["attributes.start_time DESC"], max_results=last
    )
    rows = []
    for run in runs:
        row: dict[str, Any] = {
            "run_id": run.info.run_id,
            "started": pd.Timestamp(run.info.start_time, unit="ms").strftime("%Y-%m-%d %H:%M"),
            "status": run.info.status,
            "model_version": run.data.tags.get("model_version", ""),
            "dataset_digest": run.data.tags.get("dataset_digest", ""),
        }
        if kind == "scoring":
            row["campaign_id"] = run.data.tags.get("campaign_id", "")
        else:
            row["promotion"] = run.data.tags.get("promotion.decision", "")
        for metric in RUN_COLUMNS[kind]:
            row[metric] = run.data.metrics.get(metric)
        rows.append(row)
    return rows
