"""The plan of the year: every step of a simulated year, in order, in one list, and the
set-up before the first year likewise. Each step says where it lives, which flows
(`sim/flows.py`) it needs from earlier steps and which it writes; a measure's step also
says which household columns it reads and writes (its module's `READS`, `FIELDS_READ`,
`FIELDS_WRITTEN`). `check` holds a plan to those declarations: a flow read before any
step writes it, or a measure whose reads come before another measure's writes of the same
columns (dibao's means test must see every income the other measures pay), is an error,
so the order is checked, not implied by the order of a dict. `povsim describe SCENARIO`
prints the plan of a scenario.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from agents import behaviour, life
from agents.government import assign, targeted_measures
from .measure import declared
from .measure_steps import act, acts, record_reach, start_measures
from .registry import MEASURES

from . import accounting, adjustment, exit_routes, exits, metrics, monitoring, register, register_build, setup

STAGES = ("life", "behaviour", "government", "measures", "accounting", "assessment", "record")


@dataclass(frozen=True)
class Step:
    name: str
    stage: str
    run: Callable = field(repr=False)
    where: str                            # module: function
    reads: tuple[str, ...] = ()           # flows it needs written earlier this year
    writes: tuple[str, ...] = ()          # flows it may write
    measure: str | None = None            # a measure's own step
    on: bool = True                       # the measure is switched on (its step runs either way)
    fields_read: tuple[str, ...] = ()     # household columns it reads that others of its stage write
    fields_written: tuple[str, ...] = ()  # household columns it may write
    acts_before: tuple[str, ...] = ()     # measures that come after it although it reads what they write


class PlanError(ValueError):
    pass


def _places(model) -> None:
    register.aggregate_places(model)
    register.assess_places(model)


def _record(model) -> None:
    model.current = metrics.compute(model, model.costs)
    model.datacollector.collect(model)


EXIT_FLOWS = ("exited", "exited_rows", "exits_under_pressure", "exits_reversed", "planned_exits_people",
              "plan_unfilled_people")


def _measure_steps(measures: dict[str, bool], entitlements_only: bool = False) -> list[Step]:
    out = [Step("measures begin", "measures", start_measures, "sim/measure_steps.py: start_measures",
                writes=("supported",), fields_written=("obligations",))]
    targeted = {name for name, _ in targeted_measures(measures)}
    for name, spec in MEASURES.items():
        module = spec.module
        d = declared(module)
        on = acts(name, measures, entitlements_only)
        reads = d.reads + ((f"assigned_{name}",) if name in targeted and not entitlements_only else ())
        out.append(Step(name, "measures", lambda m, n=name, e=entitlements_only: act(m, n, e),
                        f"{module.__name__.replace('.', '/')}.py: act", reads=reads if on else (),
                        writes=d.writes, measure=name, on=on, fields_read=d.fields_read,
                        fields_written=d.fields_written, acts_before=d.acts_before))
    out.append(Step("measures reached", "measures", lambda m, e=entitlements_only: record_reach(m, e),
                    "sim/measure_steps.py: record_reach", writes=("reached_bits",),
                    fields_written=() if entitlements_only else ("measures_reached",)))
    return out


def year_plan(measures: dict[str, bool]) -> tuple[Step, ...]:
    """The steps of a simulated year with these measures switched on, in order."""
    targeted = [name for name, _ in targeted_measures(measures)]
    announcing = [Step(f"{name} announced", "life", spec.module.announce,
                       f"{spec.module.__name__.replace('.', '/')}.py: announce",
                       writes=tuple(spec.module.ANNOUNCES))
                  for name, spec in MEASURES.items() if measures.get(name, False) and hasattr(spec.module, "announce")]
    steps = [
        *announcing,  # what a measure makes known before households act on it
        Step("life", "life", life.live_year, "agents/life.py: live_year", writes=("births", "deaths", "disaster_hit")),
        Step("work and earnings", "behaviour", behaviour.decide, "agents/behaviour.py: decide"),
        Step("exit plans", "government", exits.plan_year, "sim/exits.py: plan_year",
             writes=("registered_rows", "county_plans", "planned_villages")),
        Step("targeted measures assigned", "government", assign, "agents/government.py: assign",
             reads=("county_plans", "planned_villages"),
             writes=("supported", *(f"{kind}_{name}" for name in targeted for kind in ("assigned", "waiting")))),
        *_measure_steps(measures),
        Step("accounts", "accounting", accounting.account, "sim/accounting.py: account"),
        Step("measurement", "assessment", register.measure_income, "sim/register.py: measure_income"),
        Step("start causes", "assessment", register_build.record_start_causes,
             "sim/register_build.py: record_start_causes"),
        Step("exit", "assessment", exits.assess_exits, "sim/exits.py: assess_exits",
             reads=("county_plans", "planned_villages"), writes=EXIT_FLOWS),
        Step("exit routes", "assessment", exit_routes.attribute_exits, "sim/exit_routes.py: attribute_exits",
             reads=("exited_rows",), writes=("exit_routes",)),
        Step("adjustment", "assessment", adjustment.adjust, "sim/adjustment.py: adjust", writes=("new_poor", "returned")),
        Step("re-check", "assessment", adjustment.recheck, "sim/adjustment.py: recheck",
             reads=("new_poor", "returned"), writes=("new_poor", "recheck_added", "recheck_removed")),
        Step("monitoring", "assessment", monitoring.monitor, "sim/monitoring.py: monitor", writes=("newly_monitored",)),
        Step("places", "assessment", _places, "sim/register.py: aggregate_places, assess_places",
             writes=("villages_exited", "counties_exited")),
        Step("record", "record", _record, "sim/metrics.py: compute",
             reads=("births", "deaths", "exited", "returned", "new_poor", "villages_exited", "counties_exited",
                    "exits_under_pressure", "exits_reversed", "newly_monitored", "recheck_added",
                    "recheck_removed", "planned_exits_people", "plan_unfilled_people", "exit_routes",
                    "reached_bits")),
    ]
    return tuple(steps)


def setup_plan(measures: dict[str, bool]) -> tuple[Step, ...]:
    """The set-up before the first simulated year (`sim/setup.py`), in order."""
    return (
        Step("earnings per unit of ability", "behaviour", setup.unit_ability_work, "sim/setup.py: unit_ability_work"),
        Step("migration networks", "behaviour", setup.migration_networks, "sim/setup.py: migration_networks"),
        Step("ability backed out", "behaviour", setup.ability_backed_out, "sim/setup.py: ability_backed_out"),
        Step("start earnings", "behaviour", setup.start_earnings, "sim/setup.py: start_earnings",
             writes=("births", "deaths")),
        *_measure_steps(measures, entitlements_only=True),
        Step("last year's costs", "accounting", setup.costs_of_last_year, "sim/setup.py: costs_of_last_year"),
        Step("accounts and savings", "accounting", setup.start_accounts, "sim/setup.py: start_accounts"),
        Step("register built", "assessment", register_build.build, "sim/register_build.py: build"),
        Step("places", "assessment", register.aggregate_places, "sim/register.py: aggregate_places"),
        Step("empty flows", "assessment", setup.set_up_flows, "sim/setup.py: set_up_flows",
             writes=("exited", "returned", "new_poor", "villages_exited", "counties_exited")),
    )


def check(plan: tuple[Step, ...]) -> None:
    """PlanError if a step reads a flow no earlier step writes, or a measure reads household
    columns a later measure that is switched on writes."""
    problems = []
    written: set[str] = set()
    for step in plan:
        for name in step.reads:
            if name not in written:
                problems.append(f"step '{step.name}' ({step.where}) reads flow '{name}', which no earlier step writes")
        written.update(step.writes)
    measures = [s for s in plan if s.stage == "measures"]
    for i, step in enumerate(measures):
        later = measures[i + 1:]
        for name in step.acts_before:
            if name not in {s.name for s in later}:
                problems.append(f"measure '{step.name}' ({step.where}) must act before '{name}', which does not "
                                "come after it")
        for other in later:
            clash = set(step.fields_read) & set(other.fields_written)
            if clash and other.on and other.name not in step.acts_before:
                problems.append(f"measure '{step.name}' ({step.where}) reads {', '.join(sorted(clash))}, which "
                                f"'{other.name}' ({other.where}) writes after it")
    if problems:
        raise PlanError("; ".join(problems))


def run(model, plan: tuple[Step, ...]) -> None:
    """Run the steps in order; the measures' costs by measure and payer go to `model.costs`."""
    model.costs = {}
    for step in plan:
        out = step.run(model)
        if step.measure is not None:
            model.costs[step.measure] = out


def describe(plan: tuple[Step, ...], measures: dict[str, bool] | None = None) -> list[str]:
    """One line a step: number, name, where, what it reads and writes. With the scenario's
    `measures`, a measure on but not acting at set-up is marked so."""
    lines, stage = [], None
    for k, step in enumerate(plan, 1):
        if step.stage != stage:
            stage = step.stage
            lines.append(f"  {stage}")
        state = "on" if step.on else ("acts from the first year" if (measures or {}).get(step.measure) else "off")
        name = step.name + ("" if step.measure is None else f" ({state}) [{MEASURES[step.measure].phase}]")
        parts = []
        if step.reads:
            parts.append("reads " + ", ".join(step.reads))
        if step.writes and (step.measure is None or step.on):
            parts.append("writes " + ", ".join(step.writes))
        if step.fields_written and (step.measure is None or step.on):
            parts.append("columns " + ", ".join(step.fields_written))
        lines.append(f"    {k:2d}. {name:52s} {step.where}" + (f"  [{'; '.join(parts)}]" if parts else ""))
    return lines
