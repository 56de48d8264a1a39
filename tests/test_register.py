"""Exit, return and new-poor rules on small hand-built populations with known answers."""

from types import SimpleNamespace

import numpy as np
import pytest

from sim import register
from sim.fields import COUNTY, HOUSEHOLD, VILLAGE, Labor, Status
from sim.params import Parameters
from sim.profiles import load_profile
from sim.streams import Streams
from sim.table import Table

LINE = 3000.0
YEAR = 2017


def world(rows: list[dict], profile="shangluo", villages=None):
    """A model-shaped namespace around a hand-built household table (no measurement error)."""
    params = Parameters.load().override({"register.measurement_error_sd": 0.0}, "test")
    prof = load_profile(profile)
    base = dict(size=2, n_working=2, insured=True, labor=Labor.FULL, weight=1.0, reg_year=2015)
    cols = {k: np.array([{**base, **r}.get(k, HOUSEHOLD.fields[k].default) for r in rows])
            for k in set(base) | {k for r in rows for k in r}}
    hh = Table.from_columns(HOUSEHOLD, cols)
    v = Table.from_columns(VILLAGE, villages or {"poor": np.array([True])})
    c = Table.from_columns(COUNTY, {"poor": np.array([True])})
    return SimpleNamespace(hh=hh, villages=v, counties=c, year=YEAR, line=LINE, last_line=LINE,
                           p=params.year(YEAR), profile=prof, streams=Streams(0), flows={})


def resources(pc, size=2):
    return pc * size


def test_exit_needs_income_above_the_line_and_the_three_guarantees():
    m = world([
        dict(status=Status.REGISTERED, resources=resources(3500)),                      # exits
        dict(status=Status.REGISTERED, resources=resources(2900)),                      # below line
        dict(status=Status.REGISTERED, resources=resources(3500), unsafe_housing=True),  # unsafe house
        dict(status=Status.REGISTERED, resources=resources(3500), insured=False),       # no insurance
        dict(status=Status.REGISTERED, resources=resources(3500), n_dropout_compulsory=1, size=3),  # dropout
        dict(status=Status.REGISTERED, resources=resources(3500), reg_year=YEAR),       # registered this year
        dict(status=Status.RETURNED, resources=resources(3500)),                        # returned: can exit
        dict(status=Status.NEVER, resources=resources(3500)),                           # not registered
    ])
    register.measure_income(m)
    register.assess_exits(m)
    assert m.flows["exited"].tolist() == [True, False, False, False, False, False, True, False]
    assert m.hh.status.tolist()[:2] == [Status.EXITED, Status.REGISTERED]
    assert m.hh.exit_year[0] == YEAR


def test_identification_registers_new_poor_and_returns():
    m = world([
        dict(status=Status.NEVER, measured_pc=2500),    # new poor
        dict(status=Status.NEVER, measured_pc=3100),    # above the line
        dict(status=Status.EXITED, measured_pc=2999),   # returns
        dict(status=Status.EXITED, measured_pc=3001),   # stays out
        dict(status=Status.REGISTERED, measured_pc=100),  # already registered: no flow
        dict(status=Status.NEVER, measured_pc=0, size=0, n_working=0),  # empty household
    ])
    register.identify(m)
    assert m.flows["new_poor"].tolist() == [True, False, False, False, False, False]
    assert m.flows["returned"].tolist() == [False, False, True, False, False, False]
    assert m.hh.status.tolist() == [Status.REGISTERED, Status.NEVER, Status.RETURNED, Status.EXITED,
                                    Status.REGISTERED, Status.NEVER]
    assert m.hh.n_returns[2] == 1 and m.hh.return_year[2] == YEAR and m.hh.reg_year[0] == YEAR


def test_guangdong_relative_rule():
    """Labor-capable households exit at 45% of the provincial average; others through dibao."""
    m = world([
        dict(status=Status.REGISTERED, resources=resources(7400)),   # >= 0.45 * 16,367 = 7,365
        dict(status=Status.REGISTERED, resources=resources(7300)),   # above the line, below 45%
        dict(status=Status.REGISTERED, resources=resources(4500), labor=Labor.NONE, dibao=True),
        dict(status=Status.REGISTERED, resources=resources(4500), labor=Labor.NONE, dibao=False),
    ], profile="guangdong")
    m.year, m.line = 2018, 4000.0
    register.measure_income(m)
    register.assess_exits(m)
    assert register.exit_threshold(m) == pytest.approx(0.45 * 16367)
    assert m.flows["exited"].tolist() == [True, False, True, False]


def test_poor_village_exits_below_three_percent_incidence_in_the_west():
    # Village 0: 1 registered household of 2 people among 100 people -> 2% < 3%: exits.
    # Village 1: 5 registered people of 100 -> 5%: stays poor.
    rows = [dict(village=0, status=Status.REGISTERED, size=2), dict(village=0, size=2, weight=49.0),
            dict(village=1, status=Status.REGISTERED, size=5), dict(village=1, size=5, weight=19.0)]
    m = world(rows, villages={"poor": np.array([True, True]), "county": np.array([0, 0])})
    register.aggregate_places(m)
    register.assess_places(m)
    assert m.villages.poor.tolist() == [False, True]
    assert m.villages.exit_year[0] == YEAR
    assert m.flows["villages_exited"].tolist() == [True, False]


def test_causes_are_diagnosed_for_registered_households_only():
    from sim.fields import Cause
    m = world([
        dict(status=Status.REGISTERED, n_chronic=1, n_disabled=1, labor=Labor.PARTIAL, ability=1000.0,
             savings=0.0, n_skilled=0, head_schooling=5, motivation=0.9),
        dict(status=Status.NEVER, n_chronic=1, ability=1000.0),
    ])
    m.model_line = LINE
    register.diagnose(m)
    c = Cause(int(m.hh.causes[0]))
    assert Cause.ILLNESS in c and Cause.DISABILITY in c and Cause.LABOR in c and Cause.CAPITAL in c
    assert Cause.SKILLS in c and Cause.MOTIVATION not in c
    assert m.hh.causes[1] == 0


def test_target_pressure_certifies_households_just_under_the_line():
    m = world([
        dict(status=Status.REGISTERED, resources=resources(3100)),   # exits on merit
        dict(status=Status.REGISTERED, resources=resources(2900)),   # just under: certified first
        dict(status=Status.REGISTERED, resources=resources(2700)),   # within 15%: certified next
        dict(status=Status.REGISTERED, resources=resources(2000)),   # too far below
    ])
    m.p = Parameters.load().override({"register.measurement_error_sd": 0.0, "exit.target_pressure": 1.0,
                                      "exit.verification_rate": 0.0}, "test").year(YEAR)
    m.profile.data = dict(m.profile.data, targets={"exits_people": {"values": {YEAR: 5.0}, "source": "test"}})
    register.measure_income(m)
    register.assess_exits(m)
    assert m.flows["exited"].tolist() == [True, True, True, False]
    assert m.flows["exits_under_pressure"].tolist() == [False, True, True, False]


def test_verification_reverses_false_exits():
    m = world([dict(status=Status.REGISTERED, resources=resources(3500)),
               dict(status=Status.RETURNED, resources=resources(3500), exit_year=2015)])
    m.p = Parameters.load().override({"register.measurement_error_sd": 0.0, "exit.verification_rate": 1.0},
                                     "test").year(YEAR)
    register.measure_income(m)
    m.hh.resources[1] = resources(2500)  # the cadres' measure was right for 0, wrong for 1
    register.assess_exits(m)
    assert m.flows["exited"].tolist() == [True, False]
    assert m.flows["exits_reversed"].tolist() == [False, True]
    assert m.hh.status[1] == Status.RETURNED and m.hh.exit_year[1] == 2015
