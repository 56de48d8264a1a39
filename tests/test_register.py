"""The register as an administrative process, rule by rule, on small hand-built populations
whose right answers are known: building by quota and appraisal, the stability test, exits
on the county's plan, target pressure within the plan, verification, the yearly adjustment
within quotas, the re-check, return monitoring, causes at registration, exit routes."""

from types import SimpleNamespace

import numpy as np
import pytest

from sim.registry import HOUSEHOLD, STREAM_NAMES, flow_registry
from sim import adjustment, exit_routes, exits, monitoring, register, register_build
from sim.fields import COUNTY, VILLAGE, Cause, Labor, Status
from sim.flows import Flows
from sim.params import Parameters
from sim.profiles import load_profile
from sim.streams import Streams
from sim.table import Table

LINE = 3000.0
YEAR = 2017
EXACT = {"register.measurement_error_sd": 0.0, "register.appraisal_noise": 0.0, "exit.verification_rate": 0.0}


def world(rows: list[dict], profile="shangluo", villages=None, counties=1, overrides=None, measures=None,
          start_register=None):
    """A model-shaped namespace around a hand-built household table."""
    params = Parameters.load().override({**EXACT, **(overrides or {})}, "test")
    prof = load_profile(profile)
    base = dict(size=2, n_working=2, insured=True, labor=Labor.FULL, weight=1.0, reg_year=2015)
    cols = {k: np.array([{**base, **r}.get(k, HOUSEHOLD.fields[k].default) for r in rows])
            for k in set(base) | {k for r in rows for k in r}}
    hh = Table.from_columns(HOUSEHOLD, cols)
    v = Table.from_columns(VILLAGE, villages or {"poor": np.array([True])})
    c = Table.from_columns(COUNTY, {"poor": np.ones(counties, bool)})
    if start_register is not None:  # the county's register at the start of the year, as built
        c.poor_people = np.asarray(start_register, np.float32)
    m = SimpleNamespace(hh=hh, villages=v, counties=c, year=YEAR, start_year=YEAR - 1, line=LINE,
                        params=params, p=params.year(YEAR), profile=prof, streams=Streams(0, STREAM_NAMES),
                        flows=Flows(flow_registry()), measures=measures or {}, start_register_people=start_register)
    return m


def income(pc, size=2):
    return pc * size


def with_profile(m, **exit_entries):
    m.profile.data = dict(m.profile.data, exit=dict(m.profile.data["exit"], **exit_entries))
    return m


# --- measurement and the exit standard -----------------------------------------------------------

def test_cadres_measure_net_income_with_transfers_not_resources():
    m = world([dict(income=income(3500), resources=income(1000), measured_pc=2500)])
    register.measure_income(m)
    assert m.hh.measured_pc[0] == pytest.approx(3500)
    assert m.hh.measured_pc_last[0] == pytest.approx(2500)  # the assessment before is kept


def test_exit_needs_income_stably_above_the_line_and_the_three_guarantees():
    m = world([
        dict(status=Status.REGISTERED, income=income(3500), measured_pc=3200),                  # exits
        dict(status=Status.REGISTERED, income=income(2900), measured_pc=3200),                  # below now
        dict(status=Status.REGISTERED, income=income(3500), measured_pc=2800),                  # not stable
        dict(status=Status.REGISTERED, income=income(3500), measured_pc=3200, unsafe_housing=True),
        dict(status=Status.REGISTERED, income=income(3500), measured_pc=3200, insured=False),
        dict(status=Status.REGISTERED, income=income(3500, 3), measured_pc=3200, n_dropout_compulsory=1, size=3),
        dict(status=Status.REGISTERED, income=income(3500), measured_pc=3200, reg_year=YEAR),  # registered this year
        dict(status=Status.RETURNED, income=income(3500), measured_pc=3200),                    # returned: can exit
        dict(status=Status.NEVER, income=income(3500), measured_pc=3200),                       # not registered
    ], overrides={"exit.plan_rule": "qualifying", "exit.stability_assessments": 2})
    register.measure_income(m)
    exits.assess_exits(m)
    assert m.flows["exited"].tolist() == [True, False, False, False, False, False, False, True, False]
    assert m.hh.status[0] == Status.EXITED and m.hh.exit_year[0] == YEAR
    assert m.hh.status[2] == Status.REGISTERED


def test_stability_holds_last_year_to_last_year_line():
    """Last year's measurement (2,960) was above last year's line (2,952) though below
    this year's (3,000): stable."""
    m = world([dict(status=Status.REGISTERED, income=income(3500), measured_pc=2960)],
              overrides={"exit.plan_rule": "qualifying", "exit.stability_assessments": 2})
    m.year = 2017
    assert m.params.at("poverty.line", 2016) == 2952
    register.measure_income(m)
    exits.assess_exits(m)
    assert m.flows["exited"].tolist() == [True]


def test_one_off_payments_are_left_out_of_the_measured_income():
    """Disaster relief of 500 a person this year does not count towards exit."""
    m = world([dict(status=Status.REGISTERED, income=income(3400)), dict(status=Status.REGISTERED, income=income(3400))],
              overrides={"exit.plan_rule": "qualifying", "disaster.relief_per_person": 500.0})
    m.flows["reached_disaster_reconstruction"] = np.array([True, False])
    register.measure_income(m)
    assert m.hh.measured_pc.tolist() == pytest.approx([2900.0, 3400.0])
    exits.assess_exits(m)
    assert m.flows["exited"].tolist() == [False, True]


def test_one_assessment_is_enough_when_stability_asks_for_one():
    m = world([dict(status=Status.REGISTERED, income=income(3500), measured_pc=2800)],
              overrides={"exit.plan_rule": "qualifying", "exit.stability_assessments": 1})
    register.measure_income(m)
    exits.assess_exits(m)
    assert m.flows["exited"].tolist() == [True]


def test_guangdong_relative_rule():
    """Labor-capable households exit at 45% of the provincial average; others through dibao."""
    rows = [
        dict(status=Status.REGISTERED, income=income(7400), measured_pc=7400),   # >= 0.45 * 16,367 = 7,365
        dict(status=Status.REGISTERED, income=income(7300), measured_pc=7400),   # above the line, below 45%
        dict(status=Status.REGISTERED, income=income(4500), measured_pc=4500, labor=Labor.NONE, dibao=True),
        dict(status=Status.REGISTERED, income=income(4500), measured_pc=4500, labor=Labor.NONE, dibao=False),
    ]
    m = world(rows, profile="guangdong", overrides={"exit.plan_rule": "qualifying"})
    m.year, m.line = 2018, 4000.0
    register.measure_income(m)
    exits.assess_exits(m)
    assert exits.exit_threshold(m) == pytest.approx(0.45 * 16367)
    assert m.flows["exited"].tolist() == [True, False, True, False]


# --- the plan -----------------------------------------------------------------------------------

def qualifying(n, **kw):
    return [dict(status=Status.REGISTERED, income=income(3500 + 100 * k), measured_pc=3500 + 100 * k, **kw)
            for k in range(n)]


def test_a_household_out_of_the_plan_stays():
    """Four households qualify; the plan (a schedule of 4 people) exits the two highest."""
    m = with_profile(world(qualifying(4)), deadline={"value": 2020, "source": "t"},
                     schedule_people={"values": {YEAR: 4.0}, "source": "t"})
    register.measure_income(m)
    exits.assess_exits(m)
    assert m.flows["exited"].tolist() == [False, False, True, True]
    assert m.flows["planned_exits_people"] == pytest.approx(4.0)
    assert (m.hh.status[:2] == Status.REGISTERED).all()


def test_targeted_support_goes_first_to_the_households_planned_to_exit():
    """Cadres can take on one household: the one in this year's plan (closest to the line
    at the last assessment), not the poorest."""
    from agents.government import assign
    from sim.registry import MEASURES
    rows = [dict(status=Status.REGISTERED, measured_pc=1000.0, n_skilled=0),
            dict(status=Status.REGISTERED, measured_pc=2900.0, n_skilled=0)]
    m = with_profile(world(rows, measures={name: name == "training" for name in MEASURES},
                           overrides={"government.households_per_cadre": 1, "government.cadres_per_poor_village": 1}),
                     deadline={"value": 2020, "source": "t"}, schedule_people={"values": {YEAR: 2.0}, "source": "t"})
    m.initial, m.initial_poor_villages = {"registered_poor_people": 4.0}, 1.0
    exits.plan_year(m)
    assign(m)
    assert m.flows["assigned_training"].tolist() == [False, True]


def test_plan_rules_schedule_deadline_floor():
    m = with_profile(world(qualifying(1)), deadline={"value": 2020, "source": "t"},
                     schedule_people={"values": {2016: 50.0}, "source": "t"},
                     floor_people={"values": {2018: 40.0}, "source": "t"})
    for year, expected in ((2016, 50.0), (2017, 100.0 / 4), (2018, 40.0), (2019, 50.0), (2020, 100.0),
                           (2021, 100.0)):
        m.year = year
        assert exits.region_plan(m, 100.0) == pytest.approx(expected), year
    m.p = Parameters.load().override({"exit.plan_rule": "qualifying"}, "t").year(2017)
    assert exits.region_plan(m, 100.0) == np.inf


def test_county_plans_split_the_region_plan_by_registered_people():
    rows = [dict(status=Status.REGISTERED, county=0, size=3), dict(status=Status.REGISTERED, county=1, size=1),
            dict(status=Status.NEVER, county=1, size=5)]
    m = with_profile(world(rows, counties=2), deadline={"value": 2020, "source": "t"},
                     schedule_people={"values": {YEAR: 2.0}, "source": "t"})
    np.testing.assert_allclose(exits.county_plans(m), [1.5, 0.5])


def test_the_plan_marks_the_households_closest_to_the_line():
    m = with_profile(world(qualifying(3) + [dict(status=Status.REGISTERED, measured_pc=1000.0)]),
                     deadline={"value": 2020, "source": "t"}, schedule_people={"values": {YEAR: 4.0}, "source": "t"})
    exits.plan_year(m)
    assert exits.planned_households(m).tolist() == [False, True, True, False]


def test_villages_planned_to_exit_are_the_least_poor_up_to_the_village_schedule():
    """Four poor villages (one already out) and a schedule of two: the two with the
    smallest share registered; in the deadline year every poor village left."""
    villages = {"poor": np.array([True, True, True, True, False]),
                "people": np.full(5, 100.0), "poor_people": np.array([40.0, 5.0, 20.0, 10.0, 0.0])}
    m = with_profile(world(qualifying(1), villages=villages), deadline={"value": 2020, "source": "t"},
                     schedule_villages={"values": {YEAR: 2.0}, "source": "t"})
    exits.plan_year(m)
    assert m.flows["planned_villages"].tolist() == [False, True, False, True, False]
    m.year = 2019  # no schedule: the four left spread over 2019 and 2020
    assert exits.region_village_plan(m) == pytest.approx(2.0)
    m.year = 2020
    assert exits.planned_villages(m).tolist() == [True, True, True, True, False]


def test_households_of_a_village_planned_to_exit_come_first_on_the_plan():
    """Two households qualify, the plan has room for one: the one in the village planned to
    exit goes, though the other is further above the line."""
    rows = [dict(status=Status.REGISTERED, income=income(3900), measured_pc=3900, village=0),
            dict(status=Status.REGISTERED, income=income(3100), measured_pc=3100, village=1)]
    villages = {"poor": np.array([True, True]), "people": np.full(2, 100.0), "poor_people": np.array([40.0, 5.0])}
    m = with_profile(world(rows, villages=villages), deadline={"value": 2020, "source": "t"},
                     schedule_people={"values": {YEAR: 2.0}, "source": "t"},
                     schedule_villages={"values": {YEAR: 1.0}, "source": "t"})
    exits.plan_year(m)
    assert m.flows["planned_villages"].tolist() == [False, True]
    assert exits.planned_households(m).tolist() == [False, True]
    register.measure_income(m)
    exits.assess_exits(m)
    assert m.flows["exited"].tolist() == [False, True]


def test_target_pressure_certifies_households_just_under_the_line_within_the_plan():
    rows = [
        dict(status=Status.REGISTERED, income=income(3100), measured_pc=3100),   # exits on merit
        dict(status=Status.REGISTERED, income=income(2900), measured_pc=3100),   # just under: certified first
        dict(status=Status.REGISTERED, income=income(2700), measured_pc=3100),   # within 15%: not needed
        dict(status=Status.REGISTERED, income=income(2000), measured_pc=3100),   # too far below
    ]
    m = with_profile(world(rows, overrides={"exit.target_pressure": 1.0}), deadline={"value": 2020, "source": "t"},
                     schedule_people={"values": {YEAR: 4.0}, "source": "t"})
    register.measure_income(m)
    exits.assess_exits(m)
    assert m.flows["exited"].tolist() == [True, True, False, False]
    assert m.flows["exits_under_pressure"].tolist() == [False, True, False, False]
    # planned exits that found no qualifying household: 2 of the 4 (pressure certified them)
    assert m.flows["plan_unfilled_people"] == pytest.approx(2.0)


def test_without_a_plan_pressure_certifies_nobody():
    rows = [dict(status=Status.REGISTERED, income=income(2900), measured_pc=3100)]
    m = world(rows, overrides={"exit.target_pressure": 1.0, "exit.plan_rule": "qualifying"})
    register.measure_income(m)
    exits.assess_exits(m)
    assert not m.flows["exited"].any()


def test_verification_reverses_false_exits():
    m = world([dict(status=Status.REGISTERED, income=income(3500), measured_pc=3500),
               dict(status=Status.RETURNED, income=income(3500), measured_pc=3500, exit_year=2015)],
              overrides={"exit.verification_rate": 1.0, "exit.plan_rule": "qualifying"})
    register.measure_income(m)
    m.hh.income[1] = income(2500)  # the cadres' measure was right for 0, wrong for 1
    exits.assess_exits(m)
    assert m.flows["exited"].tolist() == [True, False]
    assert m.flows["exits_reversed"].tolist() == [False, True]
    assert m.hh.status[1] == Status.RETURNED and m.hh.exit_year[1] == 2015


# --- the yearly adjustment ----------------------------------------------------------------------

def below(n, status=Status.NEVER, **kw):
    return [dict(status=status, measured_pc=1000.0 + 100 * k, exit_year=2015 if status == Status.EXITED else 0, **kw)
            for k in range(n)]


def test_nobody_enters_outside_the_yearly_adjustment():
    """The government's step of the year plans exits and assigns measures: a household
    measured below the line is not registered there, only at the adjustment."""
    from agents.government import assign
    m = with_profile(world(below(3), overrides={"register.adjustment_quota": 1.0,
                                                "register.application_chance": 1.0},
                           start_register=np.array([100.0])), deadline={"value": 2020, "source": "t"})
    m.initial = {"registered_poor_people": 0.0}
    m.initial_poor_villages = 1.0
    exits.plan_year(m)
    assign(m)
    assert (m.hh.status == Status.NEVER).all()
    adjustment.adjust(m)
    assert (m.hh.status == Status.REGISTERED).all()


def test_nobody_enters_when_the_adjustment_is_closed():
    m = world(below(3), overrides={"register.adjustment_quota": 0.0, "register.application_chance": 1.0},
              start_register=np.array([100.0]))
    adjustment.adjust(m)
    assert not m.flows["new_poor"].any() and (m.hh.status == Status.NEVER).all()


def test_a_county_quota_is_never_exceeded():
    """Quota 5% of a 100-person register: 5 people; applicants of 2 people each, poorest first."""
    m = world(below(6), overrides={"register.adjustment_quota": 0.05, "register.application_chance": 1.0},
              start_register=np.array([100.0]))
    adjustment.adjust(m)
    assert m.flows["new_poor"].tolist() == [True, True, False, False, False, False]
    admitted = (m.hh.weight * m.hh.size)[m.flows["new_poor"]].sum()
    assert admitted <= 5.0
    assert (m.hh.reg_year[:2] == YEAR).all() and (m.hh.status[:2] == Status.REGISTERED).all()


def test_the_quota_shrinks_with_the_county_register():
    """Quota 10% of the county's register at the start of the year (40 people now, 100 when
    the register was built): 4 people, two households of 2; 10 people on the start-year base."""
    m = world(below(6), overrides={"register.adjustment_quota": 0.1, "register.application_chance": 1.0},
              start_register=np.array([100.0]))
    m.counties.poor_people = np.array([40.0], np.float32)
    adjustment.adjust(m)
    assert m.flows["new_poor"].tolist() == [True, True, False, False, False, False]
    m = world(below(6), overrides={"register.adjustment_quota": 0.1, "register.application_chance": 1.0,
                                   "register.adjustment_quota_base": "start"},
              start_register=np.array([100.0]))
    m.counties.poor_people = np.array([40.0], np.float32)
    adjustment.adjust(m)
    assert m.flows["new_poor"].tolist() == [True] * 5 + [False]


def test_quotas_are_per_county():
    rows = below(2, county=0) + below(2, county=1)
    m = world(rows, counties=2, overrides={"register.adjustment_quota": 0.1, "register.application_chance": 1.0},
              start_register=np.array([20.0, 40.0]))
    adjustment.adjust(m)
    assert m.flows["new_poor"].tolist() == [True, False, True, True]


def test_returns_go_through_the_same_adjustment():
    rows = below(1, Status.EXITED) + below(1) + [dict(status=Status.EXITED, measured_pc=3500.0, exit_year=2015),
                                                  dict(status=Status.EXITED, measured_pc=500.0, exit_year=YEAR)]
    m = world(rows, overrides={"register.adjustment_quota": 1.0, "register.application_chance": 1.0},
              start_register=np.array([100.0]))
    adjustment.adjust(m)
    assert m.flows["returned"].tolist() == [True, False, False, False]  # not above the line; not exited this year
    assert m.flows["new_poor"].tolist() == [False, True, False, False]
    assert m.hh.status[0] == Status.RETURNED and m.hh.n_returns[0] == 1 and m.hh.return_year[0] == YEAR


def test_applying_is_a_chance():
    m = world([dict(measured_pc=1000.0)] * 400, overrides={"register.adjustment_quota": 1.0,
                                                          "register.application_chance": 0.3},
              start_register=np.array([1e6]))
    adjustment.adjust(m)
    assert 0.2 < m.flows["new_poor"].mean() < 0.4


def test_a_monitored_household_gets_help_before_it_is_registered_again():
    rows = [dict(status=Status.EXITED, exit_year=2018, income=income(1000), measured_pc=1000.0, oop_medical=0.0)]
    m = world(rows, overrides={"register.adjustment_quota": 1.0, "register.application_chance": 1.0,
                               "monitoring.start_year": 2020}, start_register=np.array([100.0]))
    m.year = 2021
    adjustment.adjust(m)
    assert not m.flows["returned"].any()  # monitoring runs, not monitored before: no return this year
    monitoring.monitor(m)
    assert m.hh.monitor_year[0] == 2021 and m.flows["newly_monitored"][0]
    from sim.support import supported
    m.year = 2022
    assert supported(m)[0]  # helped as a supported household the next year
    adjustment.adjust(m)
    assert m.flows["returned"].tolist() == [True]  # still below the line after help: registered again
    assert m.hh.monitor_year[0] == 0


def test_in_the_first_year_of_monitoring_households_still_return_as_they_fall():
    rows = [dict(status=Status.EXITED, exit_year=2018, measured_pc=1000.0)]
    m = world(rows, overrides={"register.adjustment_quota": 1.0, "register.application_chance": 1.0,
                               "monitoring.start_year": 2020}, start_register=np.array([100.0]))
    m.year = 2020
    adjustment.adjust(m)
    assert m.flows["returned"].tolist() == [True]


def test_monitoring_takes_on_the_near_poor_and_rigid_spending_and_lets_go():
    rows = [dict(status=Status.NEVER, measured_pc=4000.0, measured_pc_last=4000.0),   # below 1.5 x line
            dict(status=Status.NEVER, measured_pc=5000.0, measured_pc_last=5000.0),   # above the range
            dict(status=Status.EXITED, measured_pc=5000.0, measured_pc_last=5000.0, oop_medical=12000.0),  # rigid
            dict(status=Status.REGISTERED, measured_pc=1000.0, measured_pc_last=1000.0),  # on the register
            dict(status=Status.NEVER, measured_pc=5000.0, measured_pc_last=5000.0, monitor_year=2019)]  # risk gone
    m = world(rows, overrides={"monitoring.start_year": 2017}, start_register=np.array([1000.0]))
    monitoring.monitor(m)
    assert m.hh.monitor_year.tolist() == [YEAR, 0, YEAR, 0, 0]


def test_monitoring_keeps_within_its_scale_those_already_monitored_first():
    """5% of a 100-person register: 5 people, households of 2: two are monitored; the one
    monitored since 2016 keeps its place, then the lowest income."""
    rows = [dict(status=Status.EXITED, measured_pc=3000.0 + 100 * k, monitor_year=2016 if k == 3 else 0)
            for k in range(4)]
    m = world(rows, overrides={"monitoring.start_year": 2017, "monitoring.scale": 0.05},
              start_register=np.array([100.0]))
    monitoring.monitor(m)
    assert m.hh.monitor_year.tolist() == [YEAR, 0, 0, 2016]


def test_no_monitoring_before_it_began():
    m = world([dict(status=Status.NEVER, measured_pc=100.0)], overrides={"monitoring.start_year": 2020},
              start_register=np.array([1000.0]))
    monitoring.monitor(m)
    assert m.hh.monitor_year[0] == 0


def test_recheck_corrects_errors_both_ways_in_its_year_only():
    rows = [dict(status=Status.REGISTERED, income=income(4000)),                # wrongly registered
            dict(status=Status.REGISTERED, income=income(2000), n_disabled=1),  # rightly registered
            dict(status=Status.NEVER, income=income(2000), n_disabled=1),       # wrongly left out
            dict(status=Status.NEVER, income=income(4000))]                     # rightly left out
    m = world(rows, overrides={"register.recheck_year": YEAR, "register.recheck_correction": 1.0})
    m.flows.update(new_poor=np.zeros(4, bool), returned=np.zeros(4, bool))
    adjustment.recheck(m)
    assert m.flows["recheck_removed"].tolist() == [True, False, False, False]
    assert m.flows["recheck_added"].tolist() == [False, False, True, False]
    assert m.hh.status.tolist() == [Status.NEVER, Status.REGISTERED, Status.REGISTERED, Status.NEVER]
    # causes recorded for the household added and again for the one that stays
    assert Cause.DISABILITY in Cause(int(m.hh.causes[2])) and Cause.DISABILITY in Cause(int(m.hh.causes[1]))
    m.year += 1
    m.flows.update(new_poor=np.zeros(4, bool), returned=np.zeros(4, bool))
    adjustment.recheck(m)
    assert not m.flows["recheck_removed"].any()


# --- building the register ----------------------------------------------------------------------

def test_the_register_is_built_to_village_quotas_in_appraisal_order():
    """Village 0 has 2 poor people (one household) of its 3 households, village 1 has 4
    (two households); the register of 6 people is split 2 : 4."""
    rows = [dict(village=0, income=income(1000)), dict(village=0, income=income(4000)),
            dict(village=0, income=income(5000)),
            dict(village=1, income=income(2000)), dict(village=1, income=income(2500)),
            dict(village=1, income=income(9000))]
    m = world(rows, villages={"poor": np.array([True, True]), "county": np.array([0, 0])})
    m.profile.data = dict(m.profile.data, register=dict(m.profile.data["register"],
                                                        people={"value": 6, "source": "t"}))
    np.testing.assert_allclose(register_build.quotas(m), [2.0, 4.0])
    register_build.build(m)
    assert m.hh.status.tolist() == [1, 0, 0, 1, 1, 0]
    assert m.hh.cohort.tolist() == [True, False, False, True, True, False]
    assert (m.hh.reg_year[m.hh.cohort] == m.start_year - 1).all()
    np.testing.assert_allclose(m.start_register_people, [6.0])


def test_what_neighbours_see_can_put_a_household_above_the_line_on_the_register():
    """Same quota (one household): a slightly richer household in an unsafe house with a
    disabled member looks poorer to the appraisal than a poorer one: an inclusion error."""
    rows = [dict(income=income(2900)),
            dict(income=income(3050), unsafe_housing=True, n_disabled=1, labor=Labor.PARTIAL)]
    m = world(rows, overrides={"register.appraisal_weight_housing": 0.1, "register.appraisal_weight_disability": 0.1})
    m.profile.data = dict(m.profile.data, register=dict(m.profile.data["register"],
                                                        people={"value": 2, "source": "t"}))
    register_build.build(m)
    assert m.hh.status.tolist() == [0, 1]


# --- causes at registration ---------------------------------------------------------------------

def test_causes_are_recorded_at_registration_with_a_main_cause():
    m = world([
        dict(n_chronic=1, n_disabled=1, labor=Labor.PARTIAL, ability=1000.0, savings=0.0, n_skilled=0,
             head_schooling=5, motivation=0.9, income=3000.0),
        dict(n_chronic=1, labor=Labor.FULL, oop_medical=100.0, income=3000.0, ability=1000.0, savings=1e5,
             n_skilled=1),
        dict(n_disabled=1, ability=1000.0, income=3000.0),
    ])
    rows = np.array([True, True, False])
    register.diagnose(m, rows)
    c = Cause(int(m.hh.causes[0]))
    assert Cause.ILLNESS in c and Cause.DISABILITY in c and Cause.LABOR in c and Cause.CAPITAL in c
    assert Cause.SKILLS in c and Cause.MOTIVATION not in c
    assert m.hh.main_cause[0] == 0  # illness, the first in the official order
    assert Cause.ILLNESS not in Cause(int(m.hh.causes[1]))  # chronic, full labor, small costs: not recorded
    assert m.hh.causes[2] == 0 and m.hh.main_cause[2] == -1  # not registered now: nothing recorded


def test_costly_illness_is_recorded():
    m = world([dict(oop_medical=400.0, income=3000.0), dict(oop_medical=200.0, income=3000.0)])
    register.diagnose(m, np.array([True, True]))
    assert [Cause.ILLNESS in Cause(int(c)) for c in m.hh.causes] == [True, False]


# --- exit routes --------------------------------------------------------------------------------

def test_exit_routes_credit_the_measures_that_carried_a_household_out():
    """Household 0 needed its public job; household 1 was over the line without measures;
    household 2 needed its dibao and its job together, neither alone (the larger, dibao, is
    credited)."""
    from sim.registry import MEASURES
    rows = [dict(income=income(3100), public_job=True, size=2),
            dict(income=income(5000), public_job=True, size=2),
            dict(income=income(3200), public_job=True, transfer_dibao=350.0, size=2)]
    m = world(rows, measures={name: name in ("public_jobs", "dibao") for name in MEASURES},
              overrides={"public_jobs.wage": 300.0})
    m.flows["exited"] = np.array([True, True, True])
    exit_routes.attribute_exits(m)
    routes = m.flows["exit_routes"]
    assert routes["measure:public_jobs"] == pytest.approx(2.0)
    assert routes["measure:dibao"] == pytest.approx(2.0)
    assert routes["batch:industry_employment"] == pytest.approx(2.0)
    assert routes["batch:social_security"] == pytest.approx(2.0)


def test_exit_routes_credit_a_measure_that_removed_the_cause_a_household_was_registered_for():
    """Both registered for illness: assistance of 500 kept household 0's costs (200) under
    10% of its income (6,000); household 1's costs (900) stay above it."""
    from sim.registry import MEASURES
    rows = [dict(income=6000.0, oop_medical=200.0, causes=int(Cause.ILLNESS)),
            dict(income=6000.0, oop_medical=900.0, causes=int(Cause.ILLNESS)),
            dict(income=6000.0, oop_medical=200.0, causes=int(Cause.SKILLS))]
    m = world(rows, measures={name: name == "medical_assistance" for name in MEASURES},
              overrides={"medical.assistance_share": 0.5})
    m.flows.update(exited=np.array([True, True, True]), compliant_left=np.array([1000.0, 1000.0, 1000.0]))
    exit_routes.attribute_exits(m)
    assert m.flows["exit_routes"]["measure:medical_assistance"] == pytest.approx(2.0)
