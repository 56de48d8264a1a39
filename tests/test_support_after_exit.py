"""Support after exit holds (摘帽不摘责任、不摘政策、不摘帮扶、不摘监管, docs/register_sources.md
§2f): jobs stay with their holders, work is a persistent state, dibao targeting errors
belong to the household; and what each measure paid a household (`income_contribution`).
Small hand-built populations with known answers."""

from types import SimpleNamespace

import numba
import numpy as np
import pytest

from agents import behaviour
from policies import assets, dibao, ecological, employment, industry, public_jobs, relocation
from sim.registry import HOUSEHOLD, STREAM_NAMES, flow_registry
from sim.support import supported
from sim.fields import COUNTY, VILLAGE, Labor, Location, Status
from sim.flows import Flows
from sim.params import Parameters
from sim.streams import Streams
from sim.table import Table

YEAR = 2017
FRAGILE = int(Location.ECO_FRAGILE)
# migration decided by migration_base alone (the desired share s), no other effects
FLAT = {"economy.migration_network_effect": 0.0, "economy.migration_skill_effect": 0.0,
        "economy.migration_care_penalty": 0.0, "economy.migration_willingness_effect": 0.0,
        "relocation.migration_bonus": 0.0, "relocation.local_work_bonus": 0.0}


def world(rows, overrides=None, measures=None, registered_households=None, counties=1):
    """A model-shaped namespace around a hand-built household table."""
    params = Parameters.load().override(overrides or {}, "test")
    base = dict(size=2, n_working=2, weight=1.0, labor=Labor.FULL, insured=True, status=Status.REGISTERED,
                reg_year=2015)
    keys = set(base) | {k for r in rows for k in r}
    cols = {k: np.array([{**base, **r}.get(k, HOUSEHOLD.fields[k].default) for r in rows]) for k in keys}
    hh = Table.from_columns(HOUSEHOLD, cols)
    n_reg = registered_households if registered_households is not None else float(hh.weight.sum())
    m = SimpleNamespace(
        hh=hh, villages=Table(VILLAGE, 1), counties=Table(COUNTY, counties), p=params.year(YEAR), params=params,
        year=YEAR, line=3000.0, growth_index=1.0, price_index=1.0, streams=Streams(0, STREAM_NAMES),
        measures=measures or {},
        flows=Flows(flow_registry()),
        initial={"registered_poor_households": n_reg, "registered_poor_people": 2 * n_reg})
    m.flows["supported"] = supported(m)
    return m


def new_year(m, year=None):
    """What the rest of a year does to the fields the measures read: the work pass resets
    incomes; the government marks the supported."""
    m.year = year if year is not None else m.year + 1
    m.p = m.params.year(m.year)
    for name in ("income_local_wage", "income_transfers", "income_property", "transfer_dibao"):
        m.hh[name] = 0.0
    m.flows = Flows(flow_registry())
    m.flows["supported"] = supported(m)


def exit_register(m, row):
    m.hh.status[row] = Status.EXITED
    m.hh.exit_year[row] = m.year


# --- public-welfare jobs ------------------------------------------------------------

def _jobs_year(m):
    m.flows["assigned_public_jobs"] = public_jobs.candidates(m)  # cadres without a limit
    return public_jobs.act(m, True)


def test_a_public_job_stays_with_its_holder_after_exit():
    m = world([dict(measured_pc=1000), dict(measured_pc=1500)],
              {"public_jobs.jobs_per_registered_household": 0.5})  # one job for two households
    _jobs_year(m)
    assert m.hh.public_job.tolist() == [True, False]
    wage = m.p["public_jobs.wage"]
    # the holder exits the register and is now richer than the other household
    exit_register(m, 0)
    m.hh.measured_pc[:] = [5000, 900]
    for _ in range(2):  # the next year and the one after
        new_year(m)
        assert m.flows["supported"][0]  # exited, support continues
        assert not public_jobs.candidates(m)[0]  # a holder needs no new job
        costs = _jobs_year(m)
        assert m.hh.public_job.tolist() == [True, False]
        assert m.hh.income_local_wage.tolist() == [wage, 0.0]
        assert costs["fiscal"] == wage
        assert m.flows["reached_public_jobs"].tolist() == [True, False]
    public_jobs.act(m, False)  # switched off: holders lose their jobs
    assert not m.hh.public_job.any()


def test_a_vacant_public_job_goes_to_the_poorest_assigned_household():
    rows = [dict(measured_pc=800, public_job=True, n_migrants=2),  # holder, no one at home any more
            dict(measured_pc=2000, public_job=True),                 # holder, keeps the job
            dict(measured_pc=1500), dict(measured_pc=1200), dict(measured_pc=1000, status=Status.NEVER)]
    m = world(rows, {"public_jobs.jobs_per_registered_household": 0.4})  # two jobs
    _jobs_year(m)
    # the richer holder keeps its job, the vacancy goes to the poorest assigned (supported) household
    assert m.hh.public_job.tolist() == [False, True, False, True, False]


def test_fewer_public_jobs_than_holders_the_poorest_holders_keep_theirs():
    rows = [dict(measured_pc=pc, public_job=True) for pc in (1500, 1000, 2000)]
    m = world(rows, {"public_jobs.jobs_per_registered_household": 1 / 3})
    _jobs_year(m)
    assert m.hh.public_job.tolist() == [False, True, False]


# --- ranger jobs --------------------------------------------------------------------

def test_a_ranger_job_stays_with_its_holder_after_exit():
    rows = [dict(location_risk=FRAGILE, measured_pc=pc) for pc in (1000, 1500, 1200)]
    m = world(rows, {"eco.ranger_share": 0.5}, {"ecological": True})  # one post (1.5, then 1 of 2)
    ecological.act(m, True)
    assert m.hh.ranger_job.tolist() == [True, False, False]
    wage = m.p["eco.ranger_wage"]
    assert m.hh.income_local_wage.tolist() == [wage, 0.0, 0.0]
    exit_register(m, 0)
    m.hh.measured_pc[:] = [5000, 1500, 900]
    for _ in range(2):
        new_year(m)
        costs = ecological.act(m, True)
        assert m.hh.ranger_job.tolist() == [True, False, False]
        assert m.hh.income_local_wage.tolist() == [wage, 0.0, 0.0]
        pay = m.p["eco.mu_per_household"] * m.p["eco.payment_per_mu"]
        assert costs["fiscal"] == pytest.approx(3 * pay + wage)
    # the holder leaves the fragile place (relocated): the post falls vacant, the poorest gets it
    m.hh.location_risk[0] = 0
    new_year(m)
    ecological.act(m, True)
    assert m.hh.ranger_job.tolist() == [False, False, True]
    ecological.act(m, False)
    assert not m.hh.ranger_job.any()


# --- dibao --------------------------------------------------------------------------

NO_LABOR = dict(labor=Labor.NONE, n_working=0, n_elderly=2, size=2)


def _dibao_year(m, year):
    new_year(m, year)
    dibao.act(m, True)
    return m.hh.dibao.copy()


def test_the_same_households_are_excluded_from_dibao_every_year():
    m = world([NO_LABOR] * 400, {"dibao.exclusion_error": 0.3, "dibao.two_lines_in_one": False})
    covered = _dibao_year(m, 2017)
    assert 0.2 < 1 - covered.mean() < 0.4  # about 30% excluded
    np.testing.assert_array_equal(_dibao_year(m, 2018), covered)
    np.testing.assert_array_equal(_dibao_year(m, 2020), covered)


def test_with_two_lines_in_one_excluded_supported_eligible_households_are_covered():
    over = {"dibao.exclusion_error": 0.3}
    rows = [NO_LABOR] * 200 + [dict(NO_LABOR, status=Status.NEVER)] * 200
    excluded = ~_dibao_year(world(rows, {**over, "dibao.two_lines_in_one": False}), YEAR)
    assert excluded[:200].any() and excluded[200:].any()
    m = world(rows, {**over, "dibao.two_lines_in_one": True})
    covered = _dibao_year(m, YEAR)
    assert covered[:200].all()  # supported (registered) and eligible: always covered
    np.testing.assert_array_equal(covered[200:], ~excluded[200:])  # the others keep their draw
    # an exited household while support continues is covered too
    exit_register(m, np.flatnonzero(excluded[:200])[0])
    assert _dibao_year(m, YEAR + 1)[:200].all()


# --- persistent work ----------------------------------------------------------------

def _work(m, years):
    for year in years:
        m.year = year
        m.p = m.params.year(year)
        s = m.streams
        behaviour.work(m, s.key("migrate", year), s.key("local_work", year), shocks=False, enrol=False,
                       persistent=True)


ONE_WORKER = dict(size=1, n_working=1, ability=1000.0)


def test_a_migrant_stays_away_with_exit_rate_0_and_returns_with_exit_rate_1():
    over = {**FLAT, "economy.migration_base": 0.5}
    m = world([dict(ONE_WORKER, n_migrants=1)] * 50, {**over, "economy.migrant_exit_rate": 0.0})
    for year in range(YEAR, YEAR + 10):
        _work(m, [year])
        assert (m.hh.n_migrants == 1).all()
        assert m.hh.income_migrant == pytest.approx(1000 * m.p["economy.migrant_wage_ratio"])
    m = world([dict(ONE_WORKER, n_migrants=1)] * 50, {**over, "economy.migrant_exit_rate": 1.0})
    _work(m, [YEAR])
    assert (m.hh.n_migrants == 0).all()


def test_local_wage_work_persists_with_exit_rate_0():
    over = {**FLAT, "economy.migration_base": 0.0, "economy.local_work_share": 0.5,
            "economy.local_work_exit_rate": 0.0}
    m = world([dict(ONE_WORKER, n_local=1), dict(ONE_WORKER)] * 25, over)
    _work(m, range(YEAR, YEAR + 5))
    assert m.hh.n_local.tolist() == [1, 0] * 25


@pytest.mark.parametrize("s", [0.3, 0.6])
def test_the_long_run_migrant_share_is_the_desired_share(s):
    """From no migrants at all, the chain settles at the desired share s: the mean share
    over the last 10 of 40 years, 40,000 workers (its standard error is about 0.002)."""
    over = {**FLAT, "economy.migration_base": s, "economy.migrant_exit_rate": 0.2, "economy.local_work_share": 0.3}
    m = world([dict(size=2, n_working=2, ability=1000.0)] * 20_000, over)
    _work(m, range(YEAR, YEAR + 30))
    shares = []
    for year in range(YEAR + 30, YEAR + 40):
        _work(m, [year])
        shares.append(m.hh.n_migrants.mean() / 2)
    assert np.mean(shares) == pytest.approx(s, abs=0.01)
    assert (m.hh.n_migrants + m.hh.n_local <= 2).all()


def test_the_long_run_local_work_share_is_the_desired_share():
    over = {**FLAT, "economy.migration_base": 0.0, "economy.local_work_share": 0.4,
            "economy.local_work_exit_rate": 0.2}
    m = world([dict(size=2, n_working=2, ability=1000.0)] * 20_000, over)
    _work(m, range(YEAR, YEAR + 30))
    shares = []
    for year in range(YEAR + 30, YEAR + 40):
        _work(m, [year])
        shares.append(m.hh.n_local.mean() / 2)
    assert np.mean(shares) == pytest.approx(0.4, abs=0.01)


def test_the_start_year_allocation_is_the_stationary_one():
    """Without `persistent` (the start year) the counts are able workers x share, rounded
    stochastically: last year's counts play no part."""
    over = {**FLAT, "economy.migration_base": 0.5}
    m = world([dict(size=4, n_working=4, n_migrants=4)] * 100, over)
    s = m.streams
    behaviour.work(m, s.key("migrate", YEAR), s.key("local_work", YEAR), shocks=False, enrol=False)
    assert (m.hh.n_migrants == 2).all()


def _varied(n=5000):
    r = np.random.default_rng(3)
    rows = [dict(size=int(s), n_working=int(w), n_elderly=int(e), n_child=int(c), n_chronic=int(ch),
                 n_skilled=int(k), willingness_to_move=float(u), ability=float(a), n_migrants=int(mg))
            for s, w, e, c, ch, k, u, a, mg in zip(
                r.integers(1, 7, n), r.integers(0, 5, n), r.integers(0, 3, n), r.integers(0, 3, n),
                r.random(n) < 0.2, r.random(n) < 0.3, r.random(n), r.random(n) * 3000, r.integers(0, 3, n))]
    return world(rows)


def test_the_work_pass_gives_the_same_results_on_1_and_2_threads():
    out = []
    threads = numba.get_num_threads()
    try:
        for t in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(t)
            m = _varied()
            s = m.streams
            behaviour.work(m, s.key("synth.households", 0), s.key("synth.households", 1), shocks=False,
                           enrol=False)
            _work(m, range(YEAR, YEAR + 5))
            out.append({k: m.hh[k].copy() for k in ("n_migrants", "n_local", "income_farm", "income_local_wage",
                                                     "income_migrant", "labor", "labor_units")})
    finally:
        numba.set_num_threads(threads)
    for k in out[0]:
        np.testing.assert_array_equal(out[0][k], out[1][k], err_msg=k)


def test_a_placed_worker_stays_placed_and_is_not_counted_twice():
    over = {**FLAT, "economy.migration_base": 0.0, "economy.local_work_share": 0.0,
            "economy.migrant_exit_rate": 0.0, "economy.local_work_exit_rate": 0.0,
            "government.households_per_cadre": 0}
    rows = [dict(ONE_WORKER, willingness_to_move=0.8, income_farm=1000.0),
            dict(ONE_WORKER, willingness_to_move=0.2, income_farm=1000.0)]
    m = world(rows, over, {"employment": True})
    m.flows["assigned_employment"] = employment.candidates(m)
    employment.act(m, True)
    assert m.hh.n_migrants.tolist() == [1, 0] and m.hh.n_local.tolist() == [0, 1]
    for year in (YEAR + 1, YEAR + 2):
        _work(m, [year])  # the placement lasts: one migrant, one local worker, not two
        assert m.hh.n_migrants.tolist() == [1, 0] and m.hh.n_local.tolist() == [0, 1]
        m.flows["supported"] = supported(m)
        assert not employment.candidates(m).any()  # no one idle: not placed again


# --- what each measure paid (income_contribution) ------------------------------------

def test_income_contribution_of_public_jobs_rangers_and_dibao():
    m = world([dict(measured_pc=1000, location_risk=FRAGILE), dict(measured_pc=1500, location_risk=FRAGILE),
               dict(measured_pc=1200)],
              {"public_jobs.jobs_per_registered_household": 1 / 3 + 1e-9, "eco.ranger_share": 0.5},
              {"public_jobs": True, "ecological": True})
    _jobs_year(m)
    before = m.hh.income_local_wage.astype(np.float64) + m.hh.income_transfers
    ecological.act(m, True)
    rows = np.arange(3)
    np.testing.assert_array_equal(public_jobs.income_contribution(m, rows), [m.p["public_jobs.wage"], 0, 0])
    paid = m.hh.income_local_wage.astype(np.float64) + m.hh.income_transfers - before
    eco = ecological.income_contribution(m, rows)
    np.testing.assert_allclose(eco, paid)
    pay = m.p["eco.mu_per_household"] * m.p["eco.payment_per_mu"]
    np.testing.assert_allclose(eco, [pay + m.p["eco.ranger_wage"], pay, 0.0])
    np.testing.assert_array_equal(ecological.income_contribution(m, rows[[2, 0]]), eco[[2, 0]])
    m.measures["ecological"] = False
    assert not ecological.income_contribution(m, rows).any()

    d = world([NO_LABOR, dict(labor=Labor.FULL, income_farm=50000.0)], {"dibao.exclusion_error": 0.0})
    dibao.act(d, True)
    got = dibao.income_contribution(d, np.array([0, 1]))
    assert got[0] > 0 and got[0] == d.hh.transfer_dibao[0] and got[1] == 0


def test_income_contribution_of_industry_assets_and_relocation():
    rows = [dict(income_farm=1000.0, cooperative=True, asset_shares=True, county=0),
            dict(income_farm=1000.0, asset_shares=True, county=1, relocated=True, relocation_year=YEAR - 1,
                 size=3, n_working=3),
            dict(income_farm=1000.0, relocated=True, relocation_year=YEAR)]  # moved this year: no rent yet
    m = world(rows, {"assets.investment_per_household": 5000, "assets.return_rate": 0.08,
                     "assets.min_dividend": 300, "exit.support_years_after_exit": 0}, counties=2)
    m.counties.price_shock[:] = [1.25, 0.5]  # return 500 (above the minimum) and 200 (below)
    m.price_index = 1.1
    exit_register(m, 0)  # members are paid, and reached, whatever their register status
    m.flows["supported"] = supported(m)
    assert not m.flows["supported"][0]
    idx = np.arange(3)
    before = m.hh.income_farm.astype(np.float64) + m.hh.income_property
    industry.act(m, False)
    after = m.hh.income_farm.astype(np.float64) + m.hh.income_property
    got = industry.income_contribution(m, idx)
    np.testing.assert_allclose(got, after - before, rtol=1e-6)
    np.testing.assert_allclose(got, [m.p["industry.dividend"] * 1.1 + 100, 0, 0], rtol=1e-6)
    assert m.flows["reached_industry"].tolist() == [True, False, False]

    before = m.hh.income_property.copy()
    assets.act(m, False)
    got = assets.income_contribution(m, idx)
    np.testing.assert_array_equal(got, m.hh.income_property - before)
    np.testing.assert_allclose(got, [500, 300, 0])
    assert m.flows["reached_assets"].tolist() == [True, True, False]

    before = m.hh.income_property.copy()
    relocation.act(m, False)  # rent is paid whether or not relocation is still switched on
    got = relocation.income_contribution(m, idx)
    np.testing.assert_array_equal(got, m.hh.income_property - before)
    assert got[1] == pytest.approx(3 * m.p["relocation.land_rent_per_person"]) and got[0] == got[2] == 0


def test_income_contribution_of_employment_is_the_placement_year_earnings():
    rows = [dict(measured_pc=1000, willingness_to_move=0.8, ability=1000.0, income_farm=3000.0),
            dict(measured_pc=1100, willingness_to_move=0.2, ability=1000.0, income_farm=3000.0),
            dict(measured_pc=1200, n_migrants=2, ability=1000.0, income_farm=3000.0)]  # no one idle
    m = world(rows, {"government.households_per_cadre": 0}, {"employment": True})
    idx = np.arange(3)
    assert not employment.income_contribution(m, idx).any()  # no placements this year
    m.flows["assigned_employment"] = employment.candidates(m)
    employment.act(m, True)
    p = m.p
    got = employment.income_contribution(m, np.array([2, 1, 0]))
    np.testing.assert_allclose(got, [0, 1000 * p["employment.workshop_wage_ratio"],
                                     1000 * p["economy.migrant_wage_ratio"]], rtol=1e-6)
    assert got[2] == m.hh.income_migrant[0] and got[1] == m.hh.income_local_wage[1]
    new_year(m)  # the next year the member is one of the household's own workers
    assert not employment.income_contribution(m, idx).any()
