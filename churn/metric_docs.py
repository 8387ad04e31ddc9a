"""What each logged metric means, and its unit: the one catalogue behind
``docs/metrics.md`` (``python -m churn.metric_docs > docs/metrics.md``).

A metric's name is a base name, optionally after a family prefix (``realized_``,
``expected_full_cost_``, ``cv_``, …) and before an interval suffix (``_low``,
``_high``): ``realized_roi_pct_low`` is the low end of the realized ROI's
interval, in percent. A test checks that every metric a pipeline run logs is
described here, and that the docs table is this catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass

# Base names: (unit, meaning).
BASES: dict[str, tuple[str, str]] = {
    "auc": ("0-1", "ROC AUC: how well the scores rank churners above stayers (0.5 = chance)"),
    "pr_auc": ("0-1", "average precision (area under the precision-recall curve)"),
    "brier": ("0-1", "Brier score: mean squared error of the probabilities (lower is better)"),
    "ece": ("0-1", "expected calibration error: predicted vs observed churn rate, 10 bins"),
    "log_loss": ("nats", "log loss of the probabilities (lower is better)"),
    "precision_at_threshold": ("0-1", "share of flagged test customers who churned"),
    "recall_at_threshold": ("0-1", "share of test churners who were flagged"),
    "n_flagged": ("customers", "customers above the threshold"),
    "flagged_share": ("0-1", "flagged customers as a share of those scored"),
    "churn_rate": ("0-1", "share of labelled customers who churned"),
    "n_customers": ("customers", "labelled customers trained and tested on"),
    "empc": ("$ per customer", "expected maximum profit (Verbeke et al.) over the test split"),
    "empc_target_share": ("0-1", "share of customers EMPC would contact"),
    "n_targeted": ("customers", "customers contacted"),
    "customers_saved": ("customers", "churners kept by the campaign"),
    "revenue_saved": ("$", "customers saved × their value"),
    "campaign_cost": ("$", "customers contacted × cost per contact"),
    "net_benefit": ("$", "revenue saved − campaign cost"),
    "roi_pct": ("%", "net benefit ÷ cost × 100"),
    "compute_cost": ("$", "the pipeline's compute time × its price per hour"),
    "fixed_cost": ("$", "fixed cost per campaign"),
    "total_cost": ("$", "campaign + compute + fixed cost"),
    "break_even_probability": ("0-1", "churn probability above which a contact pays"),
    "best_threshold": ("0-1", "threshold with the largest backtest net benefit"),
    "best_threshold_net_benefit": ("$", "backtest net benefit at the best threshold"),
    "missed_net_benefit": ("$", "best threshold's net benefit − the configured one's"),
    "compile_seconds": ("s", "time to compile the trees to machine code"),
    "compute_seconds": (
        "s",
        "the run's own wall time (scoring: plus its model's training, "
        "charged to the model's first campaign)",
    ),
    "training_compute_seconds_charged": ("s", "training time charged to this campaign"),
    "seconds_id_check": ("s", "scoring: the pass over the table's ids (each one once)"),
    "seconds_read_validate": ("s", "scoring: reading the chunks and validating them"),
    "seconds_features": ("s", "scoring: building the model's features"),
    "seconds_drift": ("s", "scoring: counting features into the drift bins"),
    "seconds_predict": ("s", "scoring: the model's probabilities (trees and calibration)"),
    "seconds_write_scores": ("s", "scoring: writing every customer's score"),
    "seconds_flag": ("s", "scoring: selecting the flagged and explored, their values"),
    "n_scored": ("customers", "customers scored"),
    "n_treated": ("customers", "flagged customers contacted (treatment group)"),
    "n_control": ("customers", "flagged customers held out at random (control group)"),
    "n_skipped_suppressed": ("customers", "flagged but opted out"),
    "n_skipped_holdout": ("customers", "flagged but in another campaign's open control group"),
    "n_skipped_cooldown": ("customers", "flagged but contacted within the cooldown"),
    "n_skipped_budget": ("customers", "flagged but over the contact budget"),
    "budget_left_out_net_benefit": ("$", "expected net benefit of those the budget left out"),
    "observed_control_share": ("0-1", "control customers ÷ flagged customers measured"),
    "treated_churn_rate": ("0-1", "churn rate of the contacted customers"),
    "control_churn_rate": ("0-1", "churn rate of the control group"),
    "churn_rate_difference": ("0-1", "control − treated churn rate (the campaign's effect)"),
    "minus_expected_roi_pct": ("% points", "realized − expected ROI"),
    "minimum_detectable_effect": (
        "0-1",
        "smallest churn-rate difference the campaign's groups can detect (80 % power)",
    ),
    "assumed_effect": ("0-1", "the churn-rate difference the economics assume"),
    "split_pvalue": ("p-value", "chi-square test that the control share is as configured"),
    "campaigns": ("campaigns", "campaigns pooled"),
    "campaigns_measured": ("campaigns", "measured campaigns, each counted once"),
    "cumulative_net_benefit": (
        "$",
        "net benefit of every measured campaign, after fixed and upfront costs",
    ),
    "payback_month": ("months", "month the cumulative net benefit turns positive"),
    "auc_customers": ("customers", "customers the realized AUC was measured on"),
    "best_cv_auc": ("0-1", "best cross-validated AUC of a parameter search (churn tune)"),
    "psi_max": ("PSI", "largest feature drift (population stability index) of the scoring"),
    "qini": ("-1 to 1", "Qini coefficient of the uplift ranking (0 = random order; causalml's)"),
    "auuc": ("0-1", "area under the uplift (cumulative gain) curve, scaled (0.5 = random)"),
    "current_profit": ("$", "risk targeting's incremental profit, estimated on the experiments"),
    "candidate_profit": ("$", "uplift targeting's incremental profit at the same budget"),
    "profit_difference": ("$", "uplift − risk targeting's incremental profit (paired)"),
    "budget": ("customers", "contacts both policies are compared at (population-weighted)"),
    "switch": ("0/1", "1 when the gate lets uplift targeting replace risk targeting"),
    "customers": ("customers", "experimental customers the uplift model was judged on"),
    "training_customers": ("customers", "experimental customers the uplift model learnt from"),
    "explored_customers": ("customers", "of those, drawn at random beside the targeted"),
    "challenger_minus_champion_net_benefit": (
        "$",
        "backtest net benefit of this model minus the champion's, on the same test customers "
        "(paired bootstrap interval); the champion is kept when the interval is below 0",
    ),
}

# Family prefixes, longest first: (what the family is).
PREFIXES: dict[str, str] = {
    "pooled_realized_": "pooled over the measured campaigns of the same policy",
    "realized_full_cost_": "realized, with compute and fixed costs counted",
    "expected_full_cost_": "expected at scoring, with compute and fixed costs counted",
    "baseline_cv_": "the logistic baseline, cross-validated",
    "realized_": "realized: measured on outcomes against the control group",
    "expected_": "expected at scoring, from the calibrated probabilities",
    "baseline_": "the logistic baseline, on the same test customers",
    "champion_": "the current champion, on the challenger's test customers",
    "pooled_": "pooled over campaigns",
    "cv_": "mean over the cross-validation folds",
    "psi_": "drift of that feature in the scored table (population stability index)",
    "crossfit_": "the uplift model, cross-fitted: each customer predicted by a model that "
    "never saw them",
    "gate_": "the gate: risk against uplift targeting on the experiments, paired bootstrap",
    "policy_": "risk against uplift targeting on this campaign's experiment (the uplift "
    "champion's choices; in sample when it learnt from this campaign)",
}

SUFFIXES: dict[str, str] = {
    "_low": "low end of the interval (95 % by default)",
    "_high": "high end of the interval",
    "_std": "standard deviation over the folds",
}


@dataclass(frozen=True)
class MetricDoc:
    """A metric's unit and meaning, from its parts."""

    name: str
    unit: str
    meaning: str


def describe_metric(name: str) -> MetricDoc:
    """What a logged metric means.

    Raises:
        KeyError: the name is in no part of the catalogue (add it to ``BASES``).

    Examples:
        >>> describe_metric("realized_roi_pct_low").unit
        '%'
        >>> describe_metric("psi_tenure_months").meaning[:33]
        "drift of feature 'tenure_months' "
    """
    rest, suffix = name, ""
    for end in SUFFIXES:
        if rest.endswith(end) and rest[: -len(end)]:
            rest, suffix = rest[: -len(end)], end
            break
    prefix = (
        ""
        if rest in BASES
        else next((p for p in PREFIXES if rest.startswith(p) and rest[len(p) :]), "")
    )
    base = rest[len(prefix) :]
    if prefix == "psi_":
        return MetricDoc(
            name, "PSI", f"drift of feature '{base}' in the scored table (population stability "
            "index; above 0.2 is a large shift)",
        )  # fmt: skip
    if base not in BASES:
        raise KeyError(f"metric '{name}' is not in churn/metric_docs.py: add '{base}' to BASES")
    unit, meaning = BASES[base]
    parts = (
        [meaning] + ([PREFIXES[prefix]] if prefix else []) + ([SUFFIXES[suffix]] if suffix else [])
    )
    return MetricDoc(name, unit, "; ".join(parts))


def metrics_markdown() -> str:
    """The catalogue as the docs page."""
    lines = [
        "# Metrics",
        "",
        "Generated from `churn/metric_docs.py` (`python -m churn.metric_docs > "
        "docs/metrics.md`); a test keeps the two equal. A logged name is "
        "`[family prefix]base[_low|_high|_std]`: `realized_roi_pct_low` is the low end of "
        "the realized ROI's 95 % interval, in percent.",
        "",
        "## Base names",
        "",
        "| name | unit | meaning |",
        "|---|---|---|",
        *(f"| `{name}` | {unit} | {meaning} |" for name, (unit, meaning) in BASES.items()),
        "",
        "## Family prefixes",
        "",
        "| prefix | family |",
        "|---|---|",
        *(f"| `{prefix}` | {text} |" for prefix, text in PREFIXES.items()),
        "",
        "## Suffixes",
        "",
        "| suffix | meaning |",
        "|---|---|",
        *(f"| `{suffix}` | {text} |" for suffix, text in SUFFIXES.items()),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(metrics_markdown(), end="")
