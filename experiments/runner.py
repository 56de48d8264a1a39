"""Run a scenario over seeds, write its output directory, and summarise the result.

Seeds and common random numbers
-------------------------------
`replication_seeds(root, n)` spawns `n` child seeds from `numpy.random.SeedSequence(root)`
and turns each into one 32-bit integer, the seed a `PovertyModel` is built with. The list
depends only on `root` and `n`, never on the scenario, so every scenario run with the same
root gets the same replication seeds. Since the model gives every stochastic decision its
own named stream seeded from the run's seed, two scenarios that share a seed meet the same
illnesses, disasters and shocks and differ only by their policies: their differences are
paired comparisons under common random numbers. The first k of `replication_seeds(root, n)`
are the same for every n >= k, so adding replications keeps the earlier ones.

The output directory
--------------------
`write_outputs` writes `timeseries.parquet`, `manifest.json` and `figures/poverty.png` into
a temporary directory beside the output directory and moves them in only when all three
were written, so a failure leaves no half-written results; other files already in the
output directory are left alone.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from .bands import band_quantiles
from .provenance import git_info, json_default, package_versions, utc_text

#: The columns the public contract promises in every timeseries (plus `fiscal_cost_<measure>`).
CONTRACT_COLUMNS = (
    "scenario", "seed", "year", "households", "people", "registered_poor_households",
    "registered_poor_people", "exits_people", "returns_people", "new_poor_people",
    "income_poor_people", "mean_income_per_capita", "mean_income_registered", "dibao_people",
    "microcredit_active_loans", "microcredit_defaults", "relocated_people", "fiscal_cost_total",
)

#: Files a run writes, relative to the output directory.
OUTPUT_FILES = ("timeseries.parquet", "manifest.json", "figures/poverty.png")

#: What `summary_table` reports, in order.
SUMMARY_COLUMNS = (
    "registered_poor_people", "exits_people", "returns_people", "new_poor_people",
    "mean_income_per_capita", "fiscal_cost_total",
)

# ---------------------------------------------------------------------------------------
# seeds


def replication_seeds(root: int, n: int) -> list[int]:
    """`n` model seeds spawned from `SeedSequence(root)`: the same for every scenario.

    Each child sequence is turned into one unsigned 32-bit integer
    (`child.generate_state(1, dtype=np.uint32)[0]`). Scenarios run with the same `root`
    get the same seeds, hence common random numbers (see the module docstring).
    """
    if int(root) < 0:
        raise ValueError(f"root seed must be non-negative, got {root}")
    if int(n) < 1:
        raise ValueError(f"number of seeds must be positive, got {n}")
    children = np.random.SeedSequence(int(root)).spawn(int(n))
    return [int(c.generate_state(1, dtype=np.uint32)[0]) for c in children]


# ---------------------------------------------------------------------------------------
# running


def _model_class():
    from sim.model import PovertyModel  # imported late: `povsim check` needs no model
    return PovertyModel


def caused_by_interrupt(exc: BaseException) -> bool:
    """Whether Ctrl-C is behind `exc`: a KeyboardInterrupt raised while compiled code was
    calling back into Python reaches us wrapped in a SystemError ("returned a result with
    an exception set"), the interrupt at the end of its chain of causes."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def run_one(scenario, seed: int, on_year=None) -> pd.DataFrame:
    """One run of the scenario's model with one seed: its per-year frame. `on_year(year)` is
    called as each simulated year begins (progress). Ctrl-C during the run is a
    KeyboardInterrupt, however deep in compiled code it struck (`caused_by_interrupt`)."""
    try:
        model = _model_class()(rng=int(seed), **scenario.model_kwargs())
        if on_year is None:
            frame = model.run()
        else:
            while model.running:
                if model.year <= model.end_year:
                    on_year(model.year)
                model.step()
            frame = model.timeseries()
    except Exception as exc:
        if caused_by_interrupt(exc):
            raise KeyboardInterrupt from exc
        raise
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"PovertyModel.run() returned {type(frame).__name__}, expected a DataFrame")
    frame = frame.reset_index(drop=True)
    # The model writes these itself; the runner knows them too and makes sure.
    if "scenario" not in frame.columns:
        frame.insert(0, "scenario", scenario.name)
    if "seed" not in frame.columns:
        frame.insert(1, "seed", int(seed))
    return frame


def resume_dir(out_dir) -> Path:
    """Where `povsim run` keeps each finished run until all are written to `out_dir`:
    `.<name>.resume/` beside it (so `out_dir` gets nothing before the results are whole),
    or `.povsim-resume/` inside it when it has no name of its own (`.`)."""
    out = Path(os.path.normpath(out_dir))
    if out.name in ("", ".", ".."):
        return out / ".povsim-resume"
    return out.parent / f".{out.name}.resume"


def kept_runs(keep, scenario, seeds: list[int]) -> list[int]:
    """The seeds of `seeds` whose run of `scenario` (this configuration) is kept whole in `keep`."""
    from . import store

    if keep is None or not Path(keep).is_dir():
        return []
    h = scenario.config_hash()
    have = store.completed(keep)
    return [int(s) for s in seeds if (scenario.name, int(s), h) in have]


def discard_kept(keep) -> None:
    """Remove what `run_scenario` kept in `keep` (the store's own files, then the folders
    left empty)."""
    from . import store

    if keep is None or not Path(keep).is_dir():
        return
    store.remove_written(keep)
    for folder in (Path(keep) / store.RUNS, Path(keep)):
        try:
            folder.rmdir()  # only when empty
        except OSError:
            pass


def _load_kept(keep, scenario, seed: int) -> pd.DataFrame:
    """A kept run's frame as `run_one` returned it (the store drops `scenario` and `seed`,
    which are its partition keys, and adds `config_hash`)."""
    import pyarrow.parquet as pq

    from . import store

    frame = pq.read_table(store.run_path(keep, scenario.name, seed, scenario.config_hash())).to_pandas()
    frame = frame.drop(columns=["config_hash"])
    frame.insert(0, "scenario", scenario.name)
    frame.insert(1, "seed", int(seed))
    return frame


def run_scenario(scenario, seeds: list[int], progress: bool = True, keep=None) -> pd.DataFrame:
    """Run the model once per seed (serially) and stack the per-year frames.

    With `progress`, one line per finished run goes to stderr; on a terminal that line is
    first a progress bar over the run's years, rewritten as each year begins.

    With `keep` (a directory, see `resume_dir`), each finished run is stored there as in a
    sweep's store, and a run already kept there whole (same configuration hash and seed,
    verified) is loaded instead of run again: an interrupted `povsim run` resumes. If the
    runs cannot be kept (the disk refuses), one warning line says so and they run on.
    """
    from . import store

    live = progress and _isatty(sys.stderr)
    frames = []
    n = len(seeds)
    years = scenario.end_year - scenario.start_year + 1
    kept = set(kept_runs(keep, scenario, seeds))
    for i, seed in enumerate(seeds, 1):
        t0 = time.perf_counter()
        head = f"[{i}/{n}] {scenario.name} seed {seed}"
        if int(seed) in kept:
            frames.append(_load_kept(keep, scenario, int(seed)))
            if progress:
                print(f"{head}: kept from an interrupted run, loaded", file=sys.stderr, flush=True)
            continue

        def bar(year, head=head, t0=t0):
            done = year - scenario.start_year
            filled = round(20 * done / years)
            print(f"\r{head}: {'#' * filled}{'.' * (20 - filled)} {year} ({done}/{years} years, "
                  f"{time.perf_counter() - t0:.0f} s)", end="", file=sys.stderr, flush=True)

        frames.append(run_one(scenario, seed, on_year=bar if live else None))
        if keep is not None:
            try:
                store.write_run(keep, scenario.name, int(seed), scenario.config_hash(), frames[-1])
            except OSError as exc:
                print(f"povsim: warning: cannot keep finished runs in {keep} ({exc.strerror or exc}): "
                      "an interrupted run will start over", file=sys.stderr, flush=True)
                keep = None
        if progress:
            dt = time.perf_counter() - t0
            print(f"{chr(13) if live else ''}{head}: {scenario.start_year}-{scenario.end_year}, "
                  f"{scenario.households:,} households, {dt:.2f} s" + (" " * 20 if live else ""),
                  file=sys.stderr, flush=True)
    df = pd.concat(frames, ignore_index=True)
    return df


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def missing_contract_columns(df: pd.DataFrame, measures=()) -> list[str]:
    """Contract columns (and `fiscal_cost_<measure>` for the given measures) not in `df`."""
    wanted = list(CONTRACT_COLUMNS) + [f"fiscal_cost_{m}" for m in measures]
    return [c for c in wanted if c not in df.columns]


def build_manifest(df: pd.DataFrame, scenario, seeds: list[int], started: datetime,
                   finished: datetime, command: list[str] | None = None,
                   seeding: dict | None = None) -> dict:
    years = sorted(int(y) for y in df["year"].unique()) if "year" in df.columns and len(df) else []
    return {
        "scenario": scenario.name,
        "scenario_file": str(scenario.file),
        "description": scenario.description,
        "config_hash": scenario.config_hash(),
        "seeds": [int(s) for s in seeds],
        "seeding": seeding,
        "rows": int(len(df)),
        "years": [years[0], years[-1]] if years else None,
        "columns": [str(c) for c in df.columns],
        "files": list(OUTPUT_FILES),
        "versions": package_versions(),
        "git": git_info(),
        "host": socket.gethostname(),
        "started_utc": utc_text(started),
        "finished_utc": utc_text(finished),
        "command": list(sys.argv if command is None else command),
        "config": scenario.resolved(),
    }


# ---------------------------------------------------------------------------------------
# writing


def write_outputs(df: pd.DataFrame, scenario, seeds: list[int], out_dir, started: datetime,
                  finished: datetime, *, command: list[str] | None = None,
                  seeding: dict | None = None) -> Path:
    """Write timeseries.parquet, manifest.json and figures/poverty.png into `out_dir`.

    Atomic per run: everything is first written into a temporary directory beside
    `out_dir` (same parent, hence same file system; inside `out_dir` if only that is
    writable), and only when all files exist are
    they moved in (each by an atomic rename). A failure while writing removes the
    temporary directory and leaves `out_dir` as it was; files in `out_dir` other than
    the ones listed in OUTPUT_FILES are never touched. Returns `out_dir`.
    """
    from .figures import plot_poverty

    out_dir = Path(out_dir)
    real = out_dir.resolve()  # through symlinks: stage on the file system the files end up on
    parent = real.parent
    prefix = f".{real.name or 'out'}.tmp-"
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    except PermissionError:
        if not out_dir.is_dir():
            raise
        # a writable output directory in a read-only parent: stage inside it instead
        tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=out_dir))
    try:
        df.to_parquet(tmp / "timeseries.parquet", engine="pyarrow", index=False)
        manifest = build_manifest(df, scenario, seeds, started, finished, command, seeding)
        text = json.dumps(manifest, indent=2, default=json_default, allow_nan=False)
        (tmp / "manifest.json").write_text(text + "\n", encoding="utf-8")
        (tmp / "figures").mkdir()
        plot_poverty(df, tmp / "figures" / "poverty.png",
                     about=f"region {scenario.profile.name}, {scenario.households:,} households")
        for rel in OUTPUT_FILES:  # all written: now move them in
            if not (tmp / rel).is_file():
                raise RuntimeError(f"internal error: {rel} was not written")
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "figures").mkdir(exist_ok=True)
        for rel in OUTPUT_FILES:
            os.replace(tmp / rel, out_dir / rel)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


# ---------------------------------------------------------------------------------------
# summary


def summary_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per year: the mean over seeds of the SUMMARY_COLUMNS and, with more than one seed,
    a band over seeds in `<column>_lo` / `<column>_hi` (min-max below 20 seeds, else 5-95%).

    With several scenarios in `df` the table is indexed by (scenario, year). The band's
    label and the number of seeds are in `table.attrs["band"]` and `table.attrs["seeds"]`.
    """
    cols = [c for c in SUMMARY_COLUMNS if c in df.columns]
    keys = ["scenario", "year"] if "scenario" in df.columns and df["scenario"].nunique() > 1 else ["year"]
    n_seeds = int(df["seed"].nunique()) if "seed" in df.columns else 1
    grouped = df.groupby(keys, sort=True)[cols]
    table = grouped.mean()
    lo_q, hi_q, label = band_quantiles(n_seeds)
    if n_seeds > 1:
        lo = grouped.quantile(lo_q) if lo_q > 0 else grouped.min()
        hi = grouped.quantile(hi_q) if hi_q < 1 else grouped.max()
        parts = {}
        for c in cols:
            parts[c] = table[c]
            parts[f"{c}_lo"] = lo[c]
            parts[f"{c}_hi"] = hi[c]
        table = pd.DataFrame(parts)
    table.attrs["band"] = label if n_seeds > 1 else None
    table.attrs["seeds"] = n_seeds
    return table


# how each summary column is shown: header, unit, divisor, decimals
_DISPLAY = {
    "registered_poor_people": ("registered poor", "1000 people", 1e3, 1),
    "exits_people": ("exits", "1000 people", 1e3, 1),
    "returns_people": ("returns", "1000 people", 1e3, 1),
    "new_poor_people": ("new poor", "1000 people", 1e3, 1),
    "mean_income_per_capita": ("income per capita", "yuan", 1.0, 0),
    "fiscal_cost_total": ("fiscal cost", "million yuan", 1e6, 1),
}


def format_summary(table: pd.DataFrame) -> str:
    """The summary table as aligned text: `mean [low-high]` per cell when there is a band."""
    band = table.attrs.get("band")
    seeds = table.attrs.get("seeds", 1)
    cols = [c for c in _DISPLAY if c in table.columns]
    index_names = list(table.index.names)

    def cell(row, c):
        _, _, div, dec = _DISPLAY[c]
        fmt = lambda v: "n/a" if pd.isna(v) else f"{v / div:,.{dec}f}"  # noqa: E731
        text = fmt(row[c])
        if band and f"{c}_lo" in table.columns:
            text += f" [{fmt(row[f'{c}_lo'])}-{fmt(row[f'{c}_hi'])}]"
        return text

    header1 = [str(n) for n in index_names] + [_DISPLAY[c][0] for c in cols]
    header2 = [""] * len(index_names) + [f"({_DISPLAY[c][1]})" for c in cols]
    rows = []
    for idx, row in table.iterrows():
        idx = idx if isinstance(idx, tuple) else (idx,)
        rows.append([str(v) for v in idx] + [cell(row, c) for c in cols])
    widths = [max(len(r[i]) for r in [header1, header2, *rows]) for i in range(len(header1))]
    n_idx = len(index_names)

    def line(r):
        return "  ".join(v.ljust(w) if i < n_idx else v.rjust(w)
                         for i, (v, w) in enumerate(zip(r, widths))).rstrip()

    if band:
        note = f"mean over {seeds} seeds [{band} over seeds]"
    else:
        note = f"{seeds} seed" + ("s" if seeds != 1 else "")
    out = [note, line(header1), line(header2), *(line(r) for r in rows)]
    return "\n".join(out)
