"""Champion / challenger: when a retrained model may replace the one that scores.

A challenger is promoted only if, on the same held-out customers, it is not
worse than the champion on AUC (within a tolerance), its backtest net benefit
is not worse beyond the interval of a paired bootstrap over those customers
(the same comparison that gates uplift targeting, ``roi.compare_policies``),
and it is not worse on the campaign's backtest ROI % (within a relative
tolerance): at a fixed threshold, a model that over-predicts flags more
customers and so can show more net benefit while ranking them worse. The
scores, the interval and the reason are returned, to be logged for people.
"""

from __future__ import annotations

from dataclasses import dataclass

import roi


@dataclass(frozen=True)
class PromotionDecision:
    """Whether to promote, and why."""

    promote: bool
    reason: str
    challenger_auc: float
    champion_auc: float
    challenger_roi_pct: float | None
    champion_roi_pct: float | None
    identical: bool = False
    net_benefit: roi.PolicyComparison | None = None

    def as_metrics(self) -> dict[str, float]:
        """The paired net-benefit comparison, when one was made."""
        if self.net_benefit is None:
            return {}
        low, high = self.net_benefit.difference_ci
        return {
            "challenger_minus_champion_net_benefit": self.net_benefit.difference,
            "challenger_minus_champion_net_benefit_low": low,
            "challenger_minus_champion_net_benefit_high": high,
        }


def decide_promotion(
    *,
    challenger_auc: float,
    champion_auc: float,
    challenger_roi_pct: float | None,
    champion_roi_pct: float | None,
    auc_tolerance: float,
    roi_tolerance: float,
    identical_on: int | None = None,
    net_benefit: roi.PolicyComparison | None = None,
) -> PromotionDecision:
    """Compare challenger and champion scored on the same held-out customers.

    Args:
        challenger_auc: the new model's AUC.
        champion_auc: the current champion's AUC on the same customers.
        challenger_roi_pct: the new model's backtest ROI % (None: nobody flagged).
        champion_roi_pct: the champion's, on the same customers.
        auc_tolerance: how much lower the challenger's AUC may be (absolute).
        roi_tolerance: how much lower its ROI may be, as a share of the champion's.
        identical_on: when the challenger gave exactly the champion's scores, on how
            many customers: it is the same model, and a new version would change nothing.
        net_benefit: the challenger's backtest selection (``candidate``) against the
            champion's (``current``) on the same customers, paired-bootstrapped: the
            challenger is kept out when the whole interval of the difference is below 0.

    Examples:
        >>> d = decide_promotion(challenger_auc=0.86, champion_auc=0.87,
        ...                      challenger_roi_pct=900.0, champion_roi_pct=900.0,
        ...                      auc_tolerance=0.005, roi_tolerance=0.05)
        >>> d.promote, d.reason
        (False, 'kept the champion: challenger AUC 0.8600 is below champion AUC 0.8700 - 0.005')
        >>> decide_promotion(challenger_auc=0.87, champion_auc=0.87, challenger_roi_pct=900.0,
        ...                  champion_roi_pct=900.0, auc_tolerance=0.005, roi_tolerance=0.05,
        ...                  identical_on=2000).reason
        'kept the champion: the challenger is identical to it (the same scores on all 2,000 test customers)'
    """  # noqa: E501
    auc_floor = champion_auc - auc_tolerance

    def decision(promote: bool, reason: str) -> PromotionDecision:
        if net_benefit is not None and identical_on is None:
            reason = f"{reason}; {_difference(net_benefit)}"
        return PromotionDecision(
            promote, reason, challenger_auc, champion_auc, challenger_roi_pct, champion_roi_pct,
            identical=identical_on is not None, net_benefit=net_benefit,
        )  # fmt: skip

    if identical_on is not None:
        return decision(
            False,
            "kept the champion: the challenger is identical to it (the same scores on all "
            f"{identical_on:,} test customers)",
        )

    if challenger_auc < auc_floor:
        reason = (
            f"kept the champion: challenger AUC {challenger_auc:.4f} is below champion AUC "
            f"{champion_auc:.4f} - {auc_tolerance:g}"
        )
        return decision(False, reason)
    if net_benefit is not None and net_benefit.difference_ci[1] < 0:
        return decision(False, "kept the champion: its backtest net benefit is surely higher")
    if champion_roi_pct is not None:
        floor = champion_roi_pct - abs(champion_roi_pct) * roi_tolerance
        if challenger_roi_pct is None or challenger_roi_pct < floor:
            shown = (
                "not measurable" if challenger_roi_pct is None else f"{challenger_roi_pct:,.0f} %"
            )
            reason = (
                f"kept the champion: challenger backtest ROI {shown} is below the "
                f"champion's {champion_roi_pct:,.0f} % less {roi_tolerance:.0%}"
            )
            return decision(False, reason)
    reason = (
        f"promoted: challenger AUC {challenger_auc:.4f} vs champion {champion_auc:.4f}, "
        f"backtest ROI {_pct(challenger_roi_pct)} vs {_pct(champion_roi_pct)}"
    )
    return decision(True, reason)


def _difference(c: roi.PolicyComparison) -> str:
    """The paired net-benefit difference, for the reason.

    Examples:
        >>> c = roi.PolicyComparison(1000.0, 900.0, -100.0, (-250.0, 40.0), 10, 9, 0.95)
        >>> _difference(c)
        "backtest net benefit -$100 against the champion's (95% interval -$250 to +$40)"
    """

    def usd(amount: float) -> str:
        return f"{'-' if amount < 0 else '+' if amount > 0 else ''}${abs(amount):,.0f}"

    low, high = c.difference_ci
    return (
        f"backtest net benefit {usd(c.difference)} against the champion's "
        f"({c.confidence:.0%} interval {usd(low)} to {usd(high)})"
    )


def _pct(value: float | None) -> str:
    return "not measurable" if value is None else f"{value:,.0f} %"
