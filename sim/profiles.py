"""Region profiles: registers, lines, populations and targets, each number with its source.

A profile is a TOML file in `sim/profiles/` (or any path). Every number is written as
`{ value = ..., source = "..." }` so that no figure enters the model without a citation
(`004 ch.1 §3`, `facts.md: Incomes`) or an explicit `assumption: why`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError
from .inputs import load_toml
from .schema import Key, declare, suspicious, validate

PROFILE_DIR = Path(__file__).resolve().parent / "profiles"

S = Key  # shorthand

_SHARE = dict(min=0.0, max=1.0)
_LOCATION = {k: S("sourced", required=True, **_SHARE) for k in
             ("remote_mountain", "geo_hazard", "eco_fragile", "tiny_hamlet")}

PROFILE_SCHEMA = declare("profile", {
    "name": S("str", required=True),
    "title": S("str", required=True),
    "taxonomy": S("str", required=True, choices=("national", "guangyuan"),
                  help="which five-batches taxonomy the region reports by"),
    "western": S("bool", required=True, help="a western region (village exit at 3% incidence)"),
    "start_year": S("int", required=True, min=2011, max=2030),
    "default_households": S("int", required=True, min=10, max=100_000_000),
    "register": S("table", required=True, schema={
        "people": S("sourced", required=True, min=1),
        "households": S("sourced", required=True, min=1),
        "poor_villages": S("sourced", required=True, min=0),
        "counties": S("sourced", required=True, min=1),
        "poor_counties": S("sourced", required=True, min=0),
    }),
    "population": S("table", required=True, schema={
        "rural_people": S("sourced", required=True, min=1),
        "villages": S("sourced", required=True, min=1),
        "household_size_other": S("sourced", required=True, min=1, max=10),
        "income_mean": S("sourced", required=True, min=100),
        "near_poor_upper": S("sourced", required=True, min=1, max=10),
        "share_of_poor_in_poor_villages": S("sourced", required=True, **_SHARE),
    }),
    "sampling": S("table", required=True, schema={
        "registered": S("sourced", required=True, min=1e-9, max=1),
        "near_poor": S("sourced", required=True, min=1e-9, max=1),
        "other": S("sourced", required=True, min=1e-9, max=1),
    }),
    "location": S("table", required=True, schema={
        "poor_villages": S("table", required=True, schema=_LOCATION),
        "other_villages": S("table", required=True, schema=_LOCATION),
    }),
    "exit": S("table", required=True, schema={
        "rule": S("str", required=True, choices=("absolute", "relative")),
        "relative_share": S("sourced", **_SHARE),
        "reference_income": S("sourced", min=0),
        "village_rule": S("str", required=True, choices=("incidence", "relative_income")),
        "village_incidence": S("sourced", required=True, **_SHARE),
        "village_income_share": S("sourced", **_SHARE),
        "county_incidence": S("sourced", required=True, **_SHARE),
        "deadline": S("sourced", min=2011, max=2035, help="the year by which everyone on the register is to be out"),
        "schedule_people": S("sourced", min=0, help="the plan's exits by year, in people"),
        "floor_people": S("sourced", min=0, help="the plan's minimum exits by year, in people"),
        "schedule_villages": S("sourced", min=0, help="the plan's poor-village exits by year"),
    }),
    "targets": S("table", schema={
        "exits_people": S("sourced", min=0),
        "exits_villages": S("sourced", min=0),
        "measure_plan": S("table"),
        "note": S("str"),
    }),
    "parameters": S("table", help="overrides of parameter defaults by dotted path, with sources"),
})

#: People per registered household outside this range are suspicious (people and
#: households swapped, or a count in 10,000s); assumption: rural households in China
#: average 3-4 people, registered ones rarely fewer than 1.5 or more than 6 on average.
PLAUSIBLE_HOUSEHOLD_SIZE = (1.5, 6.0)


@dataclass
class Profile:
    """A validated region profile; `value(path)` reads a number, `source(path)` its citation."""

    name: str
    file: str
    data: dict
    parameter_overrides: dict = field(default_factory=dict)

    def _entry(self, path: str):
        node = self.data
        for part in path.split("."):
            node = node[part]
        return node

    def value(self, path: str):
        entry = self._entry(path)
        if isinstance(entry, dict) and "value" in entry:
            return entry["value"]
        if isinstance(entry, dict) and "values" in entry:
            return entry["values"]
        return entry

    def dated(self, path: str, year: int) -> float:
        """A dated entry's value in `year` (a value holds until the next year given)."""
        values = self.value(path)
        if not isinstance(values, dict):
            return values
        years = [y for y in values if y <= year] or [min(values)]
        return values[max(years)]

    def source(self, path: str) -> str:
        return self._entry(path)["source"]

    def has(self, path: str) -> bool:
        try:
            self._entry(path)
            return True
        except (KeyError, TypeError):
            return False

    @property
    def western(self) -> bool:
        return self.data["western"]


def profile_path(name_or_path: str | Path, relative_to: Path | None = None) -> Path:
    text = str(name_or_path)
    if text.endswith(".toml") or "/" in text:
        path = Path(text)
        if not path.is_absolute() and relative_to is not None and not path.exists():
            path = relative_to / path
        return path
    return PROFILE_DIR / f"{text}.toml"


def available_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))


def load_profile(name_or_path: str | Path, relative_to: Path | None = None) -> Profile:
    path = profile_path(name_or_path, relative_to)
    if not path.exists() and not str(name_or_path).endswith(".toml"):
        from .errors import nearest
        raise InputError(str(path), "", f"no profile named '{name_or_path}'"
                         f"{nearest(str(name_or_path), available_profiles())}"
                         f" (available: {', '.join(available_profiles())})")
    raw = load_toml(path)
    data = validate(raw, PROFILE_SCHEMA, str(path))
    plan = data.get("targets", {}).get("measure_plan")
    if plan is not None:  # planned people per measure (any names): sourced counts
        data["targets"]["measure_plan"] = validate(
            plan, {k: S("sourced", min=0) for k in plan}, str(path), "targets.measure_plan")
    ex = data["exit"]
    if ex["rule"] == "relative":
        for k in ("relative_share", "reference_income"):
            if k not in ex:
                raise InputError(str(path), f"exit.{k}", "required when exit.rule = 'relative'")
    if ex["village_rule"] == "relative_income":
        for k in ("village_income_share", "reference_income"):
            if k not in ex:
                raise InputError(str(path), f"exit.{k}", "required when exit.village_rule = 'relative_income'")
    reg = data["register"]
    if reg["poor_counties"]["value"] > reg["counties"]["value"]:
        raise InputError(str(path), "register.poor_counties", "more poor counties than counties")
    if reg["people"]["value"] >= data["population"]["rural_people"]["value"]:
        raise InputError(str(path), "register.people", "not fewer than population.rural_people")
    if reg["poor_villages"]["value"] > data["population"]["villages"]["value"]:
        raise InputError(str(path), "register.poor_villages", "more poor villages than population.villages")
    size = reg["people"]["value"] / reg["households"]["value"]
    low, high = PLAUSIBLE_HOUSEHOLD_SIZE
    if not low <= size <= high:
        suspicious(str(path), "register.households", f"{size:.2f} registered people per household "
                   f"(register.people / register.households) is outside {low:g}-{high:g}: "
                   "people and households swapped, or a count in 10,000s?")
    overrides = data.get("parameters", {})
    return Profile(name=data["name"], file=str(path), data=data, parameter_overrides=overrides)
