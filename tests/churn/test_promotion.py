import pytest

from churn.promotion import decide_promotion

TOL = {"auc_tolerance": 0.005, "roi_tolerance": 0.05}


@pytest.mark.parametrize(
    ("challenger", "champion", "promote", "because"),
    [
        ((0.870, 900.0), (0.870, 900.0), True, "promoted"),  # equal: not worse
        ((0.866, 900.0), (0.870, 900.0), True, "promoted"),  # within the AUC tolerance
        ((0.860, 990.0), (0.870, 900.0), False, "AUC"),  # better ROI cannot buy back AUC
        ((0.900, 850.0), (0.870, 900.0), False, "ROI"),  # 850 < 900 − 5 %
        ((0.900, 860.0), (0.870, 900.0), True, "promoted"),  # 860 ≥ 855
        ((0.900, None), (0.870, 900.0), False, "not measurable"),  # flags nobody
        ((0.900, 100.0), (0.870, None), True, "promoted"),  # the champion flagged nobody
    ],
)
def test_promotion_rules(
    challenger: tuple[float, float | None],
    champion: tuple[float, float | None],
    promote: bool,
    because: str,
) -> None:
    d = decide_promotion(
        challenger_auc=challenger[0], champion_auc=champion[0],
        challenger_roi_pct=challenger[1], champion_roi_pct=champion[1], **TOL,
    )  # fmt: skip
    assert d.promote is promote
    assert because in d.reason


def test_a_challenger_whose_net_benefit_is_surely_lower_is_kept_out_and_told_why() -> None:
    import roi

    worse = roi.PolicyComparison(9_000.0, 8_000.0, -1_000.0, (-1_600.0, -300.0), 50, 60, 0.95)
    d = decide_promotion(
        challenger_auc=0.871, champion_auc=0.870, challenger_roi_pct=900.0,
        champion_roi_pct=900.0, auc_tolerance=0.005, roi_tolerance=0.05, net_benefit=worse,
    )  # fmt: skip
    assert not d.promote
    assert d.reason == (
        "kept the champion: its backtest net benefit is surely higher; backtest net benefit "
        "-$1,000 against the champion's (95% interval -$1,600 to -$300)"
    )
    assert d.as_metrics()["challenger_minus_champion_net_benefit_high"] == -300.0
    unsure = roi.PolicyComparison(9_000.0, 8_000.0, -1_000.0, (-1_600.0, 200.0), 50, 60, 0.95)
    d = decide_promotion(
        challenger_auc=0.871, champion_auc=0.870, challenger_roi_pct=900.0,
        champion_roi_pct=900.0, auc_tolerance=0.005, roi_tolerance=0.05, net_benefit=unsure,
    )  # fmt: skip
    assert d.promote and "(95% interval -$1,600 to +$200)" in d.reason
