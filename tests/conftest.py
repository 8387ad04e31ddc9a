"""Shared fixtures: a temporary Prefect backend, a temporary MLflow store, small worlds."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from churn.settings import (
    CampaignSettings,
    DataSettings,
    LedgerSettings,
    ModelSettings,
    Settings,
    TrackingSettings,
)

SMALL_WORLD = 4000


def pytest_configure(config: pytest.Config) -> None:
    # Two xdist workers on two cores, each running LightGBM's OpenMP threads: idle
    # threads that spin-wait starve the other worker (the suite ran 9x slower).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # Offline, MLflow's telemetry thread fails and removes its session variable from
    # os.environ while another thread copies the environment (KeyError in runs/create).
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


# Seconds each of the longest tests takes on 2 cores (make test, --durations). Under
# xdist the longest start first, one on each worker, so that no worker is left with
# a long test at the end while the other idles.
LONGEST = {
    "test_sixty_days_of_daily_campaigns_keep_the_contact_history_true": 160,
    "test_train_score_then_bad_scoring_file_keeps_the_previous_campaign": 115,
    "test_bench_produces_its_table": 108,
    "test_months_of_drift_retrain_promotion_and_rollback": 40,
    "test_pipeline_against_a_tracking_server": 47,
    "test_interval_covers_the_true_roi_about_95_percent": 32,
    "test_a_scheduled_and_a_manual_scoring_at_once_never_contact_a_customer_twice": 29,
    "test_telco_reaches_published_quality_and_its_csv_export_reads_the_same": 29,
    "test_ledger_problems_stop_scoring_before_anything_is_written": 28,
    "test_serve_registers_both_deployments_with_their_schedules": 24,
    "test_dask_runner_scores_exactly_like_the_local_one": 23,
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return

    # xdist's work stealing hands the first worker the first half of this list and the
    # second the rest (steals take from a queue's end): the longest open each half,
    # alternating, and the others keep their order (module fixtures stay together).
    def cost(item: pytest.Item) -> int:
        return LONGEST.get(getattr(item, "originalname", item.name), 0)

    heavy = sorted((i for i in items if cost(i)), key=lambda i: -cost(i))
    rest = [i for i in items if not cost(i)]
    first, second = heavy[0::2], heavy[1::2]
    cut = len(items) // 2 - len(first)
    items[:] = first + rest[:cut] + second + rest[cut:]


def make_settings(
    root: Path,
    *,
    customers: int = SMALL_WORLD,
    source: str = "synthetic",
    cv_folds: int = 0,
    compile: bool = False,
) -> Settings:
    """Settings whose every path lies under ``root`` (no cross-validation and no
    compiled trees unless asked: they have tests of their own)."""
    return Settings(
        model=ModelSettings(cv_folds=cv_folds, compile=compile),
        data=DataSettings(
            source=source,  # type: ignore[arg-type]
            training_path=root / "data" / "customers.parquet",
            scoring_path=root / "data" / "current.parquet",
            truth_path=root / "data" / "truth.parquet",
            customers=customers,
            seed=7,
            as_of=date(2026, 6, 30),
        ),
        campaign=CampaignSettings(output_dir=root / "outputs", chunk_size=1000),
        tracking=TrackingSettings(
            uri=f"sqlite:///{root / 'mlflow.db'}", artifact_dir=root / "mlartifacts"
        ),
        ledger=LedgerSettings(url=f"sqlite:///{root / 'ledger.db'}"),
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture(scope="session")
def prefect_backend() -> Iterator[str]:
    """One temporary Prefect server for the whole session; yields its API URL."""
    from flows.runtime import PREFECT_DEFAULTS, configure_runtime

    for key, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(key, value)
    configure_runtime()
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        temporary_settings,
    )
    from prefect.testing.utilities import prefect_test_harness

    # Heartbeats tell a server that a scheduled run crashed; here they only cost each
    # flow run up to a second at its end (the heartbeat thread sleeps in whole seconds
    # and is joined), which the daily-campaign simulation pays ninety times.
    with (
        prefect_test_harness(server_startup_timeout=180),
        temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
    ):
        yield str(PREFECT_API_URL.value())
