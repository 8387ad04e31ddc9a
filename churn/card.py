"""The model card: one markdown page per training run, for the people who rely on it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from churn.calibration import AUC_TOLERANCE, CHOICE_FOLDS


def _row(name: str, value: Any, fmt: str = "{:.4f}") -> str:
    shown = "—" if value is None else fmt.format(value)
    return f"| {name} | {shown} |"


def model_card(
    *,
    dataset: str,
    data_path: str,
    digest: str,
    sizes: Mapping[str, int],
    churn_rate: float,
    features: list[str],
    metrics: Mapping[str, float],
    economics: Mapping[str, Any],
    roi_metrics: Mapping[str, Any],
    model: Mapping[str, Any],
    trained_at: datetime,
) -> str:
    """The model card of a training run, as markdown.

    Args:
        dataset: the declared dataset's name.
        data_path: the training table.
        digest: the training table's content hash.
        sizes: customers per split (``train``, ``validation``, ``test``).
        churn_rate: share of churners in the training table.
        features: the model's features, in order.
        metrics: test and cross-validated metrics, baseline included.
        economics: threshold, value rule, cost per contact, save rate.
        roi_metrics: backtest ROI metrics (``roi_pct``, ``net_benefit``, ...).
        model: registry name, version, alias, best iteration, ``calibrator`` (the
            map fitted) and ``calibration`` (the setting that chose it).
        trained_at: when the run trained.

    Examples:
        >>> card = model_card(dataset="telco", data_path="t.csv", digest="ab12", sizes={"test": 10},
        ...     churn_rate=0.26, features=["tenure"], metrics={"auc": 0.85}, economics={},
        ...     roi_metrics={}, model={"name": "m", "version": "1"},
        ...     trained_at=datetime(2026, 11, 22))
        >>> print(card.splitlines()[0])
        # Model card: m v1
        >>> "| AUC (test) | 0.8500 |" in card
        True
    """
    m, r = metrics, roi_metrics
    total = sum(sizes.values())
    split = ", ".join(f"{name} {n:,}" for name, n in sizes.items())
    cv = m.get("cv_auc")
    cv_text = "not run" if cv is None else f"{cv:.4f} ± {m.get('cv_auc_std', 0):.4f}"
    calibrator = model.get("calibrator", model.get("calibration", "—"))
    chosen = (
        " Chosen by `model.calibration: auto`: of sigmoid, smooth (isotonic blocks joined "
        f"by straight lines) and isotonic, those costing at most {AUC_TOLERANCE} AUC, the "
        f"lowest {CHOICE_FOLDS}-fold cross-validated log loss on the validation split (within "
        "one standard error is a tie, won by the simpler map)."
        if model.get("calibration") == "auto" else ""
    )  # fmt: skip
    lines = [
        f"# Model card: {model.get('name')} v{model.get('version')}",
        "",
        f"Trained {trained_at:%Y-%m-%d %H:%M} UTC; registry alias at training "
        f"`{model.get('alias', '—')}` (the registry holds the current one).",
        "",
        "## Data",
        "",
        f"- Dataset `{dataset}`, file `{data_path}` (sha256 `{digest}`).",
        f"- {total:,} labelled customers ({split}); churn rate {churn_rate:.1%}.",
        f"- Features ({len(features)}): {', '.join(features)}.",
        "",
        "## Model",
        "",
        f"- LightGBM, {model.get('best_iteration', '—')} trees (early stopping), "
        f"{calibrator} calibration on the validation split.{chosen}",
        "- Baseline: logistic regression (one-hot categories, standardised numbers).",
        "",
        "## Quality",
        "",
        "| metric | value |",
        "|---|---|",
        _row("AUC (test)", m.get("auc")),
        f"| AUC ({m.get('cv_folds', 5):.0f}-fold cross-validation) | {cv_text} |",
        _row("PR AUC (test)", m.get("pr_auc")),
        _row("Brier (test)", m.get("brier")),
        _row("expected calibration error (test)", m.get("ece")),
        _row("expected calibration error (cross-validation)", m.get("cv_ece")),
        _row("baseline AUC (test)", m.get("baseline_auc")),
        _row("baseline AUC (cross-validation)", m.get("baseline_cv_auc")),
        "",
        "## Threshold economics",
        "",
        f"- Flag customers with churn probability above {economics.get('threshold')}; "
        f"customer value {economics.get('value', '—')}; ${economics.get('cost_per_contact')} "
        f"a contact; the campaign keeps {economics.get('save_rate')} of would-be churners.",
        # Markdown reads a table right after a line of text as more of that paragraph.
        "",
        "| backtest on the test split | value |",
        "|---|---|",
        _row("customers flagged", m.get("n_flagged"), "{:,.0f}"),
        _row("precision at the threshold", m.get("precision_at_threshold")),
        _row("net benefit, $", r.get("net_benefit"), "{:,.0f}"),
        _row("ROI, %", r.get("roi_pct"), "{:,.1f}"),
        _row("break-even probability", r.get("break_even_probability")),
        _row("most profitable threshold", r.get("best_threshold")),
        "",
        "## Limits",
        "",
        "- Probabilities are calibrated on one validation split; check the calibration "
        "curve before moving the threshold.",
        "- Backtest ROI assumes the configured save rate; realized ROI comes from the "
        "campaign's control group.",
    ]
    return "\n".join(lines) + "\n"
