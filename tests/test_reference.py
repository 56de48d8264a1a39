"""The plain-Mesa reference (one agent per household, `benchmarks/reference_mesa.py`) and the
vectorized engine give the same results under the core measures.

Agreement is exact household by household: every draw is a pure function of (seed, stream,
year, row, slot), so each agent draws the very numbers its engine row draws, whatever order
`shuffle_do` visits the agents in; the agents round to float32 wherever the engine stores in a
float32 column. Yearly metrics are sums over households; the engine adds them in parallel
blocks and the reference one agent at a time, so they agree up to the rounding of a
different order of addition (relative 1e-12; float64 sums of ~1e4 terms differ by ~1e-15).
"""

import mesa
import numpy as np
import pytest

from benchmarks.reference_mesa import CORE_MEASURES, METRICS, STATE, HouseholdAgent, ReferenceModel
from sim.model import PovertyModel

SUM_RTOL = 1e-12  # order of addition only, see the module docstring


def _pair(profile, households, end_year, seed, overrides=None):
    kw = dict(households=households, end_year=end_year, measures=CORE_MEASURES, rng=seed, overrides=overrides)
    return PovertyModel(profile, **kw), ReferenceModel.from_engine(PovertyModel(profile, **kw))


def _assert_agree(engine, ref):
    """Step both to the end; every household field identical and every metric equal, each year."""
    years = 0
    while engine.running:
        engine.step()
        ref.step()
        years += 1
        state = ref.state()
        for name in STATE:
            col = engine.hh[name]
            np.testing.assert_array_equal(state[name].astype(col.dtype), col, err_msg=f"{name} in {engine.year - 1}")
        got = ref.records[-1]
        for name in METRICS:
            assert got[name] == pytest.approx(engine.current[name], rel=SUM_RTOL, abs=1e-9), (name, engine.year - 1)
    assert not ref.running and years == engine.end_year - engine.start_year + 1
    return years


def test_reference_agrees_with_engine_household_by_household():
    """Shangluo, 3,000 households, 2016-2019: the register moves (exits, returns, new poor,
    loans, defaults) and both engines move it identically."""
    engine, ref = _pair("shangluo", 3000, 2019, seed=11)
    assert all(isinstance(h, mesa.Agent) for h in ref.household_list)
    assert len(ref.agents_by_type[HouseholdAgent]) == engine.hh.n
    _assert_agree(engine, ref)
    flows = engine.timeseries()
    for name in ("exits_households", "returns_households", "new_poor_households", "microcredit_loans_made",
                 "microcredit_defaults", "dibao_people", "villages_exited"):
        assert flows[name].sum() > 0, f"{name} never happened: the comparison would not test it"


def test_reference_agrees_under_target_pressure_and_the_relative_exit_rule():
    """The population-level steps: cadres certify under target pressure (Shangluo's exit
    schedule), and Guangdong's relative exit rule with village exit by relative income."""
    engine, ref = _pair("shangluo", 1500, 2018, seed=5, overrides={"exit.target_pressure": 1.0})
    _assert_agree(engine, ref)
    assert engine.timeseries()["exits_under_pressure_people"].sum() > 0
    engine, ref = _pair("guangdong", 1500, 2018, seed=5)
    _assert_agree(engine, ref)


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
