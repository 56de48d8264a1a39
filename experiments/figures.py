"""Figures of a run's timeseries (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot: works on servers and in CI

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

from .fonts import prepare  # noqa: E402
from .bands import band_quantiles  # noqa: E402

_THOUSANDS = FuncFormatter(lambda v, _: f"{v:,.0f}")

# column, label, colour
_STOCK = [("registered_poor_people", "registered poor", "#1f4e79")]
_EXITS = [("exits_people", "exits", "#2e8b57")]
_RETURNS = [("returns_people", "returns", "#c0392b")]


def column_title(column: str, width: int = 46) -> str:
    """A timeseries column (or a target series, `cumulative_<column>`) as readable words with
    its unit, wrapped to `width` characters a line, for panel titles."""
    import textwrap

    from sim.metrics import COLUMNS

    base = column.removeprefix("cumulative_")
    text = COLUMNS[base].meaning if base in COLUMNS else base.replace("_", " ")
    if base != column:
        text = f"summed over the years: {text}"
    return textwrap.fill(text, width)


def mean_band(df: pd.DataFrame, column: str) -> tuple[pd.Series, pd.Series, pd.Series, str | None]:
    """Mean over seeds per year, and the band's low and high (None label for one seed)."""
    grouped = df.groupby("year", sort=True)[column]
    mean = grouped.mean()
    n_seeds = int(df["seed"].nunique()) if "seed" in df.columns else 1
    if n_seeds < 2:
        return mean, mean, mean, None
    lo_q, hi_q, label = band_quantiles(n_seeds)
    lo = grouped.quantile(lo_q) if lo_q > 0 else grouped.min()
    hi = grouped.quantile(hi_q) if hi_q < 1 else grouped.max()
    return mean, lo, hi, label


def _panel(ax, df: pd.DataFrame, series, title: str, ylabel: str, show_points: bool):
    label_band = None
    for column, label, colour in series:
        if column not in df.columns:
            continue
        mean, lo, hi, band = mean_band(df, column)
        marker = "o" if show_points else None
        ax.plot(mean.index, mean.values, color=colour, lw=2, marker=marker, ms=4,
                label=f"{label} (mean)" if band else label)
        if band:
            ax.fill_between(mean.index, lo.values, hi.values, color=colour, alpha=0.2, lw=0,
                            label=f"{label} ({band} over seeds)")
            label_band = band
    ax.set_title(title, fontsize=11)
    ax.set_xlabel("year")
    ax.set_ylabel(ylabel)
    ax.yaxis.set_major_formatter(_THOUSANDS)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, frameon=False, loc="best")
    return label_band


def plot_poverty(df: pd.DataFrame, path, about: str | None = None) -> Path:
    """Registered poor people (stock), exits and returns (flows) per year, in three panels
    so that the small returns stay readable next to the exits; each the mean over seeds with
    a band over seeds (min-max, or 5-95% from 20 seeds). `about`: what was simulated (region,
    households), for the title. Saves a PNG."""
    path = Path(path)
    names = [str(s) for s in pd.unique(df["scenario"])] if "scenario" in df.columns else []
    n_seeds = int(df["seed"].nunique()) if "seed" in df.columns else 1
    n_years = int(df["year"].nunique()) if "year" in df.columns else 0

    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(14, 4.4), layout="constrained")
    try:
        show_points = n_years <= 12
        _panel(ax1, df, _STOCK, "Registered poor, end of year", "people (end of year)", show_points)
        _panel(ax2, df, _EXITS, "Exits from the register", "people per year", show_points)
        _panel(ax3, df, _RETURNS, "Returns to the register", "people per year", show_points)
        title = ", ".join(names) if names else "povsim run"
        seeds = f"{n_seeds} seed" + ("s" if n_seeds != 1 else "")
        text = f"Scenario {title}: the register by year ({about + ', ' if about else ''}{seeds})"
        prepare(text)
        fig.suptitle(text, fontsize=13, fontweight="bold")
        fig.savefig(path, dpi=120)
    finally:
        plt.close(fig)
    return path
