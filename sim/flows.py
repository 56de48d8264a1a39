"""The year's flows: what one step of the year hands to a later one (who exited, whom a
measure reached, the counties' plans), cleared at the start of every year.

Each flow is declared once, like the household fields (`sim/fields.py`): the engine's here,
a measure's own in its module's `FLOWS`, and for every measure `reached_<name>` (and, for
a targeted one, `assigned_<name>` and `waiting_<name>`). `Flows` refuses to read, test or
write a name that is not declared, so a misspelt flow is an error where it is used instead
of a silent "nobody"; reading a declared flow that no step has written this year is an
error too, unless the reader says what it stands for then (`get(name, default)`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Flow:
    name: str
    holds: str     # what the value is: "bool per row", "rows", "per county", "yuan", ...
    writer: str    # the step that writes it
    meaning: str


ENGINE_FLOWS = (
    Flow("births", "int8 per row", "agents/life.py", "births in the household this year"),
    Flow("deaths", "int8 per row", "agents/life.py", "deaths in the household this year"),
    Flow("disaster_hit", "bool per row", "agents/life.py", "the household's village was hit by a disaster this year"),
    Flow("supported", "bool per row", "agents/government.py",
         "households the measures serve this year: registered, exited while support continues, monitored"),
    Flow("registered_rows", "rows", "sim/exits.py: plan_year", "the rows on the register at the start of the year"),
    Flow("county_plans", "people per county", "sim/exits.py: plan_year",
         "each county's exit plan for the year (inf: no limit)"),
    Flow("planned_villages", "bool per village", "sim/exits.py: plan_year", "poor villages planned to exit this year"),
    Flow("reached_bits", "uint16 per row", "sim/measure_steps.py: record_reach",
         "the measures that reached the household this year, one bit each in the order of MEASURES"),
    Flow("exited", "bool per row", "sim/exits.py", "households that exited this year"),
    Flow("exited_rows", "rows", "sim/exits.py", "the same households as row numbers, ascending"),
    Flow("exits_under_pressure", "bool per row", "sim/exits.py", "exits certified under target pressure this year"),
    Flow("exits_reversed", "bool per row", "sim/exits.py", "exits third-party verification reversed this year"),
    Flow("planned_exits_people", "people", "sim/exits.py", "what the counties' plans set out to exit this year"),
    Flow("plan_unfilled_people", "people", "sim/exits.py", "planned exits that found no qualifying household"),
    Flow("exit_routes", "people by measure and batch", "sim/exit_routes.py",
         "people in households that exited this year whom each measure (batch) carried out"),
    Flow("new_poor", "bool per row", "sim/adjustment.py", "households registered for the first time this year"),
    Flow("returned", "bool per row", "sim/adjustment.py", "exited households registered again this year"),
    Flow("recheck_added", "bool per row", "sim/adjustment.py: recheck", "households the re-check added"),
    Flow("recheck_removed", "bool per row", "sim/adjustment.py: recheck",
         "households the re-check removed as wrongly registered"),
    Flow("newly_monitored", "bool per row", "sim/monitoring.py", "households return monitoring took on this year"),
    Flow("villages_exited", "bool per village", "sim/register.py: aggregate_places", "poor villages that exited"),
    Flow("counties_exited", "bool per county", "sim/register.py: aggregate_places", "poor counties that exited"),
)


class UndeclaredFlow(KeyError):
    def __str__(self) -> str:
        return (f"flow {self.args[0]!r} is not declared (sim/flows.py for the engine's, a measure module's FLOWS "
                "for its own)")


class MissingFlow(KeyError):
    def __str__(self) -> str:
        name, flow = self.args
        return f"flow {name!r} ({flow.writer}) has not been written this year"


def declare(measures) -> dict[str, Flow]:
    """Every declared flow by name: the engine's, and for each measure (a mapping of
    name to module) its reach, its assignment if it is targeted, and its own `FLOWS`."""
    out = {f.name: f for f in ENGINE_FLOWS}
    for name, module in measures.items():
        where = module.__name__.replace(".", "/") + ".py"
        own = [Flow(f"reached_{name}", "bool per row", where, f"households {name} reached this year")]
        if getattr(module, "TARGETED", False):
            own += [Flow(f"assigned_{name}", "bool per row", "agents/government.py",
                         f"households assigned {name} this year (funded)"),
                    Flow(f"waiting_{name}", "bool per row", "agents/government.py",
                         f"candidates for {name} left unfunded this year")]
        for flow in (*own, *getattr(module, "FLOWS", ())):
            if flow.name in out:
                raise ValueError(f"{where}: flow {flow.name!r} is declared twice (also by {out[flow.name].writer})")
            out[flow.name] = flow
    return out


class Flows(dict):
    """The year's flows by name, held to the declarations."""

    __slots__ = ("declared",)

    def __init__(self, declared: dict[str, Flow]):
        super().__init__()
        self.declared = declared

    def _check(self, name: str) -> None:
        if name not in self.declared:
            raise UndeclaredFlow(name)

    def __getitem__(self, name: str):
        self._check(name)
        try:
            return dict.__getitem__(self, name)
        except KeyError:
            raise MissingFlow(name, self.declared[name]) from None

    def __setitem__(self, name: str, value) -> None:
        self._check(name)
        dict.__setitem__(self, name, value)

    def __contains__(self, name) -> bool:
        self._check(name)
        return dict.__contains__(self, name)

    def get(self, name: str, default=None):
        self._check(name)
        return dict.get(self, name, default)

    def update(self, *args, **kwargs) -> None:
        for name, value in dict(*args, **kwargs).items():
            self[name] = value

    def setdefault(self, name: str, default=None):
        self._check(name)
        return dict.setdefault(self, name, default)

    def clear_year(self) -> None:
        """Forget last year's flows (the declarations stay)."""
        dict.clear(self)
