"""The model card renders as markdown: every table stands apart from the text above it."""

from __future__ import annotations

from datetime import datetime

from churn.card import model_card


def full_card() -> str:
    return model_card(
        dataset="synthetic", data_path="data/train.parquet", digest="ab12",
        sizes={"train": 600, "validation": 200, "test": 200}, churn_rate=0.26,
        features=["tenure_months", "plan"],
        metrics={"auc": 0.85, "cv_auc": 0.84, "cv_auc_std": 0.01, "cv_folds": 5,
                 "pr_auc": 0.6, "brier": 0.14, "ece": 0.02, "cv_ece": 0.03,
                 "baseline_auc": 0.83, "baseline_cv_auc": 0.82, "n_flagged": 40,
                 "precision_at_threshold": 0.7},
        economics={"threshold": 0.7, "value": "$1,200", "cost_per_contact": 50,
                   "save_rate": 0.625},
        roi_metrics={"net_benefit": 12_000, "roi_pct": 450.0, "break_even_probability": 0.067,
                     "best_threshold": 0.118},
        model={"name": "churn-model", "version": "3", "alias": "champion",
               "best_iteration": 120, "calibration": "isotonic"},
        trained_at=datetime(2026, 11, 22, 9, 30),
    )  # fmt: skip


def test_every_table_is_preceded_by_an_empty_line() -> None:
    lines = full_card().splitlines()
    starts = [i for i, line in enumerate(lines)
              if line.startswith("|") and not lines[i - 1].startswith("|")]  # fmt: skip
    assert [lines[i] for i in starts] == [
        "| metric | value |",
        "| backtest on the test split | value |",
    ]
    assert all(lines[i - 1] == "" for i in starts)
    assert all(lines[i + 1] == "|---|---|" for i in starts)


def test_threshold_economics_keeps_its_numbers() -> None:
    card = full_card()
    assert "| break-even probability | 0.0670 |" in card
    assert "| most profitable threshold | 0.1180 |" in card
    assert "| net benefit, $ | 12,000 |" in card


def test_the_card_names_the_calibrator_fitted_and_how_auto_chose_it() -> None:
    model = {"name": "churn-model", "version": "3", "best_iteration": 120}
    kwargs = dict(
        dataset="synthetic", data_path="d.parquet", digest="ab12", sizes={"test": 10},
        churn_rate=0.26, features=["plan"], metrics={}, economics={}, roi_metrics={},
        trained_at=datetime(2026, 11, 22),
    )  # fmt: skip
    auto = model_card(model=model | {"calibrator": "sigmoid", "calibration": "auto"}, **kwargs)
    assert "120 trees (early stopping), sigmoid calibration on the validation split." in auto
    assert "Chosen by `model.calibration: auto`" in auto and "0.001 AUC" in auto
    fixed = model_card(model=model | {"calibrator": "smooth", "calibration": "smooth"}, **kwargs)
    assert "smooth calibration on the validation split." in fixed and "Chosen by" not in fixed
