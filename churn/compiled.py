"""The champion's trees compiled to machine code (``lleaves``, LLVM), for fast scoring.

LightGBM's own ``predict`` walks the trees node by node; ``lleaves`` compiles
the same trees into a shared library that gives the same raw probabilities
(to about 1e-15) several times faster. A model version is compiled once, at
training, and the library is kept with the version's run; scoring loads it.
The calibrator is applied afterwards exactly as trained. Where ``lleaves`` is
not installed (the ``compiled`` extra) or compiling fails, scoring falls back
to LightGBM and says why.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from churn.atomic import atomic_folder

MODEL_FILE = "model.txt"
LIBRARY_FILE = "model.so"


def feature_matrix(features: pd.DataFrame) -> np.ndarray:
    """The features as the compiled trees read them: categories by code, missing as NaN."""
    columns = []
    for name in features.columns:
        values = features[name]
        if isinstance(values.dtype, pd.CategoricalDtype):
            codes = values.cat.codes.to_numpy().astype(np.float64)
            codes[codes < 0] = np.nan
            columns.append(codes)
        else:
            columns.append(values.to_numpy(dtype=np.float64, na_value=np.nan))
    return np.column_stack(columns) if columns else np.empty((len(features), 0))


@dataclass
class CompiledTrees:
    """A compiled booster: raw churn probability from a feature matrix."""

    library: Path
    engine: Any
    # Seconds the compiler took; 0 for trees loaded from an earlier compile.
    compile_seconds: float = 0.0

    def predict(self, matrix: np.ndarray, *, n_jobs: int = 2) -> np.ndarray:
        """Raw (uncalibrated) churn probability per row."""
        proba: np.ndarray = self.engine.predict(np.ascontiguousarray(matrix), n_jobs=n_jobs)
        return proba


def compile_booster(booster: Any, folder: Path, *, num_iteration: int) -> CompiledTrees:
    """Compile the booster's first ``num_iteration`` trees into ``folder``, ready to score.

    The folder (trees as text and the library) appears whole or not at all:
    it is written beside its final place and renamed into it, replacing an
    earlier one.

    Raises:
        ImportError: ``lleaves`` is not installed.
    """
    import lleaves

    with atomic_folder(folder) as work:
        started = time.perf_counter()
        booster.save_model(str(work / MODEL_FILE), num_iteration=num_iteration)
        engine = lleaves.Model(model_file=str(work / MODEL_FILE))
        engine.compile(cache=str(work / LIBRARY_FILE))
        seconds = time.perf_counter() - started
    return CompiledTrees(library=folder / LIBRARY_FILE, engine=engine, compile_seconds=seconds)


def load_compiled(folder: Path) -> CompiledTrees:
    """Load trees compiled by ``compile_booster`` (no compiling: the library is reused).

    Raises:
        ImportError: ``lleaves`` is not installed.
        FileNotFoundError: the folder lacks the trees or the library.
    """
    import lleaves

    model_file, library = folder / MODEL_FILE, folder / LIBRARY_FILE
    for path in (model_file, library):
        if not path.is_file():
            raise FileNotFoundError(path)
    engine = lleaves.Model(model_file=str(model_file))
    engine.compile(cache=str(library))
    return CompiledTrees(library=library, engine=engine)
