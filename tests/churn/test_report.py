from dataclasses import replace
from datetime import datetime

import pytest

from churn.ledger import CampaignRecord
from churn.report import campaign_headline, campaign_html, training_description

SCORED = CampaignRecord(
    campaign_id="campaign-2026-12-01", created_at=datetime(2026, 12, 1, 6),
    scored_at=datetime(2026, 12, 1, 6), window_end=datetime(2027, 3, 1, 6),
    model_name="churn-model", model_version="3", threshold=0.7, policy="p>0.7, $50 offer",
    control_share=0.1, configured_control_share=0.1, cooldown_days=30, max_contacts=None,
    cost_per_contact=50.0, n_scored=20_000, n_flagged=1_000, expected_net_benefit=250_000.4,
    budget_left_out_value=0.0, mlflow_run_id="r", compute_seconds=12.0, measured_at=None,
    realized_net_benefit=None, realized_net_benefit_low=None, realized_net_benefit_high=None,
    realized_roi_pct=None, realized_roi_pct_low=None, realized_roi_pct_high=None,
    realized_full_cost_roi_pct=None, n_treated=900, n_control=100,
    skipped=(("cooldown", 12),),
)  # fmt: skip
MEASURED = replace(
    SCORED, measured_at=datetime(2027, 3, 2, 9, 30), realized_net_benefit=230_000.0,
    realized_net_benefit_low=61_000.0, realized_net_benefit_high=399_000.0,
    realized_roi_pct=511.1, realized_roi_pct_low=135.6, realized_roi_pct_high=886.7,
    realized_full_cost_roi_pct=480.2,
)  # fmt: skip


def test_before_its_outcomes_a_campaign_says_what_it_expects_and_when_to_measure() -> None:
    text = campaign_headline(SCORED, expected_roi_pct=555.6).markdown()
    assert text.startswith(
        "**Campaign campaign-2026-12-01: expected net benefit $250,000, expected ROI 556 %; "
        "realized ROI not yet measured.**"
    )
    assert "900 contacted and 100 held out at random" in text and "skipped: 12 cooldown" in text
    assert "Outcomes are due by 2027-03-01" in text
    assert "churn roi --campaign campaign-2026-12-01 --outcomes FILE" in text


@pytest.mark.parametrize(
    ("low", "high", "shown", "verdict"),
    [
        (61_000.0, 399_000.0, "$61,000 to $399,000", "It paid for itself."),
        (-20_000.0, 399_000.0, "-$20,000 to $399,000",
         "Whether it paid is not yet certain: the interval spans zero."),
        (-90_000.0, -1_000.0, "-$90,000 to -$1,000", "It lost money."),
    ],
)  # fmt: skip
def test_a_measured_campaign_leads_with_its_dollars_and_interval(
    low: float, high: float, shown: str, verdict: str
) -> None:
    record = replace(MEASURED, realized_net_benefit_low=low, realized_net_benefit_high=high)
    headline = campaign_headline(record, expected_roi_pct=555.6, expected_full_cost_roi_pct=520)
    assert headline.markdown().splitlines()[0] == (
        f"**Campaign campaign-2026-12-01 made $230,000 ({shown}) net, realized ROI 511 % "
        f"(136 % to 887 %), 95 % intervals. {verdict}**"
    )
    assert "| ROI, full cost | 520 % | 480 % |" in headline.markdown()


def test_the_html_report_is_one_self_contained_page() -> None:
    headline = campaign_headline(MEASURED, expected_roi_pct=555.6)
    page = campaign_html(
        headline, images={"uplift_qini.png": b"\x89PNG fake"}, generated_at=datetime(2027, 3, 2)
    )
    assert page.startswith("<!doctype html>") and "It paid for itself." in page
    assert 'src="data:image/png;base64,iVBORyBmYWtl"' in page  # inline: no server needed
    assert "<td>$230,000 ($61,000 to $399,000)</td>" in page


def test_a_training_run_says_when_the_baseline_ranks_better() -> None:
    text = training_description(
        model_name="m", version="2", alias="challenger",
        metrics={"auc": 0.80, "baseline_auc": 0.81}, backtest_net_benefit=-500.0,
        backtest_roi_pct=None, decision="kept the champion: …",
    )  # fmt: skip
    assert text.startswith("**m v2 is the challenger: AUC 0.8000 (baseline 0.8100); backtest net "
                           "benefit -$500, ROI n/a.**")  # fmt: skip
    assert "Decision: kept the champion: …." in text
    assert "The logistic baseline ranks the test customers better" in text
