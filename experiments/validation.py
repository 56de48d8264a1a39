"""The validation report (docs/validation.md), generated from stored runs.

    python -m experiments.validation [--calibrated FILE] [--households N] [--seeds N]
                                     [--out DIR] [--runs DIR] [--executor serial|process]
                                     [--workers N]

What it does
------------
1. Calibration region: Shangluo (its 2016-2020 exit schedule, village exits, relocation
   plan and the measure plan's batch numbers, 004 ch.2) is the region the free parameters
   are calibrated on (`povsim calibrate`). `--calibrated FILE` is that calibration's output:
   a scenario file whose `[overrides]` hold the calibrated values. Without it the report
   says, at its top, that the model is uncalibrated (parameter files' defaults).
2. Out of sample: the calibrated values of the free parameters (those declared in
   `experiments/calibratable.toml`; without that file, every override of the calibrated
   file that Shangluo's own scenario does not set) are carried over unchanged to the other
   regions' shipped scenarios (Guangdong, Guangyuan, Nanning) and to the national scenario
   (`experiments/scenarios/national.toml`), and compared with their targets: no refitting.
   For the national scenario, whose file dates the roll-out of some measures, a calibrated
   value replaces only the full-scale level, from the last year the file dates on.
3. The register as an administrative process, year by year: registered people, the start
   cohort, exits, returns, new entries and the re-check, the counties' exit plans and what
   they left unfilled, exits certified under pressure, return monitoring and microcredit.
4. The no-deadline variant: the national and the Shangluo scenario again with
   `exit.plan_rule = "qualifying"` (every qualifying household exits; no plan, no
   deadline), on the same seeds, to show what the plans and the deadline impose.
5. The judged figures (`judged_figures`), each computed from the runs with its verdict.
6. Pattern checks: causes recorded at registration; returns relative to exits; income
   paths of relocated and of microcredit households.

Targets are read from `experiments/targets/<region>.toml` (the files calibration fits to) or,
when there is none, from the profile's `[targets]`; the national figures from
`experiments/national_checks.toml`. Runs go through the sweep store (`--runs`, default
`results/validation/`): a run already stored with the same configuration hash and seed is
loaded, not run again. The report goes to `DIR/validation.md` and its figures to
`DIR/figures/validation_*.png` (`--out`, default `docs/`).

A target is met when the mean over seeds is within its relative tolerance (for a minimum,
`at_least`: not more than the tolerance below it). The band is the spread of single runs over
seeds (min-max, or 5-95% from 20 seeds), as in every figure of the project.
"""

from __future__ import annotations

import argparse
import math
import re
import subprocess
import sys
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from sim.errors import InputError
from sim.inputs import check_input_file, load_toml
from sim.params import flatten_dotted

PROG = "python -m experiments.validation"
EXPERIMENTS = Path(__file__).resolve().parent
REPO = EXPERIMENTS.parent
SCENARIO_DIR = EXPERIMENTS / "scenarios"
TARGET_DIR = EXPERIMENTS / "targets"
CALIBRATABLE = EXPERIMENTS / "calibratable.toml"
NATIONAL_CHECKS = EXPERIMENTS / "national_checks.toml"

CALIBRATION_REGION = "shangluo"
OTHER_REGIONS = ("guangdong", "guangyuan", "nanning")
NATIONAL = "national"
UNCALIBRATED_SUFFIX = " (uncalibrated)"
ROOT_SEED = 20140101
DEFAULT_SEEDS = 5
DEFAULT_TOLERANCE = 0.25  # assumption: for profile targets without a target file; a plan is met only roughly

# The no-deadline variant: the same scenario with every qualifying household exiting (no
# plan, no deadline; policies/parameters/poverty.toml: exit.plan_rule), for these scenarios.
NO_DEADLINE_SUFFIX = " (no deadline)"
# The calibration region is also run with this many times the household rows, the same
# parameters: village exits and quota flows depend on how many rows stand for a village or
# a county.
ROWS_CHECK_FACTOR = 5
NO_DEADLINE = {"exit.plan_rule": "qualifying"}
NO_DEADLINE_OF = (NATIONAL, CALIBRATION_REGION)
# Assumptions no target pins down (Shangluo's targets hardly move with them) that the
# judged ratios (b) and (d) hinge on; each is halved in turn, on every region, to show how
# much (section 5.1). A view of the misses, never a way to pick values.
SENSITIVITY = (("microcredit.project_return_sd", "the spread of project returns"),
               ("register.adjustment_quota", "the yearly adjustment quota"),
               ("economy.income_shock_sd", "the household's yearly income shock"))
SENSITIVITY_FACTOR = 0.5

# The figures the project judges the model by (the issue's criteria), with their thresholds.
SHANGLUO_MIN_MET = 10          # (a) Shangluo meets at least 10 of its 14 target values
RETURNS_MAX_SHARE = 0.10       # (b) returns under 10% of exits (and falling after the first years)
ENTRIES_MAX_SHARE = 0.20       # (c) new entries after the first adjustment under a fifth of exits
DEFAULTS_MAX_SHARE = 0.03      # (d) microcredit defaults under 3% of loans made, over the horizon
END_MAX_SHARE = 0.05           # (e) national register and start cohort under 5% of 2014's at the end

# Composition of the registered poor at registration (multi-select causes), national.
CAUSE_FACTS = {
    "illness": (0.422, "facts.md: Causes (42.2% of registered households, 2013/14)"),
    "illness_recheck": (0.441, "facts.md: Causes (44.1% after the 2015 re-check, State Council press "
                               "conference 2016-06-21)"),
    "disability": (0.144, "facts.md: Causes (14.4% of the poor population, BMC Health Services Research 2022)"),
}
# The 2015-16 re-check (facts.md: The register as an administrative process).
RECHECK_FACTS = {"added": 8.07e6, "removed": 9.29e6, "register": 89.62e6,
                 "source": "facts.md: The register as an administrative process (re-check August 2015 to "
                           "June 2016: 8.07 M added, 9.29 M removed, of the 89.62 M registered in 2014)"}
DIBAO_RECIPIENTS_2013 = (54e6, "facts.md: Social assistance (54 M rural dibao recipients in 2013)")
DEFAULT_OVERDUE = (0.0026, "facts.md: Microcredit (overdue rate 0.26%, Chongqing, June 2019)")
# National returns to poverty as the poverty office reported them, read as ranges (people).
RETURN_FACTS = {2016: (6e5, 7e5, "60多万"), 2017: (2e5, 3e5, "20多万"), 2018: (1e4, 1e5, "几万"),
                2019: (1e3, 1e4, "数千")}
RETURN_FACTS_SOURCE = "docs/register_sources.md §10a (国务院扶贫办, as reported by 央视网)"

FIGURES = ("validation_fit.png", "validation_national.png", "validation_causes.png",
           "validation_returns.png", "validation_income_paths.png")


# ---------------------------------------------------------------------------------------
# targets


@dataclass(frozen=True)
class Target:
    """One target series: a timeseries column (or its running total) at some years."""

    name: str
    years: tuple[int, ...]
    values: tuple[float, ...]
    source: str
    tolerance: float
    relation: str = "equal"
    origin: str = ""
    weight: float = 1.0

    @property
    def column(self) -> str:
        return self.name.removeprefix("cumulative_")

    @property
    def cumulative(self) -> bool:
        return self.name.startswith("cumulative_")


def _from_target_file(path: Path, households: int | None):
    """(scenario, targets) from a target file, validated by experiments/targets.py."""
    from .targets import load_targets

    t = load_targets(path, households=households)
    rel = _rel(path)
    return t.scenario, [Target(s.name, tuple(s.years), tuple(s.values), s.source, s.tolerance, s.relation, rel,
                               s.weight) for s in t.series]


def _from_profile(region: str, households: int | None):
    """(scenario, targets) from the shipped scenario and its profile's [targets]."""
    from .scenario import load_scenario

    scenario = load_scenario(SCENARIO_DIR / f"{region}.toml", households=households)
    prof = scenario.profile
    origin = f"sim/profiles/{region}.toml [targets]"
    out = []
    minimum = "minimum" in " ".join(str(prof.data.get("targets", {}).get(k, {}).get("source", ""))
                                    for k in ("exits_people", "exits_villages")).lower()
    relation = "at_least" if minimum else "equal"
    for key, column in (("exits_people", "exits_people"), ("exits_villages", "villages_exited")):
        if prof.has(f"targets.{key}"):
            values = prof.value(f"targets.{key}")
            years = sorted(int(y) for y in values if scenario.start_year <= int(y) <= scenario.end_year)
            if years:
                out.append(Target(column, tuple(years), tuple(float(values[y]) for y in years),
                                  prof.source(f"targets.{key}"), DEFAULT_TOLERANCE, relation, origin))
    if prof.has("targets.measure_plan.relocation"):
        out.append(Target("relocated_people", (scenario.end_year,),
                          (float(prof.value("targets.measure_plan.relocation")),),
                          prof.source("targets.measure_plan.relocation"), DEFAULT_TOLERANCE, "equal", origin))
    return scenario, out


def load_region(region: str, households: int | None):
    """The region's scenario and targets: its target file if there is one, else its profile."""
    path = TARGET_DIR / f"{region}.toml"
    if path.is_file():
        return _from_target_file(path, households)
    return _from_profile(region, households)


def load_national(households: int | None):
    return _from_target_file(NATIONAL_CHECKS, households)


# ---------------------------------------------------------------------------------------
# calibration carried over


@dataclass
class Calibration:
    file: str | None
    values: dict            # dotted path -> plain value (or a {values: ...} table)
    how: str                # how the free parameters were chosen, for the report

    @property
    def calibrated(self) -> bool:
        return self.file is not None


def _plain(value):
    if isinstance(value, dict) and "value" in value:
        return value["value"]
    return value


def free_parameters() -> list[str] | None:
    """The parameters declared free for calibration, or None without the declaration file."""
    if not CALIBRATABLE.is_file():
        return None

    def paths(tree: dict, prefix: str = "") -> list[str]:
        out = []
        for key, value in tree.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, dict) and "range" not in value:
                out += paths(value, name)
            else:
                out.append(name)
        return out

    return sorted(paths(load_toml(CALIBRATABLE)))


def read_calibration(path: str | None) -> Calibration:
    """The calibrated values to carry over from a calibrated scenario file (validated)."""
    if path is None:
        return Calibration(None, {}, "")
    from .scenario import load_scenario

    file = Path(path)
    if not file.exists():
        raise InputError(str(path), "", "no such calibrated scenario file")
    check_input_file(file)
    scenario = load_scenario(file)  # validates keys, paths and values
    if scenario.profile.name != CALIBRATION_REGION:
        raise InputError(str(path), "profile", f"'{scenario.profile.name}' is not the calibration region "
                         f"'{CALIBRATION_REGION}': the report calibrates on {CALIBRATION_REGION}'s schedule")
    overrides = {k: _plain(v) for k, v in flatten_dotted(scenario.overrides).items()}
    free = free_parameters()
    if free is not None:
        values = {k: v for k, v in overrides.items() if k in free}
        how = "the parameters declared free in `experiments/calibratable.toml`"
    else:
        own = flatten_dotted(load_toml(SCENARIO_DIR / f"{CALIBRATION_REGION}.toml").get("overrides", {}))
        values = {k: v for k, v in overrides.items() if k not in own}
        how = f"every override of the calibrated file that `{CALIBRATION_REGION}.toml` does not set"
    if not values:
        raise InputError(str(path), "overrides", f"no calibrated value to carry over ({how})")
    return Calibration(str(path), values, how)


def apply_calibration(scenario, cal: Calibration, name: str, rollout: bool = False):
    """The scenario with the calibrated values on top, renamed `name`.

    With `rollout` (the national scenario), a parameter the scenario file itself dates
    keeps its dated roll-out and the calibrated value holds from the file's last dated year
    on; a plain value the file sets (an earlier calibration copied into it) is replaced."""
    from .sweep import derive

    if not cal.values:
        return derive(scenario, name, {}, scenario.file, "overrides")
    own = flatten_dotted(scenario.overrides)
    moved = {}
    for path, value in cal.values.items():
        mine = own.get(path)
        if rollout and isinstance(mine, dict) and "values" in mine:
            last = max(int(y) for y in mine["values"])
            moved[path] = {"values": {last: value}}
        else:
            moved[path] = value
    return derive(scenario, name, moved, cal.file or scenario.file, "overrides")


def file_calibrated(scenario) -> dict:
    """The overrides a scenario file marks as calibrated (their source says so), formatted."""
    out = {}
    for path, value in flatten_dotted(scenario.overrides).items():
        if isinstance(value, dict) and "calibrat" in str(value.get("source", "")).lower():
            if "values" in value:
                out[path] = ", ".join(f"{y}: {_num(v)}" for y, v in value["values"].items())
            else:
                out[path] = _num(value.get("value"))
    return out


def national_kept(scenario, cal: Calibration) -> list[str]:
    """Lines for the report: how the national file's own settings met the calibrated values."""
    own = flatten_dotted(scenario.overrides)
    out = []
    for path in sorted(cal.values):
        mine = own.get(path)
        if isinstance(mine, dict) and "values" in mine:
            last = max(int(y) for y in mine["values"])
            out.append(f"`{path}`: the national roll-out before {last} kept, the calibrated value "
                       f"{_num(cal.values[path])} from {last} on")
        elif mine is not None and _plain(mine) != cal.values[path]:
            out.append(f"`{path}`: the national file's value {_num(_plain(mine))} replaced by the calibrated "
                       f"{_num(cal.values[path])}")
    return out


# ---------------------------------------------------------------------------------------
# runs


@dataclass
class Plan:
    """What the report runs: (run name, scenario, targets, role) and the seeds. Roles:
    "reference" (Shangluo uncalibrated, when calibrated), "calibration", "rows check" (Shangluo
    with `ROWS_CHECK_FACTOR` times the household rows), "out of sample",
    "national", "no deadline" (a scenario's no-deadline variant, no targets) and
    "sensitivity" (a region with one of `SENSITIVITY` scaled, no targets)."""

    runs: list[tuple[str, object, list[Target], str]]
    seeds: list[int]
    national_file: object = None  # the national scenario as its file has it, before calibration

    def names(self) -> list[str]:
        return [r[0] for r in self.runs]

    def scenario(self, name: str):
        return next(sc for n, sc, _, _ in self.runs if n == name)


def no_deadline(scenario, name: str):
    """The scenario with no exit plan and no deadline (`exit.plan_rule = "qualifying"`):
    every household meeting the exit standard exits in the year it does."""
    from .sweep import derive

    return derive(scenario, name, dict(NO_DEADLINE), scenario.file, "overrides")


def sensitivity_name(region: str, path: str) -> str:
    return f"{region} ({path} x{SENSITIVITY_FACTOR:g})"


def scaled(scenario, name: str, path: str, factor: float):
    """The scenario with parameter `path` (its start-year value) times `factor`."""
    from .sweep import derive

    value = float(scenario.params.at(path, scenario.start_year)) * factor
    return derive(scenario, name, {path: value}, scenario.file, "overrides")


def plan(cal: Calibration, households: int | None, seeds: int) -> Plan:
    from .runner import replication_seeds

    runs = []
    scenario, targets = load_region(CALIBRATION_REGION, households)
    if cal.calibrated:
        runs.append((CALIBRATION_REGION + UNCALIBRATED_SUFFIX,
                     apply_calibration(scenario, Calibration(None, {}, ""),
                                       CALIBRATION_REGION + UNCALIBRATED_SUFFIX), targets, "reference"))
    runs.append((CALIBRATION_REGION, apply_calibration(scenario, cal, CALIBRATION_REGION), targets, "calibration"))
    rows = ROWS_CHECK_FACTOR * int(scenario.households)
    bigger, _ = load_region(CALIBRATION_REGION, rows)
    name = f"{CALIBRATION_REGION} ({rows:,} rows)"
    runs.append((name, apply_calibration(bigger, cal, name), targets, "rows check"))
    for region in OTHER_REGIONS:
        scenario, targets = load_region(region, households)
        runs.append((region, apply_calibration(scenario, cal, region), targets, "out of sample"))
    scenario, targets = load_national(households)
    runs.append((NATIONAL, apply_calibration(scenario, cal, NATIONAL, rollout=True), targets, "national"))
    for name in NO_DEADLINE_OF:
        base = next(sc for n, sc, _, _ in runs if n == name)
        runs.append((name + NO_DEADLINE_SUFFIX, no_deadline(base, name + NO_DEADLINE_SUFFIX), [], "no deadline"))
    for region in (CALIBRATION_REGION, *OTHER_REGIONS):
        base = next(sc for n, sc, _, _ in runs if n == region)
        for path, _ in SENSITIVITY:
            name = sensitivity_name(region, path)
            runs.append((name, scaled(base, name, path, SENSITIVITY_FACTOR), [], "sensitivity"))
    return Plan(runs, replication_seeds(ROOT_SEED, seeds), national_file=scenario)


def execute(p: Plan, runs_dir: Path, executor: str, workers: int | None) -> pd.DataFrame:
    """Run what is not stored yet through the sweep store; the frame of this plan's runs."""
    from . import store
    from .executors import make_executor, run_sweep
    from .provenance import utc_now
    from .sweep import Sweep

    sweep = Sweep(name="validation", file=__file__, description="runs of docs/validation.md",
                  seed=ROOT_SEED, replications=len(p.seeds), households=None, baseline=None,
                  scenarios=[(name, sc) for name, sc, _, _ in p.runs])
    started = utc_now()
    pool = make_executor(executor, workers)
    try:
        done, failed, skipped = run_sweep(sweep, runs_dir, pool)
    finally:
        pool.shutdown()
    store.write_json(runs_dir / store.MANIFEST, store.sweep_manifest(
        sweep, started, utc_now(), executor=executor,
        counts={"done": done, "failed": failed, "skipped": skipped}))
    if failed:
        first = store.failures(runs_dir)[0]
        raise RuntimeError(f"{failed} validation run(s) failed, e.g. {first['scenario']} seed {first['seed']}: "
                           f"{first['error']} (see {runs_dir / store.FAILURES})")
    df = store.load_results(runs_dir)
    wanted = {(name, int(seed), sc.config_hash()) for name, sc, _, _ in p.runs for seed in p.seeds}
    keys = list(zip(df["scenario"], df["seed"].astype(int), df["config_hash"]))
    return df[[k in wanted for k in keys]].reset_index(drop=True)


# ---------------------------------------------------------------------------------------
# fit


def band_label(n_seeds: int) -> str:
    from .bands import band_quantiles
    return band_quantiles(n_seeds)[2]


def per_seed(frame: pd.DataFrame, column: str, cumulative: bool = False) -> pd.DataFrame:
    """Rows = seeds, columns = years, of one column (or its running total)."""
    wide = frame.pivot_table(index="seed", columns="year", values=column, aggfunc="first").sort_index(axis=1)
    return wide.cumsum(axis=1) if cumulative else wide


def _band(values: np.ndarray) -> tuple[float, float]:
    from .bands import band_quantiles
    lo_q, hi_q, _ = band_quantiles(values.size)
    return float(np.quantile(values, lo_q)), float(np.quantile(values, hi_q))


def within(mean: float, target: float, tol: float, relation: str) -> bool:
    if relation == "at_least":
        return mean >= target * (1 - tol)
    if relation == "at_most":
        return mean <= target * (1 + tol)
    return abs(mean - target) <= tol * target


def fit(frame: pd.DataFrame, targets: list[Target]) -> pd.DataFrame:
    """Per target and year: target, model mean and band over seeds, within tolerance."""
    rows = []
    for t in targets:
        wide = per_seed(frame, t.column, t.cumulative)
        for year, value in zip(t.years, t.values):
            col = wide[year].to_numpy(float)
            mean = float(col.mean())
            lo, hi = _band(col)
            rows.append({"series": t.name, "year": year, "target": value, "relation": t.relation,
                         "tolerance": t.tolerance, "model_mean": mean, "band_lo": lo, "band_hi": hi,
                         "ratio": mean / value, "within": within(mean, value, t.tolerance, t.relation),
                         "source": t.source, "origin": t.origin})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------
# the register year by year, and the judged figures


def _mean_by_year(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame.groupby("year")[column].mean()


def yearly(frame: pd.DataFrame) -> pd.DataFrame:
    """Means over seeds of every numeric column, one row per year."""
    return frame.drop(columns=[c for c in ("seed",) if c in frame.columns]) \
        .groupby("year").mean(numeric_only=True).sort_index()


def _group_mean(frame: pd.DataFrame, value: str, size: str) -> pd.Series:
    """Mean over seeds of a group's income per person, skipping seeds where the group is empty."""
    f = frame[frame[size] > 0]
    return f.groupby("year")[value].mean()


def _share(part: float, whole: float) -> float:
    """part / whole; 0 when both are 0, inf when only the whole is (a share that cannot be small)."""
    part, whole = float(part), float(whole)
    if whole > 0:
        return part / whole
    return 0.0 if part == 0 else math.inf


def register_base(m: pd.DataFrame) -> float:
    """People on the register built in the start year, as the runs have it (means over
    seeds): the start cohort still registered at the end of the first year, plus its exits
    that year, plus those the re-check removed that year (in the first year every registered
    household is of the start cohort)."""
    y0 = m.index[0]
    return float(m.at[y0, "start_cohort_registered_people"] + m.at[y0, "start_cohort_exits_people"]
                 + m.at[y0, "recheck_removed_people"])


def new_entries(m: pd.DataFrame) -> pd.Series:
    """New entries at the yearly adjustment: new poor without the re-check's additions."""
    return m["new_poor_people"] - m["recheck_added_people"]


REGISTER_TABLE = (
    # column (or a function of the yearly means), header
    ("registered_poor_people", "registered"),
    ("start_cohort_registered_people", "of them start cohort"),
    ("exits_people", "exits"),
    ("start_cohort_exits_people", "of them start cohort"),
    ("returns_people", "returns"),
    (new_entries, "new entries¹"),
    ("recheck_added_people", "re-check added"),
    ("recheck_removed_people", "re-check removed"),
    ("planned_exits_people", "planned exits²"),
    ("plan_unfilled_people", "plan unfilled"),
    ("exits_under_pressure_people", "exits under pressure"),
    ("monitored_people", "monitored"),
    ("microcredit_loans_made", "loans made³"),
    ("microcredit_defaults", "defaults³"),
    ("microcredit_extensions", "extensions³"),
)


def _unit(base: float) -> tuple[float, str]:
    """The unit a scenario's register table is printed in: millions from 5 M people, else thousands."""
    return (1e6, "M") if base >= 5e6 else (1e3, "k")


def _in(v: float, unit: tuple[float, str]) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if abs(v) < 0.5:
        return "0"
    x = v / unit[0]
    return f"{x:,.2f}" if unit[1] == "M" else f"{x:,.1f}"


def register_table(m: pd.DataFrame, unit: tuple[float, str]) -> list[str]:
    """Markdown rows: the register's stocks and flows per year (means over seeds)."""
    out = ["| year | " + " | ".join(h for _, h in REGISTER_TABLE) + " |",
           "| ---: | " + " | ".join("---:" for _ in REGISTER_TABLE) + " |"]
    cols = [c(m) if callable(c) else m[c] for c, _ in REGISTER_TABLE]
    for y in m.index:
        out.append(f"| {int(y)} | " + " | ".join(_in(float(c[y]), unit) for c in cols) + " |")
    out.append("| total | " + " | ".join(
        "" if (isinstance(c_, str) and c_ in ("registered_poor_people", "start_cohort_registered_people",
                                              "monitored_people")) else _in(float(col.sum()), unit)
        for (c_, _), col in zip(REGISTER_TABLE, cols)) + " |")
    return out


@dataclass
class Judged:
    """One judged figure: what is claimed, whether the runs meet it, and the numbers."""

    key: str
    claim: str
    met: bool | None            # None: cannot be judged from these runs
    detail: str
    per: dict = field(default_factory=dict)   # scenario -> bool | None
    short: str = ""                           # the numbers in a few words, for the summary

    @property
    def summary(self) -> str:
        return self.short or self.detail


def returns_check(m: pd.DataFrame, open_until: int | None = None) -> dict:
    """Returns against exits (means over seeds, people).

    Under: in every year from the second (no household can return in the year the
    register is built), returns / exits < `RETURNS_MAX_SHARE`. Falling: the years from the
    second up to the last before `open_until` (the year return monitoring begins: from then
    a household must have been monitored since an earlier year before it can return, so the
    first monitoring year has none by rule) are split in two, the first half rounded up; the
    pooled ratio of the last (at most two) years must be below the highest yearly ratio of
    the first. Fewer than two such years: cannot be judged (None). No returns at all in
    either part counts as falling (nothing to fall from)."""
    years = [int(y) for y in m.index]
    later = years[1:]
    ex, ret = m["exits_people"], m["returns_people"]
    ratio = {y: _share(ret[y], ex[y]) for y in later}
    under = all(r < RETURNS_MAX_SHARE for r in ratio.values()) if later else None
    span = [y for y in later if open_until is None or y < open_until]
    out = {"ratio": ratio, "under": under, "total": _share(ret.sum(), ex.sum()),
           "falls": None, "early": [], "late": [], "peak": math.nan, "peak_year": None, "late_ratio": math.nan,
           "count_falls": None, "count_peak": math.nan, "count_late": math.nan,
           "largest": max(ratio.items(), key=lambda kv: kv[1]) if ratio else (None, math.nan)}
    if len(span) >= 2:
        k = math.ceil(len(span) / 2)
        early, late = span[:k], span[k:][-2:]
        peak_year = max(early, key=lambda y: ratio[y])
        late_ratio = _share(ret[late].sum(), ex[late].sum())
        peak = ratio[peak_year]
        out.update(early=early, late=late, peak=peak, peak_year=peak_year, late_ratio=late_ratio,
                   falls=bool(late_ratio < peak or (peak == 0 and late_ratio == 0)))
        # the same split read of the count itself (not judged): the yearly mean of the last years
        # below the largest yearly count of the first
        count_peak = max(float(ret[y]) for y in early)
        count_late = float(ret[late].mean())
        out.update(count_peak=count_peak, count_late=count_late,
                   count_falls=bool(count_late < count_peak or (count_peak == 0 and count_late == 0)))
    out["met"] = None if under is None or out["falls"] is None else bool(under and out["falls"])
    return out


def entries_check(m: pd.DataFrame) -> dict:
    """New entries at the adjustment (re-check additions apart) against exits, in every
    year from the second: each year's ratio must stay under `ENTRIES_MAX_SHARE`."""
    years = [int(y) for y in m.index]
    later = years[1:]
    new, ex = new_entries(m), m["exits_people"]
    ratio = {y: _share(new[y], ex[y]) for y in later}
    under = all(r < ENTRIES_MAX_SHARE for r in ratio.values()) if later else None
    return {"ratio": ratio, "met": under, "new": float(new[later].sum()) if later else 0.0,
            "total": _share(new[later].sum(), ex[later].sum()) if later else math.nan,
            "largest": max(ratio.items(), key=lambda kv: kv[1]) if ratio else (None, math.nan),
            "first_year_new": float(new.iloc[0]),
            "recheck_added": float(m["recheck_added_people"].sum()),
            "recheck_removed": float(m["recheck_removed_people"].sum())}


def defaults_check(m: pd.DataFrame, term: float | None = None) -> dict:
    """Microcredit defaults over loans made, summed over the horizon (households). With the
    loans' `term`, also over the loans made early enough to have fallen due by the end."""
    made, defaults = float(m["microcredit_loans_made"].sum()), float(m["microcredit_defaults"].sum())
    share = defaults / made if made > 0 else math.nan
    out = {"made": made, "defaults": defaults, "share": share,
           "extensions": float(m["microcredit_extensions"].sum()),
           "met": bool(share < DEFAULTS_MAX_SHARE) if made > 0 else None, "due_share": math.nan, "due_by": None}
    if term is not None and made > 0:
        last = int(m.index[-1]) - int(round(term))
        due = float(m.loc[m.index <= last, "microcredit_loans_made"].sum())
        out["due_by"] = last
        out["due_share"] = defaults / due if due > 0 else math.nan
    return out


def end_check(m: pd.DataFrame) -> dict:
    """The register and the start cohort at the end against the register built at the start."""
    base = register_base(m)
    reg, cohort = float(m["registered_poor_people"].iloc[-1]), float(m["start_cohort_registered_people"].iloc[-1])
    out = {"base": base, "register": reg, "cohort": cohort, "register_share": _share(reg, base),
           "cohort_share": _share(cohort, base), "year": int(m.index[-1])}
    out["met"] = bool(out["register_share"] < END_MAX_SHARE and out["cohort_share"] < END_MAX_SHARE)
    return out


def waiting_markdown(frames: dict[str, pd.DataFrame]) -> list[str]:
    """Returns admitted against the exited people still measured below the line after the
    adjustment (`exited_below_line_people`): where the second is much the larger, the county
    quotas, not the households that fall back, set the number of returns."""
    if not frames or any("exited_below_line_people" not in m for m in frames.values()):
        return []
    rows, bound = [], []
    for n, m in frames.items():
        years = [y for y in m.index if m.at[y, "returns_people"] > 0]
        if not years:
            continue
        cells = ", ".join(f"{y}: {_num(m.at[y, 'returns_people'])} / {_num(m.at[y, 'exited_below_line_people'])}"
                          for y in years)
        rows.append(f"| {n} | {cells} |")
        if all(m.at[y, "exited_below_line_people"] > 2 * m.at[y, "returns_people"] for y in years):
            bound.append(n)
    return (["Returns admitted against the exited people still measured below the line after the year's "
             "adjustment (`exited_below_line_people`), per year with returns:", "",
             "| scenario | returns / exited and measured below the line after the adjustment |", "| --- | --- |",
             *rows, ""]
            + ([f"In {', '.join(bound)} more than twice as many exited people are left below the line as are "
                "admitted every year: the county quotas (`register.adjustment_quota`), not the number who fall "
                "back, set the returns, so returns / exits follows the quota times the register over the plan's "
                "exits."] if bound else []))


def national_returns_markdown(m: pd.DataFrame) -> list[str]:
    """The national run's yearly returns against the poverty office's reported counts
    (`RETURN_FACTS`, ranges): a pattern check, not a target."""
    years = [y for y in RETURN_FACTS if y in m.index]
    if not years:
        return []
    rows = []
    for y in years:
        low, high, said = RETURN_FACTS[y]
        model = float(m.loc[y, "returns_people"])
        where = "within" if low <= model <= high else ("above" if model > high else "below")
        rows.append(f"| {y} | {said} ({_num(low)} – {_num(high)}) | {_num(model)} | {where} |")
    first, last = years[0], years[-1]
    real_fall = RETURN_FACTS[first][0] / RETURN_FACTS[last][1]
    model_first, model_last = float(m.loc[first, "returns_people"]), float(m.loc[last, "returns_people"])
    model_fall = model_first / model_last if model_last > 0 else float("inf")
    return ["National returns against the counts the poverty office reported (" + RETURN_FACTS_SOURCE
            + "; read as ranges; a pattern check, not a target):", "",
            "| year | reported | model | model against the range |", "| ---: | --- | ---: | --- |", *rows, "",
            f"Reported returns fell by a factor of at least {real_fall:.0f} from {first} to {last}; the model's "
            f"by a factor of {model_fall:.1f}" + (": the model's returns fall far more slowly than reported "
                                                  "(section 5.1 shows what they rest on)."
                                                  if model_fall < real_fall / 2 else ".")]


def _verdict_word(met: bool | None) -> str:
    return "cannot be judged" if met is None else ("met" if met else "**not met**")


def judged_figures(frames: dict, shangluo_fit: pd.DataFrame, open_until: dict | None = None,
                   terms: dict | None = None, scenarios: list[str] | None = None) -> list[Judged]:
    """The five figures the project judges the model by, from the runs (frames by scenario
    name; `shangluo_fit` is Shangluo's fit table; `open_until` the year return monitoring
    begins in each scenario, `terms` the microcredit term; `scenarios` those judged, by
    default every frame)."""
    names = list(frames) if scenarios is None else list(scenarios)
    open_until, terms = open_until or {}, terms or {}
    means = {n: yearly(frames[n]) for n in names}
    out = []

    ok, n = int(shangluo_fit["within"].sum()), len(shangluo_fit)
    out.append(Judged("a", f"Shangluo meets at least {SHANGLUO_MIN_MET} of its {n} target values",
                      ok >= SHANGLUO_MIN_MET, f"{ok} of {n} met"))

    parts, per = [], {}
    for name in names:
        r = returns_check(means[name], open_until.get(name))
        per[name] = r["met"]
        y, big = r["largest"]
        fall = ("fall not judged (fewer than two years)" if r["falls"] is None else
                f"{'falls' if r['falls'] else 'does not fall'}: {_pct(r['late_ratio'])} in "
                f"{_years(r['late'])} against a peak of {_pct(r['peak'])} in {r['peak_year']}")
        parts.append(f"{name} {_pct(r['total'])} over the horizon, at most {_pct(big)} ({y}), {fall}")
    short = "; ".join(f"{n} {_pct(returns_check(means[n], open_until.get(n))['largest'][1])}"
                      + {True: ", falling", False: ", not falling", None: ", fall not judged"}[
                          returns_check(means[n], open_until.get(n))["falls"]] for n in names)
    out.append(Judged("b", f"in every scenario returns stay under {RETURNS_MAX_SHARE:.0%} of exits in every year "
                      "and fall after the first years", _all(per), "; ".join(parts), per,
                      "largest yearly returns / exits: " + short))

    parts, per = [], {}
    for name in names:
        e = entries_check(means[name])
        per[name] = e["met"]
        y, big = e["largest"]
        parts.append(f"{name} {_pct(e['total'])}, at most {_pct(big)} ({y})")
    short = "; ".join(f"{n} {_pct(entries_check(means[n])['largest'][1])}" for n in names)
    out.append(Judged("c", "new entries after the first adjustment (from the second simulated year, re-check "
                      f"additions apart) stay under {ENTRIES_MAX_SHARE:.0%} of exits in every year", _all(per),
                      "; ".join(parts), per, "largest yearly new entries / exits: " + short))

    parts, per = [], {}
    for name in names:
        d = defaults_check(means[name], terms.get(name))
        per[name] = d["met"]
        parts.append(f"{name} no loans" if d["met"] is None else
                     f"{name} {_pct(d['share'])} ({_num(d['defaults'])} of {_num(d['made'])})")
    short = "defaults / loans made: " + "; ".join(
        f"{n} no loans" if per[n] is None else f"{n} {_pct(defaults_check(means[n])['share'])}" for n in names)
    out.append(Judged("d", f"microcredit defaults stay under {DEFAULTS_MAX_SHARE:.0%} of loans made over the "
                      "horizon, in every scenario with loans", _all(per), "; ".join(parts), per, short))

    if NATIONAL in means:
        e = end_check(means[NATIONAL])
        out.append(Judged("e", f"the national register and the start-year households both end "
                          f"{e['year']} under {END_MAX_SHARE:.0%} of the register built in "
                          f"{int(means[NATIONAL].index[0])}", e["met"],
                          f"register {_num(e['register'])} ({_pct(e['register_share'])}), start cohort "
                          f"{_num(e['cohort'])} ({_pct(e['cohort_share'])}) of {_num(e['base'])}", {},
                          f"register {_pct(e['register_share'])}, start cohort {_pct(e['cohort_share'])} of the "
                          f"{_num(e['base'])} registered at the start"))
    else:
        out.append(Judged("e", "the national register and the start-year households both end under "
                          f"{END_MAX_SHARE:.0%} of the start", None, "no national run"))
    return out


def _all(per: dict) -> bool | None:
    """Met when every judged scenario meets it; None when none can be judged."""
    known = [v for v in per.values() if v is not None]
    return all(known) if known else None


def _years(years: list[int]) -> str:
    if not years:
        return "n/a"
    return str(years[0]) if len(years) == 1 else f"{years[0]}-{years[-1]}"


# ---------------------------------------------------------------------------------------
# diagnostics: the numbers behind "what fits, what does not, and why"


def start_state(scenario, seed: int) -> dict:
    """The register as built in the start year, for one seed: how many registered people
    have per-capita net income (transfers counted, the register's test) at or above the
    line (inclusion errors) and how many people below it are left out (exclusion errors)."""
    from sim.model import PovertyModel
    from sim.register import registered

    model = PovertyModel(rng=int(seed), **scenario.model_kwargs())
    hh = model.hh
    live = hh.size > 0
    people = hh.weight.astype(np.float64) * hh.size
    pc = hh.income / np.maximum(hh.size, 1)
    line = float(model.line)
    reg = registered(hh) & live
    poor = live & (pc < line)
    return {"line": line, "register_people": float(people[reg].sum()),
            "above_line_people": float(people[reg & ~poor].sum()),
            "excluded_people": float(people[~reg & poor].sum()),
            "poor_people": float(people[poor].sum()),
            "near_line_people": float(people[~reg & live & ~poor & (pc < 1.25 * line)].sum()),
            "rows": int(hh.n), "counties": int(model.counties.n)}


def diagnostics(frame: pd.DataFrame, scenario) -> dict:
    """The yearly means of a run and the figures `_why` reads from them."""
    m = yearly(frame)
    years = [int(y) for y in m.index]
    d = {"years": years, "m": m, "base": register_base(m), "end": end_check(m),
         "profile_register": float(scenario.profile.value("register.people"))}
    line = m["poverty_line"]
    jump = (line / line.shift(1)).fillna(1.0)
    if len(years) > 1 and jump.max() > 1.05:
        d["line_jump"] = int(jump.idxmax())
    return d


# ---------------------------------------------------------------------------------------
# formatting


def _num(v) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)):
        return str(v)
    v = float(v)
    if math.isnan(v):
        return "n/a"
    if math.isinf(v):
        return "∞"
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:,.2f} M"
    if a >= 100:
        return f"{v:,.0f}"
    if a >= 1:
        return f"{v:.2f}".rstrip("0").rstrip(".")
    return f"{v:.3g}"


def _ratio(a: float, b: float) -> str:
    return "n/a" if not b or math.isnan(a) or math.isnan(b) else f"{a / b:.2f}"


def _pct(v: float) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if isinstance(v, float) and math.isinf(v):
        return "∞"
    return f"{100 * v:.1f}%"


_REL = {"equal": "±", "at_least": "≥, tolerance", "at_most": "≤, tolerance"}


def fit_markdown(table: pd.DataFrame, band: str) -> list[str]:
    out = [f"| series | year | target | tolerance | model mean | band ({band} over seeds) | model / target | met |",
           "| --- | ---: | ---: | --- | ---: | ---: | ---: | :---: |"]
    for r in table.itertuples():
        tol = f"{_REL[r.relation]} {100 * r.tolerance:.0f}%"
        out.append(f"| `{r.series}` | {r.year} | {_num(r.target)} | {tol} | {_num(r.model_mean)} | "
                   f"{_num(r.band_lo)} – {_num(r.band_hi)} | {r.ratio:.2f} | {'yes' if r.within else '**no**'} |")
    return out


def sources_markdown(table: pd.DataFrame) -> list[str]:
    seen = {}
    for r in table.itertuples():
        seen.setdefault(r.series, (r.source, r.origin))
    return [f"- `{s}`: {src} ({origin})" for s, (src, origin) in seen.items()]


def loss(frame: pd.DataFrame, targets: list[Target]) -> float:
    """The loss calibration minimises (as in experiments/targets.py): the weighted mean over
    series of the mean over years of the squared error, in units of the tolerance, of the
    model's mean over seeds."""
    total, weights = 0.0, 0.0
    for t in targets:
        if t.weight <= 0:
            continue
        model = per_seed(frame, t.column, t.cumulative)[list(t.years)].mean(axis=0).to_numpy(float)
        target = np.asarray(t.values, float)
        diff = model - target
        if t.relation == "at_least":
            diff = np.minimum(diff, 0.0)
        elif t.relation == "at_most":
            diff = np.maximum(diff, 0.0)
        total += t.weight * float(((diff / (t.tolerance * target)) ** 2).mean())
        weights += t.weight
    return total / weights if weights else math.nan


def by_series(table: pd.DataFrame) -> str:
    """Which series are met in every target year, in some, or in none."""
    groups: dict[str, list[str]] = {"met": [], "partly met": [], "missed": []}
    for name, g in table.groupby("series", sort=False):
        ok, n = int(g["within"].sum()), len(g)
        key = "met" if ok == n else ("missed" if ok == 0 else "partly met")
        groups[key].append(f"`{name}`" + (f" ({ok} of {n} years)" if key == "partly met" else ""))
    return " ".join(f"{k.capitalize()}: {', '.join(v)}." for k, v in groups.items() if v)


def verdict(table: pd.DataFrame) -> str:
    n, ok = len(table), int(table["within"].sum())
    return f"{ok} of {n} target values met" if n else "no targets"


# ---------------------------------------------------------------------------------------
# figures

_COLOURS = ("#1f4e79", "#c0392b", "#2e8b57", "#8e44ad", "#d35400", "#7f8c8d", "#16a085", "#b7950b",
            "#34495e", "#e84393", "#0984e3", "#6c5ce7", "#636e72")


def _figure(rows: int, cols: int, w: float = 4.4, h: float = 3.4):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w * cols, h * rows), layout="constrained")
    axes = np.atleast_2d(fig.subplots(rows, cols, squeeze=False))
    return fig, axes


def _axis(ax, title: str, ylabel: str = ""):
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel, fontsize=9)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if abs(v) >= 10 else f"{v:g}"))
    ax.grid(True, alpha=0.3)
    ax.tick_params(labelsize=8)



def _line_band(ax, wide: pd.DataFrame, colour: str, label: str, ls: str = "-"):
    """Mean over seeds with the band over seeds (wide: rows seeds, columns years)."""
    from .bands import band_quantiles

    mean = wide.mean(axis=0)
    ax.plot(mean.index, mean.values, color=colour, lw=2, ls=ls, marker="o", ms=3, label=label)
    n = int(wide.notna().sum(axis=0).min()) if len(wide) else 0
    if n >= 2:
        lo_q, hi_q, _ = band_quantiles(len(wide))
        ax.fill_between(mean.index, wide.quantile(lo_q).values, wide.quantile(hi_q).values,
                        color=colour, alpha=0.18, lw=0)


def _targets_on(ax, t: Target):
    years = np.array(t.years)
    vals = np.array(t.values)
    if t.relation == "at_least":
        err = [vals * t.tolerance, np.zeros_like(vals)]
        marker = "^"
    elif t.relation == "at_most":
        err = [np.zeros_like(vals), vals * t.tolerance]
        marker = "v"
    else:
        err = vals * t.tolerance
        marker = "s"
    ax.errorbar(years, vals, yerr=err, fmt=marker, color="black", ms=5, capsize=3, lw=1,
                label="target (bar: tolerance)")


def plot_fit(frames: dict, plan_runs, path: Path):
    """Target vs model (mean and band over seeds) for every region and target series."""
    rows = [(name, t) for name, _, targets, role in plan_runs
            if role not in ("reference", "no deadline", "rows check", "sensitivity")
            for t in targets]
    cols = 4
    nrows = max(1, math.ceil(len(rows) / cols))
    fig, axes = _figure(nrows, cols)
    for k, ax in enumerate(axes.flat):
        if k >= len(rows):
            ax.set_visible(False)
            continue
        name, t = rows[k]
        ref = name + UNCALIBRATED_SUFFIX
        if ref in frames:
            _line_band(ax, per_seed(frames[ref], t.column, t.cumulative), "#95a5a6", "uncalibrated")
        _line_band(ax, per_seed(frames[name], t.column, t.cumulative), _COLOURS[0],
                   "calibrated" if ref in frames else "model")
        _targets_on(ax, t)
        _axis(ax, f"{name}: {t.name}")
        ax.set_ylim(bottom=0)
        if k == 0:
            ax.legend(fontsize=7, frameon=False)
    fig.suptitle("Targets and the model (mean, band over seeds)", fontsize=12, fontweight="bold")
    fig.savefig(path, dpi=100)


def _entries_wide(frame: pd.DataFrame) -> pd.DataFrame:
    return per_seed(frame, "new_poor_people") - per_seed(frame, "recheck_added_people")


def plot_national(frame: pd.DataFrame, variant: pd.DataFrame | None, targets: list[Target], path: Path,
                  calibrated: bool):
    """The national run: the register, the start cohort and the no-deadline variant's register;
    exits (with the variant's); returns; new entries and the re-check's additions; then the
    national checks."""
    grey = "#7f8c8d"

    def series(column, colour, label, title, ylabel, cohort=None):
        """A panel of one column, its start cohort's part, and the no-deadline variant's."""
        def draw(ax):
            _line_band(ax, per_seed(frame, column), colour, label)
            if cohort is not None:
                _line_band(ax, per_seed(frame, cohort), _COLOURS[3], "of them start cohort")
            if variant is not None and len(variant):
                _line_band(ax, per_seed(variant, column), grey, f"{label}, no deadline", ls="--")
            _axis(ax, title, ylabel)
        return draw

    register = series("registered_poor_people", _COLOURS[0], "registered", "register (end of year)", "people",
                      cohort="start_cohort_registered_people")
    exits = series("exits_people", _COLOURS[2], "exits", "exits", "people per year", cohort="start_cohort_exits_people")
    returns = series("returns_people", _COLOURS[1], "returns", "returns", "people per year")

    def entries(ax):
        _line_band(ax, _entries_wide(frame), _COLOURS[4], "new entries (adjustment)")
        _line_band(ax, per_seed(frame, "recheck_added_people"), _COLOURS[6], "re-check added")
        _line_band(ax, per_seed(frame, "recheck_removed_people"), _COLOURS[8], "re-check removed")
        _axis(ax, "new entries and the re-check", "people per year")

    panels = [register, exits, returns, entries]
    n = len(panels) + len(targets)
    cols = 4
    fig, axes = _figure(math.ceil(n / cols), cols)
    for k, ax in enumerate(axes.flat):
        if k >= n:
            ax.set_visible(False)
            continue
        if k < len(panels):
            panels[k](ax)
        else:
            t = targets[k - len(panels)]
            _line_band(ax, per_seed(frame, t.column, t.cumulative), _COLOURS[0], "model")
            _targets_on(ax, t)
            _axis(ax, t.name)
        ax.legend(fontsize=7, frameon=False)
        ax.set_ylim(bottom=0)
    how = "parameters calibrated on Shangluo, not refitted" if calibrated else "uncalibrated: default parameters"
    fig.suptitle(f"National scenario 2014-2020 ({how}); dashed: the no-deadline variant",
                 fontsize=12, fontweight="bold")
    fig.savefig(path, dpi=100)


def cause_names() -> list[str]:
    from sim.fields import Cause
    return [c.name.lower() for c in Cause] + ["none"]


def cause_shares(frame: pd.DataFrame) -> pd.DataFrame:
    """Share of the registered poor by main cause, per year (means over seeds)."""
    cols = [f"registered_poor_people_cause_{c}" for c in cause_names()]
    means = frame.groupby("year")[cols + ["registered_poor_people"]].mean()
    shares = means[cols].div(means["registered_poor_people"].where(means["registered_poor_people"] > 0), axis=0)
    shares.columns = cause_names()
    return shares


def any_cause_share(frame: pd.DataFrame, cause: str) -> pd.Series:
    """Share of registered people whose recorded causes include `cause`, per year."""
    reg = _mean_by_year(frame, "registered_poor_people")
    return _mean_by_year(frame, f"poor_people_cause_{cause}") / reg.where(reg > 0)


def plot_causes(frames: dict, names: list[str], path: Path):
    fig, axes = _figure(1, len(names), w=3.6, h=3.6)
    causes = cause_names()
    for ax, name in zip(axes.flat, names):
        shares = cause_shares(frames[name]).fillna(0.0)
        keep = [c for c in causes if shares[c].max() > 0]
        colours = [_COLOURS[causes.index(c) % len(_COLOURS)] for c in keep]
        ax.stackplot(shares.index, [shares[c].values for c in keep], labels=keep, colors=colours, alpha=0.85)
        _axis(ax, name, "share of registered people")
        ax.set_ylim(0, 1)
    axes.flat[-1].legend(fontsize=7, frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle("Registered poor by main cause (recorded at registration: the first cause in the official order), "
                 "mean over seeds", fontsize=11, fontweight="bold")
    fig.savefig(path, dpi=100)


def plot_returns(frames: dict, names: list[str], path: Path):
    fig, axes = _figure(1, 3, w=4.8, h=3.8)
    for i, name in enumerate(names):
        f = frames[name]
        ex, ret = per_seed(f, "exits_people"), per_seed(f, "returns_people")
        new = _entries_wide(f)
        later = ex.columns[1:]
        with np.errstate(divide="ignore", invalid="ignore"):
            _line_band(axes[0, 0], (ret / ex.where(ex > 0))[later], _COLOURS[i], name)
            _line_band(axes[0, 1], (ret.cumsum(axis=1) / ex.cumsum(axis=1).where(ex.cumsum(axis=1) > 0))[later],
                       _COLOURS[i], name)
            _line_band(axes[0, 2], (new / ex.where(ex > 0))[later], _COLOURS[i], name)
    for ax, limit in ((axes[0, 0], RETURNS_MAX_SHARE), (axes[0, 1], RETURNS_MAX_SHARE),
                      (axes[0, 2], ENTRIES_MAX_SHARE)):
        ax.axhline(limit, color="black", ls=":", lw=1, label=f"{limit:.0%}")
    _axis(axes[0, 0], "returns / exits, per year")
    _axis(axes[0, 1], "returns / exits, cumulative")
    _axis(axes[0, 2], "new entries (re-check apart) / exits, per year")
    for ax in axes.flat:
        ax.set_ylim(bottom=0)
    axes[0, 2].legend(fontsize=8, frameon=False)
    fig.suptitle("Returns and new entries relative to exits, from the second year (mean, band over seeds)",
                 fontsize=11, fontweight="bold")
    fig.savefig(path, dpi=100)


INCOME_LINES = (("mean_income_per_capita", "people", "all rural households", "#7f8c8d"),
                ("mean_income_ever_registered", "ever_registered_people", "ever registered", "#1f4e79"),
                ("mean_income_relocated", "relocated_people", "relocated", "#2e8b57"),
                ("mean_income_microcredit", "microcredit_ever_households", "ever borrowed microcredit", "#d35400"))


def income_paths(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean income per person of each group by year (seeds where the group is empty skipped)."""
    out = {label: _group_mean(frame, col, size) for col, size, label, _ in INCOME_LINES}
    out["poverty line"] = _mean_by_year(frame, "poverty_line")
    return pd.DataFrame(out)


def plot_income(frames: dict, names: list[str], path: Path):
    cols = min(3, len(names))
    fig, axes = _figure(math.ceil(len(names) / cols), cols, w=4.6, h=3.6)
    for k, ax in enumerate(axes.flat):
        if k >= len(names):
            ax.set_visible(False)
            continue
        f = frames[names[k]]
        for col, size, label, colour in INCOME_LINES:
            g = f[f[size] > 0]
            if len(g):
                _line_band(ax, per_seed(g, col), colour, label)
        line = _mean_by_year(f, "poverty_line")
        ax.plot(line.index, line.values, color="black", ls="--", lw=1, label="poverty line")
        _axis(ax, names[k], "yuan per person per year")
        ax.set_ylim(bottom=0)
    axes.flat[0].legend(fontsize=7, frameon=False)
    fig.suptitle("Net income per person, transfers counted, by group (mean, band over seeds)", fontsize=11,
                 fontweight="bold")
    fig.savefig(path, dpi=100)


# ---------------------------------------------------------------------------------------
# the report


def _git_commit() -> str:
    """The short commit, with a note when the working tree had uncommitted changes."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                             text=True, timeout=10)
        commit = out.stdout.strip() or "unknown"
        changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                                 capture_output=True, text=True, timeout=10).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    # the report's own outputs (written before this line) do not make the code dirty
    dirty = [line for line in changed
             if not re.search(r"docs/(validation\.md|figures/validation_[a-z_]+\.png)$", line)]
    return f"`{commit}`" + (" (with uncommitted changes in the working tree)" if dirty else "")


def _rel(path) -> str:
    try:
        return str(Path(path).resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def _par(scenario, name: str, year: int):
    return scenario.params.at(name, year)


def _deadline(scenario) -> int | None:
    prof = scenario.profile
    return int(prof.value("exit.deadline")) if prof.has("exit.deadline") else None


def _open_until(scenario) -> int | None:
    """The year return monitoring begins, when it is within the scenario's horizon."""
    start = int(_par(scenario, "monitoring.start_year", scenario.end_year))
    return start if scenario.start_year < start <= scenario.end_year else None


def _scheduled(scenario, year: int) -> float | None:
    """The profile's scheduled exits for a year, if it has a schedule."""
    prof = scenario.profile
    if not prof.has("exit.schedule_people"):
        return None
    values = prof.value("exit.schedule_people")
    v = values.get(year, values.get(str(year))) if isinstance(values, dict) else None
    return float(v) if v is not None else None


def _lumpy(start: dict | None) -> str:
    """A note when counties hold few sample rows: their plans, quotas and limits are met by a
    lottery over whole weighted rows (sim/groups.py), exactly only on average."""
    if start is None or start["rows"] >= 50 * start["counties"]:
        return ""
    return (f" At {start['rows']:,} rows for {start['counties']:,} counties ({start['rows'] / start['counties']:.1f} "
            "a county), a county's plan, quota or limit is met by a lottery over whole weighted rows "
            "(sim/groups.py), exactly only on average.")


def _term(scenario) -> float:
    return float(_par(scenario, "microcredit.term", scenario.end_year))


def _why(name: str, scenario, d: dict, table: pd.DataFrame, start: dict | None, seed: int,
         variant: dict | None = None) -> list[str]:
    """What the model does behind this scenario's fit and misfits, each with its measured numbers."""
    out = []
    m, years = d["m"], d["years"]
    y0, yN = years[0], years[-1]
    base = d["base"]
    par = lambda key, year=yN: _par(scenario, key, year)  # noqa: E731

    # --- the register as built, and its first year
    lumpy = _lumpy(start)
    if start is not None:
        reg, poor = start["register_people"], start["poor_people"]
        forced = (f"so at least {_num(reg - poor)} people above the line must be registered to fill it"
                  if reg > poor else f"so the quota cannot take in every poor household ({_num(poor - reg)} fewer "
                                     "places than poor people)")
        out.append(
            f"The register built at the {y0 - 1} assessment (seed {seed}) holds {_num(reg)} people, the profile's "
            f"{_num(d['profile_register'])} split into county and village quotas by whole sample rows. "
            f"{_pct(_share(start['above_line_people'], reg))} of them ({_num(start['above_line_people'])}) have "
            f"per-capita net income, transfers counted, at or above the {y0} line of {_num(start['line'])} yuan "
            f"(inclusion errors), and {_num(start['excluded_people'])} people below the line are left out "
            f"({_pct(_share(start['excluded_people'], poor))} of the {_num(poor)} income-poor people: exclusion "
            f"errors). The quota is {reg / poor:.2f} times the income-poor population the synthesis gives, "
            f"{forced}; the rest of the errors come from the village appraisal, which ranks households on measured "
            f"income (log error `register.measurement_error_sd` = {par('register.measurement_error_sd', y0):g}) "
            f"and on what neighbours see (`register.appraisal_noise` = {par('register.appraisal_noise', y0):g}).")
        out.append(
            f"The first year moves these numbers more than the appraisal does: people below the line go from "
            f"{_num(poor)} as built to {_num(m.at[y0, 'income_poor_people'])} at the end of {y0} "
            f"({_share(m.at[y0, 'income_poor_people'], poor) - 1:+.0%}), and at the end of {y0} "
            f"{_num(m.at[y0, 'registered_above_line_people'])} registered people are above the line and "
            f"{_num(m.at[y0, 'unregistered_poor_people'])} people off the register below it (exited households "
            "included).")

    # --- income poverty against the survey count, where the scenario is checked against one
    counted = table[table["series"] == "income_poor_people"] if "series" in table else table.iloc[:0]
    if len(counted) > 1:
        first, last = counted.iloc[0], counted.iloc[-1]
        yl = int(last["year"])
        off = _share(m.at[yl, "unregistered_poor_people"], m.at[yl, "income_poor_people"])
        out.append(
            f"People below the line fall from {_num(first['model_mean'])} at the end of {int(first['year'])} to "
            f"{_num(last['model_mean'])} at the end of {yl} ({last['model_mean'] / first['model_mean']:.2f} times), "
            f"where the survey count falls from {_num(first['target'])} to {_num(last['target'])} "
            f"({last['target'] / first['target']:.2f} times). In {yl}, {_pct(off)} of the model's income-poor are "
            "off the register (never registered, or exited): the register empties on its plans while incomes at "
            "the bottom do not rise past the line as fast as the survey found, which is also why exited "
            "households keep falling back below it (section 6.2).")

    # --- dibao, which lifts registered households over the line
    dib, above = m["dibao_people"], m["registered_above_line_people"]
    if len(years) > 1:
        rise = above.diff().iloc[1:]
        yr = int(rise.idxmax())
        if rise[yr] > 0.1 * base:
            two = par("dibao.two_lines_in_one", yr)
            out.append(
                f"Registered people above the line rise from {_num(above[yr - 1])} to {_num(above[yr])} in {yr}, "
                f"when dibao goes from {_num(dib[yr - 1])} to {_num(dib[yr])} people"
                + (" (`dibao.two_lines_in_one` holds from that year: dibao tops registered households up to the "
                   "dibao line, above the poverty line)" if two and not par("dibao.two_lines_in_one", yr - 1) else "")
                + ".")
    if start is not None and dib.max() > 0:
        y_max = int(dib.idxmax())
        out.append(
            f"Dibao covers {_num(dib[y0])} people at the end of {y0} and {_num(dib[y_max])} at most ({y_max}), "
            f"{_share(dib[y_max], base):.2f} times the start register"
            + (f"; {_num(DIBAO_RECIPIENTS_2013[0])} rural people received dibao in 2013 ({DIBAO_RECIPIENTS_2013[1]})"
               if name == NATIONAL else "") + ".")

    # --- the plans
    planned, exits, unfilled = m["planned_exits_people"], m["exits_people"], m["plan_unfilled_people"]
    if planned.sum() > 0:
        worst = int(unfilled.idxmax())
        net = float((planned - exits).clip(lower=0).sum())
        out.append(
            f"The plans: over {y0}-{yN} the counties planned {_num(planned.sum())} exits and "
            f"{_num(exits.sum())} people exited; summed county by county, {_num(unfilled.sum())} planned exits "
            f"({_pct(_share(unfilled.sum(), planned.sum()))}) found no qualifying household, most in {worst} "
            f"({_num(unfilled[worst])} of {_num(planned[worst])}), while the region's exits fell short of its plan "
            f"by {_num(net)} in the years they fell short. Registered people above the line at the end of each "
            "year (qualifying by income, but outside the plan, short of a guarantee or measured below the line): "
            + ", ".join(f"{y} {_num(above[y])}" for y in years) + "."
            + (f"{lumpy} A county whose row loses the lottery counts its whole plan unfilled, one whose row wins "
               "exits more than its plan, so the county-by-county unfilled figure is larger than the region's "
               "shortfall at this size." if lumpy and unfilled.sum() > 1.5 * net else ""))
    if variant is not None:
        vm = variant["m"]
        diff = (exits.cumsum() - vm["exits_people"].cumsum())
        ahead, behind = int(diff.idxmax()), int(diff.idxmin())
        out.append(
            f"Without the plan and the deadline (section 4.2), {_num(vm.at[y0, 'exits_people'])} people exit in "
            f"{y0} against {_num(exits[y0])} with them ({_pct(_share(vm.at[y0, 'exits_people'], base))} of the "
            f"start register meets the standard in the first year); by the end of {behind} the plan has held "
            f"back {_num(max(-diff[behind], 0.0))} exits"
            + (f", and by the end of {ahead} moved {_num(diff[ahead])} forward" if diff[ahead] > 0.5 else "")
            + f". The plan, not income, sets the pace. At the end of {yN} the variant leaves "
              f"{_num(vm['registered_poor_people'].iloc[-1])} people registered against "
              f"{_num(m['registered_poor_people'].iloc[-1])} with the plan.")
    pressure = m["exits_under_pressure_people"].sum()
    if pressure > 0 or par("exit.target_pressure") > 0:
        out.append(
            f"Exits under pressure: {_num(pressure)} people ({_pct(_share(pressure, exits.sum()))} of exits) "
            f"certified while measured up to {par('exit.pressure_margin'):.0%} below the threshold, to fill "
            f"`exit.target_pressure` = {par('exit.target_pressure'):.2f} of what a county's plan still lacked"
            + (" (also in counties whose qualifying rows lost the plan's lottery)" if lumpy else "")
            + f"; third-party verification (`exit.verification_rate` = {par('exit.verification_rate'):g}) "
              f"reversed {_num(m['exits_reversed_people'].sum())} exits.")

    # --- the deadline year and what is left
    deadline = _deadline(scenario)
    e = d["end"]
    left = (f"{_num(e['register'])} people are on the register at the end of {yN} "
            f"({_pct(e['register_share'])} of the {_num(base)} registered at the start; of them "
            f"{_num(e['cohort'])} of the start cohort, {_pct(e['cohort_share'])} of it)")
    if deadline is not None and deadline <= yN:
        sched = _scheduled(scenario, deadline)
        out.append(
            f"Deadline {deadline}: from then everyone left on the register is in the plan"
            + (f" (the schedule's {_num(sched)} for {deadline} gives way to the {_num(planned[deadline])} left)"
               if sched is not None and deadline in planned.index and abs(planned[deadline] - sched) > 0.05 * sched
               else "")
            + f". {left}; in {yN} {_num(planned[yN])} were planned and {_num(unfilled[yN])} of them did not meet "
              "the standard.")
    else:
        out.append(f"{left}; the plan's deadline ({deadline}) is beyond the horizon.")
    if "line_jump" in d:
        yr = d["line_jump"]
        before, after = float(m.at[yr - 1, "poverty_line"]), float(m.at[yr, "poverty_line"])
        reg_poor = m["registered_poor_people"] - m["registered_above_line_people"]
        out.append(
            f"The line rises from {_num(before)} to {_num(after)} yuan in {yr} ({after / before - 1:+.0%}; "
            "facts.md marks the 2017 and 2018 values unverified and 2019's a weak source, so the size of the "
            f"step is uncertain). People with per-capita net income below the line: {_num(m.at[yr - 1, 'income_poor_people'])} "
            f"at the end of {yr - 1}, {_num(m.at[yr, 'income_poor_people'])} at the end of {yr}; on the register "
            f"{_num(reg_poor[yr - 1])} → {_num(reg_poor[yr])} ({_pct(_share(reg_poor[yr], m.at[yr, 'registered_poor_people']))} "
            f"of those registered at the end of {yr}), off it {_num(m.at[yr - 1, 'unregistered_poor_people'])} → "
            f"{_num(m.at[yr, 'unregistered_poor_people'])}. The exit standard is the year's line, so the jump "
            "raises the bar for those still registered in the deadline year.")

    # --- returns and new entries
    later = years[1:]
    if later:
        ret, new = m["returns_people"][later].sum(), new_entries(m)[later].sum()
        # each year's quota is a share of the register at the start of the year (the end of the year before)
        if par("register.adjustment_quota_base") == "start":
            bases = [base] * len(later)
        else:
            bases = [float(m.at[y - 1, "registered_poor_people"]) for y in later]
        quotas = [float(par("register.adjustment_quota", y)) * b for y, b in zip(later, bases)]
        admitted = float((new_entries(m) + m["returns_people"])[later].sum())
        base_words = ("the start register a year" if par("register.adjustment_quota_base") == "start" else
                      "the county's register at the start of the year")
        ms = _open_until(scenario)
        out.append(
            f"Returns and new entries: from {later[0]} to {yN}, {_num(ret)} returns ({_pct(_share(ret, exits[later].sum()))} "
            f"of exits) and {_num(new)} new entries ({_pct(_share(new, exits[later].sum()))}); {_num(new_entries(m)[y0])} "
            f"new entries in {y0}. Both come only through the yearly adjustment, on application "
            f"(`register.application_chance` = {par('register.application_chance'):g}) of households measured "
            f"below the line, within county quotas of `register.adjustment_quota` = {par('register.adjustment_quota'):g} "
            f"of {base_words} ({_num(quotas[0])} people in {later[0]}, {_num(quotas[-1])} in {yN}); the admitted fill "
            f"{_pct(_share(admitted, sum(quotas)))} of the quotas over {later[0]}-{yN}"
            + (f". From {ms} an applicant must have been under return monitoring since an earlier year, so "
               f"{_num(m.at[ms, 'returns_people'] + new_entries(m)[ms])} people enter or return in {ms}."
               if ms is not None else "."))

    # --- the re-check
    ry = int(par("register.recheck_year"))
    if ry in years:
        added, removed = m.at[ry, "recheck_added_people"], m.at[ry, "recheck_removed_people"]
        c = float(par("register.recheck_correction", ry))
        fa, fr, fn = RECHECK_FACTS["added"], RECHECK_FACTS["removed"], RECHECK_FACTS["register"]
        out.append(
            f"The re-check ({ry}) adds {_num(added)} and removes {_num(removed)} people "
            f"({_pct(_share(added, base))} and {_pct(_share(removed, base))} of the start register), against "
            f"{_num(fa)} and {_num(fr)} nationally ({_pct(fa / fn)} and {_pct(fr / fn)} of {_num(fn)}; "
            f"{RECHECK_FACTS['source'].split(' (')[0]}). It corrects `register.recheck_correction` = {c:g} of the "
            "errors each way, so the model's register held about "
            f"{_num(added / c) if c > 0 else 'n/a'} never-registered poor and {_num(removed / c) if c > 0 else 'n/a'} "
            f"wrongly registered people when it ran; the facts' counts at the same share imply about "
            f"{_num(fa / c) if c > 0 else 'n/a'} and {_num(fr / c) if c > 0 else 'n/a'} nationally.")

    # --- return monitoring
    ms = int(par("monitoring.start_year"))
    if ms in years:
        mon = float(m.at[yN, "monitored_people"])
        scale = float(par("monitoring.scale"))
        out.append(
            f"Return monitoring (from {ms}): {_num(mon)} people under monitoring at the end of {yN}, "
            f"{_pct(_share(mon, base))} of the start register, against the guidance's about 5% (at most 10%; "
            f"`monitoring.scale` = {scale:g} of each county's start register, taken in order of income left after "
            f"rigid spending among exited and never-registered households below "
            f"{par('monitoring.range_multiple'):g} times the line or hit by rigid spending).{lumpy}")

    # --- microcredit
    mc = defaults_check(m, _term(scenario))
    if mc["made"] > 0:
        due = (f"; over the {_num(float(m.loc[m.index <= mc['due_by'], 'microcredit_loans_made'].sum()))} loans made "
               f"by {mc['due_by']}, which have fallen due by {yN}, {_pct(mc['due_share'])}"
               if mc["due_by"] is not None and mc["due_by"] >= y0 else
               f"; no loan made in the horizon has run its {int(_term(scenario))}-year term before {yN}")
        out.append(
            f"Microcredit: {_num(mc['made'])} loans made, {_num(mc['defaults'])} defaults "
            f"({_pct(mc['share'])} of loans made{due}) and {_num(mc['extensions'])} extensions, against an "
            f"overdue rate of {DEFAULT_OVERDUE[0]:.2%} reported ({DEFAULT_OVERDUE[1]}). Interest is paid "
            "yearly from poverty funds, the principal at maturity; a shortfall is extended up to "
            f"`microcredit.max_extensions` = {int(par('microcredit.max_extensions', yN - 1))} times "
            f"({int(par('microcredit.max_extensions'))} in {yN}) before what is unpaid is a default; projects "
            f"return {par('microcredit.project_return_mean'):.0%} ± {par('microcredit.project_return_sd'):.0%} "
            "a year before price and disaster shocks (`microcredit.project_return_mean`, `_sd`).")

    # --- exit routes against the plan's batches
    routes = table[table["series"].str.startswith("cumulative_exit_route_")]
    if len(routes):
        total = float(exits.sum())
        parts = [f"`{r.series.removeprefix('cumulative_exit_route_')}` {_num(r.model_mean)} against "
                 f"{_num(r.target)} ({r.ratio:.2f} times)" for r in routes.itertuples()]
        mains = cause_shares_frame(m)
        out.append(
            "Exit routes (section 4.3) against the measure plan: " + "; ".join(parts) + f", of {_num(total)} "
            "exits. A route counts the people a measure carried over the exit threshold in their exit year "
            "(without what it paid them they would be below it) or whose recorded main cause it removed "
            "(medical assistance for a main cause of illness, education support for schooling, relocation). "
            f"Illness is the main cause of {_pct(mains.at[y0, 'illness'])} of the registered at the end of {y0} "
            f"and schooling of {_pct(mains.at[y0, 'schooling'])} (section 6.1), so every exit that medical "
            "assistance reached counts for it and few count for education.")

    # --- measures with plans of their own, places and incomes
    relo = table[table["series"] == "relocated_people"]
    if len(relo):
        r = relo.iloc[-1]
        word = "overshoots" if r.ratio > 1 + r.tolerance else ("falls short of" if r.ratio < 1 - r.tolerance
                                                               else "meets")
        out.append(
            f"Relocation {word} the plan: {_num(r.model_mean)} people relocated by {r.year} against "
            f"{_num(r.target)} ({r.ratio:.2f} times). The yearly quota is `relocation.share_per_year` "
            f"({par('relocation.share_per_year'):g}) of the people eligible at the start (supported, in a place "
            "meeting a relocation criterion), so the total follows from the profile's shares of such places, "
            "not from the plan's count.")
    if "reached_people_housing" in m and m["reached_people_housing"].sum() > 0:
        h = m["reached_people_housing"]
        out.append(
            f"Housing: {_pct(_share(h.iloc[0], h.sum()))} of the people reached by dangerous-house renovation over "
            f"the horizon are reached in {y0} ({_num(h.iloc[0])}): `housing.households_per_year_share` = "
            f"{par('housing.households_per_year_share'):g} of the supported households in unsafe houses each year "
            "(an assumption), which clears the safe-housing guarantee of exit early.")
    ex = scenario.profile.data["exit"]
    if ex["rule"] == "relative":
        share = ex["relative_share"]["value"]
        first = share * scenario.profile.dated("exit.reference_income", y0)
        last = share * scenario.profile.dated("exit.reference_income", yN)
        line = float(m["poverty_line"].iloc[0])
        out.append(
            f"Exit rule: a labor-capable household exits at {share:.0%} of the provincial rural average, "
            f"{_num(first)} yuan in {y0} and {_num(last)} in {yN} (the profile's exit rule), {first / line:.1f} "
            f"times the {_num(line)}-yuan line of registration; those without full labor exit at the line with "
            f"dibao. This is why the plans go unfilled ({_num(unfilled.sum())} people over the horizon).")
    villages = table[table["series"] == "villages_exited"]
    if len(villages) and not villages["within"].all():
        rule = (f"its registered people fall below {ex['village_incidence']['value']:.0%} of its people"
                if ex["village_rule"] == "incidence" else
                f"its income per head reaches {ex['village_income_share']['value']:.0%} of the provincial average")
        out.append(
            f"Village exits: a poor village exits when {rule} (the profile's rule), a threshold a village's "
            "weighted rows cross in lumps (see the band), and the model's village exits follow its own register, "
            "not the plan's list: " + ", ".join(f"{r.year} {_num(r.model_mean)} against {_num(r.target)}"
                                                for r in villages.itertuples()) + ".")
    inc = table[table["series"] == "mean_income_per_capita"]
    if len(inc) > 1:
        a0, a1 = inc.iloc[0], inc.iloc[-1]
        out.append(
            f"Income: the model's mean per-capita net income, transfers counted, is {a0.ratio:.2f} times NBS's "
            f"disposable income in {a0.year} and grows {a1.model_mean / a0.model_mean - 1:.0%} to {a1.year} against "
            f"NBS's {a1.target / a0.target - 1:.0%}. The synthesis draws incomes before dibao to the profile's "
            "mean; earnings grow at NBS's rates (`economy.income_growth`) and the measures' transfers, wages "
            "and dividends come on top.")
    for series, g in table[table["relation"] == "at_least"].groupby("series", sort=False):
        if g["within"].all() and g["ratio"].mean() > 1.5:
            out.append(f"`{series}` meets its minimum by {g['ratio'].mean():.1f} times on average: a minimum says "
                       "nothing against too many.")
    return out


def cause_shares_frame(m: pd.DataFrame) -> pd.DataFrame:
    """Main-cause shares from yearly means (as `cause_shares`, from a frame already averaged)."""
    cols = [f"registered_poor_people_cause_{c}" for c in cause_names()]
    reg = m["registered_poor_people"].where(m["registered_poor_people"] > 0)
    shares = m[cols].div(reg, axis=0)
    shares.columns = cause_names()
    return shares


def _compare(model: float, fact: float) -> str:
    return f"{_pct(model)} against {_pct(fact)} ({model / fact:.2f} times)" if fact else _pct(model)


def build_report(p: Plan, df: pd.DataFrame, cal: Calibration, out_dir: Path, command: str) -> str:
    """The report's Markdown; writes its figures into `out_dir/figures`."""
    figdir = out_dir / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    frames = {name: df[df["scenario"] == name] for name in p.names()}
    scen = {name: sc for name, sc, _, _ in p.runs}
    roles = {name: role for name, _, _, role in p.runs}
    targets_of = {name: t for name, _, t, _ in p.runs}
    regions = [CALIBRATION_REGION, *OTHER_REGIONS]
    all_names = [*regions, NATIONAL]
    seed = p.seeds[0]
    starts = {name: start_state(scen[name], seed) for name in all_names}
    diags = {name: diagnostics(frames[name], scen[name]) for name in p.names() if roles[name] != "reference"}
    band = band_label(len(p.seeds))
    fits = {name: fit(frames[name], targets_of[name]) for name in p.names() if targets_of[name]}
    nd = {name: name + NO_DEADLINE_SUFFIX for name in NO_DEADLINE_OF}
    judged = judged_figures({n: frames[n] for n in all_names}, fits[CALIBRATION_REGION],
                            open_until={n: _open_until(scen[n]) for n in all_names},
                            terms={n: _term(scen[n]) for n in all_names})

    plot_fit(frames, [r for r in p.runs if r[0] != NATIONAL], figdir / "validation_fit.png")
    plot_national(frames[NATIONAL], frames.get(nd[NATIONAL]), targets_of[NATIONAL],
                  figdir / "validation_national.png", cal.calibrated)
    plot_causes(frames, all_names, figdir / "validation_causes.png")
    plot_returns(frames, all_names, figdir / "validation_returns.png")
    plot_income(frames, all_names, figdir / "validation_income_paths.png")

    hh = {name: int(sc.households) for name, sc in scen.items()}
    L = ["# Validation", "",
         f"Generated by `{command}` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC at commit "
         f"{_git_commit()}: {len(p.seeds)} seeds per scenario (the same seeds for all, spawned from "
         f"{ROOT_SEED}), household rows per run: "
         + ", ".join(f"{n} {hh[n]:,}" for n in all_names) + ". Do not edit by hand: regenerate it.", ""]
    if cal.calibrated:
        L += [f"Calibrated values from `{_rel(cal.file)}` ({cal.how}), carried over unchanged to every "
              "region and to the national scenario:", ""]
        L += [f"- `{k}` = {_num(v)}" for k, v in sorted(cal.values.items())]
        L += [""]
    else:
        L += ["> **Not calibrated.** No calibrated scenario file was given (`--calibrated FILE`, the output of "
              "`povsim calibrate` on Shangluo), so every run below uses the parameter files' defaults, except "
              "where a scenario file sets a value itself (the national file copies values from an earlier "
              "calibration, section 3). The "
              "'calibration' section shows how the uncalibrated model meets Shangluo's schedule, and the other "
              "sections test the same uncalibrated model out of sample.", ""]
    L += ["How to read the tables: *target* is the plan's or statistic's number with its relative tolerance "
          "(`±`: either way; `≥`: a minimum, met when the model is at most the tolerance below it); "
          f"*model mean* is the mean over seeds, *band* the {band} range of single runs over seeds; *met* "
          "says whether the mean is within the tolerance. Targets from a plan are what the region set out to "
          "do, not observations: a region that met its plan would sit on them. Every other figure is a mean "
          "over seeds.", ""]

    # --- summary
    L += ["## Summary", "", "The figures the project judges the model by, computed from the runs (section 5 says "
          "how each is computed; nothing is tuned to them):", ""]
    for j in judged:
        L.append(f"- ({j.key}) {j.claim}: {_verdict_word(j.met)}. {j.summary[0].upper()}{j.summary[1:]}.")
    big = next((n for n, _, _, role in p.runs if role == "rows check"), None)
    if big in fits:
        L.append(f"- (a) with {hh[big]:,} household rows and the same parameters (section 1): "
                 f"{verdict(fits[big])}.")
    L.append("- Section 5.1 shows how far (b) and (d) rest on assumptions no target pins down, each halved in "
             "turn on every region.")
    L += ["", "Targets:", ""]
    for n in all_names:
        role = {"calibration": "calibration region", "out of sample": "out of sample",
                "national": "national, out of sample"}[roles[n]]
        L.append(f"- **{n}** ({role}): {verdict(fits[n])}. {by_series(fits[n])}")
    L += ["", "- At the end of the horizon the register holds "
          + ", ".join(f"{n} {_pct(diags[n]['end']['register_share'])}" for n in all_names)
          + " of the register built at the start (section 7 says why)."]
    for n in NO_DEADLINE_OF:
        v, base = diags[nd[n]]["end"], diags[n]["end"]
        L.append(f"- Without the plan and the deadline (section 4.2), {n} ends {v['year']} with "
                 f"{_pct(v['register_share'])} of its start register still registered, against "
                 f"{_pct(base['register_share'])} with them.")
    L += [""]

    # --- calibration
    name = CALIBRATION_REGION
    L += ["## 1. Calibration region: Shangluo", "",
          f"Scenario `{_rel(scen[name].file)}`, {scen[name].start_year}-{scen[name].end_year}. "
          f"{verdict(fits[name])}.", ""]
    ref = name + UNCALIBRATED_SUFFIX
    if ref in fits:
        after = loss(frames[name], targets_of[name])
        L += [f"Uncalibrated (defaults): {verdict(fits[ref])}, loss {loss(frames[ref], targets_of[ref]):.1f}; "
              f"calibrated: {verdict(fits[name])}, loss {after:.1f} (the loss "
              "calibration minimises: the weighted mean of squared errors of the mean over seeds, in units of "
              "each target's tolerance, so 1 is a fit at the edge of the tolerance; here on this report's seeds "
              "and households).", ""]
    L += ["The measure plan's batch numbers (004 ch.2: people to be lifted out through each route) are compared "
          "like with like, with the model's *exit routes*: the people in households that exited in the year "
          "whom a measure carried over the exit threshold (without what the measure paid them that year their "
          "per-capita income would have been below it; when no single measure was needed but all of them "
          "together were, the one that paid most), or whose recorded main cause it removed (relocation for a "
          "relocated household, medical assistance for a main cause of illness it reached, education support "
          "for schooling), summed over the plan's years (`cumulative_exit_route_*`; docs/ODD.md: exit routes; "
          "sim/exit_routes.py). A household can count for several routes, as the plans' batches overlap.", ""]
    L += fit_markdown(fits[name], band) + ["", "Sources:", ""] + sources_markdown(fits[name]) + [""]
    if big in fits:
        L += [f"The same parameters with {hh[big]:,} household rows instead of {hh[name]:,} (about "
              f"{hh[big] / scen[big].profile.value('population.villages'):.0f} rows a village instead of "
              f"{hh[name] / scen[name].profile.value('population.villages'):.0f}): {verdict(fits[big])}. "
              f"{by_series(fits[big])} A village of few rows meets its incidence standard all at once when its "
              "last registered rows exit, so village exits fall as rows grow (section 7).", ""]
        L += fit_markdown(fits[big], band) + [""]
    L += ["![targets and model](figures/validation_fit.png)", ""]

    # --- out of sample
    L += ["## 2. Out of sample: the other regions, without refitting", "",
          "The same parameter values on the other regions' shipped scenarios (their own profiles, lines, "
          "measures, exit rules, plans and deadlines).", ""]
    for region in OTHER_REGIONS:
        sc = scen[region]
        L += [f"### {region.capitalize()}", "",
              f"Scenario `{_rel(sc.file)}`, {sc.start_year}-{sc.end_year}. {verdict(fits[region])}.", ""]
        L += fit_markdown(fits[region], band) + ["", "Sources:", ""] + sources_markdown(fits[region]) + [""]

    # --- national
    sc = scen[NATIONAL]
    d = diags[NATIONAL]
    L += ["## 3. National, 2014-2020, out of sample", "",
          f"Scenario `{_rel(sc.file)}`: the national profile with the measures scaled up by year as facts.md "
          "describes them (lines, microcredit from 2015, relocation 2016-2020, public-welfare jobs), and "
          + ("the parameters calibrated on Shangluo, " if cal.calibrated else
             "the parameter values the file sets (those it copies from an earlier calibration on Shangluo are "
             "listed below) and the defaults for the rest, ")
          + "not refitted to these figures; the 2015-16 re-check's counts are checked as the model's "
          "`recheck_added_people` and `recheck_removed_people` of 2015 (the re-check is applied at the 2015 "
          f"assessment). {verdict(fits[NATIONAL])}.", ""]
    kept = national_kept(p.national_file, cal) if cal.calibrated and p.national_file is not None else []
    if kept:
        L += ["Calibrated values against the national file's own settings:", ""] + [f"- {k}" for k in kept] + [""]
    copied = file_calibrated(p.national_file) if p.national_file is not None and not cal.calibrated else {}
    if copied:
        L += ["Values the national file copies from an earlier calibration on Shangluo (their sources say so), "
              "used here although no calibrated file was given:", ""]
        L += [f"- `{k}` = {v}" for k, v in sorted(copied.items())] + [""]
    L += fit_markdown(fits[NATIONAL], band)
    L += ["", "Sources:", ""] + sources_markdown(fits[NATIONAL]) + [""]
    counties = per_seed(frames[NATIONAL], "poor_counties")
    e = d["end"]
    L += [f"Everyone out by the end of 2020 (facts.md: The national register: all 89.62 M registered poor, "
          "128,000 villages and 832 counties out by end-2020; a target of 0, so it is judged here against "
          f"the {END_MAX_SHARE:.0%} criterion, not as a series): the model leaves {_num(e['register'])} people on "
          f"the register ({_pct(e['register_share'])} of the {_num(e['base'])} registered in {d['years'][0]}), "
          f"{_num(e['cohort'])} of them from the start cohort ({_pct(e['cohort_share'])}), "
          f"{_num(float(counties.iloc[:, -1].mean()))} poor counties and "
          f"{_num(float(per_seed(frames[NATIONAL], 'poor_villages').iloc[:, -1].mean()))} poor villages: "
          f"{_verdict_word(e['met'])}.", ""]
    L += ["![national](figures/validation_national.png)", ""]

    # --- the register year by year
    L += ["## 4. The register as an administrative process", "",
          "The register is built once in the start year by quota and village appraisal, adjusted once a year "
          "on application within county quotas (new entries and returns), re-checked in 2015, emptied on the "
          "counties' yearly exit plans towards each region's deadline and, from 2020, watched by return "
          "monitoring (sim/register_build.py, sim/adjustment.py, sim/exits.py, sim/monitoring.py).", "",
          "### 4.1 Year by year", "",
          "Means over seeds. *Start cohort*: households of the register built in the start year. ¹ New entries "
          "at the yearly adjustment, without the re-check's additions (shown apart; `new_poor_people` includes "
          "them). ² What the counties' plans set out to exit (0 when no plan limits exits); *plan unfilled*: "
          "planned exits that found no qualifying household; *exits under pressure*: certified while measured "
          "just below the threshold; *monitored*: under return monitoring at the end of the year. "
          "³ Households, in the same unit as people.", ""]
    for n in all_names + [nd[x] for x in NO_DEADLINE_OF]:
        md = diags[n]
        unit = _unit(md["base"])
        L += [f"**{n}** (people, {'millions' if unit[1] == 'M' else 'thousands'}):", ""]
        L += register_table(md["m"], unit) + [""]

    L += ["### 4.2 Without the deadline", "",
          "The national and the Shangluo scenario again with `exit.plan_rule = \"qualifying\"` "
          "(policies/parameters/poverty.toml): every household meeting the exit standard exits in the year it "
          "does, with no county plan, no deadline and so no target pressure; same seeds, same store. The "
          "difference is what the plans and the deadline impose.", ""]
    for n in NO_DEADLINE_OF:
        a, b = diags[n]["m"], diags[nd[n]]["m"]
        unit = _unit(diags[n]["base"])
        cum = a["exits_people"].cumsum() - b["exits_people"].cumsum()
        L += [f"**{n}** (people, {'millions' if unit[1] == 'M' else 'thousands'}; *plan*: the scenario, "
              "*none*: the variant):", "",
              "| year | registered, plan | registered, none | start cohort, plan | start cohort, none | exits, plan "
              "| exits, none | cumulative exits, plan − none | planned | unfilled | under pressure | returns, plan "
              "| returns, none | new entries, plan | new entries, none |",
              "| ---: " * 15 + "|"]
        for y in a.index:
            before = [a.at[y, "registered_poor_people"], b.at[y, "registered_poor_people"],
                      a.at[y, "start_cohort_registered_people"], b.at[y, "start_cohort_registered_people"],
                      a.at[y, "exits_people"], b.at[y, "exits_people"]]
            after = [a.at[y, "planned_exits_people"], a.at[y, "plan_unfilled_people"],
                     a.at[y, "exits_under_pressure_people"], a.at[y, "returns_people"], b.at[y, "returns_people"],
                     new_entries(a)[y], new_entries(b)[y]]
            moved = ("−" if cum[y] < -0.5 else "") + _in(abs(float(cum[y])), unit)
            L.append(f"| {int(y)} | " + " | ".join([*(_in(float(v), unit) for v in before), moved,
                                                    *(_in(float(v), unit) for v in after)]) + " |")
        ahead, behind = int(cum.idxmax()), int(cum.idxmin())
        ea, eb = diags[n]["end"], diags[nd[n]]["end"]
        L += ["", f"What the plan and the deadline impose: by the end of {behind} they have held back "
              f"{_num(max(-cum[behind], 0.0))} exits that the standard alone would have allowed"
              + (f"; by the end of {ahead} they have moved {_num(cum[ahead])} forward" if cum[ahead] > 0.5 else
                 "; at no year end are they ahead of the standard alone")
              + f". {_num(a['exits_under_pressure_people'].sum())} people were certified under pressure and "
              f"{_num(a['plan_unfilled_people'].sum())} planned exits went unfilled over the horizon. What emerges "
              f"without them: at the end of {eb['year']} the variant leaves {_num(eb['register'])} people registered "
              f"({_pct(eb['register_share'])} of the start register; start cohort {_num(eb['cohort'])}, "
              f"{_pct(eb['cohort_share'])}), against {_num(ea['register'])} ({_pct(ea['register_share'])}; start "
              f"cohort {_num(ea['cohort'])}, {_pct(ea['cohort_share'])}) with them; returns over the horizon "
              f"{_num(b['returns_people'].sum())} against {_num(a['returns_people'].sum())}.", ""]

    L += ["### 4.3 Exit routes by batch", "",
          "People who exited over each scenario's horizon, by the batch of measures that carried them out (exit "
          "routes, section 1; a household counts once per batch, and for every batch one of whose measures is "
          "credited, so the batches add to more than the exits). The national formulation's five batches "
          "(004 ch.1 §1) first, then Guangyuan's grouping (003 §二(四)), which the Shangluo targets use for "
          "production and employment; in brackets the share of the scenario's exits.", ""]
    from sim.measure import BATCH_NAMES
    L += ["| batch | " + " | ".join(all_names) + " |", "| --- | " + " | ".join("---:" for _ in all_names) + " |"]
    ex_tot = {n: float(diags[n]["m"]["exits_people"].sum()) for n in all_names}
    L.append("| *all exits* | " + " | ".join(_num(ex_tot[n]) for n in all_names) + " |")
    for b in BATCH_NAMES:
        col = f"exit_route_batch_people_{b}"
        vals = [float(diags[n]["m"][col].sum()) if col in diags[n]["m"] else math.nan for n in all_names]
        L.append(f"| {b.replace('_', ' ')} | " + " | ".join(
            f"{_num(v)} ({_pct(_share(v, ex_tot[n]))})" for v, n in zip(vals, all_names)) + " |")
    L += [""]

    # --- the judged figures
    L += ["## 5. The judged figures", "",
          "Each computed from the means over seeds of the runs above, never tuned to:", ""]
    for j in judged:
        L += [f"**({j.key})** {j.claim}: {_verdict_word(j.met)}.", ""]
        if j.key == "a":
            L += [f"{j.detail} (section 1).", ""]
        elif j.key == "b":
            L += ["How it is tested: the yearly ratio of returns to exits, from the second simulated year (no "
                  "household can return in the year the register is built), must stay under "
                  f"{RETURNS_MAX_SHARE:.0%} in every year. For *falling*, the years from the second up to the "
                  "last before return monitoring begins (from then an applicant must have been monitored since "
                  "an earlier year, so the first monitoring year has no returns by rule and would make any fall "
                  "trivial) are split in two, the first half rounded up; the ratio of returns to exits pooled "
                  "over the last (at most two) years must be below the largest yearly ratio of the first half.",
                  "", "| scenario | returns / exits, per year | over the horizon | first years: peak | last years "
                  "| under | falls |", "| --- | --- | ---: | --- | --- | :---: | :---: |"]
            for n in all_names:
                r = returns_check(diags[n]["m"], _open_until(scen[n]))
                L.append(f"| {n} | " + ", ".join(f"{y}: {_pct(v)}" for y, v in r["ratio"].items())
                         + f" | {_pct(r['total'])} | "
                         + (f"{_pct(r['peak'])} ({r['peak_year']})" if r["peak_year"] else "n/a") + " | "
                         + (f"{_pct(r['late_ratio'])} ({_years(r['late'])})" if r["late"] else "n/a") + " | "
                         + f"{_yes(r['under'])} | {_yes(r['falls'])} |")
            L += ["", "The claim's words (returns ... fall after the first years) can also be read of the "
                  "count of returns rather than of its ratio to exits; the verdict above takes the ratio, the "
                  "stricter reading. The count, split the same way (not judged): the yearly mean of the last "
                  "years against the largest yearly count of the first half.", "",
                  "| scenario | returns per year (people) | first years: largest | last years: mean a year "
                  "| falls |", "| --- | --- | ---: | ---: | :---: |"]
            for n in all_names:
                m = diags[n]["m"]
                r = returns_check(m, _open_until(scen[n]))
                L.append(f"| {n} | " + ", ".join(f"{y}: {_num(m['returns_people'][y])}" for y in r["ratio"])
                         + " | " + (_num(r["count_peak"]) if r["late"] else "n/a") + " | "
                         + (f"{_num(r['count_late'])} ({_years(r['late'])})" if r["late"] else "n/a") + " | "
                         + f"{_yes(r['count_falls'])} |")
            L += [""]
        elif j.key == "c":
            L += ["How it is tested: new entries at the yearly adjustment (`new_poor_people` less "
                  "`recheck_added_people`) over exits, in every year from the second simulated year (the first "
                  f"adjustment comes with the register's first year); each yearly ratio must stay under "
                  f"{ENTRIES_MAX_SHARE:.0%}. The re-check's additions and removals are reported apart.", "",
                  "| scenario | new entries / exits, per year | over the horizon | re-check added | re-check removed "
                  "| met |", "| --- | --- | ---: | ---: | ---: | :---: |"]
            for n in all_names:
                c = entries_check(diags[n]["m"])
                L.append(f"| {n} | " + ", ".join(f"{y}: {_pct(v)}" for y, v in c["ratio"].items())
                         + f" | {_pct(c['total'])} | {_num(c['recheck_added'])} | {_num(c['recheck_removed'])} | "
                         f"{_yes(c['met'])} |")
            L += [""]
        elif j.key == "d":
            L += ["How it is tested: microcredit defaults over loans made, both summed over the horizon "
                  "(households). Loans made in the last years cannot have fallen due by the end, so the share "
                  "over the loans made early enough to have run their term is shown beside it (not judged).", "",
                  "| scenario | loans made | defaults | defaults / loans made | loans due by the end: defaults / "
                  "loans | extensions | met |", "| --- | ---: | ---: | ---: | --- | ---: | :---: |"]
            for n in all_names:
                c = defaults_check(diags[n]["m"], _term(scen[n]))
                due = (f"{_pct(c['due_share'])} (made by {c['due_by']})"
                       if c["due_by"] is not None and c["due_by"] >= diags[n]["years"][0] else "none due")
                L.append(f"| {n} | {_num(c['made'])} | {_num(c['defaults'])} | {_pct(c['share'])} | {due} | "
                         f"{_num(c['extensions'])} | {_yes(c['met'])} |")
            L += [""]
        else:
            L += [f"{j.detail}: the register and the start cohort at the end of the horizon over the register "
                  "built in the start year as the runs have it (the start cohort registered at the end of the "
                  "first year, plus its exits and re-check removals that year; the profile's register is "
                  f"{_num(diags[NATIONAL]['profile_register'])}, split into quotas by whole sample rows). Section 3.", ""]
    L += ["![returns and entries](figures/validation_returns.png)", ""]
    L += sensitivity_markdown(diags, scen, regions)

    # --- patterns
    L += ["## 6. Pattern checks", "", "### 6.1 Composition of the registered poor by cause", "",
          "Causes are recorded when a household is registered (sim/register.py: diagnose), against its situation "
          "then, and recorded again for every household left on the register at the re-check "
          "(sim/adjustment.py), with a main cause: the first recorded cause in the official order (illness, "
          "disability, schooling, disaster, marriage, land, water, skills, capital, labor, transport, "
          "motivation). Illness is recorded when the year's out-of-pocket medical costs exceed "
          "`register.illness_cause_share` of income (at the start, the costs a household of its make-up can "
          "expect) or a chronically ill member leaves the household short of full labor; so illness is the "
          "main cause exactly when it is recorded. 'Any' = the multi-select share (the recorded causes include "
          "it), which is what facts.md reports. Shares are of registered people at the end of the year, so "
          "outside the re-check year they change only with who enters and who leaves.", "",
          "| scenario | year | illness, any | disability, any | largest main causes |",
          "| --- | ---: | ---: | ---: | --- |"]
    for n in all_names:
        f = frames[n]
        shares = cause_shares(f)
        ill, dis = any_cause_share(f, "illness"), any_cause_share(f, "disability")
        for yr in (shares.index[0], shares.index[-1]):
            others = shares.loc[yr].sort_values(ascending=False).head(4)
            L.append(f"| {n} | {yr} | {_pct(ill[yr])} | {_pct(dis[yr])} | "
                     + ", ".join(f"{c} {_pct(v)}" for c, v in others.items()) + " |")
    f = frames[NATIONAL]
    ill, dis = any_cause_share(f, "illness"), any_cause_share(f, "disability")
    y0 = int(ill.index[0])
    ry = int(_par(scen[NATIONAL], "register.recheck_year", y0))
    L += ["", "National, against facts.md (pattern checks, not targets; the model's shares are of people, the "
          "illness figures of households):", "",
          f"- illness among the recorded causes, end of {y0}: {_compare(ill[y0], CAUSE_FACTS['illness'][0])} "
          f"({CAUSE_FACTS['illness'][1]});"]
    if ry in ill.index:
        L += [f"- illness after the re-check, end of {ry}: {_compare(ill[ry], CAUSE_FACTS['illness_recheck'][0])} "
              f"({CAUSE_FACTS['illness_recheck'][1]});"]
    L += [f"- disability, end of {y0}: {_compare(dis[y0], CAUSE_FACTS['disability'][0])} "
          f"({CAUSE_FACTS['disability'][1]}).", ""]
    over = ill[y0] / CAUSE_FACTS["illness"][0]
    if over > 1.25:
        share = _par(scen[NATIONAL], "register.illness_cause_share", y0)
        L += [f"The start-year record has illness {over:.1f} times as often as the cadres' record. At the start "
              "the model records causes against the out-of-pocket costs a household of its make-up can expect "
              f"(the start year's own are not known yet), and illness when they exceed {share:.0%} of income"
              + (f". Recorded again at the re-check against the year's actual costs, the share is "
                 f"{_pct(ill[ry])} at the end of {ry}: the expected costs record illness far more often than the "
                 "actual ones." if ry in ill.index and ry != y0 and ill[ry] < 0.8 * ill[y0] else ".")
              + " Everything read off the main cause (the medical-assistance exit route, section 7) inherits the "
                "start-year record where no re-check follows it.", ""]
    shifts = {}
    for n in all_names:
        fr = frames[n]
        shifts[n] = {c: (any_cause_share(fr, c).iloc[0], any_cause_share(fr, c).iloc[-1])
                     for c in ("illness", "disability", "labor")}
    rising = [n for n in all_names if shifts[n]["disability"][1] > shifts[n]["disability"][0]
              and shifts[n]["labor"][1] > shifts[n]["labor"][0]]
    L += ["Expected pattern: as those who can work exit, the register's remainder shifts towards households "
          "that cannot (disability, lack of labor), whom the plans cover by dibao (002 §3). With causes recorded "
          "at registration (and at the re-check) the shift comes from who exits and who enters. Disability and lack of labor "
          f"(any) both gain share from the first to the last year in {len(rising)} of {len(all_names)} scenarios"
          + (f" ({', '.join(rising)})" if rising else "") + ": "
          + "; ".join(f"{n} disability {_pct(v['disability'][0])} → {_pct(v['disability'][1])}, labor "
                      f"{_pct(v['labor'][0])} → {_pct(v['labor'][1])}, illness {_pct(v['illness'][0])} → "
                      f"{_pct(v['illness'][1])}" for n, v in shifts.items())
          + ". Where dibao tops up households without labor to a line above the poverty line (two lines in one), "
            "they meet the income standard and leave the register early instead.",
          "", "![causes](figures/validation_causes.png)", ""]

    L += ["### 6.2 Returns relative to exits", "",
          "An exited household returns only through the yearly adjustment: cadres measure its income below the "
          "line, it applies (`register.application_chance`), the village appraises it and the county admits "
          "it within its quota for new entries and returns together (`register.adjustment_quota` of the "
          "county's register at the start of the year, which shrinks as the register empties); from 2020 it must first have been under return monitoring, and so "
          "helped, since an earlier year. Support stays with exited households (jobs, posts, shares; support "
          "continues for `exit.support_years_after_exit` years). No source gives a return rate by region (the national counts are below); the expected "
          "pattern is returns a small share of exits, falling as support builds up (section 5, (b)).", "",
          "| scenario | exits over the horizon | returns | returns / exits | largest yearly returns / exits | "
          "start cohort returns |", "| --- | ---: | ---: | ---: | --- | ---: |"]
    for n in all_names:
        m = diags[n]["m"]
        r = returns_check(m, _open_until(scen[n]))
        y, big = r["largest"]
        L.append(f"| {n} | {_num(m['exits_people'].sum())} | {_num(m['returns_people'].sum())} | "
                 f"{_pct(_share(m['returns_people'].sum(), m['exits_people'].sum()))} | {y}: {_pct(big)} | "
                 f"{_num(m['start_cohort_returns_people'].sum())} |")
    pool, by_pool = [], []
    for n in all_names:
        m = diags[n]["m"]
        r = returns_check(m, _open_until(scen[n]))
        if not r["early"]:
            continue
        exited_before = m["exited_people"].shift(1)
        rate = lambda ys: _share(m.loc[ys, "returns_people"].sum(), exited_before[ys].sum())  # noqa: E731
        early = _share(m.loc[r["early"], "returns_people"].sum(), m.loc[r["early"], "exits_people"].sum())
        pool.append(f"{n} {_pct(rate(r['early']))} ({_years(r['early'])}) → {_pct(rate(r['late']))} "
                    f"({_years(r['late'])}), against exits {_pct(early)} → {_pct(r['late_ratio'])}")
        if r["late_ratio"] > early and rate(r["late"]) <= rate(r["early"]) * 1.05:
            by_pool.append(n)
    L += [""] + waiting_markdown({n: diags[n]["m"] for n in all_names})
    if NATIONAL in diags:
        L += [""] + national_returns_markdown(diags[NATIONAL]["m"])
    L += ["", "Exits fill a pool from which returns come, so returns are read both against the year's exits "
          "(pooled over the same first and last years as the judged test) and against the people exited and not "
          "returned at the end of the year before: " + "; ".join(pool) + ". "
          + (f"In {', '.join(by_pool)} the rate per exited person does not rise (by more than 5%) while the "
             "ratio to exits does: the rise comes from the exited pool growing while the plans' exits shrink "
             "towards the deadline, not from exited households falling back more often."
             if by_pool else "In no scenario does the ratio to exits rise while the rate per exited person stays "
                             "level."), "",
          "![returns](figures/validation_returns.png)", ""]

    L += ["### 6.3 Income paths of relocated and of microcredit households", "",
          "Mean per-capita net income, transfers counted (the income the register tests; medical and school "
          "costs act through savings and debt, not here), of households ever registered, of relocated "
          "households and of households that ever borrowed microcredit (repaid, running, extended or "
          "defaulted). No source gives these paths; the patterns expected from the measures' rules are a dip in "
          "the move year (lost harvest), then relocated households catching up with the ever-registered through "
          "land rent and jobs near towns; borrowers starting above the ever-registered (take-up rises with "
          "skills) and gaining from project returns (gains partly reinvested, losses counted as income).", "",
          "| scenario | year | ever registered | relocated | relocated / ever registered | ever borrowed | "
          "borrowers / ever registered |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for n in all_names:
        paths = income_paths(frames[n])
        for yr in paths.index:
            r = paths.loc[yr]
            ev, rel, mc = r["ever registered"], r["relocated"], r["ever borrowed microcredit"]
            L.append(f"| {n} | {yr} | {_num(ev)} | {_num(rel)} | {_ratio(rel, ev)} | {_num(mc)} | "
                     f"{_ratio(mc, ev)} |")
    found, trend = [], {"relocated": [], "ever borrowed microcredit": []}
    for n in all_names:
        paths = income_paths(frames[n])
        parts = []
        for group in trend:
            r = (paths[group] / paths["ever registered"]).dropna()
            if len(r) > 1:
                parts.append(f"{group} {r.iloc[0]:.2f} ({int(r.index[0])}) → {r.iloc[-1]:.2f} ({int(r.index[-1])})")
                trend[group].append((n, r.iloc[0], r.iloc[-1]))
        if parts:
            found.append(f"{n}: " + ", ".join(parts))
    below = [t for t in trend["relocated"] if t[1] < 1]
    closing = [t[0] for t in below if t[2] > t[1] + 0.02]
    lead = [t for t in trend["ever borrowed microcredit"] if t[1] > 1]
    fading = [t[0] for t in lead if t[2] < t[1] - 0.02]
    L += ["", "Relative to the ever-registered, first year with the group → last year: " + "; ".join(found) + ".",
          "",
          f"Relocated households start below the ever-registered in {len(below)} of {len(trend['relocated'])} "
          "scenarios and close the gap by more than 0.02 in "
          f"{len(closing)} of them" + (f" ({', '.join(closing)})" if closing else "") + ". Borrowers start above "
          f"the ever-registered in {len(lead)} of {len(trend['ever borrowed microcredit'])} (take-up rises with "
          f"skills and motivation), and the lead shrinks in {len(fading)} of them"
          + (f" ({', '.join(fading)})" if fading else "")
          + ": the group grows with households that borrow later, and projects return "
          f"{_par(scen[CALIBRATION_REGION], 'microcredit.project_return_mean', scen[CALIBRATION_REGION].end_year):.0%} "
          "a year on average in Shangluo (`microcredit.project_return_mean`).",
          "", "![income paths](figures/validation_income_paths.png)", ""]

    # --- what fits and why
    L += ["## 7. What fits, what does not, and why", "",
          f"Every number below is measured in this report's runs (means over seeds; the register as built from "
          f"seed {seed}).", ""]
    for n in all_names:
        t = fits[n]
        L += [f"**{n}** ({verdict(t)}). {by_series(t)}", ""]
        variant = diags.get(nd[n]) if n in nd else None
        L += [f"- {w}" for w in _why(n, scen[n], diags[n], t, starts[n], seed, variant)] + [""]
    L += _rows_caveat(scen, all_names)
    L += ["These misfits are left as they are: parameters are changed only by calibration, through the "
          "parameters declared free (`experiments/calibratable.toml`), never to hide a misfit here.", ""]

    L += ["## 8. Reproduce", "", "```", command, "```", "",
          "Runs are stored under the sweep store given by `--runs` (one Parquet file per scenario, seed and "
          "configuration hash, with a manifest); a second call with the same configuration loads them instead "
          "of running them again.", ""]
    return "\n".join(L)


def sensitivity_markdown(diags: dict, scen: dict, regions: list[str]) -> list[str]:
    """Section 5.1: the judged ratios (b) and (d) per region with each of `SENSITIVITY` scaled."""
    factor = f"{SENSITIVITY_FACTOR:g}"
    L = ["### 5.1 What (b) and (d) hinge on", "",
         f"No target pins down the assumptions below (Shangluo's targets hardly move with them), and the "
         f"judged ratios (b) and (d) do. Each is multiplied by {factor} in turn on every region, everything else "
         "as above; the runs show how far the verdicts rest on them and are not used to choose any value. "
         "*Returns / exits*: the largest yearly ratio and whether the ratio falls (as in (b)); *defaults*: "
         "defaults over loans made (as in (d)).", "",
         f"| region | run | returns / exits: largest | falls | under {RETURNS_MAX_SHARE:.0%} | defaults / loans made |",
         "| --- | --- | ---: | :---: | :---: | ---: |"]
    for region in regions:
        runs = [("as above", region)] + [(f"{what}: `{path}` {_num(_par(scen[region], path, scen[region].start_year))}"
                                          f" x {factor}", sensitivity_name(region, path))
                                         for path, what in SENSITIVITY]
        for label, name in runs:
            m = diags[name]["m"]
            r = returns_check(m, _open_until(scen[name]))
            d = defaults_check(m)
            year, big = r["largest"]
            L.append(f"| {region} | {label} | {_pct(big)} ({year}) | {_yes(r['falls'])} | {_yes(r['under'])} | "
                     + ("no loans" if d["met"] is None else _pct(d["share"])) + " |")
    L += [""]
    return L


def _rows_caveat(scen: dict, names: list[str]) -> list[str]:
    """How many household rows stand for a village and a county in these runs: village exits
    and the adjustment's flows depend on it."""
    parts, seen = [], set()
    for n in names:
        sc = scen[n]
        prof = sc.profile
        if prof.name in seen:
            continue
        seen.add(prof.name)
        rows = sc.households or prof.value("default_households")
        villages, counties = prof.value("population.villages"), prof.value("register.counties")
        parts.append(f"{n} {rows / villages:.2g} a village and {rows / counties:,.0f} a county")
    return ["Village exits and the yearly adjustment depend on how many household rows stand for a village "
            "and a county: a village with few rows meets its incidence standard once its last registered rows "
            "exit, all at once, and a county's quota filled by lottery from a few large applicant rows admits "
            "less on average than one filled from many small ones. Rows in these runs: " + "; ".join(parts) +
            ". More rows (`--households`) give fewer village exits and, nationally, more new entries and "
            "returns; compare such figures at equal rows.", ""]


def _yes(v: bool | None) -> str:
    return "n/a" if v is None else ("yes" if v else "**no**")


# ---------------------------------------------------------------------------------------
# command line


class _Usage(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _Usage(message)


def _positive(text: str, what: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise InputError("command line", what, f"expected a whole number, found {text!r}") from None
    if v < 1:
        raise InputError("command line", what, f"expected a positive number, found {v}")
    return v


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="Generate docs/validation.md from stored runs (running what is missing).")
    p.add_argument("--calibrated", metavar="FILE", help="calibrated scenario file (output of povsim calibrate "
                   "on Shangluo); without it the report says the model is uncalibrated")
    p.add_argument("--households", metavar="N", help="household rows per run (default: each scenario's)")
    p.add_argument("--seeds", metavar="N", help=f"seeds per scenario (default {DEFAULT_SEEDS})")
    p.add_argument("--out", metavar="DIR", default=str(REPO / "docs"),
                   help="where validation.md and figures/validation_*.png go (default docs/)")
    p.add_argument("--runs", metavar="DIR", default="results/validation",
                   help="sweep store of the runs (default results/validation/)")
    p.add_argument("--executor", choices=("serial", "process"), default="process")
    p.add_argument("--workers", metavar="N", help="processes of the process executor (default: CPUs)")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        args = parser().parse_args(argv)
        households = _positive(args.households, "--households") if args.households is not None else None
        seeds = _positive(args.seeds, "--seeds") if args.seeds is not None else DEFAULT_SEEDS
        workers = _positive(args.workers, "--workers") if args.workers is not None else None
        cal = read_calibration(args.calibrated)
        p = plan(cal, households, seeds)
        out_dir = Path(args.out)
        runs_dir = Path(args.runs)
        for d, what in ((out_dir, "--out"), (runs_dir, "--runs")):
            if d.exists() and not d.is_dir():
                raise InputError("command line", what, f"{d} exists and is not a directory")
    except _Usage as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except InputError as err:
        if debug:
            traceback.print_exc()
        print(f"{PROG}: error: {' '.join(err.one_line().split())}", file=sys.stderr)
        return 2
    try:
        df = execute(p, runs_dir, args.executor, workers)
        command = " ".join([PROG, *argv])
        text = build_report(p, df, cal, out_dir, command)
        from .store import atomic_write
        atomic_write(out_dir / "validation.md", lambda tmp: tmp.write_text(text, encoding="utf-8"))
    except Exception as exc:  # noqa: BLE001 - one line, exit code 1
        if debug:
            traceback.print_exc()
        print(f"{PROG}: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {out_dir / 'validation.md'} and {len(FIGURES)} figures in {out_dir / 'figures'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

