"""Sweep files: several scenarios, a grid or a sample of parameter values, over common seeds.

A sweep file (TOML) names scenario files and says how to vary them::

    name = "shangluo_mixes"
    description = "..."
    seed = 20160101          # root of the replication seeds (the same for every scenario)
    replications = 10
    households = 5000        # optional: overrides every scenario's households
    baseline = "baseline"    # a scenario name, for reports

    [[scenarios]]
    name = "shangluo"
    file = "../scenarios/shangluo.toml"              # relative to the sweep file
    overrides = { "medical.assistance_share" = 0.8, "measures.microcredit" = false }
                             # optional: dotted parameter paths, and measures switched on or off

    [grid]                   # optional: cartesian product applied to every scenario
    "medical.assistance_share" = [0.7, 0.9]

    [sample]                 # optional (instead of grid): a space-filling sample
    method = "lhs"           # or "sobol"
    n = 16
    seed = 1
    [sample.ranges]
    "medical.assistance_share" = [0.5, 1.0]

Everything is validated when the file is loaded, before any run: unknown keys (with the
nearest valid name), bad ranges, missing scenario files and unknown parameter paths are
InputErrors naming the sweep file and the dotted path. `expand` gives the list of
(run name, Scenario) pairs, with unique names such as
`shangluo[medical.assistance_share=0.9]` (grid) or `shangluo[lhs=3]` (sample; the values
are in the scenario's `overrides` and in the manifest).
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

from sim.errors import InputError, nearest
from sim.inputs import check_input_file, load_toml
from sim.params import flatten_dotted
from sim.schema import Key, SuspiciousValue, declare, problems_of, raise_all, validate

from .scenario import SCENARIO_SCHEMA, Scenario, apply_overrides, check_name, load_scenario

SAMPLE_METHODS = ("lhs", "sobol")

#: The most runs (scenarios x grid points or sample points x replications) one sweep may
#: have: the same figure as the largest `[sample].n` and `replications` (100,000). assumption:
#: beyond it a sweep is a mistake (a grid axis too fine, one axis too many), not a plan: at a
#: second a run it is more than a day on a 2-core machine, its store tens of gigabytes
#: (~80 KB a run) and its manifest (the resolved configuration of every point) gigabytes.
#: Counted from the axis lengths before anything is expanded.
MAX_RUNS = 100_000

SCENARIO_ENTRY_SCHEMA = {
    "name": Key("str", required=True, help="the scenario's name in this sweep"),
    "file": Key("str", required=True, help="a scenario file, relative to the sweep file"),
    "overrides": Key("table"),
}

SAMPLE_SCHEMA = {
    "method": Key("str", required=True, choices=SAMPLE_METHODS),
    "n": Key("int", required=True, min=1, max=100_000),
    "seed": Key("int", min=0, max=2**63 - 1),
    "ranges": Key("table", required=True),
}

SWEEP_SCHEMA = declare("sweep", {
    "name": Key("str"),
    "description": Key("str"),
    "seed": Key("int", required=True, min=0, max=2**63 - 1, help="root of the replication seeds"),
    "replications": Key("int", required=True, min=1, max=100_000),
    "households": SCENARIO_SCHEMA["households"],
    "baseline": Key("str"),
    "scenarios": Key("any", required=True, help="[[scenarios]] entries with name and file"),
    "grid": Key("table"),
    "sample": Key("table", schema=SAMPLE_SCHEMA),
})


@dataclass
class Sweep:
    """A validated sweep: its expanded runs' scenarios and how many replications."""

    name: str
    file: str
    description: str
    seed: int
    replications: int
    households: int | None
    baseline: str | None
    scenarios: list[tuple[str, Scenario]] = field(repr=False)
    design: dict = field(default_factory=dict)  # grid or sample, as given (for the manifest)

    def seeds(self) -> list[int]:
        """The replication seeds, the same for every scenario (common random numbers)."""
        from .runner import replication_seeds
        return replication_seeds(self.seed, self.replications)

    def names(self) -> list[str]:
        return [name for name, _ in self.scenarios]

    def runs(self) -> list[tuple[str, Scenario, int]]:
        """Every (name, scenario, seed) of the sweep, scenario by scenario."""
        seeds = self.seeds()
        return [(name, sc, seed) for name, sc in self.scenarios for seed in seeds]


def format_value(value) -> str:
    """A parameter value as it appears in a run name: 0.9, 5, true, text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def point_name(base: str, point: dict) -> str:
    """The run name of `base` with `point`'s values: shangluo[medical.assistance_share=0.9]
    (a grid point, a `povsim run --set` run, a mix of `povsim app`)."""
    return f"{base}[{','.join(f'{k}={format_value(v)}' for k, v in point.items())}]"


def derive(scenario: Scenario, name: str, overrides: dict, file: str, section: str,
           sampled: bool = False) -> Scenario:
    """A copy of `scenario` named `name` with overrides (validated) applied on top:
    parameter values and measure switches (`measures.<name> = true|false`). `sampled`
    points are drawn from a declared range: a value far from the default is what the range
    asked for, so it is not warned about as a probable mistake (errors still are)."""
    if not overrides:
        return replace(scenario, name=name)
    with warnings.catch_warnings():
        if sampled:
            warnings.simplefilter("ignore", SuspiciousValue)
        switches, params = apply_overrides(scenario.params, overrides, scenario.profile, scenario.start_year,
                                           scenario.end_year, file, section)
    merged = dict(flatten_dotted(scenario.overrides))
    merged.update(flatten_dotted(overrides))
    return replace(scenario, name=name, params=params, overrides=merged,
                   measures={**scenario.measures, **switches})


def count_runs(data: dict, n_scenarios: int, replications: int) -> tuple[int, str, str]:
    """(runs, field, how they are counted) of a sweep's raw data, without expanding its grid
    or sample: scenarios x (product of the grid's axis lengths, or the sample's n) x
    replications."""
    if isinstance(data.get("grid"), dict):
        lengths = [len(v) if isinstance(v, list) else 1 for v in flatten_dotted(data["grid"]).values()]
        points = math.prod(lengths)
        axes = " x ".join(f"{n:,}" for n in lengths) or "1"
        how = f"a grid of {axes} = {points:,} points"
        where = "grid"
    elif isinstance(data.get("sample"), dict) and isinstance(data["sample"].get("n"), int):
        points = data["sample"]["n"]
        how, where = f"a sample of {points:,} points", "sample.n"
    else:
        points, how, where = 1, "", "replications"
    runs = n_scenarios * points * replications
    parts = [f"{n_scenarios:,} scenario{'s' if n_scenarios != 1 else ''}"] + ([how] if how else [])
    return runs, where, " x ".join(parts) + f" x {replications:,} replication{'s' if replications != 1 else ''}"


def check_size(data: dict, n_scenarios: int, replications: int, file: str) -> None:
    """A sweep of more than `MAX_RUNS` runs is refused, naming the field that multiplies
    them, before its grid or sample is expanded (a 1000 x 1000 grid is refused at once)."""
    runs, where, how = count_runs(data, n_scenarios, replications)
    if runs > MAX_RUNS:
        raise InputError(file, where, f"{how} = {runs:,} runs, more than the limit of {MAX_RUNS:,} runs "
                         "a sweep (split it into several sweeps, or use a [sample] of fewer points)")


def _grid(raw: dict, file: str) -> dict[str, list]:
    grid = {}
    for name, values in flatten_dotted(raw).items():
        path = f"grid.{name}"
        if not isinstance(values, list) or not values:
            raise InputError(file, path, f"expected a non-empty list of values, found {values!r}")
        if len(set(map(format_value, values))) != len(values):
            raise InputError(file, path, f"values repeat: {values!r}")
        grid[name] = values
    if not grid:
        raise InputError(file, "grid", "expected at least one dotted path = [values]")
    return grid


def _ranges(raw: dict, file: str) -> dict[str, tuple[float, float]]:
    ranges = {}
    for name, bounds in flatten_dotted(raw).items():
        path = f"sample.ranges.{name}"
        if name.startswith("measures."):
            raise InputError(file, path, "a measure is on or off, it cannot be sampled: give [grid] "
                             f'"{name}" = [true, false] instead')
        ok = (isinstance(bounds, list) and len(bounds) == 2
              and all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds))
        if not ok:
            raise InputError(file, path, f"expected [low, high] (two numbers), found {bounds!r}")
        infinite = next((b for b in bounds if not math.isfinite(b)), None)
        if infinite is not None:
            raise InputError(file, path, f"{infinite!r} is not a finite number: expected [low, high], "
                             f"found {bounds!r}")
        low, high = float(bounds[0]), float(bounds[1])
        if not low < high:
            raise InputError(file, path, f"low {low:g} is not below high {high:g}")
        ranges[name] = (low, high)
    if not ranges:
        raise InputError(file, "sample.ranges", "expected at least one dotted path = [low, high]")
    return ranges


def sample_points(method: str, n: int, seed: int, ranges: dict[str, tuple[float, float]]) -> list[dict]:
    """`n` points of a Latin hypercube or scrambled Sobol sample, scaled to the ranges."""
    from scipy.stats import qmc

    names = list(ranges)
    d = len(names)
    if method == "lhs":
        engine = qmc.LatinHypercube(d=d, seed=seed)
    elif method == "sobol":
        engine = qmc.Sobol(d=d, scramble=True, seed=seed)
    else:  # pragma: no cover - the schema allows only the two
        raise ValueError(method)
    import warnings
    with warnings.catch_warnings():  # Sobol warns when n is not a power of 2; that is allowed
        warnings.simplefilter("ignore", UserWarning)
        unit = engine.random(n)
    scaled = qmc.scale(unit, [ranges[k][0] for k in names], [ranges[k][1] for k in names])
    return [{k: float(v) for k, v in zip(names, row)} for row in scaled]


def _entry(raw: dict, i: int, path: Path, hh: int | None, seen: dict[str, int]) -> tuple[str, Scenario]:
    """One [[scenarios]] entry: its name and its scenario, loaded and overridden."""
    file = str(path)
    where = f"scenarios[{i}]"
    entry = validate(raw, SCENARIO_ENTRY_SCHEMA, file, where)
    sname = entry["name"]
    check_name(sname, file, f"{where}.name")
    if sname in seen:
        raise InputError(file, f"{where}.name", f"'{sname}' is already the name of scenarios[{seen[sname]}]")
    seen[sname] = i
    sfile = path.parent / entry["file"]
    if not sfile.exists():
        candidates = sorted(p.name for p in sfile.parent.glob("*.toml")) if sfile.parent.is_dir() else []
        raise InputError(file, f"{where}.file", f"no scenario file {sfile}"
                         f"{nearest(Path(entry['file']).name, candidates)}")
    check_input_file(sfile, (file, f"{where}.file"))
    scenario = load_scenario(sfile, households=hh)
    scenario = derive(scenario, sname, entry.get("overrides", {}), file, f"{where}.overrides")
    return sname, scenario


def load_sweep(path: str | Path, households: int | None = None,
               replications: int | None = None) -> Sweep:
    """Validate a sweep file and every scenario it names; expand grid or sample.

    `households` and `replications` (from the command line) override the file's.
    """
    path = Path(path)
    file = str(path)
    data = validate(load_toml(path), SWEEP_SCHEMA, file)
    if "grid" in data and "sample" in data:
        raise InputError(file, "sample", "give either [grid] or [sample], not both")
    entries = data["scenarios"]
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        raise InputError(file, "scenarios", "expected one or more [[scenarios]] tables with name and file")
    name = data.get("name", path.stem)
    check_name(name, file, "name")
    hh = households if households is not None else data.get("households")
    reps = replications if replications is not None else data["replications"]
    check_size(data, len(entries), int(reps), file)

    base: list[tuple[str, Scenario]] = []
    seen: dict[str, int] = {}
    problems: list[InputError] = []
    for i, raw in enumerate(entries):  # every entry is checked; all problems reported
        try:
            base.append(_entry(raw, i, path, hh, seen))
        except InputError as err:
            problems.extend(problems_of(err))
    raise_all(problems)

    baseline = data.get("baseline")
    if baseline is not None and baseline not in seen:
        raise InputError(file, "baseline", f"no scenario named '{baseline}' in this sweep"
                         f"{nearest(baseline, seen)} (scenarios: {', '.join(seen)})")

    design: dict = {}
    runs: list[tuple[str, Scenario]] = []
    if "grid" in data:
        grid = _grid(data["grid"], file)
        design = {"grid": grid}
        keys = list(grid)
        for sname, scenario in base:
            for combo in itertools.product(*(grid[k] for k in keys)):
                point = dict(zip(keys, combo))
                rname = point_name(sname, point)
                runs.append((rname, derive(scenario, rname, point, file, "grid")))
    elif "sample" in data:
        sample = data["sample"]
        ranges = _ranges(sample["ranges"], file)
        method, n, sseed = sample["method"], sample["n"], sample.get("seed", 0)
        points = sample_points(method, n, sseed, ranges)
        design = {"sample": {"method": method, "n": n, "seed": sseed,
                             "ranges": {k: list(v) for k, v in ranges.items()}, "points": points}}
        width = len(str(n - 1))
        for sname, scenario in base:
            for j, point in enumerate(points):
                rname = f"{sname}[{method}={j:0{width}d}]"
                runs.append((rname, derive(scenario, rname, point, file, "sample.ranges", sampled=True)))
    else:
        runs = base

    names = [n for n, _ in runs]
    if len(set(names)) != len(names):  # pragma: no cover - names are built unique
        dup = next(n for n in names if names.count(n) > 1)
        raise InputError(file, "scenarios", f"two runs would be named '{dup}'")
    return Sweep(name=name, file=file, description=data.get("description", ""), seed=data["seed"],
                 replications=int(reps), households=hh, baseline=baseline, scenarios=runs,
                 design=design)


#: Keys only a sweep file has: a file with one of them (and no `profile`) is checked as a
#: sweep, so that a sweep missing its [[scenarios]] is told so, not read as a scenario.
SWEEP_ONLY_KEYS = ("scenarios", "replications", "grid", "sample", "baseline")


def is_sweep_file(raw: dict) -> bool:
    """A TOML document is a sweep file when it has [[scenarios]] entries, or keys only a
    sweep has and no `profile`."""
    if isinstance(raw.get("scenarios"), list):
        return True
    return "profile" not in raw and any(k in raw for k in SWEEP_ONLY_KEYS)
