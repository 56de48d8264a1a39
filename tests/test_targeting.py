"""One household, one method: cadre capacity and budgets, poorest first; and the targeted
measures of industry and employment, asset income and ecological compensation."""

from types import SimpleNamespace

import numpy as np
import pytest

from agents.government import assign
from policies import assets, ecological, industry, public_jobs, training
from sim.registry import HOUSEHOLD, STREAM_NAMES, flow_registry
from sim.fields import COUNTY, VILLAGE, Labor, Location, Status
from sim.flows import Flows
from sim.params import Parameters
from sim.schema import SuspiciousValue
from sim.streams import Streams
from sim.table import Table

YEAR = 2017


def world(rows, overrides=None, measures=None, poor_villages=1.0, registered_households=None):
    params = Parameters.load().override(overrides or {}, "test")
    base = dict(size=2, n_working=2, weight=1.0, labor=Labor.FULL, status=Status.REGISTERED, reg_year=2016)
    keys = set(base) | {k for r in rows for k in r}
    cols = {k: np.array([{**base, **r}.get(k, HOUSEHOLD.fields[k].default) for r in rows]) for k in keys}
    hh = Table.from_columns(HOUSEHOLD, cols)
    n_reg = registered_households if registered_households is not None else float(hh.weight.sum())
    return SimpleNamespace(
        hh=hh, villages=Table(VILLAGE, 1), counties=Table(COUNTY, 1), p=params.year(YEAR), year=YEAR,
        line=3000.0, streams=Streams(0, STREAM_NAMES), measures=measures or {}, flows=Flows(flow_registry()), price_index=1.0,
        initial={"registered_poor_households": n_reg, "registered_poor_people": 2 * n_reg},
        initial_poor_villages=poor_villages)


def test_cadre_capacity_serves_the_poorest_first():
    rows = [dict(measured_pc=pc) for pc in (2500, 1000, 2000, 1500)]
    # 1 poor village x 1 cadre x 2 households a cadre: two households this year
    m = world(rows, {"government.cadres_per_poor_village": 1, "government.households_per_cadre": 2},
              {"training": True})
    assign(m)
    assert m.flows["assigned_training"].tolist() == [False, True, False, True]
    assert m.flows["waiting_training"].tolist() == [True, False, True, False]


def test_a_budget_funds_the_poorest_until_it_runs_out():
    rows = [dict(measured_pc=pc) for pc in (2500, 1000, 2000, 1500)]
    m = world(rows, {"government.households_per_cadre": 0, "budget.training": 5000,
                     "training.cost_per_trainee": 2000}, {"training": True})
    assign(m)
    assert m.flows["assigned_training"].tolist() == [False, True, False, True]
    costs = training.act(m, True)
    assert costs["fiscal"] == 4000 and m.hh.n_skilled.tolist() == [0, 1, 0, 1]


def test_a_total_budget_per_registered_person_caps_all_targeted_measures():
    rows = [dict(measured_pc=pc) for pc in (1000, 1500, 2000)]
    over = {"government.households_per_cadre": 0, "budget.per_registered_person": 1000,
            "training.cost_per_trainee": 2000, "industry.support_per_household": 2000}
    m = world(rows, over, {"training": True, "industry": True}, registered_households=3)  # 6 people: 6,000
    assign(m)
    trained, joined = m.flows["assigned_training"], m.flows["assigned_industry"]
    assert trained.tolist() == [True, True, True]
    assert joined.sum() == 0  # training used the whole 6,000


def test_public_jobs_go_to_the_poorest_with_someone_at_home_within_the_job_count():
    rows = [dict(measured_pc=1000), dict(measured_pc=1200, n_migrants=2), dict(measured_pc=1500),
            dict(measured_pc=1800)]
    m = world(rows, {"government.households_per_cadre": 0, "public_jobs.jobs_per_registered_household": 0.5},
              {"public_jobs": True})
    assign(m)
    costs = public_jobs.act(m, True)
    assert m.hh.public_job.tolist() == [True, False, True, False]  # 2 jobs; row 1 has no one at home
    assert m.hh.income_local_wage[0] == m.p["public_jobs.wage"]
    assert costs["fiscal"] == 2 * m.p["public_jobs.wage"]


def test_industry_support_pays_once_then_dividends_every_year():
    m = world([dict(measured_pc=1000, income_farm=1000.0)], {"government.households_per_cadre": 0},
              {"industry": True})
    assign(m)
    first = industry.act(m, True)
    assert first["fiscal"] == m.p["industry.support_per_household"] and m.hh.cooperative[0]
    assert m.hh.income_property[0] == m.p["industry.dividend"]
    assert m.hh.income_farm[0] == pytest.approx(1000 * (1 + m.p["industry.farm_income_gain"]))
    m.hh.income_property = 0.0
    assign(m)  # a member is no longer a candidate
    assert not m.flows["assigned_industry"][0]
    assert industry.act(m, True) == {"fiscal": 0.0} and m.hh.income_property[0] == m.p["industry.dividend"]


def test_asset_shares_go_first_to_households_without_labor_with_a_guaranteed_minimum():
    rows = [dict(measured_pc=1000, labor=Labor.FULL), dict(measured_pc=2000, labor=Labor.NONE, n_working=0,
                                                           n_elderly=2)]
    m = world(rows, {"government.households_per_cadre": 0, "assets.return_rate": 0.0}, {"assets": True})
    assign(m)
    assert m.flows["assigned_assets"].tolist() == [False, True]
    costs = assets.act(m, True)
    assert m.hh.income_property.tolist() == [0.0, m.p["assets.min_dividend"]]
    assert costs["fiscal"] == m.p["assets.investment_per_household"]


def test_ecological_compensation_pays_per_mu_in_fragile_places():
    rows = [dict(location_risk=int(Location.ECO_FRAGILE), income_farm=1000.0, measured_pc=100),
            dict(location_risk=0, income_farm=1000.0)]
    m = world(rows, {"eco.ranger_share": 0.0})
    m.flows["supported"] = np.array([True, True])
    costs = ecological.act(m, True)
    pay = m.p["eco.mu_per_household"] * m.p["eco.payment_per_mu"]
    assert m.hh.income_transfers.tolist() == [pay, 0.0]
    assert m.hh.income_farm[0] == pytest.approx(1000 * (1 - m.p["eco.farm_loss_share"]))
    assert costs["fiscal"] == pytest.approx(pay)


def test_industry_and_employment_measures_raise_exits_under_common_random_numbers():
    from sim.model import PovertyModel
    targeted = dict(training=True, public_jobs=True, industry=True, assets=True)

    def exits(measures, seed):
        return PovertyModel("shangluo", households=3000, rng=seed, measures=measures).run()["exits_people"].sum()
    on = sum(exits(targeted, s) for s in (1, 2, 3))
    off = sum(exits({}, s) for s in (1, 2, 3))
    assert on > off


def test_a_budget_per_poor_person_binds_on_targeted_spending():
    from sim.model import PovertyModel
    measures = dict(training=True, industry=True, assets=True)
    per_person = 20.0  # yuan per registered person a year: far below what cadres could spend
    with pytest.warns(SuspiciousValue, match="budget.per_registered_person"):  # deliberately tiny
        m = PovertyModel("guangdong", households=2000, rng=1, measures=measures, end_year=2017,
                         overrides={"budget.per_registered_person": per_person})
    cap = per_person * m.initial["registered_poor_people"]
    free = PovertyModel("guangdong", households=2000, rng=1, measures=measures, end_year=2017,
                        overrides={"budget.per_registered_person": 0.0})
    while m.running:
        m.step()
        free.step()
        spent = sum(m.current[f"fiscal_cost_{n}"] for n in measures)
        assert 0 < spent <= cap * (1 + 1e-9)
        assert sum(free.current[f"fiscal_cost_{n}"] for n in measures) > cap


def test_employment_services_place_an_idle_worker_out_or_near_home():
    from policies import employment
    rows = [dict(measured_pc=1000, willingness_to_move=0.8, ability=1000.0, income_farm=3000.0),
            dict(measured_pc=1100, willingness_to_move=0.2, ability=1000.0, income_farm=3000.0),
            dict(measured_pc=1200, n_migrants=2, ability=1000.0, income_farm=3000.0)]  # no one idle
    m = world(rows, {"government.households_per_cadre": 0}, {"employment": True})
    m.growth_index = 1.0
    assign(m)
    assert m.flows["assigned_employment"].tolist() == [True, True, False]
    costs = employment.act(m, True)
    p = m.p
    assert m.hh.income_migrant[0] == pytest.approx(1000 * p["economy.migrant_wage_ratio"]) and m.hh.n_migrants[0] == 1
    assert m.hh.income_local_wage[1] == pytest.approx(1000 * p["employment.workshop_wage_ratio"]) and m.hh.n_local[1] == 1
    assert m.hh.income_farm.tolist() == [2000.0, 2000.0, 3000.0]
    assert costs["fiscal"] == 2 * p["employment.cost_per_placement"]
