"""The business maths of a churn campaign, like ``sklearn.metrics`` for money.

Pure functions of numbers and arrays (numpy only): no Prefect, no MLflow, no
knowledge of the churn package. Naming:

- ``n_*`` are counts of customers; ``customers_saved`` may be fractional
  when it is an expectation.
- ``revenue_saved``, ``campaign_cost``, ``net_benefit``, ``clv`` and
  ``cost_per_contact`` are amounts in dollars.
- ``*_pct`` are percentages (500.0 means 500 %); ``*_rate`` are shares in [0, 1].
- ``*_ci`` are (low, high) intervals at the stated confidence; as MLflow
  metrics they become ``*_low`` and ``*_high``.
- An ROI that cannot be measured (no cost: nobody targeted) is ``None``,
  never a division by zero or a NaN; a realized ROI without a control group
  raises a ``ValueError`` that says it is not measurable.

Families: ``campaign`` (ROI from counts, expected and backtest ROI),
``realized`` (measured against the control group, with intervals, power and
split checks), ``pooled`` (realized ROI of several campaigns of one policy,
stratified by campaign), ``curves`` (profit curve, threshold comparison,
gains, Qini), ``uplift`` (Qini coefficient, AUUC, incremental profit of a
targeting policy and the gate between two), ``costs`` (full-cost ROI and
payback), ``empc`` (the expected maximum profit measure of a churn model, EMPC).

The reference worked example of the domain brief — 1,000 flagged customers,
40 % of whom would churn, 15 % with the campaign, CLV $1,200, $50 a contact —
gives 250 customers saved, $300,000 revenue saved, $50,000 cost, $250,000 net
benefit and a 500 % ROI.
"""

from roi.campaign import (
    CampaignROI,
    backtest_roi,
    break_even_probability,
    campaign_roi,
    expected_roi,
    roi_pct,
)
from roi.costs import FullCostROI, full_cost_roi, payback, payback_month
from roi.curves import (
    ThresholdComparison,
    compare_thresholds,
    cumulative_gains,
    profit_curve,
    qini_curve,
)
from roi.empc import EMPC, expected_max_profit
from roi.pooled import CampaignOutcomes, pooled_realized_roi
from roi.realized import (
    RealizedROI,
    minimum_detectable_effect,
    realized_roi,
    split_mismatch_pvalue,
)
from roi.uplift import (
    PolicyComparison,
    UpliftEvaluation,
    auuc,
    compare_policies,
    evaluate_uplift,
    incremental_values,
    policy_profit,
    qini_coefficient,
    select_within_budget,
    uplift_gain_curve,
)

__all__ = [
    "EMPC",
    "CampaignOutcomes",
    "CampaignROI",
    "FullCostROI",
    "PolicyComparison",
    "RealizedROI",
    "ThresholdComparison",
    "UpliftEvaluation",
    "auuc",
    "backtest_roi",
    "break_even_probability",
    "campaign_roi",
    "compare_policies",
    "compare_thresholds",
    "cumulative_gains",
    "evaluate_uplift",
    "expected_max_profit",
    "expected_roi",
    "full_cost_roi",
    "incremental_values",
    "minimum_detectable_effect",
    "payback",
    "payback_month",
    "policy_profit",
    "pooled_realized_roi",
    "profit_curve",
    "qini_coefficient",
    "qini_curve",
    "realized_roi",
    "roi_pct",
    "select_within_budget",
    "split_mismatch_pvalue",
    "uplift_gain_curve",
]
