"""Target files: what a calibration fits to, as data, each number with its source.

A target file (TOML, see `experiments/targets/`) names a region profile, the scenario the
model is run with, and one `[series.<name>]` table per observed or planned series::

    name = "shangluo"
    profile = "shangluo"
    scenario = "../scenarios/shangluo.toml"   # relative to the target file

    [series.exits_people]
    values = { 2016 = 133000, 2017 = 139000 }  # year = target
    source = "004 ch.2 (exit schedule)"        # a citation, or "assumption: why"
    weight = 1.0                               # weight in the loss (default 1)
    tolerance = 0.2                            # relative: 0.2 = within 20% of the target
    relation = "equal"                         # or "at_least" (a minimum) / "at_most"

A series name is a timeseries column of `sim/metrics.py` (`exits_people`,
`relocated_people`, ...) or `cumulative_<flow column>`, the running total of a flow from
the first simulated year (`cumulative_exits_people` in 2018 = exits of 2016-2018).
Everything is validated like a scenario: unknown keys and series (with the nearest valid
name), years outside the scenario's horizon and bad numbers are InputErrors naming the file
and the dotted path.

The loss
--------
For a target T with relative tolerance tol and a model value m, the error is scaled by the
tolerance: e = (m - T) / (tol * T), so a value at the edge of the tolerance has |e| = 1.
For `at_least` only a shortfall counts (e = min(0, m - T) / (tol * T)), for `at_most` only an
excess. The loss of one run is the weighted sum over series of the mean of e^2 over the
series' years (so a five-year series does not outweigh a one-year total by five), divided by
the sum of the weights. The model value m is the mean over the point's seeds: every point is
run on the same seeds (common random numbers), so the seed-to-seed noise is shared and the
loss measures only how far the average model is from the targets. (The mean over seeds of
each seed's loss would add the seeds' variance, which swamps the differences between points
on small populations.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.errors import InputError, nearest
from sim.inputs import check_input_file, load_toml
from sim.schema import Key, declare, validate

from .scenario import Scenario, load_scenario

RELATIONS = ("equal", "at_least", "at_most")

#: Columns that are flows during a year, hence may be summed into `cumulative_<column>`.
FLOW_PREFIXES = ("births", "deaths", "exits_", "returns_", "new_poor_", "villages_exited",
                 "counties_exited", "microcredit_defaults", "microcredit_loans_made",
                 "microcredit_interest_subsidy", "microcredit_risk_compensation",
                 "oop_medical_total", "fiscal_cost_", "exit_route_", "start_cohort_exits_",
                 "start_cohort_returns_", "recheck_", "newly_monitored_", "planned_exits_", "plan_unfilled_",
                 "microcredit_extensions", "microcredit_renewals")

SERIES_SCHEMA = {
    "values": Key("table", required=True, help="year = target value"),
    "source": Key("str", required=True, help="a citation, or 'assumption: why'"),
    "weight": Key("float", min=0, max=1e6),
    "tolerance": Key("float", min=1e-6, max=100, help="relative: 0.1 = within 10% of the target"),
    "relation": Key("str", choices=RELATIONS),
    "note": Key("str"),
}

TARGETS_SCHEMA = declare("targets", {
    "name": Key("str"),
    "description": Key("str"),
    "profile": Key("str", required=True, help="the region profile the targets are of"),
    "scenario": Key("str", help="the scenario file to run, relative to the target file "
                    "(default: the shipped scenario named like the profile)"),
    "series": Key("table", required=True, help="one [series.<name>] table per target series"),
})

DEFAULT_TOLERANCE = 0.1
SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"


def _columns() -> list[str]:
    from sim.metrics import COLUMNS
    return [c for c in COLUMNS if c != "year"]


def flow_columns() -> list[str]:
    return [c for c in _columns() if c.startswith(FLOW_PREFIXES)]


def series_names() -> list[str]:
    """Every series a target may name: the timeseries columns and `cumulative_<flow>`."""
    return _columns() + [f"cumulative_{c}" for c in flow_columns()]


@dataclass(frozen=True)
class Series:
    name: str
    years: tuple[int, ...]
    values: tuple[float, ...]
    source: str
    weight: float = 1.0
    tolerance: float = DEFAULT_TOLERANCE
    relation: str = "equal"

    @property
    def column(self) -> str:
        """The timeseries column the series is computed from."""
        return self.name.removeprefix("cumulative_")


@dataclass
class Targets:
    """A validated target file with the scenario its series are compared against."""

    name: str
    file: str
    description: str
    profile: str
    scenario: Scenario = field(repr=False)
    series: list[Series]

    def columns(self) -> list[str]:
        return sorted({s.column for s in self.series})


def _scenario_path(data: dict, path: Path, file: str) -> Path:
    if "scenario" in data:
        sfile = path.parent / data["scenario"]
        if not sfile.exists():
            candidates = sorted(p.name for p in sfile.parent.glob("*.toml")) if sfile.parent.is_dir() else []
            raise InputError(file, "scenario", f"no scenario file {sfile}"
                             f"{nearest(Path(data['scenario']).name, candidates)}")
        return check_input_file(sfile, (file, "scenario"))
    sfile = SCENARIO_DIR / f"{data['profile']}.toml"
    if not sfile.is_file():
        raise InputError(file, "scenario", f"no shipped scenario for profile '{data['profile']}': "
                         "give scenario = \"<file>\"")
    return sfile


def _series(name: str, raw: dict, scenario: Scenario, file: str) -> Series:
    where = f"series.{name}"
    valid = series_names()
    if name not in valid:
        hint = nearest(name, valid) or (" (a timeseries column such as exits_people, or "
                                        "cumulative_<flow column> such as cumulative_exits_people)")
        raise InputError(file, where, f"unknown series '{name}'{hint}")
    if not isinstance(raw, dict):
        raise InputError(file, where, f"expected a table with values and source, found {raw!r}")
    data = validate(raw, SERIES_SCHEMA, file, where)
    values = data["values"]
    if not values:
        raise InputError(file, f"{where}.values", "expected at least one year = value")
    first, last = scenario.start_year, scenario.end_year
    years, targets = [], []
    for key, value in values.items():
        vpath = f"{where}.values.{key}"
        try:
            year = int(key)
        except ValueError:
            raise InputError(file, vpath, f"expected a year like {first} as key, found {key!r}") from None
        if not first <= year <= last:
            raise InputError(file, vpath, f"year {year} is outside the horizon of scenario "
                             f"'{scenario.name}' ({first}-{last})")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InputError(file, vpath, f"expected a number, found {value!r}")
        if value <= 0:
            raise InputError(file, vpath, f"{value:g} is not positive (the tolerance is relative "
                             "to the target, so a target must be above 0)")
        years.append(year)
        targets.append(float(value))
    order = np.argsort(years)
    if not data["source"].strip():
        raise InputError(file, f"{where}.source", "a source is required (a citation or 'assumption: why')")
    return Series(name=name, years=tuple(int(years[i]) for i in order),
                  values=tuple(targets[i] for i in order), source=data["source"],
                  weight=float(data.get("weight", 1.0)),
                  tolerance=float(data.get("tolerance", DEFAULT_TOLERANCE)),
                  relation=data.get("relation", "equal"))


def load_targets(path: str | Path, households: int | None = None) -> Targets:
    """Validate a target file and the scenario it names; InputError on anything bad."""
    path = Path(path)
    file = str(path)
    data = validate(load_toml(path), TARGETS_SCHEMA, file)
    scenario = load_scenario(_scenario_path(data, path, file), households=households)
    if scenario.profile.name != data["profile"]:
        raise InputError(file, "profile", f"'{data['profile']}' is not the profile of scenario "
                         f"'{scenario.name}' ({scenario.profile.name})")
    raw_series = data["series"]
    if not raw_series:
        raise InputError(file, "series", "expected at least one [series.<name>] table")
    series = [_series(name, raw, scenario, file) for name, raw in raw_series.items()]
    if not any(s.weight > 0 for s in series):
        raise InputError(file, "series", "every weight is 0: nothing to fit")
    return Targets(name=data.get("name", path.stem), file=file,
                   description=data.get("description", ""), profile=data["profile"],
                   scenario=scenario, series=series)


# ---------------------------------------------------------------------------------------
# model series, errors and the loss


def model_values(frame: pd.DataFrame, series: Series) -> pd.DataFrame:
    """The series' model values at its target years: rows = seeds, columns = years."""
    wide = frame.pivot_table(index="seed", columns="year", values=series.column, aggfunc="first")
    wide = wide.sort_index(axis=1)
    if series.name.startswith("cumulative_"):
        wide = wide.cumsum(axis=1)
    missing = [y for y in series.years if y not in wide.columns]
    if missing:
        raise ValueError(f"the runs have no year {missing[0]} for series {series.name}")
    return wide[list(series.years)]


def scaled_errors(model, series: Series) -> np.ndarray:
    """Errors in units of the tolerance (see the module docstring), same shape as `model`."""
    target = np.asarray(series.values, dtype=float)
    diff = np.asarray(model, dtype=float) - target
    if series.relation == "at_least":
        diff = np.minimum(diff, 0.0)
    elif series.relation == "at_most":
        diff = np.maximum(diff, 0.0)
    return diff / (series.tolerance * target)


def loss(frame: pd.DataFrame, targets: Targets) -> float:
    """The loss of one parameter point from its runs (rows seed x year): the model value of
    a series in a year is its mean over the seeds (see the module docstring)."""
    total, weights = 0.0, 0.0
    for s in targets.series:
        if s.weight == 0:
            continue
        mean = model_values(frame, s).mean(axis=0).to_numpy()
        total += s.weight * float((scaled_errors(mean, s) ** 2).mean())
        weights += s.weight
    return total / weights


def fit_table(frame: pd.DataFrame, targets: Targets) -> pd.DataFrame:
    """Per series and target year: target, model mean and 10-90% range over seeds, whether
    the mean is within the tolerance (for `at_least`/`at_most`: on the right side or within)."""
    rows = []
    for s in targets.series:
        model = model_values(frame, s)
        mean = model.mean(axis=0).to_numpy()
        err = scaled_errors(mean, s)
        for j, year in enumerate(s.years):
            col = model[year]
            rows.append({"series": s.name, "year": year, "target": s.values[j], "relation": s.relation,
                         "tolerance": s.tolerance, "weight": s.weight, "model_mean": mean[j],
                         "model_p10": float(col.quantile(0.1)), "model_p90": float(col.quantile(0.9)),
                         "scaled_error": float(err[j]), "within_tolerance": bool(abs(err[j]) <= 1.0),
                         "source": s.source})
    return pd.DataFrame(rows)
