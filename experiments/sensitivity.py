"""Global sensitivity analysis with SALib: Sobol indices or Morris screening.

`sensitivity(free, evaluate, method, n)` samples the declared ranges of the free parameters
(`experiments/calibratable.toml`), calls `evaluate(X)` on the sample in batches (one line of
progress per batch on stderr) and analyses the outputs:

- ``sobol``: Saltelli's scheme (`SALib.sample.sobol`, n x (parameters + 2) points, n a power
  of 2) and `SALib.analyze.sobol`: first-order (S1) and total (ST) indices with 95%
  bootstrap confidence intervals. S1 is the share of an output's variance a parameter
  explains alone, ST the share it explains with all its interactions; ST near 0 means the
  output does not depend on the parameter in the ranges given.
- ``morris``: elementary effects along n trajectories (`SALib.sample.morris`, n x
  (parameters + 1) points, 4 levels) and `SALib.analyze.morris`: mu* (mean absolute effect of
  moving the parameter across its range, in the output's unit) with its confidence interval,
  and sigma (spread of the effects: interactions or non-linearity). Cheap screening.

`evaluate` is any function from an (points x parameters) array to one array of outputs per
output name; the tests check the path on the Ishigami function, whose indices are known.
For the model, `model_evaluator` runs the scenario at every point over the same seeds
(common random numbers) through the sweep executors and store, and takes the mean over seeds
of the per-run measures of `experiments/report.py` (exits and returns over the horizon,
cost per sustained exit, ...). The runs are stored under the output directory, so a rerun
(same sample seed and n) finds them and only runs what is missing.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from . import store

METHODS = ("sobol", "morris")
DEFAULT_OUTPUTS = ("exits", "returns", "cost_per_sustained_exit")
MORRIS_LEVELS = 4
CONF_LEVEL = 0.95


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def output_names() -> list[str]:
    """The model outputs one can analyse: the per-run measures of the report."""
    from .outcomes import OUTCOMES
    return list(OUTCOMES)


def problem(free) -> dict:
    """SALib's problem definition from declared free parameters."""
    return {"num_vars": len(free), "names": [p.name for p in free],
            "bounds": [[p.low, p.high] for p in free]}


def sample(method: str, prob: dict, n: int, seed: int) -> np.ndarray:
    """The design: Saltelli (n x (D + 2) rows) or Morris trajectories (n x (D + 1) rows)."""
    if method == "sobol":
        from SALib.sample import sobol as sobol_sample
        return sobol_sample.sample(prob, n, calc_second_order=False, seed=seed)
    if method == "morris":
        from SALib.sample import morris as morris_sample
        return morris_sample.sample(prob, n, num_levels=MORRIS_LEVELS, seed=seed)
    raise ValueError(f"unknown method {method!r} (expected one of {', '.join(METHODS)})")


def design_size(method: str, n: int, n_params: int) -> int:
    return n * (n_params + 2) if method == "sobol" else n * (n_params + 1)


def analyze(method: str, prob: dict, X: np.ndarray, Y: dict[str, np.ndarray], seed: int) -> pd.DataFrame:
    """One row per (output, parameter): S1, S1_conf, ST, ST_conf (sobol) or mu_star,
    mu_star_conf, sigma, mu (morris). An output with missing values (e.g. cost per sustained
    exit where no exit was sustained) or no variance gets NaN indices and a `note`."""
    rows = []
    for output, y in Y.items():
        y = np.asarray(y, dtype=float)
        note = ""
        if not np.all(np.isfinite(y)):
            note = f"{int((~np.isfinite(y)).sum())} of {len(y)} points have no value"
        elif np.ptp(y) == 0:
            note = "the output does not vary over the sample"
        if note:
            for name in prob["names"]:
                rows.append({"output": output, "param": name, "note": note})
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            if method == "sobol":
                from SALib.analyze import sobol as sobol_analyze
                # seed + 1: SALib leaves the bootstrap unseeded when the seed is 0
                res = sobol_analyze.analyze(prob, y, calc_second_order=False, conf_level=CONF_LEVEL,
                                            seed=seed + 1)
                keys = ("S1", "S1_conf", "ST", "ST_conf")
            else:
                from SALib.analyze import morris as morris_analyze
                res = morris_analyze.analyze(prob, X, y, conf_level=CONF_LEVEL,
                                             num_levels=MORRIS_LEVELS, seed=seed)
                keys = ("mu_star", "mu_star_conf", "sigma", "mu")
        for i, name in enumerate(prob["names"]):
            rows.append({"output": output, "param": name, **{k: float(res[k][i]) for k in keys},
                         "note": ""})
    cols = ["param", "output", *(("S1", "S1_conf", "ST", "ST_conf") if method == "sobol"
                                 else ("mu_star", "mu_star_conf", "sigma", "mu")), "note"]
    return pd.DataFrame(rows).reindex(columns=cols)


def sensitivity(free, evaluate: Callable[[np.ndarray], dict | np.ndarray], method: str, n: int, *,
                seed: int = 0, batch_size: int = 64, progress=_say, label: str = "sensitivity"
                ) -> tuple[pd.DataFrame, np.ndarray, dict[str, np.ndarray]]:
    """Sample the free parameters' ranges, evaluate in batches, analyse.

    `evaluate(X)` gets an (m x parameters) array in the parameters' own units and returns
    an array of m values (one output, called "y") or a dict of such arrays by output name.
    Returns (indices table, X, outputs).
    """
    prob = problem(free)
    X = sample(method, prob, n, seed)
    outputs: dict[str, list] = {}
    t0 = time.perf_counter()
    for start in range(0, len(X), batch_size):
        part = X[start:start + batch_size]
        got = evaluate(part)
        if not isinstance(got, dict):
            got = {"y": got}
        for name, values in got.items():
            values = np.asarray(values, dtype=float).reshape(-1)
            if len(values) != len(part):
                raise ValueError(f"evaluate returned {len(values)} values of {name} for {len(part)} points")
            outputs.setdefault(name, []).append(values)
        done = min(start + batch_size, len(X))
        progress(f"{label}: {done}/{len(X)} points evaluated, {time.perf_counter() - t0:.1f} s")
    Y = {name: np.concatenate(parts) for name, parts in outputs.items()}
    return analyze(method, prob, X, Y, seed), X, Y


def model_evaluator(scenario, free, n_seeds: int, out_dir, executor, outputs, file: str,
                    label: str):
    """An `evaluate` for `sensitivity` that runs the model: every point on the same seeds,
    through the store under `out_dir` (points already stored are not run again). Each
    output is the mean over seeds of the report's per-run measure. Returns (evaluate,
    point evaluator) so the caller can read how many runs were done and skipped."""
    from .calibrate import PointEvaluator
    from .outcomes import REQUIRED_COLUMNS, per_run

    columns = [c for c in REQUIRED_COLUMNS if c not in ("scenario", "seed", "year")]
    runner = PointEvaluator(scenario, n_seeds, out_dir, executor, label, file, columns=columns)
    names = [p.name for p in free]

    def evaluate(X: np.ndarray) -> dict[str, np.ndarray]:
        points = [{k: float(v) for k, v in zip(names, row)} for row in X]
        frames = runner.run(points)
        values = {o: np.empty(len(points)) for o in outputs}
        for i, frame in enumerate(frames):
            frame = frame.assign(scenario=scenario.name)
            runs = per_run(frame)
            for o in outputs:
                values[o][i] = float(runs[o].mean(skipna=False))
        return values

    return evaluate, runner


def plot_indices(table: pd.DataFrame, method: str, path, title: str) -> Path:
    """Bars per parameter, one panel per output: S1 and ST with their confidence intervals
    (sobol), or mu* with its interval and sigma (morris)."""
    from matplotlib.figure import Figure

    outputs = list(dict.fromkeys(table["output"]))
    fig = Figure(figsize=(max(5.0, 4.2 * len(outputs)), 4.6), layout="constrained")
    axes = fig.subplots(1, len(outputs), squeeze=False).ravel()
    bars = ((("S1", "S1_conf", "first order (S1)", "#1f4e79"), ("ST", "ST_conf", "total (ST)", "#c0392b"))
            if method == "sobol" else
            (("mu_star", "mu_star_conf", "mu* (mean |effect|)", "#1f4e79"), ("sigma", None, "sigma", "#c0392b")))
    for ax, output in zip(axes, outputs):
        sub = table[table["output"] == output]
        x = np.arange(len(sub))
        width = 0.38
        for j, (col, conf, label, colour) in enumerate(bars):
            vals = sub[col].to_numpy(float)
            err = sub[conf].to_numpy(float) if conf else None
            ax.bar(x + (j - 0.5) * width, np.nan_to_num(vals), width, yerr=None if err is None else np.nan_to_num(err),
                   capsize=3, color=colour, alpha=0.85, label=label)
        ax.set_xticks(x, [p.rpartition(".")[2] for p in sub["param"]], rotation=30, ha="right", fontsize=8)
        note = next((t for t in sub["note"] if isinstance(t, str) and t), "")
        ax.set_title(output + (f"\n({note})" if note else ""), fontsize=10)
        if method == "sobol":
            low = float(np.nanmin(np.r_[sub["S1"].to_numpy(float), 0.0]))  # estimates can be < 0
            ax.set_ylim(1.1 * low, max(1.0, float(np.nanmax(np.r_[sub["ST"].to_numpy(float), 0.0])) * 1.1))
            ax.set_ylabel("share of output variance")
        else:
            ax.set_ylabel("effect across the range (output's unit)")
        ax.axhline(0, color="black", lw=0.6)
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=11)
    path = Path(path)
    store.atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    return path


def write_outputs(table: pd.DataFrame, X: np.ndarray, Y: dict[str, np.ndarray], free, method: str,
                  out_dir, *, title: str, info: dict) -> list[Path]:
    """sensitivity.csv, samples.csv (every point and its outputs), sensitivity.json and
    figures/sensitivity.png."""
    from .provenance import git_info, package_versions, utc_now, utc_text

    out_dir = Path(out_dir)
    samples = pd.DataFrame(X, columns=[p.name for p in free])
    for name, values in Y.items():
        samples[name] = values
    written = [
        store.atomic_write(out_dir / "sensitivity.csv", lambda tmp: table.to_csv(tmp, index=False)),
        store.atomic_write(out_dir / "samples.csv", lambda tmp: samples.to_csv(tmp, index=False)),
        plot_indices(table, method, out_dir / "figures" / "sensitivity.png", title),
    ]
    written.append(store.write_json(out_dir / "sensitivity.json", {
        **info, "method": method,
        "parameters": [{"name": p.name, "range": [p.low, p.high], "reason": p.reason} for p in free],
        "points": int(len(X)), "finished_utc": utc_text(utc_now()), "versions": package_versions(),
        "git": git_info(),
    }))
    return written
