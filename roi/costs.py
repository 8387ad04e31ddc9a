"""Full-cost ROI and payback: the campaign's cost is not the only cost.

The pipeline's own running cost (its measured compute time, priced per hour)
and the fixed costs of the platform, maintenance and amortised development
are charged to the campaign beside its contact cost. The campaign-only ROI
and the full-cost ROI are reported side by side, never mixed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from roi.campaign import roi_pct


@dataclass(frozen=True)
class FullCostROI:
    """ROI with every cost counted.

    Attributes:
        revenue_saved: dollars kept by the campaign.
        campaign_cost: contact costs, dollars.
        compute_cost: measured compute hours × price per hour, dollars.
        fixed_cost: the campaign's share of fixed costs, dollars.
        total_cost: the sum of the three.
        net_benefit: revenue saved − total cost.
        roi_pct: net benefit ÷ total cost × 100, None when nothing was spent.
    """

    revenue_saved: float
    campaign_cost: float
    compute_cost: float
    fixed_cost: float
    total_cost: float
    net_benefit: float
    roi_pct: float | None

    def as_metrics(self, prefix: str = "full_cost_") -> dict[str, float]:
        """Flat metrics; an unmeasurable ROI is left out, not NaN."""
        return {f"{prefix}{k}": float(v) for k, v in self.__dict__.items() if v is not None}


def full_cost_roi(
    revenue_saved: float,
    campaign_cost: float,
    *,
    compute_seconds: float,
    price_per_hour: float,
    fixed_cost: float,
) -> FullCostROI:
    """ROI once compute and fixed costs are charged too.

    Examples:
        The reference campaign, run on 2 hours of compute at $0.50 an hour, with
        $9,999 of fixed costs this month:

        >>> r = full_cost_roi(300_000, 50_000, compute_seconds=7200, price_per_hour=0.5,
        ...                   fixed_cost=9_999)
        >>> r.total_cost, r.net_benefit, r.roi_pct
        (60000.0, 240000.0, 400.0)
    """
    for name, value in (
        ("campaign_cost", campaign_cost),
        ("compute_seconds", compute_seconds),
        ("price_per_hour", price_per_hour),
        ("fixed_cost", fixed_cost),
    ):
        if value < 0:
            raise ValueError(f"{name}={value} must not be negative")
    compute = compute_seconds / 3600.0 * price_per_hour
    total = campaign_cost + compute + fixed_cost
    return FullCostROI(
        revenue_saved=float(revenue_saved),
        campaign_cost=float(campaign_cost),
        compute_cost=float(compute),
        fixed_cost=float(fixed_cost),
        total_cost=float(total),
        net_benefit=float(revenue_saved - total),
        roi_pct=roi_pct(revenue_saved, total),
    )


def payback(
    net_benefits: ArrayLike, *, fixed_cost_per_month: float, upfront_cost: float = 0.0
) -> pd.DataFrame:
    """Cumulative net benefit month by month, after fixed and upfront costs.

    Args:
        net_benefits: each month's campaign net benefit (revenue − contact cost).
        fixed_cost_per_month: platform, maintenance and team costs a month.
        upfront_cost: one-off development cost, charged before month 1.

    Returns:
        ``month`` (1-based), ``net_benefit`` (after fixed costs) and ``cumulative``.

    Examples:
        >>> t = payback([20_000, 30_000, 30_000], fixed_cost_per_month=10_000,
        ...             upfront_cost=40_000)
        >>> t["cumulative"].tolist(), payback_month(t)
        ([-30000.0, -10000.0, 10000.0], 3)
    """
    monthly = np.asarray(net_benefits, dtype=float) - fixed_cost_per_month
    return pd.DataFrame(
        {
            "month": np.arange(1, len(monthly) + 1),
            "net_benefit": monthly,
            "cumulative": np.cumsum(monthly) - upfront_cost,
        }
    )


def payback_month(timeline: pd.DataFrame) -> int | None:
    """The first month whose cumulative net benefit is at least zero, or None.

    Examples:
        >>> payback_month(payback([1_000], fixed_cost_per_month=5_000)) is None
        True
    """
    reached = timeline.loc[timeline["cumulative"] >= 0, "month"]
    return None if reached.empty else int(reached.iloc[0])
