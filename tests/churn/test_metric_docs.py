from pathlib import Path

import pytest

from churn.metric_docs import describe_metric, metrics_markdown

DOCS = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def test_the_docs_table_is_the_catalogue() -> None:
    assert DOCS.read_text() == metrics_markdown(), (
        "docs/metrics.md is stale: python -m churn.metric_docs > docs/metrics.md"
    )


@pytest.mark.parametrize(
    ("name", "unit", "words"),
    [
        ("realized_roi_pct_low", "%", ["net benefit ÷ cost", "realized", "low end"]),
        ("expected_full_cost_net_benefit", "$", ["revenue saved", "compute and fixed"]),
        ("baseline_cv_auc", "0-1", ["ROC AUC", "baseline, cross-validated"]),
        ("cv_auc_std", "0-1", ["cross-validation", "standard deviation"]),
        ("psi_plan", "PSI", ["feature 'plan'"]),
        ("psi_max", "PSI", ["largest feature drift"]),
    ],
)
def test_a_name_is_read_from_its_parts(name: str, unit: str, words: list[str]) -> None:
    doc = describe_metric(name)
    assert doc.unit == unit
    for word in words:
        assert word in doc.meaning, doc.meaning


def test_an_unknown_metric_says_where_to_describe_it() -> None:
    with pytest.raises(KeyError, match="add 'lift_at_10' to BASES"):
        describe_metric("realized_lift_at_10")
