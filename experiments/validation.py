"""The validation report (docs/validation.md), generated from stored runs.

    python -m experiments.validation [--calibrated FILE] [--households N] [--seeds N]
                                     [--out DIR] [--runs DIR] [--executor serial|process]
                                     [--workers N]

What it does
------------
1. Calibration region: Shangluo (its 2016-2020 exit schedule, village exits and relocation
   plan, 004 ch.2) is the region the free parameters are calibrated on (`povsim calibrate`).
   `--calibrated FILE` is that calibration's output: a scenario file whose `[overrides]` hold
   the calibrated values. Without it the report says, at its top, that the model is
   uncalibrated (parameter files' defaults).
2. Out of sample: the calibrated values of the free parameters (those declared in
   `experiments/calibratable.toml`; without that file, every override of the calibrated
   file that Shangluo's own scenario does not set) are carried over unchanged to the other
   regions' shipped scenarios (Guangdong, Guangyuan, Nanning) and to the national scenario
   (`experiments/scenarios/national.toml`), and compared with their targets: no refitting.
   For the national scenario, whose file dates the roll-out of some measures, a calibrated
   value replaces only the full-scale level, from the last year the file dates on.
3. Pattern checks: composition of the registered poor by main cause over time; returns
   relative to exits; income paths of relocated and of microcredit households.

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
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from sim.errors import InputError
from sim.params import flatten_dotted, load_toml

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

# Composition of the registered poor at registration (multi-select causes), national.
CAUSE_FACTS = {
    "illness": (0.422, "facts.md: Causes (42.2% of registered households, 2013/14; 44.1% after the 2015 re-check)"),
    "disability": (0.144, "facts.md: Causes (14.4% of the poor population, BMC Health Services Research 2022)"),
}

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
    if not file.is_file():
        raise InputError(str(path), "", "no such calibrated scenario file")
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
    """What the report runs: (run name, scenario, targets, role) and the seeds."""

    runs: list[tuple[str, object, list[Target], str]]
    seeds: list[int]
    national_file: object = None  # the national scenario as its file has it, before calibration

    def names(self) -> list[str]:
        return [r[0] for r in self.runs]


def plan(cal: Calibration, households: int | None, seeds: int) -> Plan:
    from .runner import replication_seeds

    runs = []
    scenario, targets = load_region(CALIBRATION_REGION, households)
    if cal.calibrated:
        runs.append((CALIBRATION_REGION + UNCALIBRATED_SUFFIX,
                     apply_calibration(scenario, Calibration(None, {}, ""),
                                       CALIBRATION_REGION + UNCALIBRATED_SUFFIX), targets, "reference"))
    runs.append((CALIBRATION_REGION, apply_calibration(scenario, cal, CALIBRATION_REGION), targets, "calibration"))
    for region in OTHER_REGIONS:
        scenario, targets = load_region(region, households)
        runs.append((region, apply_calibration(scenario, cal, region), targets, "out of sample"))
    scenario, targets = load_national(households)
    runs.append((NATIONAL, apply_calibration(scenario, cal, NATIONAL, rollout=True), targets, "national"))
    return Plan(runs, replication_seeds(ROOT_SEED, seeds), national_file=scenario)


def execute(p: Plan, runs_dir: Path, executor: str, workers: int | None) -> pd.DataFrame:
    """Run what is not stored yet through the sweep store; the frame of this plan's runs."""
    from . import store
    from .executors import make_executor, run_sweep
    from .runner import utc_now
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
    from .runner import band_quantiles
    return band_quantiles(n_seeds)[2]


def per_seed(frame: pd.DataFrame, column: str, cumulative: bool = False) -> pd.DataFrame:
    """Rows = seeds, columns = years, of one column (or its running total)."""
    wide = frame.pivot_table(index="seed", columns="year", values=column, aggfunc="first").sort_index(axis=1)
    return wide.cumsum(axis=1) if cumulative else wide


def _band(values: np.ndarray) -> tuple[float, float]:
    from .runner import band_quantiles
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
# diagnostics: the numbers behind "what fits, what does not, and why"


def _mean_by_year(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame.groupby("year")[column].mean()


def _group_mean(frame: pd.DataFrame, value: str, size: str) -> pd.Series:
    """Mean over seeds of a group's income per person, skipping seeds where the group is empty."""
    f = frame[frame[size] > 0]
    return f.groupby("year")[value].mean()


def start_state(scenario, seed: int) -> dict:
    """The synthesized starting population of a scenario (one seed): how much of the register
    is above the line before anything happens, and how many near-poor people sit close to it."""
    from sim.model import PovertyModel
    from sim.register import registered

    model = PovertyModel(rng=int(seed), **scenario.model_kwargs())
    hh = model.hh
    w = hh.weight.astype(np.float64) * hh.size
    pc = hh.resources / np.maximum(hh.size, 1)
    reg = registered(hh) & (hh.size > 0)
    other = ~registered(hh) & (hh.size > 0)
    line = float(model.line)
    return {"line": line,
            "reg_above_line": float(w[reg & (pc >= line)].sum() / max(w[reg].sum(), 1e-9)),
            "near_line_people": float(w[other & (pc < 1.25 * line)].sum()),
            "register_people": float(w[reg].sum())}


def diagnostics(frame: pd.DataFrame, scenario) -> dict:
    """The model's mechanisms behind known misfits, measured in this run (means over seeds)."""
    y = sorted(int(v) for v in frame["year"].unique())
    start = float(scenario.profile.value("register.people"))
    m = lambda c: _mean_by_year(frame, c)  # noqa: E731
    reg, exits, returns, new = m("registered_poor_people"), m("exits_people"), m("returns_people"), m("new_poor_people")
    d = {"years": y, "register_start": start, "registered": reg, "exits": exits, "returns": returns,
         "new_poor": new, "line": m("poverty_line")}
    d["first_year_exit_share"] = exits.iloc[0] / start
    if len(y) > 1:
        d["second_year_new_share"] = new.iloc[1] / start
    d["new_total_share"] = new.sum() / start
    d["return_rate"] = returns.sum() / exits.sum() if exits.sum() > 0 else math.nan
    made, defaults = m("microcredit_loans_made").sum(), m("microcredit_defaults").sum()
    d["loans_made"], d["defaults"] = made, defaults
    d["default_share"] = defaults / made if made > 0 else math.nan
    housing = m("reached_people_housing") if "reached_people_housing" in frame else None
    if housing is not None and housing.sum() > 0:
        d["housing_first_share"] = housing.iloc[0] / housing.sum()
        d["housing_first"] = housing.iloc[0]
    d["relocated_end"] = m("relocated_people").iloc[-1]
    d["remaining_end"] = reg.iloc[-1]
    if len(y) > 1:
        growth = reg / reg.shift(1)
        d["max_register_growth"] = (int(growth.idxmax()), float(growth.max()))
        line = d["line"]
        jump = (line / line.shift(1)).fillna(1.0)
        if jump.max() > 1.05:
            yr = int(jump.idxmax())
            prev = returns.get(yr - 1, math.nan)
            d["line_jump"] = (yr, float(line.get(yr - 1)), float(line.get(yr)), float(returns.get(yr)), float(prev))
    return d


# ---------------------------------------------------------------------------------------
# formatting


def _num(v) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)):
        return str(v)
    v = float(v)
    if math.isnan(v):
        return "n/a"
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:,.2f} M"
    if a >= 1e4:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:,.0f}"
    if a >= 1:
        return f"{v:.2f}".rstrip("0").rstrip(".")
    return f"{v:.3g}"


def _ratio(a: float, b: float) -> str:
    return "n/a" if not b or math.isnan(a) or math.isnan(b) else f"{a / b:.2f}"


def _pct(v: float) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.1f}%"


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


def _line_band(ax, wide: pd.DataFrame, colour: str, label: str):
    """Mean over seeds with the band over seeds (wide: rows seeds, columns years)."""
    from .runner import band_quantiles

    mean = wide.mean(axis=0)
    ax.plot(mean.index, mean.values, color=colour, lw=2, marker="o", ms=3, label=label)
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
    rows = [(name, t) for name, _, targets, role in plan_runs if role != "reference" for t in targets]
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


def plot_national(frame: pd.DataFrame, targets: list[Target], path: Path, calibrated: bool):
    """The national run: registered poor, exits, returns, new poor; and the national checks."""
    panels = [("registered_poor_people", "registered poor (end of year)"), ("exits_people", "exits"),
              ("returns_people", "returns"), ("new_poor_people", "new poor")]
    n = len(panels) + len(targets)
    cols = 4
    fig, axes = _figure(math.ceil(n / cols), cols)
    for k, ax in enumerate(axes.flat):
        if k >= n:
            ax.set_visible(False)
            continue
        if k < len(panels):
            col, title = panels[k]
            _line_band(ax, per_seed(frame, col), _COLOURS[k], title)
            _axis(ax, title, "people")
        else:
            t = targets[k - len(panels)]
            _line_band(ax, per_seed(frame, t.column, t.cumulative), _COLOURS[0], "model")
            _targets_on(ax, t)
            _axis(ax, t.name)
            ax.legend(fontsize=7, frameon=False)
        ax.set_ylim(bottom=0)
    how = "parameters calibrated on Shangluo, not refitted" if calibrated else "uncalibrated: default parameters"
    fig.suptitle(f"National scenario 2014-2020 ({how})", fontsize=12, fontweight="bold")
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
    fig.suptitle("Registered poor by main cause (first diagnosed cause in the official order), mean over seeds",
                 fontsize=11, fontweight="bold")
    fig.savefig(path, dpi=100)


def plot_returns(frames: dict, names: list[str], path: Path):
    fig, axes = _figure(1, 2, w=5.6, h=3.8)
    for i, name in enumerate(names):
        f = frames[name]
        ex, ret = per_seed(f, "exits_people"), per_seed(f, "returns_people")
        with np.errstate(divide="ignore", invalid="ignore"):
            _line_band(axes[0, 0], (ret / ex.where(ex > 0)), _COLOURS[i], name)
            _line_band(axes[0, 1], (ret.cumsum(axis=1) / ex.cumsum(axis=1).where(ex.cumsum(axis=1) > 0)),
                       _COLOURS[i], name)
    _axis(axes[0, 0], "returns / exits, per year")
    _axis(axes[0, 1], "returns / exits, cumulative from the start")
    for ax in axes.flat:
        ax.set_ylim(bottom=0)
    axes[0, 1].legend(fontsize=8, frameon=False)
    fig.suptitle("Returns to poverty relative to exits (mean, band over seeds)", fontsize=11, fontweight="bold")
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
    fig.suptitle("Income per person by group (mean, band over seeds)", fontsize=11, fontweight="bold")
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


def _why(scenario, d: dict, table: pd.DataFrame) -> list[str]:
    """What the model does behind this region's fit and misfits, with the measured numbers."""
    out = []
    y = d["years"]
    par = lambda name: scenario.params.at(name, y[-1])  # noqa: E731
    s0 = d.get("start")
    if s0 is not None:
        out.append(
            f"Starting register: {_pct(s0['reg_above_line'])} of the registered people start with resources "
            f"above the {y[0]} line ({_num(s0['line'])} yuan). The synthesis registers the poorest households "
            "of the region's income distribution up to the register's size, and the registers are larger than "
            "the share of the synthesized population below the line, so these "
            f"households exit at the first assessment: {_pct(d['first_year_exit_share'])} of the starting "
            f"register ({_num(d['register_start'])} people) exits in {y[0]}.")
    if len(y) > 1 and "second_year_new_share" in d:
        near = f" ({_num(s0['near_line_people'])} people outside the register start within 25% above the line)" \
            if s0 is not None else ""
        out.append(
            f"Register churn: new poor are {_pct(d['second_year_new_share'])} of the starting register in "
            f"{y[1]} and {_pct(d['new_total_share'])} over {y[0]}-{y[-1]}. Nobody is newly registered in "
            f"{y[0]} (identification uses the last assessment, and at the start everyone outside the register "
            "counts as above the line); after one year of income shocks (`economy.income_shock_sd`), illness "
            "costs, disasters and measurement error (`register.measurement_error_sd`), every near-poor household "
            f"measured below the line enters at once in {y[1]}{near}. The plans assume a register that only "
            "shrinks; the model's register is dynamic (000 §三(三)1; 002 §24) with no cap on entries.")
    if not math.isnan(d.get("default_share", math.nan)) and d["loans_made"] > 0:
        out.append(
            f"Microcredit: {_pct(d['default_share'])} of the loans made ({_num(d['loans_made'])} households) "
            "default within the horizon, against overdue rates well under 1% reported (facts.md: Microcredit, "
            "0.26% in Chongqing, 2019). In the model the principal falls due at maturity in one payment out of "
            "income above the poverty line and savings, and projects return "
            f"{par('microcredit.project_return_mean'):.0%} ± {par('microcredit.project_return_sd'):.0%} a year "
            "before price and disaster shocks (`microcredit.project_return_mean`, `_sd`, assumptions), so "
            "borrowers near the line cannot repay; real loans were rolled over, refinanced or repaid under "
            "cadres' pressure the model lacks (`microcredit.rollover_share` rolls over a shortfall of at most "
            f"{par('microcredit.rollover_share'):.0%} of the loan, for one year).")
    relo = table[table["series"] == "relocated_people"]
    if len(relo):
        r = relo.iloc[-1]
        word = "overshoots" if r.ratio > 1 + r.tolerance else ("falls short of" if r.ratio < 1 - r.tolerance
                                                               else "meets")
        out.append(
            f"Relocation {word} the plan: {_num(r.model_mean)} people relocated by {r.year} against "
            f"{_num(r.target)} ({r.ratio:.2f} times). The quota is `relocation.share_per_year` of the people "
            f"eligible at the start each year ({par('relocation.share_per_year'):g} here), so five years at 0.2 move "
            "every eligible hamlet, and new poor registered "
            "in eligible places later are supported and eligible too; the number eligible follows from the "
            "profile's shares of villages meeting a relocation criterion, not from the plan's count.")
    if "housing_first_share" in d:
        out.append(
            f"Housing: {_pct(d['housing_first_share'])} of the people reached by dangerous-house renovation over "
            f"the horizon are reached in {y[0]} ({_num(d['housing_first'])} people): "
            f"`housing.households_per_year_share` = {par('housing.households_per_year_share'):g} renovates that "
            "share of the supported households in unsafe houses each year, poorest first (an assumption; at 1 "
            "every one as soon as it is registered, where the plans spread renovation over the years), which "
            "lifts the safe-housing condition on exit for most of the register in the first year.")
    if "max_register_growth" in d:
        yr, g = d["max_register_growth"]
        if g > 1.5:
            out.append(
                f"The register grows {g:.1f}-fold in {yr} ({_num(d['registered'].get(yr - 1))} to "
                f"{_num(d['registered'].get(yr))} people): new poor and returns registered from the near-poor "
                "pool outweigh exits.")
    if "line_jump" in d:
        yr, before, after, ret, prev = d["line_jump"]
        out.append(
            f"The poverty line rises from {_num(before)} to {_num(after)} yuan in {yr} ({after / before - 1:+.0%}); "
            f"returns that year are {_num(ret)} people against {_num(prev)} the year before. The model assesses "
            "exited households against the line of the year, so a jump of the line (facts.md: Poverty line) "
            "sends every exited "
            "household between the two lines back onto the register. A rise of this size in one year is far "
            "above rural price growth, and facts.md marks the 2019 value a weak source and the 2020 value "
            "approximate, so part of the spike may come from the line series rather than from households.")
    ex = scenario.profile.data["exit"]
    if ex["rule"] == "relative":
        share = ex["relative_share"]["value"]
        first = share * scenario.profile.dated("exit.reference_income", y[0])
        last = share * scenario.profile.dated("exit.reference_income", y[-1])
        line = float(d["line"].iloc[0])
        out.append(
            f"Exit rule: a labor-capable household exits at {share:.0%} of the provincial rural average, "
            f"{_num(first)} yuan in {y[0]} and {_num(last)} in {y[-1]} (the profile's exit rule), "
            f"{first / line:.1f} times the {_num(line)}-yuan line below which households are registered: "
            "households enter below the line but leave only far above it, so new poor accumulate on the "
            "register; in the model those without full labor leave only with dibao.")
    for name, g in table[table["relation"] == "at_least"].groupby("series", sort=False):
        if g["within"].all() and g["ratio"].mean() > 1.5:
            out.append(
                f"`{name}` meets its minimum, by {g['ratio'].mean():.1f} times on average: a minimum says "
                "nothing against too many, and these exits come with the churn above (households exiting and "
                "new ones entering), not from a register emptying on schedule.")
    villages = table[table["series"] == "villages_exited"]
    if len(villages) and not villages["within"].all():
        rule = (f"its poor people fall below {ex['village_incidence']['value']:.0%} of its people"
                if ex["village_rule"] == "incidence" else
                f"its income per head reaches {ex['village_income_share']['value']:.0%} of the provincial average")
        out.append(
            f"Village exits: a poor village exits when {rule} (the profile's exit rule); with "
            f"{_pct(d['remaining_end'] / d['register_start'])} of the starting register still registered at the "
            f"end, few villages get there, and the model's poor villages are weighted rows, so their exits "
            "come in lumps (see the band).")
    inc = table[table["series"] == "mean_income_per_capita"]
    if len(inc) > 1:
        a0, a1 = inc.iloc[0], inc.iloc[-1]
        out.append(
            f"Income: the model's mean income per person is {a0.ratio:.2f} times NBS's in {a0.year} and grows "
            f"{a1.model_mean / a0.model_mean - 1:.0%} to {a1.year} against NBS's "
            f"{a1.target / a0.target - 1:.0%}. The synthesis matches the profile's mean income with "
            "*resources* (income less out-of-pocket medical and schooling costs), while this column is income "
            "before those costs, so it starts above; earnings then grow at NBS's rates "
            "(`economy.income_growth`), and transfers, wages and dividends of the measures come on top.")
    out.append(
        f"Returns over the horizon are {_pct(d['return_rate'])} of exits; {_num(d['remaining_end'])} people are "
        f"on the register at the end of {y[-1]} ({_pct(d['remaining_end'] / d['register_start'])} of the "
        "starting register), where the plans have everyone out.")
    return out


def build_report(p: Plan, df: pd.DataFrame, cal: Calibration, out_dir: Path, command: str) -> str:
    """The report's Markdown; writes its figures into `out_dir/figures`."""
    figdir = out_dir / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    frames = {name: df[df["scenario"] == name] for name in p.names()}
    starts = {name: start_state(sc, p.seeds[0]) for name, sc, _, role in p.runs if role != "reference"}
    diags = {name: dict(diagnostics(frames[name], sc), start=starts[name])
             for name, sc, _, role in p.runs if role != "reference"}
    band = band_label(len(p.seeds))
    fits = {name: fit(frames[name], targets) for name, _, targets, _ in p.runs}
    scen = {name: sc for name, sc, _, _ in p.runs}
    targets_of = {name: t for name, _, t, _ in p.runs}
    regions = [CALIBRATION_REGION, *OTHER_REGIONS]
    all_names = [*regions, NATIONAL]

    plot_fit(frames, [r for r in p.runs if r[0] != NATIONAL], figdir / "validation_fit.png")
    plot_national(frames[NATIONAL], targets_of[NATIONAL], figdir / "validation_national.png", cal.calibrated)
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
              "`povsim calibrate` on Shangluo), so every run below uses the parameter files' defaults. The "
              "'calibration' section shows how the uncalibrated model meets Shangluo's schedule, and the other "
              "sections test the same uncalibrated model out of sample.", ""]
    L += ["How to read the tables: *target* is the plan's or statistic's number with its relative tolerance "
          "(`±`: either way; `≥`: a minimum, met when the model is at most the tolerance below it); "
          f"*model mean* is the mean over seeds, *band* the {band} range of single runs over seeds; *met* "
          "says whether the mean is within the tolerance. Targets from a plan are what the region set out to "
          "do, not observations: a region that met its plan would sit on them.", ""]

    # --- summary
    L += ["## Summary", ""]
    for n in all_names:
        t = fits[n]
        role = {"calibration": "calibration region", "out of sample": "out of sample",
                "national": "national, out of sample"}[next(r for nm, _, _, r in p.runs if nm == n)]
        L.append(f"- **{n}** ({role}): {verdict(t)}. {by_series(t)}")
    L += ["- The plans have everyone out by their last year; at the end of the horizon the model leaves "
          + ", ".join(f"{n} {_pct(diags[n]['remaining_end'] / diags[n]['register_start'])}" for n in all_names)
          + " of the starting register on it (section 5 says why).", ""]

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
              "and households)."
              + (" The fit stays far from the plan: the misfits come from the starting register and the "
                 "register's churn (section 5), which the declared free parameters, within their ranges, do "
                 "not remove." if after > 4 else ""), ""]
    L += fit_markdown(fits[name], band) + ["", "Sources:", ""] + sources_markdown(fits[name]) + [""]
    L += ["![targets and model](figures/validation_fit.png)", ""]

    # --- out of sample
    L += ["## 2. Out of sample: the other regions, without refitting", "",
          "The same parameter values on the other regions' shipped scenarios (their own profiles, lines, "
          "measures and exit rules).", ""]
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
          + ("the parameters calibrated on Shangluo, " if cal.calibrated else "the default parameters, ")
          + "not refitted to these figures. "
          f"{verdict(fits[NATIONAL])}.", ""]
    kept = national_kept(p.national_file, cal) if cal.calibrated and p.national_file is not None else []
    if kept:
        L += ["Calibrated values against the national file's own settings:", ""] + [f"- {k}" for k in kept] + [""]
    L += fit_markdown(fits[NATIONAL], band)
    L += ["", "Sources:", ""] + sources_markdown(fits[NATIONAL]) + [""]
    counties = per_seed(frames[NATIONAL], "poor_counties")
    L += [f"Everyone out by the end of 2020 (facts.md: The national register: all 89.62 M registered poor, "
          f"128,000 villages and 832 counties out by end-2020): the model leaves {_num(d['remaining_end'])} "
          f"people on the register ({_pct(d['remaining_end'] / d['register_start'])} of 2014's), "
          f"{_num(float(counties.iloc[:, -1].mean()))} poor counties and "
          f"{_num(float(per_seed(frames[NATIONAL], 'poor_villages').iloc[:, -1].mean()))} poor villages: "
          "**not met**." if d["remaining_end"] > 0.02 * d["register_start"] else
          f"Everyone out by the end of 2020: {_num(d['remaining_end'])} people left on the register: met.", ""]
    L += ["![national](figures/validation_national.png)", ""]

    # --- patterns
    L += ["## 4. Pattern checks", "", "### 4.1 Composition of the registered poor by cause", "",
          "Main cause = the first diagnosed cause in the official order (illness, disability, schooling, "
          "disaster, marriage, land, water, skills, capital, labor, transport, motivation); the model has no "
          "cadre choosing a main cause, so illness is the main cause exactly when it is among the causes. "
          "'Any' = the multi-select share (the household's causes include it), which is what facts.md "
          "reports. Shares are of registered people at the end of the year.", "",
          "| scenario | year | illness, any | disability, any | largest main causes |",
          "| --- | ---: | ---: | ---: | --- |"]
    for n in all_names:
        f = frames[n]
        shares = cause_shares(f)
        reg = _mean_by_year(f, "registered_poor_people")
        for yr in (shares.index[0], shares.index[-1]):
            row = shares.loc[yr]
            anyill = _mean_by_year(f, "poor_people_cause_illness")[yr] / reg[yr] if reg[yr] > 0 else math.nan
            anydis = _mean_by_year(f, "poor_people_cause_disability")[yr] / reg[yr] if reg[yr] > 0 else math.nan
            others = row.sort_values(ascending=False).head(4)
            L.append(f"| {n} | {yr} | {_pct(anyill)} | {_pct(anydis)} | "
                     + ", ".join(f"{c} {_pct(v)}" for c, v in others.items()) + " |")
    f = frames[NATIONAL]
    reg0 = _mean_by_year(f, "registered_poor_people")
    y0 = int(reg0.index[0])
    ill0 = _mean_by_year(f, "poor_people_cause_illness")[y0] / reg0[y0]
    dis0 = _mean_by_year(f, "poor_people_cause_disability")[y0] / reg0[y0]
    L += ["", f"National, end of {y0}: illness among the causes of {_pct(ill0)} of registered people against "
          f"{_pct(CAUSE_FACTS['illness'][0])} of registered households ({CAUSE_FACTS['illness'][1]}); disability "
          f"{_pct(dis0)} against {_pct(CAUSE_FACTS['disability'][0])} ({CAUSE_FACTS['disability'][1]}). "
          "Illness is diagnosed for any household with a chronically ill member or an admission in the year, "
          "a wider net than the cadres' judgement that illness caused the poverty, so the model's illness "
          "share is an upper reading.", ""]
    # the plans expect those left at the end to be the ones who cannot work (covered by dibao, 002 §3)
    shifts = {}
    for n in all_names:
        f = frames[n]
        reg = _mean_by_year(f, "registered_poor_people")
        first, last = reg.index[0], reg.index[-1]
        share = lambda c, y: _mean_by_year(f, c)[y] / reg[y] if reg[y] > 0 else math.nan  # noqa: E731
        shifts[n] = {c: (share(f"poor_people_cause_{c}", first), share(f"poor_people_cause_{c}", last))
                     for c in ("illness", "disability", "labor")}
    rising = [n for n in all_names if shifts[n]["disability"][1] > shifts[n]["disability"][0]
              and shifts[n]["labor"][1] > shifts[n]["labor"][0]]
    L += ["Expected pattern: as those who can work exit, the register's remainder shifts towards households "
          "that cannot (disability, lack of labor), whom the plans cover by dibao (002 §3). In the model "
          f"disability and lack of labor (any) both gain share from the first to the last year in "
          f"{len(rising)} of {len(all_names)} scenarios"
          + (f" ({', '.join(rising)})" if rising else "") + ": "
          + "; ".join(f"{n} disability {_pct(v['disability'][0])} → {_pct(v['disability'][1])}, labor "
                      f"{_pct(v['labor'][0])} → {_pct(v['labor'][1])}, illness {_pct(v['illness'][0])} → "
                      f"{_pct(v['illness'][1])}" for n, v in shifts.items()) + ".",
          "", "![causes](figures/validation_causes.png)", ""]

    L += ["### 4.2 Returns relative to exits", "",
          "No source gives a return rate; the check is the pattern: returns should be a small and, as exits "
          "accumulate, roughly steady share of exits, without jumps that only the line series explains.", "",
          "| scenario | exits over the horizon | returns | returns / exits | largest yearly returns / exits |",
          "| --- | ---: | ---: | ---: | --- |"]
    peaks: list[tuple[str, bool]] = []
    for n in all_names:
        f = frames[n]
        ex, ret = _mean_by_year(f, "exits_people"), _mean_by_year(f, "returns_people")
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = (ret / ex.where(ex > 0)).dropna()
        top = f"{int(ratio.idxmax())}: {_pct(ratio.max())}" if len(ratio) else "n/a"
        L.append(f"| {n} | {_num(ex.sum())} | {_num(ret.sum())} | {_pct(ret.sum() / ex.sum())} | {top} |")
        if len(ratio) and "line_jump" in diags[n]:
            peaks.append((n, int(ratio.idxmax()) == diags[n]["line_jump"][0]))
    at_jump = [n for n, hit in peaks if hit]
    L += ["", "Returns are not small: over the horizon they reach "
          + ", ".join(f"{n} {_pct(diags[n]['return_rate'])}" for n in all_names)
          + " of exits, and the yearly ratio rises over time rather than settling, as the exited pool grows "
          "and lives near the line. "
          + (f"In {len(at_jump)} of the {len(peaks)} scenarios that reach 2020 ({', '.join(at_jump)}) the "
             "largest yearly ratio falls in the year the poverty line jumps (section 5)." if peaks else ""),
          "", "![returns](figures/validation_returns.png)", ""]

    L += ["### 4.3 Income paths of relocated and of microcredit households", "",
          "Mean income per person (before out-of-pocket costs) of households ever registered, of relocated "
          "households and of households that ever borrowed microcredit (repaid, running or defaulted). "
          "No source gives these paths; the patterns expected from the measures' rules are a dip in the move "
          "year (lost harvest), then relocated households catching up with the ever-registered through land "
          "rent and jobs near towns; borrowers starting above the ever-registered (take-up rises with skills) "
          "and gaining from project returns.", "",
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
          "scenarios (the poorest hamlets move first and lose part of a harvest in the move year) and close "
          f"the gap by more than 0.02 in {len(closing)} of them" + (f" ({', '.join(closing)})" if closing else "")
          + "; land rent and the better jobs near towns do not lift them clearly above the others. Borrowers "
          "start above the ever-registered in "
          f"{len(lead)} of {len(trend['ever borrowed microcredit'])} (take-up rises with skills and "
          f"motivation), and the lead shrinks in {len(fading)} of them"
          + (f" ({', '.join(fading)})" if fading else "")
          + ": the group grows with households that borrow later, and with project returns of "
          f"{scen[CALIBRATION_REGION].params.at('microcredit.project_return_mean', 2020):.0%} a year "
          "(`microcredit.project_return_mean`) and the defaults of section 5 a loan does not keep a "
          "household ahead.",
          "", "![income paths](figures/validation_income_paths.png)", ""]

    # --- what fits and why
    L += ["## 5. What fits, what does not, and why", ""]
    for n in all_names:
        t = fits[n]
        L += [f"**{n}** ({verdict(t)}). {by_series(t)}", ""]
        L += [f"- {w}" for w in _why(scen[n], diags[n], t)] + [""]
    L += ["These misfits are left as they are: parameters are changed only by calibration, through the "
          "parameters declared free (`experiments/calibratable.toml`), never to hide a misfit here.", ""]

    L += ["## 6. Reproduce", "", "```", command, "```", "",
          "Runs are stored under the sweep store given by `--runs` (one Parquet file per scenario, seed and "
          "configuration hash, with a manifest); a second call with the same configuration loads them instead "
          "of running them again.", ""]
    return "\n".join(L)


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
