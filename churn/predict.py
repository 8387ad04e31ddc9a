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
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from churn.atomic import atomic_path
from churn.contact_policy import EXPLORATION, RISK
from churn.data import Chunk, check_customer_ids, iter_customer_batches, read_chunk
from churn.dataset import VALUE_COLUMN, DatasetSettings, customer_values
from churn.drift import DriftMonitor
from churn.holdout import TREATMENT, exploration_mask
from churn.model import ChurnModel
from churn.schema import ID_COLUMN
from churn.timing import StepTimes
from churn.uplift import expected_incremental_profit

if TYPE_CHECKING:
    from churn.uplift import UpliftModel

CAMPAIGN_COLUMNS = ("customer_id", "churn_probability", "campaign_id", "scored_at", "model_version")
ASSIGNMENT_COLUMNS = (
    "customer_id", "churn_probability", VALUE_COLUMN, "group", "skip_reason", "selected_by",
    "campaign_id",
)  # fmt: skip


def score_customers(
    model: ChurnModel, customers: pd.DataFrame, *, monitor: DriftMonitor | None = None
) -> pd.DataFrame:
    """``customer_id, churn_probability`` for every customer, in input order.

    With a ``monitor``, the chunk's features are also counted for drift.
    """
    return _scored(model, customers, monitor)[0]


def _scored(
    model: ChurnModel,
    customers: pd.DataFrame,
    monitor: DriftMonitor | None,
    times: StepTimes | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The scores, and the features they were computed from."""
    times = StepTimes() if times is None else times
    with times.step("seconds_features"):
        features = model.features(customers)
    if monitor is not None:
        with times.step("seconds_drift"):
            monitor.update(features)
    with times.step("seconds_predict"):
        probability = model.predict_features(features)
    scores = pd.DataFrame(
        {ID_COLUMN: customers[ID_COLUMN].to_numpy(), "churn_probability": probability}
    )
    return scores, features


@dataclass(frozen=True)
class Targeting:
    """Whom a campaign selects besides exploration.

    ``risk``: churn probability above the threshold. ``uplift``: a positive expected
    incremental profit (``uplift × value − cost``, the uplift model's). ``hybrid``:
    both. Under uplift and hybrid each selected customer's ``expected_value`` is that
    expected incremental profit, which the contact budget ranks by.
    """

    policy: Literal["risk", "uplift", "hybrid"] = "risk"
    uplift: UpliftModel | None = None
    cost_per_contact: float = 0.0

    def __post_init__(self) -> None:
        if self.policy != RISK and self.uplift is None:
            raise ValueError(f"{self.policy} targeting needs an uplift model")


@dataclass(frozen=True)
class Exploration:
    """A campaign's random draw from below the threshold (``campaign.exploration_share``)."""

    campaign_id: str
    share: float


FLAGGED_COLUMNS = ("customer_id", "churn_probability", VALUE_COLUMN, "selected_by")
# Present when an uplift model set each customer's expected incremental profit.
EXPECTED_VALUE = "expected_value"


@dataclass(frozen=True)
class ScoringResult:
    """What a scoring pass produced: every score on disk, the flagged in memory.

    Attributes:
        n_scored: customers scored.
        flagged: ``customer_id, churn_probability, customer_value, selected_by`` of
            those above the threshold (``risk``) and those explored below it
            (``exploration``), in table order (the contact policy decides who of
            them is contacted).
        scores_path: the parquet file of every customer's score.
        drift: PSI per feature against the training profiles.
        features: ``customer_id`` and the model's features of the ``flagged``, in the
            same order: the covariates of the campaign's experiment.
        times: the seconds of each step of the pass (none when its chunks were scored
            apart, on Dask).
    """

    n_scored: int
    flagged: pd.DataFrame
    scores_path: Path
    drift: dict[str, float]
    features: pd.DataFrame
    times: StepTimes = field(default_factory=StepTimes)

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
    exploration: Exploration | None = None,
    targeting: Targeting | None = None,
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
        exploration: also select this random share of the customers the targeting
            does not select.
        targeting: whom to select (default: risk, above the threshold).

    Raises:
        InputError: the table is missing, unreadable or invalid; the scores file is
            not touched then.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    dataset = DatasetSettings() if dataset is None else dataset
    times = StepTimes()
    with times.step("seconds_id_check"):
        check_customer_ids(path, dataset=dataset)
    n_scored = 0
    monitor = DriftMonitor(model.profiles)
    flagged_parts: list[tuple[pd.DataFrame, pd.DataFrame]] = []
    with contextlib.ExitStack() as stack:
        scores_tmp = stack.enter_context(atomic_path(scores_path))
        writer: pq.ParquetWriter | None = None
        batches = iter_customer_batches(path, chunk_size=chunk_size, dataset=dataset)
        while True:
            with times.step("seconds_read_validate"):
                chunk = next(batches, None)
            if chunk is None:
                break
            if n_scored and on_chunk is not None:
                on_chunk(n_scored)
            scores, features = _scored(model, chunk, monitor, times)
            with times.step("seconds_write_scores"):
                table = pa.Table.from_pandas(scores, preserve_index=False)
                if writer is None:
                    writer = stack.enter_context(pq.ParquetWriter(scores_tmp, table.schema))
                writer.write_table(table)
            with times.step("seconds_flag"):
                flagged_parts.append(
                    _flagged(
                        scores, chunk, features, threshold, dataset, clv, exploration, targeting
                    )
                )
            n_scored += len(scores)
        with times.step("seconds_write_scores"):
            if writer is not None:
                writer.close()
    with times.step("seconds_flag"):
        flagged, features = _joined(flagged_parts, model)
    return ScoringResult(n_scored, flagged, scores_path, monitor.report(), features, times)


def _joined(
    parts: list[tuple[pd.DataFrame, pd.DataFrame]], model: ChurnModel
) -> tuple[pd.DataFrame, pd.DataFrame]:
    if not parts:
        empty = pd.DataFrame({c: [] for c in FLAGGED_COLUMNS})
        return empty, pd.DataFrame({c: [] for c in (ID_COLUMN, *model.spec.names)})
    flagged = pd.concat([p[0] for p in parts], ignore_index=True)
    extra = [EXPECTED_VALUE] if EXPECTED_VALUE in flagged else []
    flagged = flagged[[*FLAGGED_COLUMNS, *extra]]
    return flagged, pd.concat([p[1] for p in parts], ignore_index=True)


def _flagged(
    scores: pd.DataFrame,
    customers: pd.DataFrame,
    features: pd.DataFrame,
    threshold: float,
    dataset: DatasetSettings,
    clv: float,
    exploration: Exploration | None,
    targeting: Targeting | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The chunk's customers the targeting selects and those explored beside them, with
    each one's value and why they were selected; and their features."""
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold={threshold} should be a probability strictly between 0 and 1")
    targeting = targeting or Targeting()
    selected = (scores["churn_probability"] > threshold).to_numpy()
    profit = values = None
    if targeting.uplift is not None and targeting.policy != RISK:
        values = np.asarray(customer_values(customers, dataset, clv), dtype=float)
        profit = expected_incremental_profit(
            targeting.uplift.predict(features), values,
            cost_per_contact=targeting.cost_per_contact,
        )  # fmt: skip
        positive = profit > 0
        selected = positive if targeting.policy == "uplift" else selected & positive
    chosen = selected
    if exploration is not None and exploration.share > 0:
        ids = scores[ID_COLUMN].to_numpy()
        explored = np.zeros(len(selected), dtype=bool)
        explored[~selected] = exploration_mask(
            ids[~selected], campaign_id=exploration.campaign_id,
            exploration_share=exploration.share,
        )  # fmt: skip
        chosen = selected | explored
    flagged = scores.loc[chosen].reset_index(drop=True)
    flagged[VALUE_COLUMN] = (
        customer_values(customers.loc[chosen], dataset, clv) if values is None else values[chosen]
    )
    flagged["selected_by"] = np.where(selected[chosen], targeting.policy, EXPLORATION)
    if profit is not None:
        flagged["expected_value"] = profit[chosen]
    chosen_features = features.loc[chosen].reset_index(drop=True)
    chosen_features.insert(0, ID_COLUMN, flagged[ID_COLUMN].to_numpy())
    return flagged, chosen_features


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
    if "selected_by" not in decisions:  # rows recorded by the risk rule alone
        decisions = decisions.assign(selected_by=RISK)
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
    features: pd.DataFrame


def score_chunk(
    model: ChurnModel,
    chunk: Chunk,
    *,
    threshold: float,
    part: Path,
    dataset: DatasetSettings | None = None,
    clv: float = 0.0,
    exploration: Exploration | None = None,
    targeting: Targeting | None = None,
) -> ChunkResult:
    """Score one chunk on its own (e.g. on a Dask worker); write its scores to ``part``."""
    dataset = DatasetSettings() if dataset is None else dataset
    frame = read_chunk(chunk, dataset=dataset)
    monitor = DriftMonitor(model.profiles)
    scores, features = _scored(model, frame, monitor)
    part.parent.mkdir(parents=True, exist_ok=True)
    scores.to_parquet(part, index=False)
    flagged, chosen = _flagged(
        scores, frame, features, threshold, dataset, clv, exploration, targeting
    )
    return ChunkResult(chunk.index, len(scores), flagged, monitor.counts, part, chosen)


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
    flagged, features = _joined([(r.flagged, r.features) for r in ordered], model)
    return ScoringResult(n_scored, flagged, scores_path, monitor.report(), features)
