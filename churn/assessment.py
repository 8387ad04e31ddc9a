"""What a trained model is worth, on the customers it never saw: quality, money, and
whether it should replace the champion.

- ``evaluate_model``: ranking, probability and threshold metrics on the test
  customers, EMPC, and the logistic baseline's metrics beside them;
- ``backtest_model``: the campaign the model would have run on them, and what
  every other threshold would have earned (the profit curve);
- ``challenge``: the champion scored on the same customers, and the decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

import roi
from churn.dataset import LABEL_COLUMN, customer_values
from churn.evaluate import evaluate_predictions
from churn.model import ChurnModel
from churn.promotion import PromotionDecision, decide_promotion
from churn.settings import Settings

# EMPC's accept rate is uncertain: Beta with mean save_rate and this a + b
# (Verbraken et al. 2013 use a Beta too); the offer costs nothing beyond the contact.
ACCEPT_RATE_CONCENTRATION = 8.0
BASELINE_METRICS = ("auc", "pr_auc", "brier", "ece", "log_loss")


@dataclass(frozen=True)
class Evaluation:
    """A model's scores and metrics on the test customers."""

    metrics: dict[str, float]
    importance: pd.Series
    y_true: np.ndarray
    y_score: np.ndarray
    baseline_score: np.ndarray
    # Each test customer's lifetime value, in dollars.
    values: np.ndarray


@dataclass(frozen=True)
class Backtest:
    """The campaign the model would have run on the test customers."""

    campaign: roi.CampaignROI
    metrics: dict[str, float]
    curve: pd.DataFrame
    gains: pd.DataFrame

    def threshold_advice(self, threshold: float) -> str | None:
        """What to do when the configured threshold contacts nobody, or loses money
        where another threshold would make some (None when neither).

        Examples:
            >>> curve = pd.DataFrame({"threshold": [0.1], "net_benefit": [1.0]})
            >>> b = Backtest(roi.CampaignROI(0, 0.0, 0.0, 0.0, 0.0, None),
            ...              {"best_threshold": 0.08, "best_threshold_net_benefit": 41_500.0},
            ...              curve, curve)
            >>> b.threshold_advice(0.7)[:63]
            'No test customer scores above the 0.7 threshold: a campaign at '
        """
        best = self.metrics.get("best_threshold")
        best_net = self.metrics.get("best_threshold_net_benefit", 0.0)
        if best is None or best_net <= 0:
            return None
        fix = (
            f"the test split's most net benefit is at {best:.2f} (${best_net:,.0f}); "
            f"to act on it, set `campaign: {{threshold: {best:.2f}}}` in the config"
        )
        if self.campaign.n_targeted == 0:
            return (
                f"No test customer scores above the {threshold:g} threshold: a campaign at "
                f"it would contact nobody and its ROI cannot be measured; {fix}"
            )
        if self.campaign.net_benefit <= 0:
            return (
                f"At the {threshold:g} threshold the backtest loses "
                f"${-self.campaign.net_benefit:,.0f}; {fix}"
            )
        return None


@dataclass(frozen=True)
class Challenge:
    """The champion on the challenger's test customers, and which of them should score."""

    decision: PromotionDecision
    metrics: dict[str, float]


def evaluate_model(
    model: ChurnModel, test: pd.DataFrame, baseline_score: np.ndarray, settings: Settings
) -> Evaluation:
    """The model's metrics on ``test`` (labelled), EMPC, and the baseline's beside them."""
    y_score = model.predict_proba(test)
    y_true = test[LABEL_COLUMN].to_numpy()
    threshold, e = settings.campaign.threshold, settings.economics
    values = customer_values(test, settings.dataset, e.clv)
    metrics = evaluate_predictions(y_true, y_score, threshold=threshold)
    empc = roi.expected_max_profit(
        y_true, y_score, clv=float(values.mean()), cost_per_contact=e.cost_per_contact,
        alpha=e.save_rate * ACCEPT_RATE_CONCENTRATION,
        beta=(1 - e.save_rate) * ACCEPT_RATE_CONCENTRATION,
    )  # fmt: skip
    metrics |= {"empc": empc.value, "empc_target_share": empc.target_rate}
    baseline = evaluate_predictions(y_true, baseline_score, threshold=threshold)
    metrics |= {f"baseline_{k}": baseline[k] for k in BASELINE_METRICS if k in baseline}
    return Evaluation(
        metrics=metrics,
        importance=model.feature_importance(),
        y_true=y_true,
        y_score=y_score,
        baseline_score=baseline_score,
        values=values,
    )


def backtest_model(evaluation: Evaluation, settings: Settings) -> Backtest:
    """Backtest ROI at the configured threshold, and what every other threshold earns."""
    e, threshold = settings.economics, settings.campaign.threshold
    economics: dict[str, Any] = {
        "save_rate": e.save_rate,
        "clv": evaluation.values,
        "cost_per_contact": e.cost_per_contact,
    }
    y_true, y_score = evaluation.y_true, evaluation.y_score
    campaign = roi.backtest_roi(y_true, y_score > threshold, **economics)
    comparison = roi.compare_thresholds(y_score, threshold=threshold, y_true=y_true, **economics)
    metrics = campaign.as_metrics() | {
        "break_even_probability": comparison.break_even_probability,
        "best_threshold": comparison.best_threshold,
        "best_threshold_net_benefit": comparison.best_net_benefit,
        "missed_net_benefit": comparison.missed_net_benefit,
    }
    return Backtest(
        campaign=campaign,
        metrics=metrics,
        curve=roi.profit_curve(y_score, y_true=y_true, **economics),
        gains=roi.cumulative_gains(y_true, y_score),
    )


def challenge(
    champion: ChurnModel,
    test: pd.DataFrame,
    evaluation: Evaluation,
    backtest: Backtest,
    settings: Settings,
) -> Challenge:
    """Score the champion on the challenger's test customers and decide which is better."""
    e, threshold = settings.economics, settings.campaign.threshold
    champion_scores = champion.predict_proba(test)
    champion_auc = evaluate_predictions(evaluation.y_true, champion_scores, threshold=threshold)[
        "auc"
    ]
    champion_backtest = roi.backtest_roi(
        evaluation.y_true, champion_scores > threshold,
        save_rate=e.save_rate, clv=evaluation.values, cost_per_contact=e.cost_per_contact,
    )  # fmt: skip
    p = settings.promotion
    # Each test customer's backtest value if contacted: a churner the campaign would keep.
    kept_value = evaluation.y_true * e.save_rate * evaluation.values
    paired = roi.compare_policies(
        champion_scores > threshold, evaluation.y_score > threshold, kept_value,
        cost_per_contact=e.cost_per_contact, confidence=settings.measurement.confidence,
        n_bootstrap=1000, seed=settings.model.seed,
    )  # fmt: skip
    decision = decide_promotion(
        challenger_auc=evaluation.metrics["auc"],
        champion_auc=champion_auc,
        challenger_roi_pct=backtest.campaign.roi_pct,
        champion_roi_pct=champion_backtest.roi_pct,
        auc_tolerance=p.auc_tolerance,
        roi_tolerance=p.roi_tolerance,
        # Retrained on the same data with the same seed: the same trees.
        identical_on=len(champion_scores)
        if np.array_equal(champion_scores, evaluation.y_score)
        else None,
        net_benefit=paired,
    )
    metrics = {
        "champion_auc": champion_auc,
        **champion_backtest.as_metrics(prefix="champion_"),
        **decision.as_metrics(),
    }
    return Challenge(decision=decision, metrics=metrics)
