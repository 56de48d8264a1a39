"""Microcredit as it was run (policies/microcredit.py), on small hand-built households whose
right answers are known: yearly interest and its subsidy, the principal's schedule, project
gains and losses, extension (展期) before default, renewal (续贷), who may borrow, and the
same numbers on any thread count."""

from types import SimpleNamespace

import numba
import numpy as np
import pytest

from policies import microcredit
from sim.registry import HOUSEHOLD, STREAM_NAMES, flow_registry
from sim import accounting
from sim.fields import COUNTY, VILLAGE, Labor, Status
from sim.flows import Flows
from sim.params import Parameters
from sim.streams import Streams
from sim.table import Table

YEAR = 2016
LINE = 3000.0
AMOUNT = 40000.0
RATE = 0.0435

# a loan for every eligible household; projects that return exactly `project_return_mean`,
# uninsured unless a test insures them
SURE = {"microcredit.insured_loss_share": 0.0, "microcredit.takeup_base": 1.0, "microcredit.project_return_sd": 0.0,
        "microcredit.project_return_mean": 0.0, "microcredit.interest_subsidy_share": 1.0,
        "microcredit.renewal_share": 0.0, "microcredit.amount": AMOUNT, "microcredit.term": 3,
        "microcredit.repayment": "at_maturity", "microcredit.max_extensions": 1,
        "microcredit.extension_years": 1, "microcredit.reinvest_share": 0.5,
        "microcredit.risk_compensation_share": 0.8, "microcredit.interest_rate": RATE}


def world(rows, overrides=None, base_income=2 * LINE, villages=1, counties=1, shipped=()):
    """A model-shaped namespace around a hand-built household table: every row supported,
    earning `base_income` of farm income a year (reset by `year`). `shipped`: parameters
    left at their shipped values."""
    params = Parameters.load().override({k: v for k, v in {**SURE, **(overrides or {})}.items()
                                         if k not in shipped}, "test")
    base = dict(size=2, n_working=2, weight=1.0, labor=Labor.FULL, insured=True, status=Status.REGISTERED)
    keys = set(base) | {k for r in rows for k in r}
    cols = {k: np.array([{**base, **r}.get(k, HOUSEHOLD.fields[k].default) for r in rows]) for k in keys}
    hh = Table.from_columns(HOUSEHOLD, cols)
    m = SimpleNamespace(hh=hh, villages=Table(VILLAGE, villages), counties=Table(COUNTY, counties), params=params,
                        p=params.year(YEAR), year=YEAR, line=LINE, streams=Streams(0, STREAM_NAMES), price_index=1.0,
                        school_cost=lambda stage: 0.0, flows=Flows(flow_registry()))
    m.base_income = np.broadcast_to(np.asarray(base_income, np.float32), (hh.n,)).copy()
    m.supported = np.ones(hh.n, bool)
    return m


def year(m, account=False):
    """One year of the measure: this year's farm income, the loan pass, optionally the
    accounts (savings); returns the costs."""
    m.p = m.params.year(m.year)
    m.flows = {"supported": m.supported.copy()}
    m.hh.obligations = 0.0
    m.hh.income_farm = m.base_income
    costs = microcredit.act(m, True)
    if account:
        accounting.account(m)
    m.year += 1
    return costs


# --- extension before default -------------------------------------------------------

def test_a_failed_project_is_extended_before_it_defaults_and_the_risk_fund_pays():
    m = world([dict()], {"microcredit.project_return_mean": -1.0}, base_income=0.0)
    for _ in range(2):  # the project is lost in its first year; the interest is subsidized
        costs = year(m)
        assert not m.flows["microcredit_defaults"][0] and not m.flows["microcredit_extensions"][0]
        assert m.hh.loan_principal[0] == AMOUNT and m.hh.loan_capital[0] == 0 and "county" not in costs
    costs = year(m)  # maturity with nothing to repay from: extended, not defaulted
    assert m.flows["microcredit_extensions"][0] and not m.flows["microcredit_defaults"][0]
    assert not m.hh.loan_defaulted[0] and m.hh.loan_extensions[0] == 1 and "county" not in costs
    assert m.hh.loan_principal[0] == AMOUNT and m.hh.loan_term_left[0] == 1 and m.flows["microcredit_open"][0]
    assert m.villages.loan_good_share[0] == 0.0  # an extended loan is not in good standing
    assert costs["fiscal"] == pytest.approx(RATE * AMOUNT)  # interest still subsidized
    costs = year(m)  # still short at the end of the extension: default
    assert m.flows["microcredit_defaults"][0] and m.hh.loan_defaulted[0]
    assert not m.flows["microcredit_extensions"][0]
    assert costs["county"] == pytest.approx(0.8 * AMOUNT)
    assert m.hh.loan_principal[0] == 0 and m.hh.loan_arrears[0] == 0 and not m.flows["microcredit_open"][0]


def test_an_extension_keeps_the_project_and_lets_a_household_repay():
    m = world([dict()], {"microcredit.project_return_mean": -0.25})
    for _ in range(3):
        year(m)
    capital = AMOUNT * 0.75 ** 3  # too little to settle: kept, not sold, through the extension
    assert m.flows["microcredit_extensions"][0] and m.hh.loan_capital[0] == pytest.approx(capital, rel=1e-6)
    assert m.hh.loan_principal[0] == AMOUNT and m.hh.loan_arrears[0] == 0
    m.base_income[:] = 2 * LINE + 30000.0  # a good year: 30,000 from income, the rest from the project
    costs = year(m)
    loss = 0.25 * capital
    assert not m.flows["microcredit_defaults"][0] and not m.hh.loan_defaulted[0] and "county" not in costs
    assert m.hh.obligations[0] == pytest.approx(30000.0 - loss, rel=1e-5)
    assert m.hh.loan_capital[0] == pytest.approx(capital - loss - (AMOUNT - 30000.0), rel=1e-5)
    assert m.hh.loan_principal[0] == 0 and not m.flows["microcredit_open"][0]


def test_without_extensions_a_shortfall_at_maturity_defaults_at_once():
    m = world([dict()], {"microcredit.project_return_mean": -1.0, "microcredit.max_extensions": 0}, base_income=0.0)
    year(m), year(m)
    costs = year(m)
    assert m.flows["microcredit_defaults"][0] and costs["county"] == pytest.approx(0.8 * AMOUNT)


def test_loans_due_in_2020_may_be_extended_once_more():
    """The Feb 2020 notice: loans due in 2020 with COVID difficulties, extended ones too, could
    be extended again (the shipped dated values of `microcredit.max_extensions`)."""
    m = world([dict()], {"microcredit.project_return_mean": -1.0}, base_income=0.0,
              shipped=("microcredit.max_extensions",))
    m.year = 2017
    events = []
    for _ in range(5):  # made 2017, due 2019, extended 2019 and (COVID) 2020, default 2021
        year(m)
        f = m.flows
        events.append((m.year - 1, bool(f["microcredit_extensions"][0]), bool(f["microcredit_defaults"][0])))
    assert events == [(2017, False, False), (2018, False, False), (2019, True, False), (2020, True, False),
                      (2021, False, True)]
    assert m.hh.loan_extensions[0] == 2


# --- what falls due -----------------------------------------------------------------

def test_interest_is_due_every_year_and_the_subsidy_is_paid():
    m = world([dict()], {"microcredit.interest_subsidy_share": 0.5}, base_income=2 * LINE + 10000.0)
    for _ in range(2):
        costs = year(m)
        assert costs["fiscal"] == pytest.approx(0.5 * RATE * AMOUNT)
        assert m.hh.obligations[0] == pytest.approx(0.5 * RATE * AMOUNT, rel=1e-5)  # the household's half
        assert m.hh.loan_principal[0] == AMOUNT and m.hh.loan_arrears[0] == 0


def test_unpaid_interest_is_arrears_carried_to_maturity_not_a_default():
    m = world([dict()], {"microcredit.interest_subsidy_share": 0.5}, base_income=0.0)
    due = 0.5 * RATE * AMOUNT
    for k in (1, 2):
        year(m)
        assert m.hh.loan_arrears[0] == pytest.approx(k * due, rel=1e-6)
        assert not m.flows["microcredit_defaults"][0] and not m.flows["microcredit_extensions"][0]
        assert m.villages.loan_good_share[0] == 0.0  # in arrears: not in good standing
    year(m)  # maturity: the capital (40,000) cannot settle 40,000 and the arrears: kept, extended
    assert m.flows["microcredit_extensions"][0] and not m.flows["microcredit_defaults"][0]
    assert m.hh.loan_principal[0] == AMOUNT and m.hh.loan_arrears[0] == pytest.approx(3 * due, rel=1e-5)
    assert m.hh.loan_capital[0] == AMOUNT
    costs = year(m)  # end of the extension: the project is sold, the rest is written off
    assert m.flows["microcredit_defaults"][0] and m.hh.loan_capital[0] == 0
    assert costs["county"] == pytest.approx(0.8 * 4 * due, rel=1e-5)
    assert costs["fiscal"] == pytest.approx(due)  # the subsidy continued through the extension


def test_the_principal_falls_due_only_at_maturity():
    m = world([dict()], base_income=2 * LINE + 50000.0)
    for _ in range(2):
        year(m)
        assert m.hh.obligations[0] == 0 and m.hh.loan_principal[0] == AMOUNT
    year(m)
    assert m.hh.obligations[0] == pytest.approx(AMOUNT)  # from income above the line
    assert m.hh.loan_principal[0] == 0 and m.hh.loan_capital[0] == AMOUNT  # the project is kept


def test_the_principal_falls_due_in_equal_shares():
    m = world([dict()], {"microcredit.repayment": "equal"}, base_income=2 * LINE + 50000.0)
    for k in (1, 2, 3):
        year(m)
        assert m.hh.obligations[0] == pytest.approx(AMOUNT / 3, rel=1e-5)
        assert m.hh.loan_principal[0] == pytest.approx(AMOUNT * (3 - k) / 3, rel=1e-5, abs=1e-3)
    assert not m.flows["microcredit_open"][0] and not m.flows["microcredit_defaults"][0]


def test_dues_are_paid_from_savings_first_then_income_then_capital():
    m = world([dict(savings=5000.0), dict(savings=5000.0)], base_income=np.array([2 * LINE + 50000.0, 2 * LINE]))
    year(m), year(m), year(m)
    assert m.hh.savings.tolist() == [0.0, 0.0]
    assert m.hh.obligations[0] == pytest.approx(AMOUNT - 5000.0) and m.hh.loan_capital[0] == AMOUNT
    assert m.hh.obligations[1] == 0 and m.hh.loan_capital[1] == pytest.approx(5000.0)  # capital sold
    assert not m.flows["microcredit_open"].any() and not m.flows["microcredit_extensions"].any()


# --- the project --------------------------------------------------------------------

def test_a_loss_lowers_income_and_capital_but_not_cash():
    base = 2 * LINE + 1000.0
    m = world([dict(), dict(labor=Labor.NONE)], {"microcredit.project_return_mean": -0.25}, base_income=base)
    year(m, account=True)  # row 1, without labor, has no loan: the same income otherwise
    loss = 0.25 * AMOUNT
    assert m.flows["microcredit_made"].tolist() == [True, False]
    assert m.hh.income_farm[0] == pytest.approx(base - loss) and m.hh.income_farm[1] == base
    assert m.hh.income[0] == pytest.approx(base - loss)
    assert m.hh.loan_capital[0] == pytest.approx(AMOUNT - loss)
    assert m.hh.savings[0] == m.hh.savings[1] > 0 and m.hh.debt[0] == 0  # cash as without the project
    assert microcredit.income_contribution(m, np.array([0, 1])).tolist() == [-loss, 0.0]


def test_insurance_pays_its_share_of_any_loss_and_nothing_of_a_gain():
    base = 2 * LINE + 1000.0
    # a loss from the project itself (no disaster, no price shock), then a village disaster
    for disaster, mean in ((0.0, -0.25), (0.5, 0.0)):
        m = world([dict(), dict()], {"microcredit.project_return_mean": mean,
                                     "microcredit.insured_loss_share": 0.6}, base_income=base)
        m.villages.disaster_loss[0] = disaster
        year(m)
        loss = 0.25 * AMOUNT if disaster == 0 else 0.5 * AMOUNT
        assert m.hh.income_farm[0] == pytest.approx(base - 0.4 * loss)
        assert m.hh.loan_capital[0] == pytest.approx(AMOUNT - 0.4 * loss)
    m = world([dict()], {"microcredit.project_return_mean": 0.2, "microcredit.insured_loss_share": 0.6},
              base_income=base)
    year(m)
    assert m.hh.income_farm[0] == pytest.approx(base + 0.2 * AMOUNT)  # a gain is the project's own


def test_a_gain_raises_income_and_a_share_goes_to_capital():
    base = 2 * LINE + 1000.0
    m = world([dict(), dict(labor=Labor.NONE)], {"microcredit.project_return_mean": 0.2}, base_income=base)
    year(m, account=True)
    gain = 0.2 * AMOUNT
    assert m.hh.income_farm[0] == pytest.approx(base + gain)
    assert m.hh.loan_capital[0] == pytest.approx(AMOUNT + 0.5 * gain)
    assert m.hh.obligations[0] == pytest.approx(0.5 * gain)  # reinvested: not spent or saved
    saved = 1.0 - m.p["economy.consumption_share"]
    assert m.hh.savings[0] - m.hh.savings[1] == pytest.approx(saved * 0.5 * gain, rel=1e-5)
    assert microcredit.income_contribution(m, np.array([1, 0])).tolist() == [0.0, pytest.approx(gain)]


def test_the_years_gains_are_kept_sparsely_for_exits():
    rows = [dict(), dict(labor=Labor.NONE), dict(), dict(size=0, n_working=0)]
    m = world(rows, {"microcredit.project_return_mean": 0.1, "microcredit.project_return_sd": 0.2})
    year(m)
    assert m.flows["microcredit_gain_rows"].tolist() == [0, 2]
    got = microcredit.income_contribution(m, np.arange(4))
    assert got[[1, 3]].tolist() == [0.0, 0.0] and got[0] != got[2]
    assert got[0] == pytest.approx(float(m.hh.income_farm[0]) - 2 * LINE, abs=1e-2)
    assert microcredit.income_contribution(m, np.zeros(0, np.int64)).shape == (0,)


# --- renewal and eligibility --------------------------------------------------------

@pytest.mark.parametrize("share", [1.0, 0.0])
def test_a_household_that_repays_renews_with_the_renewal_chance(share):
    m = world([dict()], {"microcredit.renewal_share": share})
    year(m), year(m)
    year(m)  # repaid at maturity by selling the capital
    renewed = share == 1.0
    assert m.flows["microcredit_renewals"][0] == renewed and m.flows["microcredit_made"][0] == renewed
    assert not m.flows["microcredit_defaults"][0] and not m.flows["microcredit_extensions"][0]
    assert m.hh.loan_principal[0] == (AMOUNT if renewed else 0.0)
    assert m.hh.loan_capital[0] == (AMOUNT if renewed else 0.0)
    if renewed:  # a new three-year loan made this year, charged from next year
        assert m.hh.loan_year[0] == YEAR + 2 and m.hh.loan_term_left[0] == 3
        for _ in range(2):
            costs = year(m)
            assert m.hh.loan_principal[0] == AMOUNT and not m.flows["microcredit_made"][0]
            assert costs["fiscal"] == pytest.approx(RATE * AMOUNT)
        year(m)
        assert m.flows["microcredit_renewals"][0]  # repaid again, renewed again


def test_a_household_no_longer_supported_does_not_renew():
    m = world([dict()], {"microcredit.renewal_share": 1.0})
    year(m), year(m)
    m.supported[:] = False
    year(m)
    assert not m.flows["microcredit_renewals"][0] and m.hh.loan_principal[0] == 0


def test_a_defaulted_household_never_borrows_again():
    m = world([dict()], {"microcredit.project_return_mean": -1.0}, base_income=0.0)
    for _ in range(4):
        year(m)
    assert m.hh.loan_defaulted[0]
    m.base_income[:] = 2 * LINE + 50000.0
    for _ in range(4):
        year(m)
        assert not m.flows["microcredit_made"][0] and not m.flows["microcredit_open"][0]


def test_an_exited_household_still_supported_can_borrow():
    rows = [dict(status=Status.EXITED, exit_year=YEAR - 1), dict(status=Status.EXITED, exit_year=YEAR - 1),
            dict(status=Status.NEVER, monitor_year=YEAR), dict(status=Status.REGISTERED, labor=Labor.NONE)]
    m = world(rows)
    m.supported[:] = [True, False, True, True]  # support continues; support ended; monitored; no labor
    year(m)
    assert m.flows["microcredit_made"].tolist() == [True, False, True, False]
    assert m.flows["reached_microcredit"].tolist() == [True, False, True, False]


def test_the_measure_switched_off_makes_no_loans_but_runs_open_ones_to_their_end():
    m = world([dict(), dict()], {"microcredit.renewal_share": 1.0})
    m.supported[:] = [True, False]
    year(m)
    m.p = m.params.year(m.year)
    m.flows = {"supported": np.ones(2, bool)}
    m.hh.obligations = 0.0
    microcredit.act(m, False)
    m.year += 1
    assert m.flows["microcredit_made"].tolist() == [False, False]
    assert m.hh.loan_principal.tolist() == [AMOUNT, 0.0] and m.hh.loan_term_left[0] == 1


# --- the same numbers on any thread count ------------------------------------------

def _random_world(n=4000):
    rng = np.random.default_rng(7)
    rows = [dict(size=int(rng.integers(1, 6)), labor=int(rng.integers(0, 3)), savings=float(rng.exponential(3000)),
                 n_skilled=int(rng.integers(0, 2)), motivation=float(rng.random()),
                 risk_aversion=float(rng.random()), weight=float(rng.uniform(0.5, 3)),
                 village=int(rng.integers(0, 20)), county=int(rng.integers(0, 3)),
                 oop_medical=float(rng.exponential(500))) for _ in range(n)]
    m = world(rows, {"microcredit.takeup_base": 0.3, "microcredit.project_return_sd": 0.4,
                     "microcredit.project_return_mean": 0.05, "microcredit.interest_subsidy_share": 0.7,
                     "microcredit.renewal_share": 0.5, "microcredit.max_extensions": 2},
              base_income=rng.exponential(2 * LINE, n), villages=20, counties=3)
    m.supported[:] = rng.random(n) < 0.7
    m.counties.price_shock = np.array([0.9, 1.0, 1.1], np.float32)
    m.villages.disaster_loss = np.where(np.arange(20) % 7 == 0, 0.3, 0.0).astype(np.float32)
    return m


def _run_years(threads, years=8):
    before = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        m = _random_world()
        out = []
        for _ in range(years):
            costs = year(m)
            out.append((costs, {k: np.copy(v) for k, v in m.flows.items()},
                        {k: np.copy(getattr(m.hh, k)) for k in ("loan_principal", "loan_capital", "loan_arrears",
                                                                 "loan_term_left", "loan_extensions", "savings",
                                                                 "obligations", "income_farm", "loan_defaulted")},
                        np.copy(m.villages.loan_good_share)))
        return out
    finally:
        numba.set_num_threads(before)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs two numba threads")
def test_results_are_identical_on_one_and_two_threads():
    one, two = _run_years(1), _run_years(2)
    seen = {"made": 0, "extended": 0, "defaults": 0, "renewed": 0}
    for (c1, f1, h1, g1), (c2, f2, h2, g2) in zip(one, two):
        assert c1 == c2  # weighted totals to the last bit
        assert f1.keys() == f2.keys()
        for k in f1:
            assert np.array_equal(f1[k], f2[k]), k
        for k in h1:
            assert np.array_equal(h1[k], h2[k]), k
        assert np.array_equal(g1, g2)
        seen["made"] += f1["microcredit_made"].sum()
        seen["extended"] += f1["microcredit_extensions"].sum()
        seen["defaults"] += f1["microcredit_defaults"].sum()
        seen["renewed"] += f1["microcredit_renewals"].sum()
    assert all(seen.values()), seen  # every path of the pass was taken
