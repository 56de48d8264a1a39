"""The per-run outcome indicators the analyses report, their t-intervals, and the results
of an output directory: what `povsim report`, `povsim compare`, the sensitivity analysis and
the planner's page share."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from sim.errors import InputError

from .store import read_manifest_quietly

#: Confidence level of every interval.
LEVEL = 0.90

#: The per-run outcome indicators, in order: name -> (header, unit, divisor for display, decimals).
OUTCOMES: dict[str, tuple[str, str, float, int]] = {
    "exits": ("exits", "1000 people", 1e3, 1),
    "returns": ("returns", "1000 people", 1e3, 1),
    "new_poor": ("new poor", "1000 people", 1e3, 1),
    "return_rate": ("return rate", "%", 1e-2, 1),
    "remaining_poor": ("registered poor at end", "1000 people", 1e3, 1),
    "fiscal_cost": ("fiscal cost", "million yuan", 1e6, 1),
    "cost_per_sustained_exit": ("cost per sustained exit", "yuan/person", 1.0, 0),
}

#: Timeseries columns the measures are computed from.
REQUIRED_COLUMNS = ("scenario", "seed", "year", "exits_people", "returns_people",
                    "new_poor_people", "registered_poor_people", "fiscal_cost_total")


def check_results(df: pd.DataFrame) -> None:
    """ValueError if the results lack a column the outcomes need, are empty, or hold a run twice."""
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"results lack the column(s) {', '.join(missing)}")
    if df.empty:
        raise ValueError("results are empty: no runs to summarize")
    dup = df.duplicated(["scenario", "seed", "year"])
    if dup.any():
        first = df.loc[dup, ["scenario", "seed", "year"]].iloc[0].tolist()
        raise ValueError(f"{int(dup.sum())} duplicate (scenario, seed, year) rows, e.g. {first}: "
                         "the same run appears twice (mixed configurations under one name?)")


def per_run(df: pd.DataFrame) -> pd.DataFrame:
    """The measures of every run: one row per (scenario, seed), columns as in `OUTCOMES`."""
    check_results(df)
    df = df.sort_values(["scenario", "seed", "year"])
    g = df.groupby(["scenario", "seed"], sort=True)
    out = pd.DataFrame({
        "exits": g["exits_people"].sum(),
        "returns": g["returns_people"].sum(),
        "new_poor": g["new_poor_people"].sum(),
        "remaining_poor": g["registered_poor_people"].last(),
        "fiscal_cost": g["fiscal_cost_total"].sum(),
    })
    exits = out["exits"].to_numpy(float)
    returns = out["returns"].to_numpy(float)
    sustained = exits - returns
    with np.errstate(divide="ignore", invalid="ignore"):
        out["return_rate"] = np.where(exits > 0, returns / exits, np.nan)
        out["cost_per_sustained_exit"] = np.where(sustained > 0, out["fiscal_cost"] / sustained, np.nan)
    return out[list(OUTCOMES)].astype(float)


def t_interval(values) -> tuple[float, float, float, int]:
    """(mean, low, high, n) of the 90% t-interval for the mean of `values` (NaNs dropped)."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    n = int(x.size)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    mean = float(x.mean())
    if n == 1:
        return mean, math.nan, math.nan, 1
    half = float(stats.t.ppf(0.5 + LEVEL / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return mean, mean - half, mean + half, n


def load_directory(directory: Path, every_run: bool = False) -> pd.DataFrame:
    """The results in `directory`: a sweep's `runs/` store, or a run's `timeseries.parquet`.
    `every_run`: a sweep's stored runs of every scenario, also those no longer in it (when
    its manifest, which names the current ones, cannot be read). A file that cannot be
    read is an InputError naming it."""
    directory = Path(directory)
    if (directory / "runs").is_dir():
        from experiments.store import load_results  # late: the store is optional here
        try:
            return load_results(directory, current_only=False) if every_run else load_results(directory)
        except FileNotFoundError as exc:
            raise InputError(str(directory), "runs", f"no stored runs ({exc})") from None
    ts = directory / "timeseries.parquet"
    if ts.is_file():
        import pyarrow as pa

        try:
            return pd.read_parquet(ts)
        except (OSError, pa.ArrowException) as exc:
            raise InputError(str(ts), "", f"cannot be read as Parquet ({type(exc).__name__}: "
                             f"{' '.join(str(exc).split())[:160]}); run the scenario again to rewrite it") from None
    if not directory.is_dir():
        raise InputError(str(directory), "", "no such directory")
    raise InputError(str(directory), "", "no results here: expected runs/ (from povsim sweep) "
                     "or timeseries.parquet (from povsim run)")


def manifest_configs(directory, scenario: str | None = None) -> list[dict]:
    """The resolved configurations the manifest.json of `directory` records: a run's, or a
    sweep's scenarios' (only `scenario`'s when given); none when it cannot be read."""
    manifest = read_manifest_quietly(directory)
    if not isinstance(manifest, dict):
        return []
    entries = manifest.get("scenarios")
    if isinstance(entries, list):
        configs = [e.get("config") for e in entries
                   if isinstance(e, dict) and (scenario is None or e.get("name") == scenario)]
    else:
        configs = [manifest.get("config")]
    return [c for c in configs if isinstance(c, dict)]
