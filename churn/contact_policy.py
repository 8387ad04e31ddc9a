"""The contact policy: which flagged customers a campaign contacts, holds out or skips.

Given the customers a campaign flagged and what the ledger remembers of earlier
campaigns, ``plan_contacts`` decides each customer's group:

1. ``skipped`` / ``suppressed``: on the suppression list (opt-outs), never contacted;
2. ``skipped`` / ``holdout``: held out as control by an earlier campaign whose
   measurement window is still open — contacting them would turn that
   campaign's control group into a treated one;
3. ``skipped`` / ``cooldown``: contacted by an earlier campaign within the cooldown;
4. the rest is eligible, and split by the campaign's seeded hash into
   ``control`` and ``treatment`` (``churn.holdout``);
5. ``skipped`` / ``budget``: when more would be contacted than the budget allows,
   the eligible are ranked by expected net benefit and the campaign stops at the
   customer who would be the first contact over budget. The split is drawn
   before the cut, so the control group comes from the same ranks as the treated.

Each customer is in the campaign because the risk rule ``selected`` them, or
because ``exploration`` drew them at random from below the threshold
(``campaign.exploration_share``): explored customers meet the same rules and
the same random split, but the budget is spent on the risk-selected only —
exploration is a fixed, configured cost of learning.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from churn.holdout import CONTROL, TREATMENT, control_mask

SKIPPED = "skipped"
SUPPRESSED, HOLDOUT, COOLDOWN, BUDGET = "suppressed", "holdout", "cooldown", "budget"
SKIP_REASONS = (SUPPRESSED, HOLDOUT, COOLDOWN, BUDGET)
RISK, EXPLORATION = "risk", "exploration"
DECISION_COLUMNS = (
    "customer_id",
    "churn_probability",
    "customer_value",
    "expected_value",
    "group",
    "skip_reason",
    "selected_by",
)


@dataclass(frozen=True)
class ContactRules:
    """The policy's knobs (``ContactSettings`` and the campaign's control share)."""

    control_share: float
    cooldown_days: int = 0
    max_contacts: int | None = None
    min_control: int = 0
    max_control_share: float = 0.5


@dataclass(frozen=True)
class ContactPlan:
    """Each flagged customer's decision, in the flagged order.

    Attributes:
        decisions: ``DECISION_COLUMNS``; ``skip_reason`` is missing unless skipped.
        control_share: the share of eligible customers held out (raised for small
            campaigns up to ``max_control_share``).
        budget_left_out_value: expected net benefit, in dollars, of the customers the
            budget kept from being contacted (positive values only).
    """

    decisions: pd.DataFrame
    control_share: float
    budget_left_out_value: float

    def count(self, group: str, reason: str | None = None) -> int:
        """How many customers are in ``group`` (and skipped for ``reason``)."""
        rows = self.decisions["group"] == group
        if reason is not None:
            rows &= self.decisions["skip_reason"] == reason
        return int(rows.sum())


def expected_values(
    probabilities: np.ndarray, values: np.ndarray, *, save_rate: float, cost_per_contact: float
) -> np.ndarray:
    """Each customer's expected net benefit of a contact: p × save rate × value − cost.

    Examples:
        >>> expected_values(np.array([0.4]), np.array([1200.0]), save_rate=0.625,
        ...                 cost_per_contact=50).tolist()
        [250.0]
    """
    return probabilities * save_rate * values - cost_per_contact


def expected_saves(
    decisions: pd.DataFrame, *, save_rate: float, cost_per_contact: float
) -> tuple[np.ndarray, float]:
    """Each customer's expected saves and the save rate to apply to them, for
    ``roi.expected_roi``: ``(p, save_rate)`` when the risk rule chose everyone (the
    brief's expected ROI, unchanged), else the saves themselves with a rate of 1 —
    p × save rate for the risk-selected and the explored, the uplift (``(expected
    value + cost) ÷ value``) for those an uplift model chose.

    Examples:
        >>> d = pd.DataFrame({"churn_probability": [0.8, 0.3], "customer_value": [1000.0] * 2,
        ...                   "expected_value": [350.0, 50.0],
        ...                   "selected_by": ["risk", "uplift"]})
        >>> saves, rate = expected_saves(d, save_rate=0.5, cost_per_contact=50)
        >>> saves.tolist(), rate
        ([0.4, 0.1], 1.0)
    """
    p = decisions["churn_probability"].to_numpy(dtype=float)
    if "selected_by" not in decisions:
        return p, save_rate
    modelled = decisions["selected_by"].isin(["uplift", "hybrid"]).to_numpy()
    if not modelled.any():
        return p, save_rate
    ev = decisions["expected_value"].to_numpy(dtype=float)
    value = decisions["customer_value"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        uplift = np.where(value > 0, (ev + cost_per_contact) / np.where(value > 0, value, 1), 0)
    return np.where(modelled, uplift, p * save_rate), 1.0


def effective_control_share(
    n_eligible: int, *, control_share: float, min_control: int, max_control_share: float
) -> float:
    """The configured share, raised so that ``min_control`` customers are expected held out.

    Examples:
        >>> effective_control_share(1000, control_share=0.1, min_control=30,
        ...                         max_control_share=0.5)
        0.1
        >>> effective_control_share(100, control_share=0.1, min_control=30,
        ...                         max_control_share=0.5)
        0.3
        >>> effective_control_share(16, control_share=0.1, min_control=30,
        ...                         max_control_share=0.5)
        0.5
    """
    if control_share == 0 or n_eligible == 0:
        # No holdout was asked for: a small campaign does not create one.
        return control_share
    wanted = min_control / n_eligible
    return float(max(control_share, min(wanted, max_control_share)))


def plan_contacts(
    flagged: pd.DataFrame,
    *,
    campaign_id: str,
    rules: ContactRules,
    save_rate: float,
    cost_per_contact: float,
    suppressed: Collection[str] = (),
    held_out: Collection[str] = (),
    cooling_down: Collection[str] = (),
) -> ContactPlan:
    """Decide, for each flagged customer, treatment, control or skipped (with the reason).

    Args:
        flagged: ``customer_id, churn_probability, customer_value`` of the flagged,
            ``selected_by`` (``risk`` when absent) and ``expected_value`` when the
            targeting set it (else p × save rate × value − cost).
        campaign_id: seeds the control group's hash.
        rules: the contact policy.
        save_rate: the assumed share of would-be churners a contact keeps.
        cost_per_contact: dollars per contact.
        suppressed: ids never to contact.
        held_out: ids in an earlier campaign's control group whose window is open.
        cooling_down: ids contacted by an earlier campaign within the cooldown.

    Examples:
        >>> flagged = pd.DataFrame({"customer_id": ["a", "b", "c", "d"],
        ...                         "churn_probability": [0.9, 0.8, 0.75, 0.95],
        ...                         "customer_value": [1200.0] * 4})
        >>> plan = plan_contacts(flagged, campaign_id="x", rules=ContactRules(0.0),
        ...                      save_rate=0.625, cost_per_contact=50,
        ...                      suppressed={"a"}, held_out={"b"}, cooling_down={"c"})
        >>> plan.decisions["group"].tolist()
        ['skipped', 'skipped', 'skipped', 'treatment']
        >>> plan.decisions["skip_reason"].fillna("-").tolist()
        ['suppressed', 'holdout', 'cooldown', '-']
    """
    ids = flagged["customer_id"].astype(str).to_numpy()
    if "selected_by" in flagged:
        selected_by = flagged["selected_by"].astype(object).to_numpy()
    else:
        selected_by = np.full(len(ids), RISK, dtype=object)
    if "expected_value" in flagged:  # an uplift model's expected incremental profit
        ev = flagged["expected_value"].to_numpy(dtype=float)
    else:
        ev = expected_values(
            flagged["churn_probability"].to_numpy(dtype=float),
            flagged["customer_value"].to_numpy(dtype=float),
            save_rate=save_rate,
            cost_per_contact=cost_per_contact,
        )
    reason = np.full(len(ids), None, dtype=object)
    as_arrow = pa.array(ids, type=pa.string())
    for name, members in ((COOLDOWN, cooling_down), (HOLDOUT, held_out), (SUPPRESSED, suppressed)):
        # Last assignment wins: suppression outranks a holdout, which outranks a cooldown.
        if len(members):
            # Arrow hashes in C; numpy's isin on strings compares every pair (minutes
            # at 500 k) and pandas' on Arrow strings loops in Python (1 s).
            known = pa.array(list(members), type=pa.string())
            reason[pc.is_in(as_arrow, value_set=known).to_numpy(zero_copy_only=False)] = name
    eligible = np.flatnonzero(pd.isna(reason))
    # Under a budget, the campaign keeps about max_contacts + min_control customers:
    # the share that holds min_control of them out is sized on that, not on all eligible.
    sized_on = len(eligible)
    if rules.max_contacts is not None:
        sized_on = min(sized_on, rules.max_contacts + rules.min_control)
    share = effective_control_share(
        sized_on, control_share=rules.control_share, min_control=rules.min_control,
        max_control_share=rules.max_control_share,
    )  # fmt: skip
    held = control_mask(ids[eligible], campaign_id=campaign_id, control_share=share)
    group = np.full(len(ids), SKIPPED, dtype=object)
    group[eligible] = np.where(held, CONTROL, TREATMENT)
    left_out = 0.0
    budgeted = selected_by[eligible] != EXPLORATION
    spent = held[budgeted]
    if rules.max_contacts is not None and int((~spent).sum()) > rules.max_contacts:
        # Best expected value first; ties keep a fixed order by id, so reruns agree.
        pool = eligible[budgeted]
        order = np.lexsort((ids[pool], -ev[pool]))
        treated_so_far = np.cumsum(~spent[order])
        over = order[treated_so_far > rules.max_contacts]
        cut = pool[order[np.argmax(treated_so_far > rules.max_contacts) :]]
        would_contact = pool[over[~spent[over]]]
        left_out = float(np.clip(ev[would_contact], 0, None).sum())
        group[cut], reason[cut] = SKIPPED, BUDGET
    decisions = pd.DataFrame(
        {
            "customer_id": ids,
            "churn_probability": flagged["churn_probability"].to_numpy(dtype=float),
            "customer_value": flagged["customer_value"].to_numpy(dtype=float),
            "expected_value": ev,
            "group": group,
            "skip_reason": reason,
            "selected_by": selected_by,
        }
    )
    return ContactPlan(decisions=decisions, control_share=share, budget_left_out_value=left_out)


def policy_label(
    configured: str | None, *, threshold: float, cost_per_contact: float, targeting: str = RISK
) -> str:
    """The name campaigns are pooled under: the configured one, or the targeting rule.

    Examples:
        >>> policy_label(None, threshold=0.7, cost_per_contact=50)
        'p>0.7, $50 offer'
        >>> policy_label(None, threshold=0.7, cost_per_contact=50, targeting="uplift")
        'uplift, $50 offer'
        >>> policy_label(None, threshold=0.7, cost_per_contact=50, targeting="hybrid")
        'p>0.7 and uplift, $50 offer'
        >>> policy_label("spring-call", threshold=0.7, cost_per_contact=50)
        'spring-call'
    """
    rule = {RISK: f"p>{threshold:g}", "uplift": "uplift", "hybrid": f"p>{threshold:g} and uplift"}
    return configured or f"{rule[targeting]}, ${cost_per_contact:,.4g} offer"
