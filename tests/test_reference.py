"""The plain-Mesa reference (one agent per household, `benchmarks/reference_mesa.py`) and the
vectorized engine give the same results under the core measures.

Agreement is exact household by household: every draw is a pure function of (seed, stream,
year, row, slot), so each agent draws the very numbers its engine row draws, whatever order
`shuffle_do` visits the agents in; the agents round to float32 wherever the engine stores in a
float32 column. Yearly metrics are sums over households; the engine adds them in parallel
blocks and the reference one agent at a time, so they agree up to the rounding of a
different order of addition (relative 1e-12; float64 sums of ~1e4 terms differ by ~1e-15).

Each case also checks that the rules it is there for acted (a comparison of rules that
never fired would test nothing): exits on the counties' plans (with the plan binding),
returns and new entries at the adjustment, target pressure, verification, the re-check,
return monitoring, microcredit extensions, renewals and defaults, exit routes, two lines in one.
"""

import mesa
import numpy as np
import pytest

from benchmarks.reference_mesa import (CORE_MEASURES, FULL, METRICS, NEVER, STATE, HouseholdAgent,
                                       ReferenceModel)
from sim.model import PovertyModel

SUM_RTOL = 1e-12  # order of addition only, see the module docstring


def _pair(profile, households, end_year, seed, overrides=None):
    kw = dict(households=households, end_year=end_year, measures=CORE_MEASURES, rng=seed, overrides=overrides)
    return PovertyModel(profile, **kw), ReferenceModel.from_engine(PovertyModel(profile, **kw))


def _assert_agree(engine, ref, each_year=None):
    """Step both to the end; every household field identical and every metric equal, each
    year. `each_year(ref)` looks at the reference's agents after each year (what the rules
    did); its answers are returned, one a year."""
    seen = []
    while engine.running:
        engine.step()
        ref.step()
        state = ref.state()
        for name in STATE:
            col = engine.hh[name]
            np.testing.assert_array_equal(state[name].astype(col.dtype), col, err_msg=f"{name} in {engine.year - 1}")
        got = ref.records[-1]
        for name in METRICS:
            assert got[name] == pytest.approx(engine.current[name], rel=SUM_RTOL, abs=1e-9), (name, engine.year - 1)
        if each_year is not None:
            seen.append(each_year(ref))
    assert not ref.running and len(ref.records) == engine.end_year - engine.start_year + 1
    return seen


def _plan_bound(ref):
    """Households that met the exit standard but did not exit: the county's plan was full."""
    return sum(h.qualifies and not h.exited for h in ref.household_list)


def _happened(engine, names):
    flows = engine.timeseries()
    for name in names:
        assert flows[name].sum() > 0, f"{name} never happened: the comparison would not test it"


def test_reference_agrees_with_engine_household_by_household():
    """Shangluo, 3,000 households, 2016-2019: the register moves on the counties' exit plans
    (exits, verification, returns and new entries at the adjustment, loans extended, renewed
    and defaulted, exit routes) and both engines move it identically."""
    engine, ref = _pair("shangluo", 3000, 2019, seed=11)
    assert all(isinstance(h, mesa.Agent) for h in ref.household_list)
    assert len(ref.agents_by_type[HouseholdAgent]) == engine.hh.n
    bound = _assert_agree(engine, ref, _plan_bound)
    assert sum(bound) > 0, "the exit plans never bound: the selection within counties would not be tested"
    _happened(engine, ("exits_households", "returns_households", "new_poor_households", "exits_reversed_people",
                       "planned_exits_people", "plan_unfilled_people", "start_cohort_exits_people",
                       "start_cohort_returns_people", "microcredit_loans_made", "microcredit_extensions",
                       "microcredit_renewals", "microcredit_defaults", "dibao_people", "villages_exited",
                       "exit_route_people_dibao", "exit_route_people_microcredit",
                       "exit_route_people_medical_assistance", "registered_above_line_people",
                       "unregistered_poor_people"))


def test_reference_agrees_under_target_pressure_and_the_relative_exit_rule():
    """The population-level steps: cadres certify under target pressure within what the
    county's plan lacks (Shangluo's exit schedule), and Guangdong's relative exit rule (those
    without full labor exit through dibao at the line) with village exit by relative income."""
    engine, ref = _pair("shangluo", 1500, 2018, seed=5, overrides={"exit.target_pressure": 1.0})
    _assert_agree(engine, ref)
    _happened(engine, ("exits_under_pressure_people", "plan_unfilled_people"))
    engine, ref = _pair("guangdong", 1500, 2018, seed=5)
    through_dibao = _assert_agree(engine, ref, lambda r: sum(h.exited and h.labor != FULL and h.dibao
                                                             for h in r.household_list))
    assert sum(through_dibao) > 0, "no household exited through dibao under the relative rule"
    _happened(engine, ("exits_households", "villages_exited", "new_poor_households"))


def test_reference_agrees_through_the_recheck():
    """Guangyuan from 2015: the re-check of the register (回头看) in its first year removes
    registered households above the line and adds unregistered ones below it; the exit plans
    are the profile's floors, then what is left spread to its 2019 deadline."""
    engine, ref = _pair("guangyuan", 2000, 2017, seed=2)
    _assert_agree(engine, ref)
    flows = engine.timeseries().set_index("year")
    assert flows.loc[2015, "recheck_added_people"] > 0 and flows.loc[2015, "recheck_removed_households"] > 0
    assert flows.loc[2016:, ["recheck_added_people", "recheck_removed_people"]].to_numpy().sum() == 0
    _happened(engine, ("exits_households", "returns_households", "new_poor_households", "planned_exits_people"))


def test_reference_agrees_through_the_deadline_and_return_monitoring():
    """Shangluo to 2021 with two lines in one: everyone left is in the 2020 plan; from 2020
    exited and never-registered households at risk are monitored (within each county's
    scale) and helped as supported households (medical assistance, dibao, microcredit); in
    2020 households still apply as they fall, from 2021 only those monitored since an
    earlier year; loans falling due in 2020 may be extended twice; supported households
    with an ill or disabled member are covered by dibao whatever their labor and draw.
    Projects riskier than shipped, so that some loans still fall short after an extension."""
    engine, ref = _pair("shangluo", 2000, 2021, seed=4, overrides={"dibao.two_lines_in_one": True,
                                                                    "microcredit.project_return_sd": 0.4})
    admitted = {}  # year: the monitoring year of each household the adjustment admitted, before it
    adjust = ref.adjust

    def adjust_and_record():
        before = {h: h.monitor_year for h in ref.household_list}
        adjust()
        admitted[ref.year] = [before[h] for h in ref.household_list if h.new_poor or h.returned]

    ref.adjust = adjust_and_record

    def evidence(r):
        rows = r.household_list
        year = r.y.year  # helped as monitored: never registered, monitored since an earlier year
        return (sum(h.status == NEVER and 0 < h.monitor_year < year and h.reached_assistance for h in rows),
                sum(h.dibao and h.labor == FULL and h.supported for h in rows),
                sum(h.loan_extensions == 2 for h in rows))

    helped_monitored, two_lines, twice_extended = zip(*_assert_agree(engine, ref, evidence))
    assert helped_monitored[-1] > 0, "no monitored household was helped"
    assert sum(two_lines) > 0, "two lines in one never covered a supported household with full labor"
    assert sum(twice_extended) > 0, "no loan was extended a second time in 2020"
    assert admitted[2020] and min(admitted[2020]) == 0, "in 2020 households should apply without monitoring"
    assert admitted[2021] and all(0 < y < 2021 for y in admitted[2021]), "2021: only the monitored may apply"
    flows = engine.timeseries().set_index("year")
    # the deadline: everyone on the register at the start of 2020 is in the plan (the schedule said 26,000;
    # the register at the end of 2019 differs only by the year's births and deaths)
    assert flows.loc[2020, "planned_exits_people"] == pytest.approx(flows.loc[2019, "registered_poor_people"], rel=0.02)
    assert flows.loc[2021, "newly_monitored_people"] > 0 and flows.loc[2019, "monitored_people"] == 0
    _happened(engine, ("monitored_people", "returns_households", "microcredit_extensions", "microcredit_defaults"))


def test_the_order_agents_are_stepped_in_changes_nothing():
    """shuffle_do visits agents in a different order under another Mesa seed; the results
    are the same, because each agent's draws depend only on its row."""
    kw = dict(households=800, end_year=2017, measures=CORE_MEASURES, rng=3)
    a = ReferenceModel.from_engine(PovertyModel("shangluo", **kw))
    b = ReferenceModel.from_engine(PovertyModel("shangluo", **kw))
    b.random.seed(12345)
    orders = [[h.row for h in m.households.shuffle(inplace=False)][:20] for m in (a, b)]
    assert orders[0] != orders[1]
    a.run(), b.run()
    for name, col in a.state().items():
        np.testing.assert_array_equal(col, b.state()[name])
    # costs are added up as agents are visited, so only their order of addition differs
    for x, y in zip(a.records, b.records):
        assert x == pytest.approx(y, rel=SUM_RTOL)


def test_reference_refuses_measures_it_does_not_implement():
    engine = PovertyModel("shangluo", households=200, end_year=2016, rng=1,
                          measures=dict(CORE_MEASURES, relocation=True))
    with pytest.raises(ValueError, match="core measures"):
        ReferenceModel.from_engine(engine)
