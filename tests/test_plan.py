"""The plan of the year: one list of steps, held to what each step declares it reads and
writes, and the order the ODD describes."""

import re
from pathlib import Path

import numpy as np
import pytest

from sim.registry import MEASURES
from sim import plan
from sim.flows import Flows
from sim.model import PovertyModel

ODD = Path(__file__).resolve().parent.parent / "docs" / "ODD.md"
ALL_ON = dict.fromkeys(MEASURES, True)


def _moved(steps, name, before):
    """The steps with `name` moved just before `before`."""
    steps = list(steps)
    step = steps.pop([s.name for s in steps].index(name))
    steps.insert([s.name for s in steps].index(before), step)
    return tuple(steps)


def test_the_plans_of_every_measure_mix_hold_together():
    for measures in (ALL_ON, dict.fromkeys(MEASURES, False), {"dibao": True, "microcredit": True}):
        plan.check(plan.year_plan(measures))
        plan.check(plan.setup_plan(measures))


def test_dibao_before_an_income_it_tests_is_an_error():
    steps = _moved(plan.year_plan(ALL_ON), "dibao", "microcredit")
    with pytest.raises(plan.PlanError, match="'dibao' .* reads income_farm.*'microcredit'"):
        plan.check(steps)
    # microcredit declares that it acts before dibao: putting dibao first breaks that too
    with pytest.raises(plan.PlanError, match="'microcredit' .* must act before 'dibao'"):
        plan.check(steps)


def test_a_flow_read_before_any_step_writes_it_is_an_error():
    steps = _moved(plan.year_plan(ALL_ON), "exit routes", "exit")
    with pytest.raises(plan.PlanError, match="'exit routes' .* reads flow 'exited_rows'"):
        plan.check(steps)
    # a measure switched off reads nothing: training before the assignment is fine then
    off = dict(ALL_ON, training=False)
    plan.check(_moved(plan.year_plan(off), "training", "targeted measures assigned"))


class _Recording(Flows):
    """Flows that note which step wrote which flow."""

    __slots__ = ("step", "log")

    def __setitem__(self, name, value):
        self.log.setdefault(self.step, set()).add(name)
        super().__setitem__(name, value)


def test_each_step_writes_only_the_flows_and_columns_it_declares():
    m = PovertyModel("national", households=3000, end_year=2016, rng=3, measures=ALL_ON)
    flows = _Recording(m.flows.declared)
    flows.log, flows.step = {}, None
    m.flows = flows
    changed: dict[str, set[str]] = {}

    def watched(step):
        def run(model):
            flows.step = step.name
            before = {c: a.copy() for c, a in model.hh.columns().items()}
            out = step.run(model)
            changed[step.name] = changed.get(step.name, set()) | {
                c for c, a in model.hh.columns().items() if not np.array_equal(a, before[c], equal_nan=True)}
            return out
        return run

    m.year_plan = tuple(plan.Step(**{**s.__dict__, "run": watched(s)}) for s in m.year_plan)
    while m.running:
        m.step()
    for step in m.year_plan:
        assert flows.log.get(step.name, set()) <= set(step.writes), step.name
        if step.measure is not None:
            assert changed.get(step.name, set()) <= set(step.fields_written), step.name
    # every measure wrote its reach, every engine step its flows, in a year with everything on
    for step in m.year_plan:
        if step.name not in ("measures begin", "re-check"):  # conditional writers
            assert set(step.writes) <= flows.log.get(step.name, set()), step.name


def test_the_odd_describes_the_stages_and_the_assessment_in_the_plans_order():
    text = ODD.read_text(encoding="utf-8")
    section = text[text.index("## 3. Process overview"):text.index("## 4. Design concepts")]
    stages = [s.lower() for s in re.findall(r"^\d\. \*\*(\w+)\*\*", section, flags=re.M)]
    assert stages == list(plan.STAGES)
    year = plan.year_plan(ALL_ON)
    assert [s.stage for s in year] == sorted((s.stage for s in year), key=plan.STAGES.index)
    assessment = section[section.index("**Assessment**"):section.index("**Record**")]
    named = re.findall(r"\(([a-h])\) ([a-z' -]+):", " ".join(assessment.split()))
    assert [letter for letter, _ in named] == list("abcdefgh")[:len(named)]
    assert [name for _, name in named] == [s.name for s in year if s.stage == "assessment"]


def test_povsim_describe_prints_the_plan_of_a_scenario(capsys):
    from experiments import cli

    assert cli.main(["describe", "experiments/scenarios/nanning.toml"]) == 0
    out = capsys.readouterr().out
    assert "measures off (5): public_jobs, assets, ecological, disaster_reconstruction, microcredit" in out
    year = out[out.index("each year"):]
    order = [year.index(f" {name} ") for name in ("life", "dibao (on)", "microcredit (off)", "measurement", "record")]
    assert order[0] < order[2] < order[1] < order[3] < order[4]
    assert "reads county_plans, planned_villages; writes exited" in year
    assert "training (acts from the first year) [skills]" in out[:out.index("each year")]
    assert "dibao (on) [means_test]" in year and "medical_insurance (on) [costs]" in year
