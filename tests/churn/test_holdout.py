import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from churn.holdout import _unit_interval, assign_groups, control_mask

IDS = [f"C{i:07d}" for i in range(20_000)]


def test_rerun_assigns_the_same_people_and_order_does_not_matter() -> None:
    first = control_mask(IDS, campaign_id="2026-09", control_share=0.1)
    again = control_mask(IDS, campaign_id="2026-09", control_share=0.1)
    np.testing.assert_array_equal(first, again)
    reversed_ = control_mask(IDS[::-1], campaign_id="2026-09", control_share=0.1)
    np.testing.assert_array_equal(first, reversed_[::-1])


def test_share_is_the_configured_one() -> None:
    mask = control_mask(IDS, campaign_id="2026-10", control_share=0.1)
    # Seeded by the ids: a two-sided binomial test cannot reject the 10 % share.
    assert binomtest(int(mask.sum()), len(mask), 0.1).pvalue > 0.01


def test_another_campaign_draws_afresh() -> None:
    a = control_mask(IDS, campaign_id="2026-09", control_share=0.1)
    b = control_mask(IDS, campaign_id="2026-10", control_share=0.1)
    overlap = (a & b).sum() / a.sum()
    assert 0.05 < overlap < 0.15  # independent draws overlap about 10 %


def test_growing_the_share_keeps_earlier_controls() -> None:
    small = control_mask(IDS, campaign_id="x", control_share=0.05)
    large = control_mask(IDS, campaign_id="x", control_share=0.2)
    assert (large[small]).all()


def test_zero_share_has_no_control_and_bad_share_is_refused() -> None:
    flagged = pd.DataFrame({"customer_id": IDS[:100], "churn_probability": 0.9})
    assert set(assign_groups(flagged, campaign_id="x", control_share=0.0)["group"]) == {"treatment"}
    with pytest.raises(ValueError, match=r"control_share=1\.5"):
        control_mask(IDS, campaign_id="x", control_share=1.5)


def test_the_draws_are_those_of_the_reference_hash() -> None:
    # Ids of every shape a table gives (long, non-ASCII, numeric) against the
    # one-at-a-time reference: a campaign's control group never changes with the code.
    ids = [*IDS[:3000], "", "é-ü-客户", "x" * 500, "12345", "C 01"]
    for campaign_id, share in (("2026-09", 0.1), ("campaign-2026-12-01", 0.37), ("ä" * 128, 0.5)):
        expected = [_unit_interval(campaign_id, c) < share for c in ids]
        mask = control_mask(ids, campaign_id=campaign_id, control_share=share)
        assert mask.tolist() == expected
    assert control_mask([], campaign_id="x", control_share=0.1).shape == (0,)
