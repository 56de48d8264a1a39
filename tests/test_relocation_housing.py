"""Relocation, dangerous-house renovation and post-disaster reconstruction on small
hand-built populations with known answers, and relocation in a whole run."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from agents import behaviour
from experiments.scenario import load_scenario
from policies import disaster_reconstruction, housing, relocation
from sim.registry import HOUSEHOLD, STREAM_NAMES
from sim.fields import COUNTY, VILLAGE, Labor, Location, Status
from sim.model import PovertyModel
from sim.params import Parameters
from sim.streams import Streams
from sim.table import Table

SCENARIOS = Path(__file__).resolve().parent.parent / "experiments" / "scenarios"
YEAR = 2017
LINE = 3000.0
RISK = int(Location.REMOTE_MOUNTAIN)
SURE = {"relocation.acceptance_base": 1.0, "relocation.acceptance_willingness_effect": 0.0,
        "relocation.share_per_year": 1.0}


def world(rows, villages=1, incidence=None, overrides=None, measures=None):
    """A model-shaped namespace around a hand-built household table (as in test_measures.py),
    with `villages` villages whose incidence of registered poor is `incidence`."""
    params = Parameters.load().override(overrides or {}, "test")
    base = dict(size=2, n_working=2, weight=1.0, labor=Labor.FULL, insured=True, status=Status.REGISTERED)
    keys = set(base) | {k for r in rows for k in r}
    cols = {k: np.array([{**base, **r}.get(k, HOUSEHOLD.fields[k].default) for r in rows]) for k in keys}
    hh = Table.from_columns(HOUSEHOLD, cols)
    v = Table(VILLAGE, villages)
    v.people = 100.0
    v.poor_people = 100.0 * np.asarray(incidence if incidence is not None else [0.5] * villages)
    return SimpleNamespace(
        hh=hh, villages=v, counties=Table(COUNTY, 1), p=params.year(YEAR), year=YEAR, line=LINE,
        growth_index=1.0, price_index=1.0, streams=Streams(0, STREAM_NAMES), measures=measures or {},
        flows={"supported": np.ones(hh.n, bool), "disaster_hit": np.zeros(hh.n, bool)})


def next_year(m):
    """What the rest of a year does to the fields these measures read: behaviour resets
    property income, obligations start at zero."""
    m.year += 1
    m.hh.income_property = 0.0
    m.hh.obligations = 0.0
    m.flows = {"supported": m.flows["supported"], "disaster_hit": np.zeros(m.hh.n, bool)}


# --- relocation ---------------------------------------------------------------------

def test_a_risky_hamlet_moves_together_and_a_riskless_one_stays():
    rows = [dict(village=0, location_risk=RISK, unsafe_housing=True),
            dict(village=0, location_risk=RISK),
            dict(village=0, location_risk=RISK, size=3, n_working=3),
            dict(village=1, location_risk=0, unsafe_housing=True)]
    m = world(rows, villages=2, overrides=SURE)
    relocation.act(m, True)
    hh = m.hh
    assert m.flows["reached_relocation"].tolist() == [True, True, True, False]
    assert hh.relocated.tolist() == [True, True, True, False]
    assert hh.relocation_year.tolist() == [YEAR, YEAR, YEAR, 0]
    assert hh.location_risk.tolist() == [0, 0, 0, 0]
    assert hh.unsafe_housing.tolist() == [False, False, False, True]  # the new house is safe
    assert m.villages.relocated.tolist() == [True, False]


def test_the_yearly_quota_takes_the_poorest_hamlets_first():
    rows = [dict(village=v, location_risk=RISK) for v in range(3)]  # 2 people each
    m = world(rows, villages=3, incidence=[0.2, 0.6, 0.4],
              overrides={**SURE, "relocation.share_per_year": 0.5})  # 3 of the 6 eligible people a year
    relocation.act(m, True)
    assert m.hh.relocated.tolist() == [False, True, False]  # the poorest; a second hamlet would exceed 3
    assert m.villages.relocated.tolist() == [False, True, False]
    next_year(m)
    relocation.act(m, True)  # the quota stays a share of the people eligible at the start
    assert m.hh.relocated.tolist() == [False, True, True]
    assert m.flows["reached_relocation"].tolist() == [False, False, True]


def test_a_household_that_refuses_stays_and_is_not_asked_again():
    over = {"relocation.acceptance_base": 0.5, "relocation.acceptance_willingness_effect": 1.0,
            "relocation.share_per_year": 1.0}
    rows = [dict(location_risk=RISK, willingness_to_move=1.0),   # chance 1
            dict(location_risk=RISK, willingness_to_move=0.0)]   # chance 0: refuses
    m = world(rows, overrides=over)
    relocation.act(m, True)
    assert m.hh.relocated.tolist() == [True, False]
    assert m.hh.location_risk.tolist() == [0, RISK]
    assert m.villages.relocated[0]
    m.hh.willingness_to_move = 1.0
    next_year(m)
    relocation.act(m, True)  # the hamlet has been relocated: no second offer
    assert m.hh.relocated.tolist() == [True, False]


def test_costs_are_cost_less_contribution_per_person_moved():
    rich = dict(location_risk=RISK, income_farm=50000.0, size=3, n_working=3, weight=2.0)
    m = world([rich, dict(rich, village=0, location_risk=0)], overrides=SURE)
    p = m.p
    costs = relocation.act(m, True)
    people = 2.0 * 3
    net = p["relocation.cost_per_person"] - p["relocation.household_contribution_per_person"]
    assert costs == {"fiscal": pytest.approx(net * people)}
    # the contribution is a repayment this year: it counts against assessed resources
    assert m.hh.obligations.tolist() == [pytest.approx(3 * p["relocation.household_contribution_per_person"]), 0.0]
    # and the move disrupts this year's farming
    assert m.hh.income_farm[0] == pytest.approx(50000 * (1 - p["relocation.move_farm_loss_share"]))
    assert m.hh.income_farm[1] == 50000


def test_a_household_that_cannot_pay_is_not_put_in_debt():
    m = world([dict(location_risk=RISK, income_farm=1000.0, savings=1000.0)], overrides=SURE)
    p = m.p
    costs = relocation.act(m, True)
    assert m.hh.obligations[0] == 0.0 and m.hh.savings[0] == 0.0  # savings pay what they can
    assert costs["fiscal"] == pytest.approx(2 * p["relocation.cost_per_person"] - 1000.0)


def test_rent_arrives_from_the_next_year_and_relocated_households_never_move_again():
    m = world([dict(location_risk=RISK, size=3, n_working=3)], overrides=SURE)
    relocation.act(m, True)
    assert m.hh.income_property[0] == 0.0  # no rent in the move year
    next_year(m)
    m.hh.location_risk = RISK  # even if its old place still counted, and its hamlet were open again
    m.villages.relocated = False
    costs = relocation.act(m, True)
    assert not m.flows["reached_relocation"][0] and costs == {}
    assert m.hh.relocation_year[0] == YEAR
    assert m.hh.income_property[0] == pytest.approx(3 * m.p["relocation.land_rent_per_person"])
    next_year(m)
    relocation.act(m, False)  # the leased land keeps paying whatever the measure's status
    assert m.hh.income_property[0] == pytest.approx(3 * m.p["relocation.land_rent_per_person"])


def test_only_supported_households_at_risk_are_eligible():
    rows = [dict(location_risk=RISK), dict(location_risk=RISK, status=Status.NEVER),
            dict(location_risk=RISK, size=0, n_working=0)]
    m = world(rows, overrides=SURE)
    m.flows["supported"] = np.array([True, False, True])
    relocation.act(m, True)
    assert m.hh.relocated.tolist() == [True, False, False]


def test_relocated_households_work_more_off_the_farm_and_farm_less():
    over = {"economy.migration_base": 0.0, "economy.migration_network_effect": 0.0,
            "economy.migration_care_penalty": 0.0, "economy.migration_willingness_effect": 0.0,
            "economy.local_work_share": 0.0, "relocation.migration_bonus": 0.5,
            "relocation.local_work_bonus": 1.0, "relocation.farm_loss_share": 0.3}
    rows = [dict(ability=1000.0), dict(ability=1000.0, relocated=True)]
    m = world(rows, overrides=over)
    s = m.streams
    behaviour.work(m, s.key("migrate", YEAR), s.key("local_work", YEAR), shocks=False, enrol=False)
    p, hh = m.p, m.hh
    assert hh.n_migrants.tolist() == [0, 1] and hh.n_local.tolist() == [0, 1]
    assert hh.income_farm[0] == pytest.approx(1000 * (2 + p["economy.land_income_units"]))
    assert hh.income_farm[1] == 0.0  # both workers left farming; the land is leased out
    assert hh.income_migrant[1] == pytest.approx(1000 * p["economy.migrant_wage_ratio"])
    assert hh.income_local_wage[1] == pytest.approx(1000 * p["economy.local_wage_ratio"])
    m = world(rows, overrides={**over, "relocation.migration_bonus": 0.0, "relocation.local_work_bonus": 0.0})
    behaviour.work(m, s.key("migrate", YEAR), s.key("local_work", YEAR), shocks=False, enrol=False)
    assert m.hh.income_farm[1] == pytest.approx(1000 * 2 * (1 - 0.3))


# --- housing ------------------------------------------------------------------------

def test_unsafe_houses_of_supported_households_are_renovated():
    rows = [dict(unsafe_housing=True), dict(unsafe_housing=True, weight=3.0), dict(unsafe_housing=True),
            dict(unsafe_housing=True, status=Status.NEVER), dict(unsafe_housing=False)]
    m = world(rows)
    m.flows["supported"] = np.array([True, True, True, False, True])
    costs = housing.act(m, True)
    assert m.hh.unsafe_housing.tolist() == [False, False, False, True, False]
    assert m.flows["reached_housing"].tolist() == [True, True, True, False, False]
    assert costs == {"fiscal": pytest.approx(5 * m.p["housing.subsidy_per_household"])}


def test_a_yearly_share_serves_the_poorest_first():
    rows = [dict(unsafe_housing=True, measured_pc=pc) for pc in (4000.0, 1000.0, 3000.0, 2000.0)]
    m = world(rows, overrides={"housing.households_per_year_share": 0.5})
    housing.act(m, True)
    assert m.hh.unsafe_housing.tolist() == [True, False, True, False]


def test_houses_hit_by_this_years_disaster_are_left_to_reconstruction_when_it_is_on():
    rows = [dict(unsafe_housing=True, village=0), dict(unsafe_housing=True, village=1)]
    for on, expected in ((False, [False, False]), (True, [False, True])):
        m = world(rows, villages=2, measures={"disaster_reconstruction": on})
        m.flows["disaster_hit"] = np.array([False, True])
        housing.act(m, True)
        assert m.hh.unsafe_housing.tolist() == expected


# --- disaster reconstruction ----------------------------------------------------------

def test_disaster_relief_only_in_hit_villages():
    rows = [dict(village=0, unsafe_housing=True), dict(village=0, size=3, n_working=3),
            dict(village=0, status=Status.NEVER, unsafe_housing=True), dict(village=1, unsafe_housing=True)]
    m = world(rows, villages=2)
    m.flows["supported"] = np.array([True, True, False, True])
    m.flows["disaster_hit"] = np.array([True, True, True, False])
    p = m.p
    costs = disaster_reconstruction.act(m, True)
    relief = p["disaster.relief_per_person"]
    assert m.hh.income_transfers.tolist() == [pytest.approx(2 * relief), pytest.approx(3 * relief), 0.0, 0.0]
    assert m.hh.unsafe_housing.tolist() == [False, False, True, True]
    assert m.flows["reached_disaster_reconstruction"].tolist() == [True, True, False, False]
    assert costs == {"fiscal": pytest.approx(5 * relief + p["disaster.reconstruction_per_household"])}


def test_measures_switched_off_do_nothing():
    rows = [dict(location_risk=RISK, unsafe_housing=True)]
    m = world(rows, overrides=SURE)
    m.flows["disaster_hit"][:] = True
    for module in (relocation, housing, disaster_reconstruction):
        assert module.act(m, False) == {}
    assert m.hh.unsafe_housing[0] and not m.hh.relocated[0] and m.hh.income_transfers[0] == 0


# --- a whole run --------------------------------------------------------------------

def test_shangluo_relocates_and_its_no_relocation_variant_does_not():
    for seed in (1, 2, 3):
        runs = {}
        for name in ("shangluo", "shangluo_no_relocation"):
            s = load_scenario(SCENARIOS / f"{name}.toml", households=3000)
            runs[name] = PovertyModel(rng=seed, **s.model_kwargs()).run()
        on, off = runs["shangluo"], runs["shangluo_no_relocation"]
        assert (on["relocated_people"] > 0).all() and on["relocated_people"].is_monotonic_increasing
        assert (off["relocated_people"] == 0).all() and (off["fiscal_cost_relocation"] == 0).all()
        assert (on["fiscal_cost_relocation"] > 0).all()
        assert (on["batch_people_relocation"] >= on["reached_people_relocation"]).all()
        assert on["batch_people_relocation"].sum() > off["batch_people_relocation"].sum() > 0  # housing too
        assert on["reached_people_relocation"].sum() == pytest.approx(on["relocated_people"].iloc[-1], rel=0.05)
        assert (on["reached_people_housing"] > 0).any()
