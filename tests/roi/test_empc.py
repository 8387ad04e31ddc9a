"""roi.empc against empulse, the reference it replaces, and against formulas by hand."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from roi.empc import EMPC, expected_max_profit

# (customers, share of churners, scores rounded to 2 decimals so that many tie)
DATASETS = [
    (8, 0.25, False),
    (8, 0.25, True),
    (200, 0.25, False),
    (200, 0.25, True),
    (200, 0.03, False),
    (20_000, 0.25, False),
    (20_000, 0.25, True),
    (20_000, 0.03, True),
]
ACCEPT_RATES = [(6, 14), (5, 3), (0.5, 0.5), (50, 30)]
# (clv, cost_per_contact, incentive_cost)
ECONOMICS = [
    (200.0, 1.0, 10.0),  # empulse's defaults
    (1200.0, 50.0, 0.0),  # this project's: the offer costs nothing beyond the contact
    (200.0, 0.0, 0.0),  # free campaign: ties between hull vertices at TPR 1
    (200.0, 150.0, 0.0),  # contact this dear: targeting nobody is best at most accept rates
    (100.0, 100.0, 0.0),  # and here at every accept rate
    (200.0, 5.0, 250.0),  # an incentive worth more than the customer
]


def make_dataset(
    n: int, churn_share: float, tied: bool, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < churn_share).astype(int)
    y[:2] = [1, 0]  # both classes, even in 8 rows
    score = rng.random(n) + 0.6 * y
    return y, np.round(score, 2) if tied else score


def empulse_empc(
    y: np.ndarray,
    score: np.ndarray,
    clv: float,
    contact: float,
    incentive: float,
    a: float,
    b: float,
) -> EMPC:
    from empulse.metrics import empc_score

    params = {
        "alpha": a,
        "beta": b,
        "clv": clv,
        "incentive_cost": incentive,
        "contact_cost": contact,
    }
    return EMPC(
        value=float(empc_score(y, score, **params)),
        target_rate=float(empc_score.optimal_rate(y, score, **params)),
    )


@pytest.mark.parametrize(
    "economics", ECONOMICS, ids=lambda e: "clv{:g}-contact{:g}-incentive{:g}".format(*e)
)
@pytest.mark.parametrize("accept", ACCEPT_RATES, ids=lambda ab: "beta{:g},{:g}".format(*ab))
@pytest.mark.parametrize(
    "dataset", DATASETS, ids=lambda d: "n{}-churn{:g}{}".format(d[0], d[1], "-tied" * d[2])
)
def test_matches_empulse(
    dataset: tuple[int, float, bool],
    accept: tuple[float, float],
    economics: tuple[float, float, float],
) -> None:
    y, score = make_dataset(*dataset, seed=DATASETS.index(dataset))
    clv, contact, incentive = economics
    a, b = accept
    got = expected_max_profit(
        y, score, clv=clv, cost_per_contact=contact, alpha=a, beta=b, incentive_cost=incentive
    )
    want = empulse_empc(y, score, clv, contact, incentive, a, b)
    assert got.value == pytest.approx(want.value, rel=1e-9, abs=1e-12)
    assert got.target_rate == pytest.approx(want.target_rate, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(("a", "b"), ACCEPT_RATES)
@pytest.mark.parametrize(
    ("clv", "contact", "incentive"), [(200, 1, 10), (1200, 50, 0), (100, 90, 5)]
)
def test_perfect_ranking(a: float, b: float, clv: float, contact: float, incentive: float) -> None:
    # Every churner ranks above every stayer, so the only choice is to target exactly the
    # churners or nobody: the churners, when γ (clv − incentive) > contact. Then each one
    # earns γ (clv − incentive) − contact, and they are a share π of the customers.
    y, _ = make_dataset(500, 0.2, False, seed=7)
    share = y.mean()
    cut = contact / (clv - incentive)
    expected_gamma_above = a / (a + b) * stats.beta(a + 1, b).sf(cut)
    value = share * ((clv - incentive) * expected_gamma_above - contact * stats.beta(a, b).sf(cut))
    e = expected_max_profit(
        y,
        y * 0.8 + 0.1,
        clv=clv,
        cost_per_contact=contact,
        alpha=a,
        beta=b,
        incentive_cost=incentive,
    )
    assert e.value == pytest.approx(value, rel=1e-12)
    assert e.target_rate == pytest.approx(share * stats.beta(a, b).sf(cut), rel=1e-12)


@pytest.mark.parametrize(("a", "b"), ACCEPT_RATES)
@pytest.mark.parametrize(
    ("clv", "contact", "incentive"), [(200, 1, 10), (1200, 50, 0), (300, 60, 20)]
)
def test_model_that_cannot_tell_customers_apart(
    a: float, b: float, clv: float, contact: float, incentive: float
) -> None:
    # One score for all: the campaign targets everyone or nobody. Everyone earns, per
    # customer, π (γ (clv − d) − f) − (1 − π)(d + f) = π (clv − d) γ − f − (1 − π) d.
    y, _ = make_dataset(400, 0.3, False, seed=8)
    share = y.mean()
    slope, fixed = share * (clv - incentive), contact + (1 - share) * incentive
    cut = fixed / slope
    value = slope * a / (a + b) * stats.beta(a + 1, b).sf(cut) - fixed * stats.beta(a, b).sf(cut)
    e = expected_max_profit(
        y, np.full(len(y), 0.5), clv=clv, cost_per_contact=contact, alpha=a, beta=b,
        incentive_cost=incentive,
    )  # fmt: skip
    assert e.value == pytest.approx(value, rel=1e-12)
    assert e.target_rate == pytest.approx(stats.beta(a, b).sf(cut), rel=1e-12)


def test_a_near_certain_accept_rate_gives_the_deterministic_max_profit() -> None:
    # Beta(30,000, 70,000) is 0.3 to within 0.0015. empulse's own EMPC is NaN here (from
    # about alpha + beta = 120 its moment Γ(α + 1) Γ(α + β) overflows), so the reference
    # is its deterministic MPC at accept rate 0.3.
    from empulse.metrics import mpc_score

    y, score = make_dataset(1000, 0.2, True, seed=11)
    params = {"clv": 200.0, "incentive_cost": 10.0, "contact_cost": 1.0}
    e = expected_max_profit(
        y, score, clv=200, cost_per_contact=1, incentive_cost=10, alpha=30_000, beta=70_000
    )
    assert e.value == pytest.approx(mpc_score(y, score, accept_rate=0.3, **params), rel=1e-9)
    assert e.target_rate == pytest.approx(
        mpc_score.optimal_rate(y, score, accept_rate=0.3, **params), rel=1e-9
    )


def test_nobody_is_targeted_when_a_contact_costs_a_customer() -> None:
    y, score = make_dataset(200, 0.25, False, seed=9)
    e = expected_max_profit(y, score, clv=100, cost_per_contact=100, alpha=6, beta=14)
    assert e == EMPC(value=0.0, target_rate=0.0)


def test_only_the_ranking_matters() -> None:
    y, score = make_dataset(300, 0.25, True, seed=10)
    economics = {"clv": 200, "cost_per_contact": 1, "alpha": 6, "beta": 14, "incentive_cost": 10}
    assert expected_max_profit(y, score, **economics) == pytest.approx(
        expected_max_profit(y.astype(bool), np.exp(3 * score) - 7, **economics)
    )


@pytest.mark.parametrize(
    ("y_true", "y_score", "options", "match"),
    [
        ([1, 0, 1], [0.1, 0.2], {}, r"y_true has shape \(3,\) but y_score has shape \(2,\)"),
        ([1, 0, 2], [0.1, 0.2, 0.3], {}, r"y_true holds \[2\]; it should hold only 1"),
        ([0, 0, 0], [0.1, 0.2, 0.3], {}, "0 churners among 3 customers"),
        ([1, 1], [0.1, 0.2], {}, "2 churners among 2 customers"),
        (
            [1, 0, 1],
            [0.1, np.nan, 0.3],
            {},
            "1 values that are NaN or infinite, first at position 1",
        ),
        ([1, 0], [0.1, 0.2], {"alpha": 0}, "alpha=0 should be a positive number"),
        ([1, 0], [0.1, 0.2], {"beta": -1}, "beta=-1 should be a positive number"),
        ([1, 0], [0.1, 0.2], {"clv": 0}, "clv=0 should be a positive number"),
        ([1, 0], [0.1, 0.2], {"cost_per_contact": -5}, "cost_per_contact=-5 must not be negative"),
        ([1, 0], [0.1, 0.2], {"incentive_cost": -1}, "incentive_cost=-1 must not be negative"),
    ],
)
def test_bad_input_is_named(y_true: list, y_score: list, options: dict, match: str) -> None:
    economics = {"clv": 200, "cost_per_contact": 1, "alpha": 6, "beta": 14} | options
    with pytest.raises(ValueError, match=match):
        expected_max_profit(y_true, y_score, **economics)


def test_import_is_cheap() -> None:
    code = "import sys, roi.empc; print(sorted({'scipy', 'sympy', 'empulse'} & set(sys.modules)))"
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
