"""Calibration: fit the declared free parameters to a target file.

Which parameters are free is data: `experiments/calibratable.toml` declares each with its
dotted path, a plausible range and the reason no source pins it down. `calibrate` searches
those ranges for the point whose runs come closest to the targets (the loss of
`experiments/targets.py`: tolerance-scaled squared errors of the model's mean over seeds,
weighted over series) with `scipy.optimize`: differential evolution (default; robust on the stepwise
surface that discrete household decisions give) or Nelder-Mead (from a start point).

Common random numbers: every candidate point is run on the same replication seeds (spawned
from the scenario's `seed`), so two points differ only through their parameters and the
loss surface is deterministic. Runs go through the sweep executors (serial, process pool
or Dask) and the sweep store under the output directory (`runs/`, one Parquet file per
point and seed, named by a hash of the point), so a rerun with the same settings finds the
points it already evaluated instead of running them again.

The output directory gets `calibrated.toml` (the base scenario with the fitted values as
`[overrides]`, a runnable scenario), `fit.csv` (target against the model per series and
year), `history.csv` (every evaluated point and its loss), `calibration.json` (settings
and result) and `figures/fit.png`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from sim.errors import InputError, nearest
from sim.inputs import load_toml
from sim.params import Parameters, flatten_dotted
from sim.schema import Key, declare, validate

from . import store
from .sweep import Sweep, derive
from .toml_text import toml_key, toml_value

CALIBRATABLE_FILE = Path(__file__).resolve().parent / "calibratable.toml"
METHODS = ("de", "nelder-mead")

_ENTRY_SCHEMA = declare("calibratable parameter", {
    "range": Key("any", required=True, help="[low, high]"),
    "reason": Key("str", required=True, help="why no source pins the value down"),
})


# ---------------------------------------------------------------------------------------
# declared free parameters


@dataclass(frozen=True)
class FreeParam:
    """A parameter declared calibratable: dotted path, plausible range, why it is free."""

    name: str
    low: float
    high: float
    reason: str

    def scale(self, u: float) -> float:
        """The value at position `u` (0..1) of the range."""
        return self.low + float(u) * (self.high - self.low)

    def unit(self, value: float) -> float:
        return (float(value) - self.low) / (self.high - self.low)


def _entries(tree: dict, prefix: str = "") -> dict:
    """Dotted name -> entry; an entry is a table with `range` or `reason` (quoted or not)."""
    out = {}
    for key, val in tree.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(val, dict) and val and not ({"range", "reason"} & set(val)):
            out.update(_entries(val, name))
        else:
            out[name] = val
    return out


def load_calibratable(path: str | Path = CALIBRATABLE_FILE,
                      params: Parameters | None = None) -> dict[str, FreeParam]:
    """Validate a calibratable-parameters file against the parameter registry."""
    path = Path(path)
    file = str(path)
    params = params or Parameters.load()
    out: dict[str, FreeParam] = {}
    for name, raw in _entries(load_toml(path)).items():
        if name not in params:
            raise InputError(file, name, f"unknown parameter '{name}'{nearest(name, params.names())}")
        if not isinstance(raw, dict):
            raise InputError(file, name, f"expected a table with range and reason, found {raw!r}")
        entry = validate(raw, _ENTRY_SCHEMA, file, name)
        spec = params.spec(name)
        if spec.kind is not float:
            raise InputError(file, name, "only numeric parameters can be calibrated")
        bounds = entry["range"]
        ok = (isinstance(bounds, list) and len(bounds) == 2
              and all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds))
        if not ok:
            raise InputError(file, f"{name}.range", f"expected [low, high] (two numbers), found {bounds!r}")
        infinite = next((b for b in bounds if not math.isfinite(b)), None)
        if infinite is not None:
            raise InputError(file, f"{name}.range", f"{infinite!r} is not a finite number: expected "
                             f"[low, high], found {bounds!r}")
        low, high = float(bounds[0]), float(bounds[1])
        if not low < high:
            raise InputError(file, f"{name}.range", f"low {low:g} is not below high {high:g}")
        if spec.min is not None and low < spec.min:
            raise InputError(file, f"{name}.range", f"low {low:g} is below the parameter's minimum {spec.min:g}")
        if spec.max is not None and high > spec.max:
            raise InputError(file, f"{name}.range", f"high {high:g} is above the parameter's maximum {spec.max:g}")
        if not entry["reason"].strip():
            raise InputError(file, f"{name}.reason", "say why the parameter is free")
        out[name] = FreeParam(name, low, high, entry["reason"])
    if not out:
        raise InputError(file, "", "no parameters declared")
    return out


def select(free: dict[str, FreeParam], names: list[str] | None, file: str,
           option: str = "--params") -> list[FreeParam]:
    """The chosen declared parameters (all when `names` is None); InputError for others."""
    if names is None:
        return list(free.values())
    chosen = []
    for name in names:
        if name not in free:
            hint = nearest(name, free)
            if not hint and name in Parameters.load():
                hint = f" (declare it with a range and a reason in {file})"
            raise InputError("command line", option, f"'{name}' is not a calibratable parameter of "
                             f"{file}{hint}")
        if free[name] in chosen:
            raise InputError("command line", option, f"'{name}' is named twice")
        chosen.append(free[name])
    if not chosen:
        raise InputError("command line", option, "name at least one parameter")
    return chosen


# ---------------------------------------------------------------------------------------
# running parameter points over common seeds, through the sweep store


def point_key(point: dict[str, float]) -> str:
    """A short stable name for a parameter point (values at full precision)."""
    text = json.dumps({k: repr(float(v)) for k, v in sorted(point.items())})
    return hashlib.sha1(text.encode()).hexdigest()[:12]


class _BudgetSpent(Exception):
    """Raised inside the objective to stop an optimizer at the budget."""


class RunFailed(RuntimeError):
    """A model run of a parameter point failed (the store's failures/ has the traceback)."""


class PointEvaluator:
    """Runs a scenario at parameter points, every point on the same seeds.

    Each point becomes a scenario named `<scenario>[<label>:<point key>]` with the point's
    values as overrides; its runs are stored under `out_dir/runs/` by the sweep machinery,
    and points already stored (same name, seed and configuration hash) are not run again.
    """

    def __init__(self, scenario, n_seeds: int, out_dir, executor, label: str, file: str,
                 columns: list[str] | None = None):
        self.scenario = scenario
        self.n_seeds = int(n_seeds)
        self.out_dir = Path(out_dir)
        self.executor = executor
        self.label = label
        self.file = file
        self.columns = columns
        self.runs_done = 0
        self.runs_skipped = 0

    def seeds(self) -> list[int]:
        from .runner import replication_seeds
        return replication_seeds(self.scenario.seed, self.n_seeds)

    def scenarios(self, points: list[dict]) -> list[tuple[str, object]]:
        out = []
        for point in points:
            name = f"{self.scenario.name}[{self.label}:{point_key(point)}]"
            out.append((name, derive(self.scenario, name, point, self.file, "range", sampled=True)))
        return out

    def run(self, points: list[dict]) -> list[pd.DataFrame]:
        """Per point: its runs' timeseries (rows seed x year; `columns` and year, seed)."""
        from .executors import run_sweep

        named = self.scenarios(points)
        unique = list(dict(named).items())
        sweep = Sweep(name=f"{self.scenario.name}-{self.label}", file=self.file, description="",
                      seed=self.scenario.seed, replications=self.n_seeds, households=None,
                      baseline=None, scenarios=unique)
        done, failed, skipped = run_sweep(sweep, self.out_dir, self.executor, progress=False)
        self.runs_done += done
        self.runs_skipped += skipped
        if failed:
            names = {n for n, _ in unique}
            recs = [r for r in store.failures(self.out_dir) if r["scenario"] in names]
            first = recs[0] if recs else {"scenario": "?", "seed": "?", "error": "unknown error"}
            raise RunFailed(f"{failed} run(s) failed, e.g. {first['scenario']} seed {first['seed']}: "
                            f"{first['error']} (tracebacks in {self.out_dir / store.FAILURES})")
        seeds = self.seeds()
        frames = {}
        for name, sc in unique:
            h = sc.config_hash()
            parts = []
            for seed in seeds:
                cols = None if self.columns is None else ["year", *self.columns]
                table = pq.read_table(store.run_path(self.out_dir, name, seed, h), columns=cols)
                part = table.to_pandas()
                part.insert(0, "seed", int(seed))
                parts.append(part)
            frames[name] = pd.concat(parts, ignore_index=True)
        return [frames[name] for name, _ in named]


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------
# the search


@dataclass
class CalibrationResult:
    best: dict[str, float]
    loss: float
    history: pd.DataFrame
    frame: pd.DataFrame  # the best point's runs
    method: str
    evaluations: int
    seconds: float


def de_settings(budget: int, n_params: int) -> tuple[int, int]:
    """(popsize multiplier, generations after the first) for differential evolution within
    `budget` evaluated points: a population of popsize x parameters (at least 5), and as many
    generations as the budget allows. InputError when not even two generations fit."""
    popsize = int(min(15, max(2, budget // (6 * n_params))))
    members = max(5, popsize * n_params)
    generations = budget // members - 1
    if generations < 1:
        need = 2 * max(5, 2 * n_params)
        raise InputError("command line", "--budget", f"{budget} is too small for differential "
                         f"evolution over {n_params} parameter(s): give at least {need}")
    return popsize, generations


def calibrate(targets, free: list[FreeParam], *, budget: int, n_seeds: int, out_dir, executor,
              method: str = "de", seed: int = 0, start: dict[str, float] | None = None,
              progress=_say) -> CalibrationResult:
    """Search the free parameters' ranges for the point of least loss against `targets`.

    `budget` is the number of parameter points evaluated (each run on `n_seeds` common
    seeds). `start` (default: the scenario's own values, clipped into the ranges) is
    Nelder-Mead's first point and one member of differential evolution's first population.
    Progress goes to `progress` (stderr), one line per generation or evaluation.
    """
    from scipy import optimize

    from . import targets as tmod

    scenario = targets.scenario
    evaluator = PointEvaluator(scenario, n_seeds, out_dir, executor, "calib", targets.file,
                               columns=targets.columns())
    history: list[dict] = []
    best: dict = {"loss": math.inf}
    t0 = time.perf_counter()
    state = {"generation": 0}

    def to_point(u) -> dict[str, float]:
        return {p.name: p.scale(min(1.0, max(0.0, float(x)))) for p, x in zip(free, u)}

    def evaluate(units: list) -> list[float]:
        points = [to_point(u) for u in units]
        frames = evaluator.run(points)
        losses = []
        for point, frame in zip(points, frames):
            value = tmod.loss(frame, targets)
            if not math.isfinite(value):  # e.g. a series the runs left empty: never the best
                value = math.inf
            losses.append(value)
            history.append({"evaluation": len(history) + 1, "generation": state["generation"],
                            **point, "loss": value})
            if value < best["loss"] or "point" not in best:
                best.update(loss=value, point=point, frame=frame)
        return losses

    def report(kind: str, n: int) -> None:
        values = ", ".join(f"{k}={v:.4g}" for k, v in best["point"].items())
        progress(f"calibrate {targets.name}: {kind} {state['generation']}: {n} point(s), "
                 f"{len(history)}/{budget} evaluated, best loss {best['loss']:.4g} ({values}), "
                 f"{time.perf_counter() - t0:.1f} s")

    x0 = []
    for p in free:
        value = start[p.name] if start and p.name in start else scenario.params.at(p.name, scenario.start_year)
        x0.append(min(1.0, max(0.0, p.unit(value))))
    x0 = np.array(x0)
    bounds = [(0.0, 1.0)] * len(free)

    if method == "de":
        popsize, generations = de_settings(budget, len(free))

        def batch(x):  # vectorized: x has shape (parameters, points)
            losses = evaluate(list(np.atleast_2d(x).T))
            report("generation", len(losses))
            state["generation"] += 1
            return np.array(losses)

        optimize.differential_evolution(batch, bounds, popsize=popsize, maxiter=generations,
                                        seed=seed, polish=False, init="latinhypercube", x0=x0,
                                        vectorized=True, updating="deferred")
    elif method == "nelder-mead":
        n = len(free)
        simplex = [x0]
        for i in range(n):  # steps of a quarter of the range, inward from the edges
            v = x0.copy()
            v[i] = v[i] + 0.25 if v[i] <= 0.5 else v[i] - 0.25
            simplex.append(v)

        def single(u):
            if len(history) >= budget:  # scipy may go a few evaluations past maxfev
                raise _BudgetSpent
            state["generation"] += 1
            value = evaluate([u])[0]
            report("evaluation", 1)
            return value

        try:
            optimize.minimize(single, x0, method="Nelder-Mead", bounds=bounds,
                              options={"maxfev": budget, "initial_simplex": np.array(simplex),
                                       "xatol": 1e-4, "fatol": 1e-6})
        except _BudgetSpent:
            pass
    else:  # pragma: no cover - the CLI allows only METHODS
        raise ValueError(method)

    frame = best["frame"].copy()
    return CalibrationResult(best=best["point"], loss=float(best["loss"]),
                             history=pd.DataFrame(history), frame=frame, method=method,
                             evaluations=len(history), seconds=time.perf_counter() - t0)


# ---------------------------------------------------------------------------------------
# outputs


def calibrated_scenario_text(targets, result: CalibrationResult, out_dir, n_seeds: int,
                             households: int, when: str) -> str:
    """The base scenario with the fitted values as [overrides], as TOML text."""
    base = Path(targets.scenario.file)
    raw = load_toml(base)
    name = f"{raw.get('name', base.stem)}_calibrated"
    profile = raw["profile"]
    if profile.endswith(".toml") or "/" in profile:  # a path: keep it pointing at the same file
        profile = os.path.relpath((base.parent / profile).resolve(), Path(out_dir).resolve())
    fitted = ", ".join(f"{k} = {v:.6g}" for k, v in result.best.items())
    lines = [
        f"# Calibrated by povsim calibrate on {when} against {targets.file}",
        f"# (targets '{targets.name}'), starting from the scenario {base}.",
        f"# Loss {result.loss:.6g}: tolerance-scaled squared errors of the mean over {n_seeds} seeds",
        f"# of {households:,} households, weighted over series; {result.method}, {result.evaluations} points evaluated.",
        f"# Fitted: {fitted}. fit.csv beside this file compares target and model.",
        f"name = {toml_value(name)}",
        f"description = {toml_value((raw.get('description', '') + ' (calibrated to ' + targets.name + ')').strip())}",
        f"profile = {toml_value(profile)}",
    ]
    for key in ("start_year", "end_year", "households", "seed", "seeds"):
        if key in raw:
            lines.append(f"{key} = {toml_value(raw[key])}")
    if raw.get("measures"):
        lines += ["", "[measures]"] + [f"{toml_key(k)} = {toml_value(v)}" for k, v in raw["measures"].items()]
    overrides = flatten_dotted(raw.get("overrides", {}))
    source = f"calibrated to {targets.file} on {when} (loss {result.loss:.4g})"
    for k, v in result.best.items():
        overrides[k] = {"value": float(v), "source": source}
    lines += ["", "[overrides]"] + [f"{json.dumps(k)} = {toml_value(v)}" for k, v in overrides.items()]
    return "\n".join(lines) + "\n"


def full_series(frame: pd.DataFrame, series) -> pd.DataFrame:
    """The series over every simulated year: rows seed, columns year."""
    wide = frame.pivot_table(index="seed", columns="year", values=series.column, aggfunc="first")
    wide = wide.sort_index(axis=1)
    return wide.cumsum(axis=1) if series.name.startswith("cumulative_") else wide


def plot_fit(frame: pd.DataFrame, targets, path, title: str) -> Path:
    """One panel per series: model mean over seeds with its 10-90% band, targets with their
    tolerance as bars (triangles for minimums and maximums)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    from .figures import column_title

    n = len(targets.series)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(4.6 * cols, 3.8 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, s in zip(axes, targets.series):
        wide = full_series(frame, s)
        years = wide.columns.to_numpy()
        ax.plot(years, wide.mean(axis=0), color="#1f4e79", lw=2, marker="o", ms=3, label="model (mean)")
        ax.fill_between(years, wide.quantile(0.1, axis=0), wide.quantile(0.9, axis=0), color="#1f4e79",
                        alpha=0.2, lw=0, label="model (10-90% over seeds)")
        t = np.array(s.values)
        marker = {"equal": "s", "at_least": "^", "at_most": "v"}[s.relation]
        ax.errorbar(s.years, t, yerr=s.tolerance * t, fmt=marker, color="#c0392b", capsize=4, ms=6,
                    label=f"target ({s.relation.replace('_', ' ')}, ±{s.tolerance:.0%})")
        ax.set_title(column_title(s.name), fontsize=9)
        ax.set_xlabel("year")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, frameon=False)
    for ax in axes[n:]:
        ax.set_visible(False)
    fig.suptitle(textwrap.fill(title, int(11 * 4.6 * cols)), fontsize=11)  # ~11 characters an inch: not cut off
    path = Path(path)
    store.atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    return path


def write_outputs(targets, result: CalibrationResult, free: list[FreeParam], out_dir, *,
                  n_seeds: int, households: int, budget: int, seed: int, command: list[str],
                  started) -> list[Path]:
    """calibrated.toml, fit.csv, history.csv, calibration.json and figures/fit.png."""
    from . import targets as tmod
    from .provenance import git_info, package_versions, utc_now, utc_text

    out_dir = Path(out_dir)
    when = utc_text(utc_now())
    fit = tmod.fit_table(result.frame, targets)
    written = [
        store.atomic_write(out_dir / "fit.csv", lambda tmp: fit.to_csv(tmp, index=False)),
        store.atomic_write(out_dir / "history.csv", lambda tmp: result.history.to_csv(tmp, index=False)),
    ]
    text = calibrated_scenario_text(targets, result, out_dir, n_seeds, households, when)
    written.append(store.atomic_write(out_dir / "calibrated.toml",
                                      lambda tmp: tmp.write_text(text, encoding="utf-8")))
    fitted = ", ".join(f"{k.rpartition('.')[2]}={v:.3g}" for k, v in result.best.items())
    written.append(plot_fit(result.frame, targets, out_dir / "figures" / "fit.png",
                            f"{targets.name} (region {targets.profile}, {n_seeds} seeds, {households:,} households): "
                            f"model at the fitted point ({fitted}), loss {result.loss:.3g}"))
    written.append(store.write_json(out_dir / "calibration.json", {
        "targets": targets.name, "targets_file": targets.file, "scenario_file": targets.scenario.file,
        "method": result.method, "budget": budget, "evaluations": result.evaluations, "seed": seed,
        "seeds": n_seeds, "households": households,
        "parameters": [{"name": p.name, "range": [p.low, p.high], "reason": p.reason} for p in free],
        "best": result.best, "loss": result.loss,
        "loss_definition": "weighted mean over series of the mean over years of ((model - target) / "
                           "(tolerance x target))^2 (one-sided for at_least/at_most), the model value being "
                           "the mean over the seeds (common random numbers)",
        "within_tolerance": int(fit["within_tolerance"].sum()), "targets_total": int(len(fit)),
        "seconds": result.seconds, "started_utc": utc_text(started), "finished_utc": when,
        "versions": package_versions(), "git": git_info(), "command": command,
    }))
    return written
