"""A churn model saved as plain files: data that outlives the code, never a pickle.

A saved model is a folder of two files:

- ``booster.txt``: the trees in LightGBM's own text format (the best iteration's
  trees, with the categorical levels LightGBM maps pandas categories by);
- ``model.json``: the rest of the recipe — the calibrator's fitted points or
  parameters, the features and their category levels, the training-time
  feature profiles for drift — and the SHA-256 of ``booster.txt``.

Loading parses text and numbers only, so a tampered file can change nothing but
what the checksum catches; renaming a field of a class in ``churn/`` cannot
break loading an earlier version. ``FORMAT`` names the layout; a later layout
adds a reader here and keeps this one. ``churn-model/2`` is ``churn-model/1``
with derived features (``features.derived``: name → ``{operation: [columns]}``,
as the YAML declares them); a model without them is still written as
``churn-model/1``, so an earlier version of churn-roi reads it, and refuses by
name one it could not score.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from churn.derived import OPERATIONS
from churn.drift import FeatureProfile
from churn.errors import NotReadyError
from churn.features import DerivedFeature, FeatureSpec
from churn.model import (
    Calibrator,
    ChurnModel,
    IsotonicCalibrator,
    SigmoidCalibrator,
    SmoothCalibrator,
)

FORMAT = "churn-model/2"
# Every layout this version reads: the current one and each before it.
FORMATS = ("churn-model/1", FORMAT)
BOOSTER_FILE = "booster.txt"
RECIPE_FILE = "model.json"


class ModelIntegrityError(NotReadyError):
    """A saved model's files are not the ones that were trained."""


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, in hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_model(model: ChurnModel, folder: Path) -> str:
    """Write ``model`` into ``folder`` (created); return the booster's SHA-256."""
    folder.mkdir(parents=True, exist_ok=True)
    booster_path = folder / BOOSTER_FILE
    # The best iteration's trees only: the loaded booster then predicts with all it has.
    booster_path.write_text(model.trees.model_to_string(num_iteration=model.best_iteration))
    booster_sha = sha256_of(booster_path)
    derived = {d.name: {d.operation: list(d.columns)} for d in model.spec.derived}
    recipe = {
        "format": FORMAT if derived else "churn-model/1",
        "booster_sha256": booster_sha,
        "best_iteration": model.best_iteration,
        "calibrator": _calibrator_as_dict(model.calibrator),
        "features": {
            "numeric": list(model.spec.numeric),
            "categorical": list(model.spec.categorical),
            "days_between": {k: list(v) for k, v in model.spec.days_between.items()},
            **({"derived": derived} if derived else {}),
        },
        "categories": model.categories,
        "profiles": [_profile_as_dict(p) for p in model.profiles],
    }
    (folder / RECIPE_FILE).write_text(json.dumps(recipe, indent=1))
    return booster_sha


def is_saved_model(folder: Path) -> bool:
    """Whether ``folder`` holds a model in this module's format."""
    return (folder / RECIPE_FILE).is_file() and (folder / BOOSTER_FILE).is_file()


class ParsedWhenUsed:
    """A LightGBM booster kept as its text until it is first used: scoring with the
    compiled trees never uses it, and importing LightGBM (with scikit-learn) to parse it
    took 1.2-1.5 s of each scoring run. Any attribute is the parsed booster's.

    Examples:
        >>> trees = ParsedWhenUsed("not parsed yet")
        >>> trees.text
        'not parsed yet'
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self._booster: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"text": self.text, "_booster": None}  # the text travels, once

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("text", "_booster"):
            raise AttributeError(name)  # pickling and half-made copies look these up
        if self._booster is None:
            import lightgbm as lgb

            self._booster = lgb.Booster(model_str=self.text)
        return getattr(self._booster, name)


def load_model(folder: Path, *, expected_sha256: str | None = None) -> ChurnModel:
    """Read a model written by :func:`save_model`.

    Args:
        folder: the model's folder.
        expected_sha256: the booster's checksum recorded at training (in the
            tracking store, apart from the files); checked as well as the one in
            ``model.json``.

    Raises:
        ModelIntegrityError: the booster is not the one that was saved, or the
            layout is unknown.
    """
    recipe = json.loads((folder / RECIPE_FILE).read_text())
    if recipe.get("format") not in FORMATS:
        raise ModelIntegrityError(
            f"{folder / RECIPE_FILE} has format {recipe.get('format')!r}; this version of "
            f"churn-roi reads {' and '.join(map(repr, FORMATS))}."
        )
    booster_path = folder / BOOSTER_FILE
    actual = sha256_of(booster_path)
    for source, wanted in (("model.json", recipe["booster_sha256"]), ("the run", expected_sha256)):
        if wanted is not None and actual != wanted:
            raise ModelIntegrityError(
                f"{booster_path} has SHA-256 {actual[:16]}…, not the {wanted[:16]}… recorded in "
                f"{source} at training: the model's files were changed after it was trained. "
                "Refusing to score with it; restore the artifact or retrain."
            )
    features = recipe["features"]
    return ChurnModel(
        booster=ParsedWhenUsed(booster_path.read_text()),
        calibrator=_calibrator_from_dict(recipe["calibrator"]),
        spec=FeatureSpec(
            numeric=tuple(features["numeric"]),
            categorical=tuple(features["categorical"]),
            days_between={k: (v[0], v[1]) for k, v in features["days_between"].items()},
            derived=tuple(_derived_from_dict(features.get("derived", {}))),
        ),
        categories={k: list(v) for k, v in recipe["categories"].items()},
        best_iteration=int(recipe["best_iteration"]),
        profiles=[_profile_from_dict(p) for p in recipe["profiles"]],
    )


def _derived_from_dict(data: dict[str, dict[str, list[str]]]) -> list[DerivedFeature]:
    derived = []
    for name, rule in data.items():
        ((operation, columns),) = rule.items()
        if operation not in OPERATIONS:
            raise ModelIntegrityError(
                f"unknown derived operation {operation!r} of feature '{name}' in {RECIPE_FILE}"
            )
        derived.append(DerivedFeature(name, operation, tuple(map(str, columns))))
    return derived


def _calibrator_as_dict(calibrator: Calibrator) -> dict[str, Any]:
    if isinstance(calibrator, IsotonicCalibrator | SmoothCalibrator):
        return {"kind": calibrator.kind, "x": calibrator.x.tolist(), "y": calibrator.y.tolist()}
    if isinstance(calibrator, SigmoidCalibrator):
        return {"kind": "sigmoid", "slope": calibrator.slope, "intercept": calibrator.intercept}
    if hasattr(calibrator, "X_thresholds_"):  # scikit-learn's, in models trained before
        fitted: Any = calibrator
        x, y = fitted.X_thresholds_, fitted.y_thresholds_
        return {"kind": "isotonic", "x": x.tolist(), "y": y.tolist()}
    raise TypeError(f"cannot save a calibrator of type {type(calibrator).__name__}")


def _calibrator_from_dict(data: dict[str, Any]) -> Calibrator:
    if data["kind"] == "isotonic":
        return IsotonicCalibrator(x=np.asarray(data["x"], float), y=np.asarray(data["y"], float))
    if data["kind"] == "smooth":
        return SmoothCalibrator(x=np.asarray(data["x"], float), y=np.asarray(data["y"], float))
    if data["kind"] == "sigmoid":
        return SigmoidCalibrator(slope=float(data["slope"]), intercept=float(data["intercept"]))
    raise ModelIntegrityError(f"unknown calibrator kind {data['kind']!r} in {RECIPE_FILE}")


def _profile_as_dict(profile: FeatureProfile) -> dict[str, Any]:
    return {
        "name": profile.name,
        "edges": None if profile.edges is None else profile.edges.tolist(),
        "categories": profile.categories,
        "expected": profile.expected.tolist(),
    }


def _profile_from_dict(data: dict[str, Any]) -> FeatureProfile:
    edges = data["edges"]
    return FeatureProfile(
        name=data["name"],
        edges=None if edges is None else np.asarray(edges, float),
        categories=data["categories"],
        expected=np.asarray(data["expected"], float),
    )
