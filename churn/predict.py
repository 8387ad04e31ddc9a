"""Scoring customers, flagging those above the threshold, writing the campaign's files.

``score_file`` streams a table in chunks — read, validate, score, flag, write —
so memory is bounded by the chunk size, not the customer count; it replaces
the scores of every customer atomically and returns the flagged. Who of them
is contacted is the contact policy's and the ledger's decision
(``churn.contact_policy``, ``churn.ledger``); ``write_campaign_files`` then
writes the assignment of every flagged customer (group and skip reason) and
the campaign list of the treatment group (for the CRM), atomically.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from churn.atomic import atomic_path
from churn.data import Chunk, check_customer_ids, iter_customer_batches, read_chunk
from churn.dataset import VALUE_COLUMN, DatasetSettings, customer_values
from churn.drift import DriftMonitor
from churn.holdout import TREATMENT
from churn.model import ChurnModel
from churn.schema import ID_COLUMN

CAMPAIGN_COLUMNS = ("customer_id", "churn_probability", "campaign_id", "scored_at", "model_version")
ASSIGNMENT_COLUMNS = (
    "customer_id", "churn_probability", VALUE_COLUMN, "group", "skip_reason", "campaign_id",
)  # fmt: skip


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


FLAGGED_COLUMNS = ("customer_id", "churn_probability", VALUE_COLUMN)


@dataclass(frozen=True)
class ScoringResult:
    """What a scoring pass produced: every score on disk, the flagged in memory.

    Attributes:
        n_scored: customers scored.
        flagged: ``customer_id, churn_probability, customer_value`` of those above
            the threshold, in table order (the contact policy decides who of them
            is contacted).
        scores_path: the parquet file of every customer's score.
        drift: PSI per feature against the training profiles.
    """

    n_scored: int
    flagged: pd.DataFrame
    scores_path: Path
    drift: dict[str, float]

    @property
    def n_flagged(self) -> int:
        """Customers above the threshold."""
        return len(self.flagged)

    def drift_metrics(self) -> dict[str, float]:
        """``psi_<feature>`` for every feature, and ``psi_max``."""
        return {
            **{f"psi_{name}": value for name, value in self.drift.items()},
            "psi_max": max(self.drift.values(), default=0.0),
        }


def score_file(
    model: ChurnModel,
    path: Path,
    *,
    threshold: float,
    chunk_size: int,
    scores_path: Path,
    dataset: DatasetSettings | None = None,
    clv: float = 0.0,
    on_chunk: Callable[[int], None] | None = None,
) -> ScoringResult:
    """Score every customer of a table in chunks; write every score, return the flagged.

    Args:
        model: the fitted model.
        path: the customer table (parquet or CSV).
        threshold: flag customers strictly above this churn probability.
        chunk_size: rows per chunk.
        scores_path: parquet file of ``customer_id, churn_probability`` for everyone,
            replaced atomically once every chunk has been scored.
        dataset: the table's declaration (the synthetic world's when None).
        clv: each customer's value when the dataset declares no ``customer_value`` rule.
        on_chunk: called with the customers scored so far after each chunk but the
            last (progress for people).

    Raises:
        InputError: the table is missing, unreadable or invalid; the scores file is
            not touched then.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    dataset = DatasetSettings() if dataset is None else dataset
    check_customer_ids(path, dataset=dataset)
    n_scored = 0
    monitor = DriftMonitor(model.profiles)
    flagged_parts: list[pd.DataFrame] = []
    with contextlib.ExitStack() as stack:
        scores_tmp = stack.enter_context(atomic_path(scores_path))
        writer: pq.ParquetWriter | None = None
        for chunk in iter_customer_batches(path, chunk_size=chunk_size, dataset=dataset):
            if n_scored and on_chunk is not None:
                on_chunk(n_scored)
            scores = score_customers(model, chunk, monitor=monitor)
            table = pa.Table.from_pandas(scores, preserve_index=False)
            if writer is None:
                writer = stack.enter_context(pq.ParquetWriter(scores_tmp, table.schema))
            writer.write_table(table)
            flagged_parts.append(_flagged(scores, chunk, threshold, dataset, clv))
            n_scored += len(scores)
        if writer is not None:
            writer.close()
    return ScoringResult(n_scored, _joined(flagged_parts), scores_path, monitor.report())


def _joined(parts: list[pd.DataFrame]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame({c: [] for c in FLAGGED_COLUMNS})
    return pd.concat(parts, ignore_index=True)[list(FLAGGED_COLUMNS)]


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


@dataclass(frozen=True)
class CampaignFiles:
    """The campaign's two files: every flagged customer's decision, and the CRM's list."""

    assignment_path: Path
    campaign_path: Path


def write_campaign_files(
    decisions: pd.DataFrame,
    *,
    assignment_path: Path,
    campaign_path: Path,
    campaign_id: str,
    model_version: str,
    scored_at: datetime,
    withheld: Collection[str] = (),
) -> CampaignFiles:
    """Write the assignment (every flagged customer: group and skip reason) and the
    campaign list of the treatment group (CSV for the CRM, or parquet), both atomically.

    Args:
        decisions: the ledger's rows: ``customer_id, churn_probability,
            customer_value, group, skip_reason``.
        assignment_path: parquet of every flagged customer's decision.
        campaign_path: the list of customers to contact.
        campaign_id: the campaign.
        model_version: the registry version that scored.
        scored_at: the scoring time written into the list.
        withheld: customers kept off the list though the ledger records them as treated
            (opted out since the campaign was recorded).
    """
    assignment = decisions.assign(campaign_id=campaign_id)[list(ASSIGNMENT_COLUMNS)]
    treated = assignment.loc[assignment["group"] == TREATMENT]
    if len(withheld):
        treated = treated.loc[~treated["customer_id"].isin(list(withheld))]
    campaign = treated.assign(
        scored_at=scored_at.isoformat(timespec="seconds"), model_version=model_version
    )[list(CAMPAIGN_COLUMNS)]
    with atomic_path(assignment_path) as assignment_tmp, atomic_path(campaign_path) as list_tmp:
        assignment.to_parquet(assignment_tmp, index=False)
        if campaign_path.suffix.lower() == ".csv":
            campaign.to_csv(list_tmp, index=False)
        else:
            campaign.to_parquet(list_tmp, index=False)
    return CampaignFiles(assignment_path=assignment_path, campaign_path=campaign_path)


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
    results: list[ChunkResult], model: ChurnModel, *, scores_path: Path
) -> ScoringResult:
    """Join scored chunks, in table order, into the same result as ``score_file``."""
    import pyarrow.parquet as pq

    ordered = sorted(results, key=lambda r: r.index)
    monitor = DriftMonitor(model.profiles)
    for result in ordered:
        for name, counts in result.drift_counts.items():
            monitor.counts[name] = monitor.counts.get(name, 0) + counts
    with contextlib.ExitStack() as stack:
        scores_tmp = stack.enter_context(atomic_path(scores_path))
        writer: pq.ParquetWriter | None = None
        for result in ordered:
            table = pq.read_table(result.part)
            if writer is None:
                writer = stack.enter_context(pq.ParquetWriter(scores_tmp, table.schema))
            writer.write_table(table)
        if writer is not None:
            writer.close()
    n_scored = sum(r.n_scored for r in ordered)
    flagged = _joined([r.flagged for r in ordered])
    return ScoringResult(n_scored, flagged, scores_path, monitor.report())
