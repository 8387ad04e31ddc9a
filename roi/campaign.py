"""Campaign ROI: from counts, from predicted probabilities, and backtested on labels."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True)
class CampaignROI:
    """The value of one retention campaign.

    Attributes:
        n_targeted: customers contacted.
        customers_saved: churners kept by the campaign.
        revenue_saved: ``customers_saved`` × CLV, dollars.
        campaign_cost: ``n_targeted`` × cost per contact, dollars.
        net_benefit: ``revenue_saved`` − ``campaign_cost``, dollars.
        roi_pct: ``net_benefit`` ÷ ``campaign_cost`` × 100, or None when nothing was spent.
    """

    n_targeted: int
    customers_saved: float
    revenue_saved: float
    campaign_cost: float
    net_benefit: float
    roi_pct: float | None

    def as_metrics(self, prefix: str = "") -> dict[str, float]:
        """The figures as MLflow metrics; an unmeasurable ROI is left out, not NaN."""
        return {f"{prefix}{k}": float(v) for k, v in asdict(self).items() if v is not None}


def roi_pct(benefit: float, cost: float) -> float | None:
    """ROI % = (total benefit − total cost) ÷ total cost × 100; None when cost is 0.

    Examples:
        >>> roi_pct(300_000, 50_000)
        500.0
        >>> roi_pct(40_000, 50_000)
        -20.0
        >>> roi_pct(0, 0) is None
        True
    """
    if cost < 0:
        raise ValueError(f"cost={cost} must not be negative")
    if cost == 0:
        return None
    return (benefit - cost) / cost * 100.0


def _from_saved(
    n_targeted: int, customers_saved: float, revenue_saved: float, cost_per_contact: float
) -> CampaignROI:
    if cost_per_contact < 0:
        raise ValueError(f"cost_per_contact={cost_per_contact} must not be negative")
    cost = n_targeted * cost_per_contact
    return CampaignROI(
        n_targeted=int(n_targeted),
        customers_saved=float(customers_saved),
        revenue_saved=float(revenue_saved),
        campaign_cost=float(cost),
        net_benefit=float(revenue_saved - cost),
        roi_pct=roi_pct(revenue_saved, cost),
    )


def _check_rate(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name}={value} is not a rate; it should be between 0 and 1")


def campaign_roi(
    n_targeted: int,
    churn_rate_without: float,
    churn_rate_with: float,
    *,
    clv: float,
    cost_per_contact: float,
) -> CampaignROI:
    """ROI of a campaign from its size and the churn rates without and with it.

    Args:
        n_targeted: customers contacted.
        churn_rate_without: share who would churn without the campaign.
        churn_rate_with: share who churn with it.
        clv: customer lifetime value, dollars.
        cost_per_contact: dollars per contacted customer.

    Examples:
        The domain brief's reference example:

        >>> r = campaign_roi(1000, 0.40, 0.15, clv=1200, cost_per_contact=50)
        >>> r.customers_saved, r.revenue_saved, r.campaign_cost, r.net_benefit, r.roi_pct
        (250.0, 300000.0, 50000.0, 250000.0, 500.0)

        A campaign that does not pay:

        >>> campaign_roi(1000, 0.05, 0.04, clv=1200, cost_per_contact=50).roi_pct
        -76.0
    """
    _check_rate("churn_rate_without", churn_rate_without)
    _check_rate("churn_rate_with", churn_rate_with)
    if n_targeted < 0:
        raise ValueError(f"n_targeted={n_targeted} must not be negative")
    # n × a − n × b rather than n × (a − b): 1000 × 0.40 and 1000 × 0.15 are exact
    # in floating point, their difference 0.25 is not.
    saved = n_targeted * churn_rate_without - n_targeted * churn_rate_with
    return _from_saved(n_targeted, saved, saved * clv, cost_per_contact)


def expected_roi(
    churn_probability: ArrayLike,
    *,
    save_rate: float,
    clv: float | ArrayLike,
    cost_per_contact: float,
) -> CampaignROI:
    """Expected ROI of contacting these customers, before any outcome exists.

    Each contacted customer would churn with their predicted probability, and
    the campaign saves ``save_rate`` of would-be churners: expected saved =
    Σ p × save_rate; revenue = Σ p × save_rate × CLV (per customer if given).

    Examples:
        1,000 customers at 40 % risk each, the reference economics:

        >>> r = expected_roi([0.4] * 1000, save_rate=0.625, clv=1200, cost_per_contact=50)
        >>> round(r.customers_saved, 6), round(r.roi_pct, 6)
        (250.0, 500.0)
        >>> expected_roi([], save_rate=0.625, clv=1200, cost_per_contact=50).roi_pct is None
        True
    """
    _check_rate("save_rate", save_rate)
    p = np.asarray(churn_probability, dtype=float)
    values = np.broadcast_to(np.asarray(clv, dtype=float), p.shape)
    saved = float(p.sum() * save_rate)
    revenue = float((p * values).sum() * save_rate)
    return _from_saved(len(p), saved, revenue, cost_per_contact)


def backtest_roi(
    y_true: ArrayLike,
    flagged: ArrayLike,
    *,
    save_rate: float,
    clv: float | ArrayLike,
    cost_per_contact: float,
) -> CampaignROI:
    """ROI the campaign would have made on labelled held-out customers.

    The flagged customers who did churn are the ones the campaign could have
    saved; it saves ``save_rate`` of them.

    Args:
        y_true: 1 for customers who churned, 0 for those who stayed.
        flagged: True for customers the model would have targeted.
        clv: dollars per saved customer: one number, or one per customer.

    Examples:
        1,000 flagged of whom 400 churned, with the reference economics:

        >>> y = [1] * 400 + [0] * 600 + [1] * 50
        >>> f = [True] * 1000 + [False] * 50
        >>> r = backtest_roi(y, f, save_rate=0.625, clv=1200, cost_per_contact=50)
        >>> r.n_targeted, r.customers_saved, r.net_benefit, r.roi_pct
        (1000, 250.0, 250000.0, 500.0)
    """
    _check_rate("save_rate", save_rate)
    y = np.asarray(y_true)
    mask = np.asarray(flagged, dtype=bool)
    if y.shape != mask.shape:
        raise ValueError(f"y_true has shape {y.shape} but flagged has shape {mask.shape}")
    values = np.broadcast_to(np.asarray(clv, dtype=float), y.shape)
    saved = int(y[mask].sum()) * save_rate
    revenue = float((y[mask] * values[mask]).sum() * save_rate)
    return _from_saved(int(mask.sum()), saved, revenue, cost_per_contact)


def break_even_probability(*, save_rate: float, clv: float, cost_per_contact: float) -> float:
    """The churn probability above which contacting a customer pays: cost ÷ (save rate × CLV).

    Examples:
        >>> round(break_even_probability(save_rate=0.625, clv=1200, cost_per_contact=50), 4)
        0.0667
    """
    _check_rate("save_rate", save_rate)
    if save_rate == 0 or clv <= 0:
        raise ValueError("break-even needs a positive save_rate and clv")
    return cost_per_contact / (save_rate * clv)
