"""Campaign outcomes: simulated from the synthetic world's truth, joined to the assignment."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from churn.errors import InputError
from churn.holdout import TREATMENT
from churn.synthetic import contacted_churn_probability


def simulate_outcomes(
    assignment: pd.DataFrame, truth: pd.DataFrame, *, seed: int, observed_at: date
) -> pd.DataFrame:
    """Draw who churned over the window, from each customer's true probability.

    A control customer churns with their true probability ``p``; a treated one
    with ``p × (1 − effect)``, their true treatment effect (at most 1: in the
    heterogeneous world a contact can raise the risk).

    Args:
        assignment: ``customer_id`` and ``group`` of the campaign's customers.
        truth: the world's truth for the scored snapshot (one row per customer).
        seed: the random seed.
        observed_at: when the outcomes are read (the end of the window).

    Returns:
        ``customer_id, churned, observed_at`` in the assignment's order.
    """
    merged = assignment[["customer_id", "group"]].merge(
        truth[["customer_id", "true_churn_probability", "true_treatment_effect"]],
        on="customer_id",
        how="left",
        validate="one_to_one",
    )
    missing = merged["true_churn_probability"].isna()
    if missing.any():
        raise InputError(
            f"the truth table has no row for {int(missing.sum())} campaign customers "
            f"(e.g. {merged.loc[missing, 'customer_id'].head(3).tolist()})"
        )
    p = merged["true_churn_probability"].to_numpy()
    treated = (merged["group"] == TREATMENT).to_numpy()
    effect = merged["true_treatment_effect"].to_numpy()
    p = np.where(treated, contacted_churn_probability(p, effect), p)
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": merged["customer_id"],
            "churned": (rng.random(len(p)) < p).astype(int),
            "observed_at": pd.Timestamp(observed_at),
        }
    )


def join_outcomes(
    assignment: pd.DataFrame, outcomes: pd.DataFrame, *, source: str | Path
) -> pd.DataFrame:
    """The assignment with each customer's observed ``churned``.

    Raises:
        InputError: some campaign customers have no outcome (named, with examples).
    """
    columns = [c for c in ("customer_id", "churned", "observed_at") if c in outcomes]
    joined = assignment.merge(
        outcomes[columns], on="customer_id", how="left", validate="one_to_one"
    )
    missing = joined["churned"].isna()
    if missing.any():
        raise InputError(
            f"{source}: no outcome for {int(missing.sum())} of {len(joined)} campaign customers "
            f"(e.g. {joined.loc[missing, 'customer_id'].head(3).tolist()}); every contacted "
            "and control customer needs one, measured over the whole window."
        )
    return joined.astype({"churned": int})
