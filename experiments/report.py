"""Compare scenarios over seeds: totals, return rate, cost per sustained exit, paired differences.

What is measured
----------------
For every scenario and seed (one run), over the whole horizon of the run:

=========================  =================================================================
``exits``                  people who exited the register, summed over the years
``returns``                people who returned to the register after exiting, summed
``new_poor``               people newly registered, summed
``return_rate``            ``returns / exits`` of the run (the share of people exited so far
                           who came back; NaN when nobody exited)
``remaining_poor``         people on the register at the end of the last year
``fiscal_cost``            fiscal cost of all measures, summed (yuan)
``cost_per_sustained_exit``  ``fiscal_cost / (exits - returns)`` (yuan per person who exited
                           and stayed out; NaN when ``exits <= returns``)
=========================  =================================================================

Ratios are computed per run and then averaged over seeds (the mean of the ratios, not the
ratio of the means), so that each has a per-seed value, a spread and a paired difference.

Intervals
---------
Every interval is a two-sided **90% Student-t confidence interval for the mean over seeds**:
``mean +- t(0.95, n-1) * sd / sqrt(n)`` with the sample standard deviation over the ``n``
seeds. It says how precisely the seeds pin down the scenario's expected value (it narrows as
seeds are added); it is not the spread of single runs (``figures.py`` draws that). With one
seed there is no interval (NaN).

Against a baseline the difference ``scenario - baseline`` is taken **per seed**, over the
seeds both were run with. Scenarios run with the same seed share every random event (common
random numbers, see ``experiments/runner.py``), so the per-seed differences vary far less
than the runs do and the paired t-interval ``mean(d) +- t(0.95, n-1) * sd(d) / sqrt(n)`` is
much narrower than the interval of two independent samples (Welch's t-interval), which is
what ``paired_vs_unpaired`` shows.

Use from a notebook
-------------------
::

    from experiments.report import summarize, plot_exits_returns, plot_causes, plot_cost_effectiveness
    from experiments.store import load_results            # results of `povsim sweep`

    df = load_results("results/my_sweep")                 # or pd.read_parquet(".../timeseries.parquet")
    table = summarize(df, baseline="baseline")            # one row per scenario
    table.loc["shangluo", ["return_rate_mean", "return_rate_lo", "return_rate_hi"]]
    plot_exits_returns(df, "exits_returns.png")           # returns the Figure when path is None

``report(directory, baseline)`` does all of it for an output directory (``povsim report``):
it prints the table and writes ``report.csv``, ``report.md`` and ``figures/exits_returns.png``,
``figures/causes.png`` and ``figures/cost_effectiveness.png``.
"""

from __future__ import annotations

import io
import math
import sys
from pathlib import Path
from typing import NamedTuple

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator
from scipy import stats

from sim.errors import InputError, nearest

from .compare import YEARLY, draw_differences, label_difference_axes, paired_differences
from .figures import mean_band
from .fonts import prepare
from .outcomes import (LEVEL, OUTCOMES, check_results, load_directory, manifest_configs, per_run,
                       t_interval)
from .store import atomic_write, manifest_problem, read_manifest_quietly
from .store import provenance_warnings as store_provenance_warnings

FIGURES = ("exits_returns.png", "causes.png", "cost_effectiveness.png")

_THOUSANDS = FuncFormatter(lambda v, _: f"{v:,.0f}")
_COLOURS = matplotlib.colormaps["tab10"].colors


# ---------------------------------------------------------------------------------------
# per-run measures and intervals


def welch_half_width(a, b) -> float:
    """Half-width of the 90% Welch t-interval for mean(a) - mean(b), independent samples."""
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if a.size < 2 or b.size < 2:
        return math.nan
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se2 = va + vb
    if se2 == 0:
        return 0.0
    dof = se2 ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1))
    return float(stats.t.ppf(0.5 + LEVEL / 2, dof) * math.sqrt(se2))


def _paired(runs: pd.DataFrame, scenario: str, baseline: str, measure: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-seed values of `measure` for both scenarios, over the seeds both were run with."""
    a = runs.loc[scenario, measure]
    b = runs.loc[baseline, measure]
    common = a.index.intersection(b.index).sort_values()
    return a.loc[common].to_numpy(float), b.loc[common].to_numpy(float)


def _check_baseline(names, baseline: str, file: str = "results") -> None:
    if baseline not in names:
        raise InputError(file, "baseline",
                         f"no scenario named '{baseline}' in the results{nearest(baseline, names)}"
                         f" (scenarios: {', '.join(names)})")


# ---------------------------------------------------------------------------------------
# summary


def summarize(df: pd.DataFrame, baseline: str | None = None) -> pd.DataFrame:
    """One row per scenario (the index): every measure's mean over seeds and 90% t-interval.

    Columns: ``seeds`` (runs of the scenario) and, for every measure `m` of `OUTCOMES`,
    ``m_mean``, ``m_lo``, ``m_hi``. With a `baseline` also ``paired_seeds`` (seeds shared with
    the baseline) and ``m_diff_mean``, ``m_diff_lo``, ``m_diff_hi``: the mean over shared seeds
    of ``scenario - baseline`` and its paired 90% t-interval (zero for the baseline itself).
    An unknown baseline raises `InputError` with the nearest scenario name.
    `table.attrs` holds ``baseline``, ``level`` and ``interval`` (a description).
    """
    runs = per_run(df)
    names = [str(s) for s in runs.index.get_level_values("scenario").unique()]
    if baseline is not None:
        _check_baseline(names, baseline)
    rows = {}
    for name in names:
        row: dict[str, float] = {"seeds": int(len(runs.loc[name]))}
        for m in OUTCOMES:
            mean, lo, hi, _ = t_interval(runs.loc[name, m])
            row.update({f"{m}_mean": mean, f"{m}_lo": lo, f"{m}_hi": hi})
        if baseline is not None:
            a, _ = _paired(runs, name, baseline, "exits")
            row["paired_seeds"] = int(a.size)
            for m in OUTCOMES:
                a, b = _paired(runs, name, baseline, m)
                mean, lo, hi, _ = t_interval(a - b)
                row.update({f"{m}_diff_mean": mean, f"{m}_diff_lo": lo, f"{m}_diff_hi": hi})
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "scenario"
    table["seeds"] = table["seeds"].astype(int)
    if "paired_seeds" in table:
        table["paired_seeds"] = table["paired_seeds"].astype(int)
    table.attrs.update(baseline=baseline, level=LEVEL,
                       interval=f"{LEVEL:.0%} t-interval of the mean over seeds"
                                + ("; differences paired by seed" if baseline else ""))
    return table


class IntervalWidths(NamedTuple):
    """Full widths of the 90% intervals of a difference, paired by seed and unpaired."""
    paired: float
    unpaired: float
    seeds: int


def paired_vs_unpaired(df: pd.DataFrame, scenario: str, baseline: str, column: str) -> IntervalWidths:
    """Widths of the 90% interval of ``mean(scenario) - mean(baseline)`` computed two ways:
    paired by seed (t-interval of the per-seed differences) and as if the runs were
    independent (Welch's t-interval), over the seeds both scenarios share.

    `column` is a measure of `OUTCOMES` (``exits``, ``return_rate``, ...) or a timeseries
    column, which is then summed over the years of each run (so pass a flow, such as
    ``returns_people`` or ``fiscal_cost_microcredit``).
    """
    runs = per_run(df)
    names = [str(s) for s in runs.index.get_level_values("scenario").unique()]
    for which, name in (("scenario", scenario), ("baseline", baseline)):
        if name not in names:
            raise ValueError(f"{which} '{name}' not in the results{nearest(name, names)}")
    if column not in OUTCOMES:
        if column not in df.columns:
            raise ValueError(f"unknown column '{column}'{nearest(column, [*OUTCOMES, *df.columns])}")
        runs = df.groupby(["scenario", "seed"], sort=True)[[column]].sum().astype(float)
    a, b = _paired(runs, scenario, baseline, column)
    _, lo, hi, _ = t_interval(a - b)
    return IntervalWidths(paired=float(hi - lo), unpaired=2.0 * welch_half_width(a, b), seeds=int(a.size))


# ---------------------------------------------------------------------------------------
# text


def _fmt(value: float, measure: str, signed: bool = False) -> str:
    _, _, div, dec = OUTCOMES[measure]
    if value is None or pd.isna(value):
        return "n/a"
    return f"{value / div:{'+' if signed else ''},.{dec}f}"


def _cell(row: pd.Series, measure: str, prefix: str = "", signed: bool = False) -> str:
    mean, lo, hi = (row.get(f"{measure}_{prefix}{k}") for k in ("mean", "lo", "hi"))
    text = _fmt(mean, measure, signed)
    if lo is not None and not pd.isna(lo):
        text += f" [{_fmt(lo, measure, signed)}, {_fmt(hi, measure, signed)}]"
    return text


def _rows(table: pd.DataFrame, prefix: str = "", signed: bool = False) -> tuple[list[str], list[list[str]]]:
    header = ["measure", "unit", *[str(s) for s in table.index]]
    rows = [[OUTCOMES[m][0], OUTCOMES[m][1], *(_cell(table.loc[s], m, prefix, signed) for s in table.index)]
            for m in OUTCOMES]
    return header, rows


def _note(table: pd.DataFrame) -> str:
    seeds = sorted(set(int(s) for s in table["seeds"]))
    n = "/".join(str(s) for s in seeds)
    return f"mean over {n} seeds [{table.attrs.get('level', LEVEL):.0%} t-interval of the mean]"


def format_table(table: pd.DataFrame) -> str:
    """The summary as aligned text: measures as rows, scenarios as columns, then the
    differences from the baseline when there is one."""
    def block(header, rows):
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        line = lambda r: "  ".join(v.ljust(w) if i < 2 else v.rjust(w)  # noqa: E731
                                   for i, (v, w) in enumerate(zip(r, widths))).rstrip()
        return [line(header), *(line(r) for r in rows)]

    out = [_note(table), *block(*_rows(table))]
    baseline = table.attrs.get("baseline")
    if baseline is not None and "exits_diff_mean" in table:
        others = table.drop(index=baseline)
        if len(others):
            out += ["", f"difference from {baseline}, paired by seed "
                        f"[{table.attrs.get('level', LEVEL):.0%} t-interval]",
                    *block(*_rows(others, "diff_", signed=True))]
    return "\n".join(out)


def format_markdown(table: pd.DataFrame, figures: bool = True) -> str:
    """The summary as a Markdown document (what `report` writes to report.md)."""
    def md(header, rows):
        align = ["---", "---", *["---:"] * (len(header) - 2)]
        return ["| " + " | ".join(r) + " |" for r in (header, align, *rows)]

    baseline = table.attrs.get("baseline")
    out = ["# Scenario comparison", "",
           f"Scenarios: {', '.join(str(s) for s in table.index)}. "
           f"Each cell is the {_note(table)}; totals are over each run's horizon. "
           "Return rate = returns / exits of a run; cost per sustained exit = "
           "fiscal cost / (exits - returns) of a run; both averaged over seeds.", "",
           *md(*_rows(table))]
    if baseline is not None and "exits_diff_mean" in table:
        others = table.drop(index=baseline)
        if len(others):
            out += ["", f"## Difference from {baseline}", "",
                    f"Scenario minus {baseline}, per seed over the seeds both share (common random "
                    f"numbers), mean and {table.attrs.get('level', LEVEL):.0%} paired t-interval.", "",
                    *md(*_rows(others, "diff_", signed=True))]
    if figures:
        out += ["", "## Figures", "",
                "![exits and returns](figures/exits_returns.png)", "",
                "![registered poor by cause](figures/causes.png)", "",
                "![cost effectiveness](figures/cost_effectiveness.png)"]
        if baseline is not None and len(table.index) > 1:
            out += ["", f"![difference from {baseline} by year](figures/differences.png)"]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------
# figures


def _finish(fig, path):
    """Save `fig` as PNG to `path` (a path or a binary file); without a path, return the
    figure (for notebooks).

    Figures are built as `matplotlib.figure.Figure` objects, not through pyplot: they draw
    with Agg when saved, need no display, leave pyplot's list of open figures and the
    session's backend alone (a notebook keeps its inline backend), and are freed when
    dropped."""
    if path is None:
        return fig
    fig.savefig(path, dpi=120, format="png")
    return path


def _scenarios(df: pd.DataFrame) -> list[str]:
    """Scenario names, sorted as in the `summarize` table, so colours agree across figures."""
    return sorted(str(s) for s in pd.unique(df["scenario"]))


def _year_axis(ax):
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(_THOUSANDS)
    ax.set_xlabel("year")
    ax.grid(True, alpha=0.3)


def plot_exits_returns(df: pd.DataFrame, path=None, about: str | None = None):
    """Exits and returns (people per year) over time, one line per scenario (mean over seeds)
    with a band over seeds (min-max, or 5-95% from 20 seeds); two panels so that the small
    returns stay readable. Saves a PNG to `path`, or returns the Figure when `path` is None."""
    names = _scenarios(df)
    fig = Figure(figsize=(13, 4.8), layout="constrained")
    axes = fig.subplots(1, 2)
    band_label = None
    for ax, column, title in ((axes[0], "exits_people", "Exits from the register"),
                              (axes[1], "returns_people", "Returns to the register")):
        for i, name in enumerate(names):
            colour = _COLOURS[i % len(_COLOURS)]
            mean, lo, hi, band = mean_band(df[df["scenario"] == name], column)
            ax.plot(mean.index, mean.values, color=colour, lw=2, marker="o", ms=4, label=name)
            if band:
                ax.fill_between(mean.index, lo.values, hi.values, color=colour, alpha=0.15, lw=0)
                band_label = band
        ax.set_title(title, fontsize=11)
        ax.set_ylabel("people per year")
        ax.set_ylim(bottom=0)
        _year_axis(ax)
    axes[0].legend(fontsize=9, frameon=False, loc="best")
    seeds = int(df["seed"].nunique())
    note = f"mean over {seeds} seeds, shaded: {band_label} over seeds" if band_label else f"{seeds} seed"
    text = f"Exits and returns by scenario ({about + '; ' if about else ''}{note})"
    prepare(text, *names)
    fig.suptitle(text, fontsize=12, fontweight="bold")
    return _finish(fig, path)


def cause_columns(df: pd.DataFrame) -> list[str]:
    """The `poor_people_cause_*` columns of `df` that are not zero everywhere, largest first."""
    cols = [c for c in df.columns if str(c).startswith("poor_people_cause_")]
    totals = df[cols].sum().sort_values(ascending=False)
    return [c for c in totals.index if totals[c] > 0]


def plot_causes(df: pd.DataFrame, path=None, about: str | None = None):
    """Registered poor people by diagnosed cause over time: one panel per scenario, one line
    per cause (mean over seeds), the whole register dashed for reference.

    Lines, not stacked areas: a household can have several diagnosed causes, so the cause
    counts overlap and add up to more than the register. Saves a PNG to `path`, or returns
    the Figure when `path` is None."""
    names = _scenarios(df)
    causes = cause_columns(df)
    n = len(names)
    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(4.6 * ncols + 1.8, 3.6 * nrows + 0.8), layout="constrained")
    axes = fig.subplots(nrows, ncols, sharey=True, squeeze=False)
    cmap = matplotlib.colormaps["tab20"].colors
    colour = {c: cmap[(2 * i) % 20 if i < 10 else (2 * (i - 10) + 1) % 20] for i, c in enumerate(causes)}
    for k, name in enumerate(names):
        ax = axes[k // ncols][k % ncols]
        sub = df[df["scenario"] == name]
        by_year = sub.groupby("year", sort=True)
        total = by_year["registered_poor_people"].mean()
        ax.plot(total.index, total.values, color="black", lw=1.5, ls="--", label="all registered poor")
        for c in causes:
            mean = by_year[c].mean()
            ax.plot(mean.index, mean.values, color=colour[c], lw=1.8, marker="o", ms=3,
                    label=c.removeprefix("poor_people_cause_"))
        ax.set_title(name, fontsize=11)
        ax.set_ylim(bottom=0)
        _year_axis(ax)
        if k % ncols == 0:
            ax.set_ylabel("registered people, end of year")
    for k in range(n, nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", fontsize=9, frameon=False, title="cause")
    seeds = int(df["seed"].nunique())
    text = f"Registered poor by diagnosed cause ({about + '; ' if about else ''}mean over {seeds} seeds; causes overlap)"
    prepare(text, *names)
    fig.suptitle(text, fontsize=12, fontweight="bold")
    return _finish(fig, path)


def plot_cost_effectiveness(summary: pd.DataFrame, path=None, about: str | None = None):
    """Cost per sustained exit against the return rate, one point per scenario (the
    `summarize` table), with its 90% t-intervals as bars. Saves a PNG to `path`, or returns
    the Figure when `path` is None."""
    fig = Figure(figsize=(8.5, 5.2), layout="constrained")
    ax = fig.subplots()
    markers = "osD^vP*Xh<>p"
    for i, name in enumerate(summary.index):
        row = summary.loc[name]
        x, y = 100 * row["return_rate_mean"], row["cost_per_sustained_exit_mean"]
        if pd.isna(x) or pd.isna(y):
            continue
        xerr = yerr = None
        if not pd.isna(row["return_rate_lo"]):
            xerr = [[x - 100 * row["return_rate_lo"]], [100 * row["return_rate_hi"] - x]]
        if not pd.isna(row["cost_per_sustained_exit_lo"]):
            yerr = [[y - row["cost_per_sustained_exit_lo"]], [row["cost_per_sustained_exit_hi"] - y]]
        ax.errorbar([x], [y], xerr=xerr, yerr=yerr, fmt=markers[i % len(markers)], ms=8,
                    color=_COLOURS[i % len(_COLOURS)], capsize=4, lw=1.5, alpha=0.85, label=str(name))
    if ax.get_legend_handles_labels()[0]:
        fig.legend(loc="outside right upper", fontsize=9, frameon=False, title="scenario")
    ax.set_xlabel("return rate (returns / exits, %)")
    ax.set_ylabel("fiscal cost per sustained exit (yuan per person)")
    ax.yaxis.set_major_formatter(_THOUSANDS)
    ax.grid(True, alpha=0.3)
    ax.margins(0.25)
    level = summary.attrs.get("level", LEVEL)
    text = f"Cost effectiveness ({about + '; ' if about else ''}mean over seeds, bars: {level:.0%} t-interval)"
    prepare(text, *(str(n) for n in summary.index))
    ax.set_title(text, fontsize=11)
    return _finish(fig, path)


# ---------------------------------------------------------------------------------------
# the report of an output directory


def provenance_warnings(directory: Path) -> list[str]:
    """For a sweep's store: runs from different configuration hashes or code commits, and
    runs of scenarios no longer in the sweep (see `experiments.store.provenance_warnings`)."""
    if not (Path(directory) / "runs").is_dir():
        return []
    return store_provenance_warnings(directory)


def _text(s: str):
    return lambda tmp: tmp.write_text(s, encoding="utf-8")


def _manifest_baseline(directory: Path, names: list[str]) -> str | None:
    """The baseline a sweep's manifest.json names, when it is among the results."""
    manifest = read_manifest_quietly(directory)
    name = manifest.get("baseline") if isinstance(manifest, dict) else None
    return name if isinstance(name, str) and name in names else None


def what_was_run(directory: Path, df: pd.DataFrame) -> str:
    """'region shangluo, 5 seeds, 20,000 households' for figure titles: the regions and
    household rows the manifest of `directory` records (a run's or a sweep's), and the
    seeds of the results."""
    seeds = int(df["seed"].nunique())
    configs = manifest_configs(directory)
    regions = sorted({str(c["profile"]) for c in configs if "profile" in c})
    rows = sorted({int(c["households"]) for c in configs if isinstance(c.get("households"), int)})
    parts = [f"region{'s' if len(regions) > 1 else ''} {', '.join(regions)}"] if regions else []
    parts.append(f"{seeds} seed{'s' if seeds != 1 else ''}")
    if rows:
        parts.append(f"{' / '.join(f'{r:,}' for r in rows)} households")
    return ", ".join(parts)


def plot_differences(df: pd.DataFrame, baseline: str, path=None, about: str | None = None):
    """Each scenario minus the baseline, paired by seed, by year: one panel per yearly
    measure of `experiments/compare.py`, a line per scenario with its 90% t-interval
    shaded and the zero line. Saves a PNG to `path`, or returns the Figure."""
    everyone = _scenarios(df)
    names = [n for n in everyone if n != baseline]
    fig = Figure(figsize=(16, 4.6), layout="constrained")
    axes = fig.subplots(1, len(YEARLY))
    base = df[df["scenario"] == baseline]
    for name in names:
        try:
            yearly, _ = paired_differences(base, df[df["scenario"] == name], (baseline, name))
        except InputError:  # no seed shared with the baseline: nothing to pair
            continue
        draw_differences(axes, yearly, _COLOURS[everyone.index(name) % len(_COLOURS)], label=name)
    label_difference_axes(axes, f" from {baseline}")
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside right center", fontsize=9, frameon=False, title="scenario")
    text = (f"Difference from {baseline}, paired by seed ({about + '; ' if about else ''}"
            f"shaded: {LEVEL:.0%} t-interval of the mean)")
    prepare(text, *names)
    fig.suptitle(text, fontsize=12, fontweight="bold")
    return _finish(fig, path)


def report(directory: Path, baseline: str | None = None, out=None) -> int:
    """Summarize the results in `directory`, print the table (to `out`, default stdout) and
    write ``report.csv``, ``report.md`` and ``figures/{exits_returns,causes,
    cost_effectiveness}.png`` into it, each through a temporary file. Returns 0.

    Without `baseline`, the one named in the directory's manifest.json (a sweep's
    ``baseline``) is used when it is among the results; otherwise there are no differences.
    Bad input (no results, an unknown baseline) raises `InputError` before anything is written.
    """
    directory = Path(directory)
    damaged = manifest_problem(directory)
    df = load_directory(directory, every_run=damaged is not None)
    warnings = provenance_warnings(directory)
    if damaged is not None:
        left_out = (["the baseline comparison (give --baseline NAME)"] if baseline is None else []) + (
            ["telling apart runs of scenarios no longer in the sweep (every stored run is reported)",
             "the check of stored runs against the sweep's configurations"]
            if (directory / "runs").is_dir() else []) + ["the regions and households in the figures' titles"]
        line = f"{damaged}: left out: {'; '.join(left_out)}"
        print(f"povsim: warning: {line}", file=sys.stderr)
    for warning in warnings:
        print(f"povsim: warning: {directory}: {warning}", file=sys.stderr)
    if damaged is not None:
        warnings = [line, *warnings]
    try:
        check_results(df)
    except ValueError as exc:
        raise InputError(str(directory), "", str(exc)) from None
    if baseline is None:
        baseline = _manifest_baseline(directory, _scenarios(df))
    if baseline is not None:
        _check_baseline(_scenarios(df), baseline, str(directory))
    table = summarize(df, baseline)

    csv = io.StringIO()
    table.to_csv(csv)
    atomic_write(directory / "report.csv", _text(csv.getvalue()))
    markdown = format_markdown(table)
    if warnings:  # kept with the numbers they qualify
        markdown += "\n## Provenance warnings\n\n" + "".join(f"- {w}\n" for w in warnings)
    atomic_write(directory / "report.md", _text(markdown))
    figures = directory / "figures"
    about = what_was_run(directory, df)
    atomic_write(figures / "exits_returns.png", lambda tmp: plot_exits_returns(df, tmp, about))
    atomic_write(figures / "causes.png", lambda tmp: plot_causes(df, tmp, about))
    atomic_write(figures / "cost_effectiveness.png", lambda tmp: plot_cost_effectiveness(table, tmp, about))
    differences = baseline is not None and len(_scenarios(df)) > 1
    if differences:
        atomic_write(figures / "differences.png", lambda tmp: plot_differences(df, baseline, tmp, about))

    out = sys.stdout if out is None else out
    print(format_table(table), file=out)
    drawn = [*FIGURES, *(["differences.png"] if differences else [])]
    print(f"report written to {directory}/ (report.csv, report.md, figures/"
          f"{{{','.join(f.removesuffix('.png') for f in drawn)}}}.png)", file=out)
    return 0
