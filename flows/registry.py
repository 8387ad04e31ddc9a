"""The model registry: logging a model as plain files, registering, promoting,
rolling back, loading the champion (checked against its training run's
checksums) and the compiled trees' per-user cache.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import warnings
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
from churn.uplift import UpliftModel
from churn.urls import masked
from flows.runs import log_metrics, open_run, set_tags
from flows.runtime import user_cache_dir

CHAMPION = "champion"
# What the registry says of a model or alias that is not there (anything else is a failure).
NOT_FOUND = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"}
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


# The artifact the model's files are logged under (see flows/model_code.py).
MODEL_ARTIFACT = "churn_model"


class ChurnModelFiles(PythonModel):
    """The churn model, read from its folder of plain files (``churn.model_io``)."""

    def load_context(self, context: Any) -> None:
        self.model = load_model(Path(context.artifacts[MODEL_ARTIFACT]))

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> Any:
        return self.model.predict_proba(model_input)


def declare_model_code() -> None:
    """Tell MLflow, loading ``flows/model_code.py``, which model that file defines."""
    from mlflow.models import set_model

    set_model(ChurnModelFiles())


def pip_requirements() -> list[str]:
    """Pinned requirements of the logged model (inferring them takes 8-10 s)."""
    from importlib.metadata import version

    names = ["churn-roi", "mlflow", "lightgbm", "scikit-learn", "pandas", "numpy"]
    return [f"{name}=={version(name)}" for name in names]


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

    example = input_example.head(5).reset_index(drop=True)
    with tempfile.TemporaryDirectory(prefix="churn-model-") as tmp:
        folder = Path(tmp) / MODEL_ARTIFACT
        booster_sha = save_model(model, folder)
        with mlflow.start_run(run_id=run_id), warnings.catch_warnings():
            # Validation rejects missing values before scoring, so integer columns stay integer.
            warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
            signature = infer_signature(example, model.predict_proba(example))
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(MODEL_CODE),
                artifacts={MODEL_ARTIFACT: str(folder)},
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
    # In this order, a crash at any point leaves the old champion or the new one, each
    # with its record, and never one version holding both aliases: the record first,
    # then the challenger alias off, then the switch itself (one call).
    if previous is not None:
        client.set_model_version_tag(name, version, "promoted_from", previous)
    client.set_model_version_tag(name, version, "promotion_reason", reason)
    aliases = client.get_registered_model(name).aliases
    if str(aliases.get(CHALLENGER)) == str(version):
        client.delete_registered_model_alias(name, CHALLENGER)
    client.set_registered_model_alias(name, CHAMPION, version)
    _mark_run_alias(client, name, str(version), CHAMPION)
    if previous is not None:
        client.set_model_version_tag(name, previous, "replaced_by", str(version))
        _mark_run_alias(client, name, previous, f"replaced by v{version}")
    _log_registry_action(
        client, tracking, action="promote",
        tags={"model_name": name, "from_version": previous or "none",
              "to_version": str(version), "reason": reason},
    )  # fmt: skip
    return previous


def describe_version(
    client: MlflowClient, *, name: str, version: str, description: str, tags: dict[str, str]
) -> None:
    """A version's description (the registry page shows it) and its decision as tags."""
    client.update_model_version(name, version, description=description)
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)


def _mark_run_alias(client: MlflowClient, name: str, version: str, alias: str) -> None:
    """Keep the ``registry_alias`` tag of a version's training run true after a change."""
    run_id = client.get_model_version(name, version).run_id
    if run_id:
        client.set_tag(run_id, "registry_alias", alias)


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
    client.set_model_version_tag(name, previous, "replaced_by", "")
    _mark_run_alias(client, name, previous, CHAMPION)
    _mark_run_alias(client, name, str(current.version), f"rolled back to v{previous}")
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
    return user_cache_dir() / "compiled" / run_id


def prune_compiled_cache(keep: int = COMPILED_CACHE_KEEP) -> None:
    """Keep the ``keep`` most recently used runs' compiled trees; remove the rest."""
    import shutil

    root = compiled_cache("-").parent
    if not root.is_dir():
        return
    # Folders being written (temporaries, dot-named) are not the cache's to prune; those
    # of killed writers are swept by the next command (runtime.remove_debris).
    folders = sorted(
        (p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: p.stat().st_mtime,
    )
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
    except MlflowException as exc:
        store = masked(str(client.tracking_uri))
        if exc.error_code not in NOT_FOUND:
            # The store failed, which says nothing of whether a champion exists.
            raise NotReadyError(
                f"The MLflow tracking store {store} did not answer whether registered model "
                f"'{name}' has a '{CHAMPION}' ({exc.error_code}: "
                f"{str(exc).strip().splitlines()[0][:300]}); nothing was scored."
            ) from None
        raise NotReadyError(
            f"No '{CHAMPION}' version of registered model '{name}' in the MLflow store "
            f"{store}; train one first (churn retrain, or churn run)."
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


# --- the uplift model --------------------------------------------------------------

UPLIFT_ARTIFACTS = "uplift_model"


@dataclass(frozen=True)
class UpliftChampion:
    """The uplift model that passed the gate, with its version and training run."""

    name: str
    version: str
    run_id: str
    model: UpliftModel
    explored: int  # explored customers it learnt from: 0 means it saw only the targeted


def register_uplift(
    client: MlflowClient,
    model: UpliftModel,
    *,
    name: str,
    run_id: str,
    gate_passed: bool,
    explored: int,
    reason: str,
) -> Registration:
    """Log the uplift model's files to its run and register them as a new version.

    Every version becomes ``challenger``; only one that passed the gate against risk
    targeting becomes ``champion`` (the one scoring may target with). One that failed
    it takes the ``champion`` alias away from an earlier version: the newest judgement,
    on the most experiments, is the one scoring follows.
    """
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / UPLIFT_ARTIFACTS
        model.save(folder)
        client.log_artifacts(run_id, str(folder), UPLIFT_ARTIFACTS)
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(
            name, description="Uplift model (meta-learner on LightGBM): the drop in churn "
            "probability a retention contact brings, learnt from the campaigns' experiments."
        )  # fmt: skip
    source = f"{client.get_run(run_id).info.artifact_uri}/{UPLIFT_ARTIFACTS}"
    tags = {"explored_customers": str(explored), "gate": "passed" if gate_passed else "failed"}
    created = client.create_model_version(
        name, source, run_id=run_id, description=reason, tags=tags
    )
    version = str(created.version)
    aliases = (CHALLENGER, CHAMPION) if gate_passed else (CHALLENGER,)
    if not gate_passed:
        previous = _champion_version(client, name)
        if previous is not None:
            client.delete_registered_model_alias(name, CHAMPION)
            client.set_model_version_tag(
                name, previous.version, "champion_removed_by", f"v{version}: {reason}"
            )
    for alias in aliases:
        client.set_registered_model_alias(name, alias, version)
    client.set_tag(run_id, "registered_model", f"{name}/{version}")
    client.set_tag(run_id, "registry_alias", ", ".join(aliases))
    return Registration(name=name, version=version, aliases=aliases)


def load_uplift_champion(client: MlflowClient, *, name: str) -> UpliftChampion | None:
    """The uplift model that passed the gate, or None when none has yet."""
    try:
        version = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException as exc:
        if exc.error_code in NOT_FOUND:
            return None
        raise
    run_id = str(version.run_id)
    with tempfile.TemporaryDirectory() as tmp:
        local = client.download_artifacts(run_id, UPLIFT_ARTIFACTS, tmp)
        model = UpliftModel.load(Path(local))
    return UpliftChampion(
        name=name, version=str(version.version), run_id=run_id, model=model,
        explored=int(version.tags.get("explored_customers", "0")),
    )  # fmt: skip
