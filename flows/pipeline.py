"""The pipeline flow: (synthetic data) → train → score → (simulated outcomes → realized ROI)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow

from churn.data import read_table, write_table
from churn.layout import CampaignFolder
from churn.outcomes import simulate_outcomes
from churn.settings import Settings
from flows.data import provide_data
from flows.measure import realized_roi_flow
from flows.score import campaign_folder, score_flow
from flows.tasks import compute_task
from flows.train import train_flow


def simulate_campaign_outcomes(
    folder: CampaignFolder, truth_path: Path, out: Path, *, seed: int, observed_at: date
) -> Path:
    """Simulate the outcomes of every customer a campaign scored, from the world's truth.

    Treated customers get the campaign's true effect; the control group and the
    customers below the threshold churn with their true probability.
    """
    truth = read_table(truth_path)
    latest = truth.loc[truth["snapshot_date"] == truth["snapshot_date"].max()]
    assignment = read_table(folder.assignment)[["customer_id", "group"]]
    everyone = read_table(folder.scores)[["customer_id"]].merge(
        assignment, on="customer_id", how="left"
    )
    everyone["group"] = everyone["group"].fillna("not flagged")
    outcomes = simulate_outcomes(everyone, latest, seed=seed, observed_at=observed_at)
    return write_table(outcomes, out)


@compute_task
def simulate_outcomes_task(settings: Settings, campaign_id: str) -> Path:
    return simulate_campaign(settings, campaign_id, seed=settings.data.seed)


def simulate_campaign(
    settings: Settings, campaign_id: str, *, seed: int, out: Path | None = None
) -> Path:
    """Simulate a campaign's outcomes as read at the end of the measurement window."""
    folder = campaign_folder(settings, campaign_id)
    window_end = pd.Timestamp.now() + pd.DateOffset(months=settings.measurement.window_months)
    return simulate_campaign_outcomes(
        folder,
        settings.data.truth_path,
        out or folder.outcomes,
        seed=seed,
        observed_at=window_end.date(),
    )


@flow(name="churn-pipeline", log_prints=True)
def pipeline_flow(settings: Settings, campaign_id: str | None = None) -> dict[str, Any]:
    """Train a model, score every customer with the champion, and on synthetic data
    close the loop: simulate the campaign's outcomes and measure its realized ROI."""
    synthetic = settings.data.source == "synthetic"
    generated = provide_data(settings)
    training = train_flow(settings)
    scoring = score_flow(settings, campaign_id=campaign_id)
    result: dict[str, Any] = {"generated": generated, "training": training, "scoring": scoring}
    if synthetic and scoring["n_control"] > 0:
        outcomes = simulate_outcomes_task(settings, scoring["campaign_id"])
        result["realized"] = realized_roi_flow(settings, scoring["campaign_id"], outcomes)
    return result
