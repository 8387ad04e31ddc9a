"""Scoring customers, flagging those above the threshold, holding out a control group.

``score_file`` streams a table in chunks — read, validate, score, flag,
assign, write — so memory is bounded by the chunk size, not the customer
count, and writes its three outputs atomically: the scores of every customer,
the assignment of every flagged customer to treatment or control (kept for
measurement), and the campaign list of the treatment group (for the CRM).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from churn.atomic import atomic_path
from churn.data import Chunk, check_customer_ids, iter_customer_batches, read_chunk
from churn.dataset import VALUE_COLUMN, DatasetSettings, customer_values
from churn.drift import DriftMonitor
from churn.holdout import CONTROL, assign_groups
from churn.model import ChurnModel
from churn.schema import ID_COLUMN

CAMPAIGN_COLUMNS = ("customer_id", "churn_probability", "campaign_id", "scored_at", "model_version")
ASSIGNMENT_COLUMNS = ("customer_id", "churn_probability", VALUE_COLUMN, "group", "campaign_id")


def score_customers(
    model: ChurnModel, customers: pd.DataFrame, *, monitor: DriftMonitor | None = None
) -> pd.DataFrame:
    """``customer_id, churn_probability`` for every customer, in input order.

    With a ``monitor``, the chunk's features are also counted for drift.
    """
    features = model.features(customers)
    if monitor is not None:
        monitor.update(features)
    return pd.DataFrame(
        {
            ID_COLUMN: customers[ID_COLUMN].to_numpy(),
            "churn_probability": model.predict_features(features),
        }
    )


def flag_customers(scores: pd.DataFrame, *, threshold: float) -> pd.DataFrame:
    """The customers whose churn probability is strictly above ``threshold``.

    Examples:
        >>> import pandas as pd
        >>> s = pd.DataFrame({"customer_id": ["a", "b", "c"],
        ...                   "churn_probability": [0.9, 0.7, 0.2]})
        >>> flag_customers(s, threshold=0.7)["customer_id"].tolist()
        ['a']
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold={threshold} should be a probability strictly between 0 and 1")
    return scores.loc[scores["churn_probability"] > threshold].reset_index(drop=True)


@dataclass(frozen=True)
class ScoringResult:
    """What a scoring pass produced."""

    n_scored: int
    n_flagged: int
    n_control: int
    treated_probabilities: np.ndarray
    treated_values: np.ndarray
    scores_path: Path
    campaign_path: Path
    assignment_path: Path
    drift: dict[str, float]

    @property
    def n_treated(self) -> int:
        """Flagged customers who are contacted."""
        return self.n_flagged - self.n_control


def score_file(
    model: ChurnModel,
    path: Path,
    *,
    threshold: float,
    chunk_size: int,
    scores_path: Path,
    campaign_path: Path,
    assignment_path: Path,
    campaign_id: str,
    model_version: str,
    scored_at: datetime,
    control_share: float = 0.0,
    dataset: DatasetSettings | None = None,
    clv: float = 0.0,
) -> ScoringResult:
    """Score every customer of a table in chunks; write scores, assignment and campaign list.

    Args:
        model: the fitted model.
        path: the customer table (parquet or CSV).
        threshold: flag customers strictly above this churn probability.
        chunk_size: rows per chunk.
        scores_path: parquet file of ``customer_id, churn_probability`` for everyone.
        campaign_path: CSV (for the CRM) or parquet list of the treatment group.
        assignment_path: parquet of every flagged customer with its ``group``.
        campaign_id: identifies the campaign; seeds the holdout assignment.
        model_version: the registry version that scored.
        scored_at: the scoring time written into the list.
        control_share: share of flagged customers held out as the control group.
        dataset: the table's declaration (the synthetic world's when None).
        clv: each customer's value when the dataset declares no ``customer_value`` rule.

    Raises:
        InputError: the table is missing, unreadable or invalid; neither output is
            touched then.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    dataset = DatasetSettings() if dataset is None else dataset
    check_customer_ids(path, dataset=dataset)
    n_scored = 0
    monitor = DriftMonitor(model.profiles)
    with contextlib.ExitStack() as stack:
        scores_tmp = stack.enter_context(atomic_path(scores_path))
        assignment_tmp = stack.enter_context(atomic_path(assignment_path))
        campaign_tmp = stack.enter_context(atomic_path(campaign_path))
        writer: pq.ParquetWriter | None = None
        flagged_parts: list[pd.DataFrame] = []
        for chunk in iter_customer_batches(path, chunk_size=chunk_size, dataset=dataset):
            scores = score_customers(model, chunk, monitor=monitor)
            table = pa.Table.from_pandas(scores, preserve_index=False)
            if writer is None:
                writer = stack.enter_context(pq.ParquetWriter(scores_tmp, table.schema))
            writer.write_table(table)
            flagged_parts.append(_flagged(scores, chunk, threshold, dataset, clv))
            n_scored += len(scores)
        if writer is not None:
            writer.close()
        assignment, treated = _write_lists(
            pd.concat(flagged_parts, ignore_index=True), assignment_tmp, campaign_tmp,
            campaign_path=campaign_path, campaign_id=campaign_id, control_share=control_share,
            model_version=model_version, scored_at=scored_at,
        )  # fmt: skip
    return _result(n_scored, assignment, treated, scores_path, campaign_path, assignment_path,
                   monitor)  # fmt: skip


def _flagged(
    scores: pd.DataFrame,
    customers: pd.DataFrame,
    threshold: float,
    dataset: DatasetSettings,
    clv: float,
) -> pd.DataFrame:
    """The flagged customers of a chunk, with each one's value."""
    above = (scores["churn_probability"] > threshold).to_numpy()
    flagged = flag_customers(scores, threshold=threshold)
    flagged[VALUE_COLUMN] = customer_values(customers.loc[above], dataset, clv)
    return flagged


def _result(
    n_scored: int,
    assignment: pd.DataFrame,
    treated: pd.DataFrame,
    scores_path: Path,
    campaign_path: Path,
    assignment_path: Path,
    monitor: DriftMonitor,
) -> ScoringResult:
    return ScoringResult(
        n_scored=n_scored,
        n_flagged=len(assignment),
        n_control=int((assignment["group"] == CONTROL).sum()),
        treated_probabilities=treated["churn_probability"].to_numpy(),
        treated_values=treated[VALUE_COLUMN].to_numpy(),
        scores_path=scores_path,
        campaign_path=campaign_path,
        assignment_path=assignment_path,
        drift=monitor.report(),
    )


def _write_lists(
    flagged: pd.DataFrame,
    assignment_tmp: Path,
    campaign_tmp: Path,
    *,
    campaign_path: Path,
    campaign_id: str,
    control_share: float,
    model_version: str,
    scored_at: datetime,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Assign the flagged to treatment or control; write the assignment and the campaign list."""
    assignment = assign_groups(
        flagged, campaign_id=campaign_id, control_share=control_share
    ).assign(campaign_id=campaign_id)[list(ASSIGNMENT_COLUMNS)]
    assignment.to_parquet(assignment_tmp, index=False)
    treated = assignment.loc[assignment["group"] != CONTROL]
    campaign = treated.assign(
        scored_at=scored_at.isoformat(timespec="seconds"), model_version=model_version
    )[list(CAMPAIGN_COLUMNS)]
    if campaign_path.suffix.lower() == ".csv":
        campaign.to_csv(campaign_tmp, index=False)
    else:
        campaign.to_parquet(campaign_tmp, index=False)
    return assignment, treated


@dataclass(frozen=True)
class ChunkResult:
    """What scoring one chunk produced; its scores are in the ``part`` file."""

    index: int
    n_scored: int
    flagged: pd.DataFrame
    drift_counts: dict[str, np.ndarray]
    part: Path


def score_chunk(
    model: ChurnModel,
    chunk: Chunk,
    *,
    threshold: float,
    part: Path,
    dataset: DatasetSettings | None = None,
    clv: float = 0.0,
) -> ChunkResult:
    """Score one chunk on its own (e.g. on a Dask worker); write its scores to ``part``."""
    dataset = DatasetSettings() if dataset is None else dataset
    frame = read_chunk(chunk, dataset=dataset)
    monitor = DriftMonitor(model.profiles)
    scores = score_customers(model, frame, monitor=monitor)
    part.parent.mkdir(parents=True, exist_ok=True)
    scores.to_parquet(part, index=False)
    flagged = _flagged(scores, frame, threshold, dataset, clv)
    return ChunkResult(chunk.index, len(scores), flagged, monitor.counts, part)


def combine_chunks(
    results: list[ChunkResult],
    model: ChurnModel,
    *,
    scores_path: Path,
    campaign_path: Path,
    assignment_path: Path,
    campaign_id: str,
    model_version: str,
    scored_at: datetime,
    control_share: float = 0.0,
) -> ScoringResult:
    """Join scored chunks, in table order, into the same three outputs as ``score_file``."""
    import pyarrow.parquet as pq

    ordered = sorted(results, key=lambda r: r.index)
    monitor = DriftMonitor(model.profiles)
    for result in ordered:
        for name, counts in result.drift_counts.items():
            monitor.counts[name] = monitor.counts.get(name, 0) + counts
    with contextlib.ExitStack() as stack:
        scores_tmp = stack.enter_context(atomic_path(scores_path))
        assignment_tmp = stack.enter_context(atomic_path(assignment_path))
        campaign_tmp = stack.enter_context(atomic_path(campaign_path))
        writer: pq.ParquetWriter | None = None
        for result in ordered:
            table = pq.read_table(result.part)
            if writer is None:
                writer = stack.enter_context(pq.ParquetWriter(scores_tmp, table.schema))
            writer.write_table(table)
        if writer is not None:
            writer.close()
        assignment, treated = _write_lists(
            pd.concat([r.flagged for r in ordered], ignore_index=True), assignment_tmp,
            campaign_tmp, campaign_path=campaign_path, campaign_id=campaign_id,
            control_share=control_share, model_version=model_version, scored_at=scored_at,
        )  # fmt: skip
    n_scored = sum(r.n_scored for r in ordered)
    return _result(n_scored, assignment, treated, scores_path, campaign_path, assignment_path,
                   monitor)  # fmt: skip
