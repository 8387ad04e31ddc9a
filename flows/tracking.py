"""MLflow tracking and registry: the only module that talks to MLflow.

Run ids are passed explicitly (``MlflowClient``): MLflow keeps its fluent
"active run" per thread and Prefect runs tasks in worker threads, where a
fluent ``log_metric`` would silently open a new run.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import PythonModel
from mlflow.tracking import MlflowClient

from churn.atomic import atomic_folder
from churn.compiled import CompiledTrees
from churn.errors import NotReadyError
from churn.model import ChurnModel
from churn.model_io import (
    RECIPE_FILE,
    ModelIntegrityError,
    is_saved_model,
    load_model,
    save_model,
    sha256_of,
)
from churn.settings import TrackingSettings

CHAMPION = "champion"
CHALLENGER = "challenger"


class ChurnPyfunc(PythonModel):
    """The logged model before models were saved as plain files: a cloudpickle of the
    live ``ChurnModel``. Kept so that versions registered then still load."""

    def __init__(self, model: ChurnModel) -> None:
        self.model = model

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> Any:
        return self.model.predict_proba(model_input)


def pip_requirements() -> list[str]:
    """Pinned requirements of the logged model (inferring them takes 8-10 s)."""
    from importlib.metadata import version

    names = ["churn-roi", "mlflow", "lightgbm", "scikit-learn", "pandas", "numpy"]
    return [f"{name}=={version(name)}" for name in names]


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
    return MlflowClient(tracking_uri=tracking.uri, registry_uri=tracking.uri)


def check_store(tracking: TrackingSettings) -> None:
    """Open the tracking store and read from it.

    Raises:
        NotReadyError: it cannot be reached (MLflow has already retried an HTTP
            server with its own backoff).
    """
    client = client_for(tracking)
    try:
        client.search_experiments(max_results=1)
    except Exception as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise NotReadyError(
            f"The MLflow tracking store {client.tracking_uri} cannot be reached "
            f"({type(exc).__name__}: {first_line[:300]}); nothing was trained or scored. "
            "Start the server (make mlflow-server) or set tracking.uri / MLFLOW_TRACKING_URI "
            "to a store that answers."
        ) from exc


def experiment_id(client: MlflowClient, name: str, artifact_dir: Path) -> str:
    """The experiment's id, creating it with its own artifact folder if new."""
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return str(experiment.experiment_id)
    location = None
    if not client.tracking_uri.startswith(("http://", "https://", "databricks")):
        # A local store gets a local folder; a tracking server keeps its own artifact store.
        folder = artifact_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        location = folder.resolve().as_uri()
    try:
        return str(client.create_experiment(name, artifact_location=location))
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
    exp_id = experiment_id(client, experiment, tracking.artifact_dir)
    all_tags = {"run_type": run_type, **prefect_tags(), **(tags or {})}
    run_id = str(client.create_run(exp_id, run_name=run_name, tags=all_tags).info.run_id)
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


MODEL_CODE = Path(__file__).with_name("model_code.py")
BOOSTER_SHA_TAG = "model.booster_sha256"
COMPILED_SHA_TAG = "compiled.sha256"


def log_model(run_id: str, model: ChurnModel, input_example: pd.DataFrame) -> str:
    """Log the model to the run as plain files with the code that reads them (models
    from code: nothing pickled), with signature and input example; return its URI.

    The booster's SHA-256 is also kept as a run tag, apart from the files, and
    checked before the model is loaded for scoring.
    """
    from mlflow.models import infer_signature

    from flows.model_code import ARTIFACT

    example = input_example.head(5).reset_index(drop=True)
    with tempfile.TemporaryDirectory(prefix="churn-model-") as tmp:
        folder = Path(tmp) / ARTIFACT
        booster_sha = save_model(model, folder)
        with mlflow.start_run(run_id=run_id), warnings.catch_warnings():
            # Validation rejects missing values before scoring, so integer columns stay integer.
            warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
            signature = infer_signature(example, model.predict_proba(example))
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(MODEL_CODE),
                artifacts={ARTIFACT: str(folder)},
                signature=signature,
                input_example=example,
                pip_requirements=pip_requirements(),
            )
    MlflowClient(mlflow.get_tracking_uri()).set_tag(run_id, BOOSTER_SHA_TAG, booster_sha)
    return str(info.model_uri)


@dataclass(frozen=True)
class Registration:
    """A registered model version and the aliases it received."""

    name: str
    version: str
    aliases: tuple[str, ...]


def register_model(client: MlflowClient, model_uri: str, *, name: str, run_id: str) -> Registration:
    """Register a model version; the first version becomes ``champion``.

    Later versions become ``challenger``: replacing a champion takes a
    comparison on the same data, which a plain retrain does not make.
    """
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, description="Calibrated LightGBM churn model.")
    # A logged model's URI is models:/<model id>; a tracking server wants that id too.
    model_id = model_uri.removeprefix("models:/") if model_uri.startswith("models:/m-") else None
    version = client.create_model_version(name, model_uri, run_id=run_id, model_id=model_id)
    try:
        client.get_model_version_by_alias(name, CHAMPION)
        alias = CHALLENGER
    except MlflowException:
        alias = CHAMPION
    client.set_registered_model_alias(name, alias, version.version)
    client.set_tag(run_id, "registered_model", f"{name}/{version.version}")
    client.set_tag(run_id, "model_version", str(version.version))
    client.set_tag(run_id, "registry_alias", alias)
    return Registration(name=name, version=str(version.version), aliases=(alias,))


def _champion_version(client: MlflowClient, name: str) -> Any | None:
    try:
        return client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None


def _log_registry_action(
    client: MlflowClient, tracking: TrackingSettings, *, action: str, tags: dict[str, str]
) -> str:
    with open_run(
        client, tracking, experiment=tracking.registry_experiment, run_type="registry",
        run_name=action, tags={"action": action, **tags},
    ) as run_id:  # fmt: skip
        return run_id


def promote(
    client: MlflowClient, tracking: TrackingSettings, *, name: str, version: str, reason: str
) -> str | None:
    """Make ``version`` the champion; return the version it replaced (None if first).

    The replaced version is remembered on the new one (tag ``promoted_from``),
    so that ``rollback`` can restore it; the action is logged as a run of the
    registry experiment.
    """
    try:
        client.get_model_version(name, version)
    except MlflowException:
        raise NotReadyError(f"Registered model '{name}' has no version {version}.") from None
    current = _champion_version(client, name)
    previous = None if current is None else str(current.version)
    if previous == str(version):
        raise NotReadyError(f"Version {version} of '{name}' is already the champion.")
    client.set_registered_model_alias(name, CHAMPION, version)
    if previous is not None:
        client.set_model_version_tag(name, version, "promoted_from", previous)
    client.set_model_version_tag(name, version, "promotion_reason", reason)
    aliases = client.get_registered_model(name).aliases
    if str(aliases.get(CHALLENGER)) == str(version):
        client.delete_registered_model_alias(name, CHALLENGER)
    _log_registry_action(
        client, tracking, action="promote",
        tags={"model_name": name, "from_version": previous or "none",
              "to_version": str(version), "reason": reason},
    )  # fmt: skip
    return previous


def rollback(client: MlflowClient, tracking: TrackingSettings, *, name: str) -> tuple[str, str]:
    """Restore the champion that the current one replaced; return (from, to) versions."""
    current = _champion_version(client, name)
    if current is None:
        raise NotReadyError(f"Registered model '{name}' has no champion to roll back.")
    previous = current.tags.get("promoted_from")
    if not previous:
        raise NotReadyError(
            f"Champion version {current.version} of '{name}' replaced no earlier champion; "
            "there is nothing to roll back to."
        )
    client.set_registered_model_alias(name, CHAMPION, previous)
    client.set_model_version_tag(name, str(current.version), "rolled_back", "true")
    _log_registry_action(
        client, tracking, action="rollback",
        tags={"model_name": name, "from_version": str(current.version), "to_version": previous},
    )  # fmt: skip
    return str(current.version), previous


@dataclass(frozen=True)
class Champion:
    """The model that scores, with where it came from."""

    model: ChurnModel
    name: str
    version: str
    run_id: str
    # Why the compiled trees are not used (None when they are).
    compiled_note: str | None = None


COMPILED_DIR = "compiled"


COMPILED_CACHE_KEEP = 8


def compiled_cache(run_id: str) -> Path:
    """Where this user keeps a run's compiled trees: compiled here, or downloaded once.

    A per-user folder (``$XDG_CACHE_HOME/churn-roi/compiled``, mode 0700), not a
    shared temporary one: another user could plant machine code there.
    """
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "churn-roi"
    base.mkdir(parents=True, exist_ok=True)
    base.chmod(0o700)
    return base / "compiled" / run_id


def prune_compiled_cache(keep: int = COMPILED_CACHE_KEEP) -> None:
    """Keep the ``keep`` most recently used runs' compiled trees; remove the rest."""
    import shutil

    root = compiled_cache("-").parent
    if not root.is_dir():
        return
    folders = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for old in folders[:-keep] if keep else folders:
        shutil.rmtree(old, ignore_errors=True)


def log_compiled(client: MlflowClient, run_id: str, compiled: CompiledTrees) -> None:
    """Keep the compiled trees (text and library) with the run, for scoring elsewhere,
    and the library's SHA-256 as a run tag, checked before it is ever loaded."""
    client.log_artifacts(run_id, str(compiled.library.parent), COMPILED_DIR)
    set_tags(client, run_id, {"compiled": "lleaves",
                              COMPILED_SHA_TAG: sha256_of(compiled.library)})  # fmt: skip
    log_metrics(client, run_id, {"compile_seconds": compiled.compile_seconds})


def attach_compiled(client: MlflowClient, model: ChurnModel, run_id: str) -> str | None:
    """Attach the run's compiled trees to ``model``; return why not, or None.

    The library is downloaded once per run into ``compiled_cache`` and reused;
    before it is loaded its SHA-256 must equal the one recorded at training.

    Raises:
        ModelIntegrityError: the library is not the one compiled at training.
    """
    from churn.compiled import LIBRARY_FILE, load_compiled

    cache = compiled_cache(run_id)
    try:
        if not (cache / LIBRARY_FILE).is_file():
            names = {Path(a.path).name for a in client.list_artifacts(run_id, COMPILED_DIR)}
            if LIBRARY_FILE not in names:
                return "the model version has no compiled trees (trained with model.compile off?)"
            with atomic_folder(cache, keep_existing=True) as work:
                client.download_artifacts(run_id, COMPILED_DIR, str(work))
                for item in (work / COMPILED_DIR).iterdir():
                    item.rename(work / item.name)
                (work / COMPILED_DIR).rmdir()
        os.utime(cache)  # recently used: kept by the pruning
        prune_compiled_cache()
        expected = client.get_run(run_id).data.tags.get(COMPILED_SHA_TAG)
        actual = sha256_of(cache / LIBRARY_FILE)
        if expected is not None and actual != expected:
            raise ModelIntegrityError(
                f"The compiled trees {cache / LIBRARY_FILE} have SHA-256 {actual[:16]}…, not "
                f"the {expected[:16]}… recorded by training run {run_id}: the machine code "
                "was changed after it was compiled. Refusing to load it; delete that folder "
                "(it is downloaded again from the run) or retrain."
            )
        model.compiled = load_compiled(cache)
    except ImportError:
        return "lleaves is not installed (pip install -e '.[compiled]')"
    except ModelIntegrityError:
        raise
    except Exception as exc:
        return f"the compiled trees could not be loaded: {type(exc).__name__}: {exc}"
    return None


# A registered version never changes, so a process loads each one once (the pipeline's
# train then score, a served schedule, a simulation of many days).
_LOADED: dict[tuple[str, str, str, str], ChurnModel] = {}


def _load_version(client: MlflowClient, name: str, version: Any) -> ChurnModel:
    """A registered version's model: its plain files, checked against the checksum its
    training run recorded; a version registered before models were plain files is
    read from its pickle (``ChurnPyfunc``)."""
    import mlflow.artifacts

    with tempfile.TemporaryDirectory(prefix="churn-model-") as tmp:
        local = Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{name}/{version.version}", dst_path=tmp
            )
        )
        recipes = sorted(local.rglob(RECIPE_FILE))
        if recipes and is_saved_model(recipes[0].parent):
            expected = client.get_run(str(version.run_id)).data.tags.get(BOOSTER_SHA_TAG)
            return load_model(recipes[0].parent, expected_sha256=expected)
        pyfunc = mlflow.pyfunc.load_model(str(local))
        legacy: ChurnModel = pyfunc.unwrap_python_model().model
        return legacy


def load_champion(client: MlflowClient, *, name: str, compiled: bool = False) -> Champion:
    """Load the ``champion`` version from the registry (with its compiled trees if asked).

    Raises:
        NotReadyError: there is no such model or alias yet.
    """
    try:
        version = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        raise NotReadyError(
            f"No '{CHAMPION}' version of registered model '{name}' in the MLflow store "
            f"{mlflow.get_tracking_uri()}; train one first (churn retrain, or churn run)."
        ) from None
    key = (str(client.tracking_uri), name, str(version.version), str(version.run_id))
    if key not in _LOADED:
        loaded = _load_version(client, name, version)
        while len(_LOADED) >= 4:
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[key] = loaded
    # A copy: the compiled trees are attached to it, not to the one kept.
    model = dataclasses.replace(_LOADED[key], compiled=None)
    note = attach_compiled(client, model, str(version.run_id)) if compiled else "not asked"
    return Champion(
        model=model,
        name=name,
        version=str(version.version),
        run_id=str(version.run_id),
        compiled_note=note,
    )


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


def load_artifact_table(client: MlflowClient, run_id: str, path: str) -> pd.DataFrame:
    """A parquet artifact of a run, read into a frame."""
    with tempfile.TemporaryDirectory() as tmp:
        local = client.download_artifacts(run_id, path, tmp)
        return pd.read_parquet(local)


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
