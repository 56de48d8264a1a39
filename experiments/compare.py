"""Two results compared seed by seed: what a measure mix changes, with 90% intervals.

`povsim compare A B` takes two `povsim run` output directories (or, with `--in DIR`, two
scenarios of a sweep's store) and reports B - A. Runs with the same seed share every random
event (common random numbers), so the difference of two runs of one seed is the effect of
what differs between A and B alone; the differences are averaged over the seeds both were
run with, each with its 90% t-interval of the mean (`experiments/report.py: t_interval`).

Per year: the registered poor at the end of the year, exits, returns, new poor and the
fiscal cost. Over the horizon: the per-run measures of `povsim report` (exits, returns and
new poor summed, the return rate, the registered poor at the end, the fiscal cost and the
cost per sustained exit).

Use from a notebook::

    from experiments.compare import load_pair, paired_differences, plot_differences
    a, b = load_pair("results/shangluo", "results/shangluo[measures.microcredit=false]")
    yearly, horizon = paired_differences(a, b)
    plot_differences(yearly, "B - A")            # a Figure; give a path to save a PNG
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from sim.errors import InputError, nearest

from .fonts import prepare
from .outcomes import LEVEL, OUTCOMES, check_results, load_directory, manifest_configs, per_run, t_interval
from .store import atomic_write, manifest_problem

#: Yearly series compared: column -> (title, unit, divisor for display).
YEARLY: dict[str, tuple[str, str, float]] = {
    "registered_poor_people": ("registered poor at the end of the year", "1000 people", 1e3),
    "exits_people": ("exits", "1000 people", 1e3),
    "returns_people": ("returns", "1000 people", 1e3),
    "new_poor_people": ("new poor", "1000 people", 1e3),
    "fiscal_cost_total": ("fiscal cost", "million yuan", 1e6),
}

FILES = ("compare.csv", "compare.md", "figures/differences.png")


def _one_scenario(df: pd.DataFrame, where: str, name: str | None) -> tuple[str, pd.DataFrame]:
    names = sorted(str(s) for s in pd.unique(df["scenario"]))
    if name is None:
        if len(names) != 1:
            raise InputError(where, "", f"holds {len(names)} scenarios ({', '.join(names)}): give --in "
                             f"{where} and two of their names")
        name = names[0]
    elif name not in names:
        raise InputError(where, "", f"no scenario named '{name}'{nearest(name, names)} "
                         f"(scenarios: {', '.join(names)})")
    return name, df[df["scenario"] == name]


def load_pair(a: str, b: str, store: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The timeseries of A and B: two result directories, or two scenarios of `store`."""
    if store is not None:  # scenarios are named: a manifest that cannot be read is not needed
        df = load_directory(Path(store), every_run=manifest_problem(store) is not None)
        out = [_one_scenario(df, store, name)[1] for name in (a, b)]
    else:
        out = [_one_scenario(load_directory(Path(d)), d, None)[1] for d in (a, b)]
    for where, df in zip((store or a, store or b), out):
        try:
            check_results(df)
        except ValueError as exc:
            raise InputError(where, "", str(exc)) from None
    return out[0], out[1]


def _shared_seeds(a: pd.DataFrame, b: pd.DataFrame, names: tuple[str, str], where: str) -> list[int]:
    years_a, years_b = sorted(a["year"].unique()), sorted(b["year"].unique())
    if years_a != years_b:
        raise InputError(where, "", f"its years {years_b[0]}-{years_b[-1]} differ from {names[0]}'s "
                         f"{years_a[0]}-{years_a[-1]}: compare runs over the same horizon")
    seeds = sorted(set(a["seed"]) & set(b["seed"]))
    if not seeds:
        show = lambda s: ", ".join(str(x) for x in sorted(set(s))[:4]) + (", ..." if len(set(s)) > 4 else "")  # noqa: E731
        raise InputError(where, "", f"shares no seed with {names[0]} ({names[0]}: {show(a['seed'])}; "
                         f"{names[1]}: {show(b['seed'])}): run both with the same seeds")
    return [int(s) for s in seeds]


def paired_differences(a: pd.DataFrame, b: pd.DataFrame, names: tuple[str, str] = ("A", "B"),
                       where: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(yearly, horizon) differences B - A over the seeds both share.

    yearly: one row per (measure, year) of `YEARLY` with mean, lo, hi (the 90% t-interval
    of the mean difference), a_mean, b_mean and seeds. horizon: one row per measure of
    the report's `OUTCOMES`, the same columns. `InputError` (about `where`, default B's
    name) when the horizons differ or no seed is shared."""
    seeds = _shared_seeds(a, b, names, where or names[1])
    rows = []
    for column in YEARLY:
        pa = a.pivot(index="seed", columns="year", values=column).loc[seeds]
        pb = b.pivot(index="seed", columns="year", values=column).loc[seeds]
        for year in pa.columns:
            mean, lo, hi, n = t_interval(pb[year].to_numpy(float) - pa[year].to_numpy(float))
            rows.append({"measure": column, "year": int(year), "mean": mean, "lo": lo, "hi": hi,
                         "a_mean": float(pa[year].mean()), "b_mean": float(pb[year].mean()), "seeds": n})
    yearly = pd.DataFrame(rows)
    ra, rb = per_run(a).droplevel("scenario").loc[seeds], per_run(b).droplevel("scenario").loc[seeds]
    rows = []
    for measure in OUTCOMES:
        mean, lo, hi, n = t_interval(rb[measure].to_numpy(float) - ra[measure].to_numpy(float))
        rows.append({"measure": measure, "mean": mean, "lo": lo, "hi": hi,
                     "a_mean": float(ra[measure].mean()), "b_mean": float(rb[measure].mean()), "seeds": n})
    horizon = pd.DataFrame(rows)
    for table in (yearly, horizon):
        table.attrs.update(a=names[0], b=names[1], seeds=seeds, level=LEVEL)
    return yearly, horizon


def number_text(value: float, divisor: float, decimals: int = 1, signed: bool = True) -> str:
    """`value / divisor` as the tables show it (signed for differences); "n/a" for NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value / divisor:{'+' if signed else ''},.{decimals}f}"


def interval_text(row, divisor: float, decimals: int = 1) -> str:
    """A difference row's mean with its interval, "+1.2 [-0.3, +2.7]"."""
    if math.isnan(row["lo"]):
        return f"{number_text(row['mean'], divisor, decimals)} [one seed: no interval]"
    return (f"{number_text(row['mean'], divisor, decimals)} [{number_text(row['lo'], divisor, decimals)}, "
            f"{number_text(row['hi'], divisor, decimals)}]")


def format_tables(yearly: pd.DataFrame, horizon: pd.DataFrame, markdown: bool = False) -> str:
    """The horizon table, then one column per yearly measure, year by year."""
    a, b, seeds = yearly.attrs["a"], yearly.attrs["b"], yearly.attrs["seeds"]
    level = f"{yearly.attrs['level']:.0%}"
    head = (f"B - A, paired by seed over the {len(seeds)} seed{'s' if len(seeds) != 1 else ''} both were "
            f"run with: mean difference [{level} t-interval of the mean]")
    lines = [f"A: {a}", f"B: {b}", head, ""]
    hrows = [[OUTCOMES[r["measure"]][0], OUTCOMES[r["measure"]][1], number_text(r["a_mean"], OUTCOMES[r["measure"]][2],
              OUTCOMES[r["measure"]][3], False), number_text(r["b_mean"], OUTCOMES[r["measure"]][2],
              OUTCOMES[r["measure"]][3], False), interval_text(r, OUTCOMES[r["measure"]][2], OUTCOMES[r["measure"]][3])]
             for _, r in horizon.iterrows()]
    lines += _grid(["over the horizon", "unit", "A", "B", "B - A"], hrows, markdown)
    lines.append("")
    years = sorted(yearly["year"].unique())
    yrows = []
    for year in years:
        row = [str(year)]
        for column, (_, _, divisor) in YEARLY.items():
            r = yearly[(yearly["measure"] == column) & (yearly["year"] == year)].iloc[0]
            row.append(interval_text(r, divisor))
        yrows.append(row)
    headers = ["year"] + [f"{title} ({unit})" for title, unit, _ in YEARLY.values()]
    lines += _grid(headers, yrows, markdown)
    return "\n".join(lines)


def _grid(headers: list[str], rows: list[list[str]], markdown: bool) -> list[str]:
    if markdown:
        out = ["| " + " | ".join(headers) + " |", "| " + " | ".join("---" for _ in headers) + " |"]
        return out + ["| " + " | ".join(r) + " |" for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    out = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(headers, widths)))]
    return out + ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
                  for r in rows]


def draw_differences(axes, yearly: pd.DataFrame, colour: str = "C0", label: str | None = None) -> None:
    """On one panel per yearly measure (`axes`, in `YEARLY`'s order): the mean difference by
    year, with its 90% interval shaded when there is one."""
    for ax, (column, (_, _, divisor)) in zip(axes, YEARLY.items()):
        d = yearly[yearly["measure"] == column].sort_values("year")
        ax.plot(d["year"], d["mean"] / divisor, color=colour, lw=2, marker="o", ms=4, label=label)
        if d["lo"].notna().any():
            ax.fill_between(d["year"], d["lo"] / divisor, d["hi"] / divisor, color=colour, alpha=0.2, lw=0)


def label_difference_axes(axes, against: str = "") -> None:
    """Titles, units (`difference<against> (unit)`) and the zero line of the panels."""
    for ax, (title, unit, _) in zip(axes, YEARLY.values()):
        ax.axhline(0, color="0.5", lw=1)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(f"difference{against} ({unit})")
        ax.set_xlabel("year")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:+,.1f}" if v else "0"))
        ax.grid(True, alpha=0.3)


def plot_differences(yearly: pd.DataFrame, title: str | None = None, path=None):
    """One panel per yearly measure: the mean difference B - A by year with its 90%
    interval shaded and the zero line. Saves a PNG to `path`, or returns the Figure."""
    fig = Figure(figsize=(15, 4.2), layout="constrained")
    axes = fig.subplots(1, len(YEARLY))
    draw_differences(axes, yearly)
    label_difference_axes(axes)
    a, b, seeds = yearly.attrs["a"], yearly.attrs["b"], yearly.attrs["seeds"]
    title = title or (f"{b} - {a}: paired differences by year, mean over {len(seeds)} seeds, "
                      f"shaded: {yearly.attrs['level']:.0%} t-interval of the mean")
    prepare(title)
    fig.suptitle(title, fontsize=11, fontweight="bold")
    if path is None:
        return fig
    fig.savefig(path, dpi=120, format="png")
    return path


def compare(a: str, b: str, store: str | None = None, out_dir: str | None = None, out=None) -> int:
    """`povsim compare`: print the tables and write compare.csv, compare.md and
    figures/differences.png into `out_dir` (default: results/compare/<B> vs <A>/)."""
    import sys

    da, db = load_pair(a, b, store)
    for where in dict.fromkeys([store] if store is not None else [a, b]):
        if (problem := manifest_problem(where)) is not None:
            print(f"povsim: warning: {problem}: left out: the region and households in the titles",
                  file=sys.stderr)
    name_a, name_b = str(da["scenario"].iloc[0]), str(db["scenario"].iloc[0])
    if name_a == name_b:  # two runs of one scenario: tell them apart by where they came from
        name_a, name_b = str(a), str(b)
    yearly, horizon = paired_differences(da, db, (name_a, name_b), where=store or b)
    target = Path(out_dir) if out_dir else Path("results") / "compare" / _dir_safe(f"{name_b} vs {name_a}")
    csv = differences_csv(yearly, horizon)
    atomic_write(target / "compare.csv", lambda tmp: tmp.write_text(csv, encoding="utf-8"))
    what = (describe_run(store or a, str(da["scenario"].iloc[0])), describe_run(store or b, str(db["scenario"].iloc[0])))
    seeds = len(yearly.attrs["seeds"])
    md = (f"# {name_b} - {name_a}\n\nA: {what[0]}; B: {what[1]}; {seeds} shared seeds.\n\n"
          + format_tables(yearly, horizon, markdown=True) + "\n\n![paired differences](figures/differences.png)\n")
    atomic_write(target / "compare.md", lambda tmp: tmp.write_text(md, encoding="utf-8"))
    title = (f"B - A, paired by seed over {seeds} seeds (shaded: {LEVEL:.0%} t-interval of the mean)\n"
             f"A: {what[0]}   B: {what[1]}")
    atomic_write(target / "figures" / "differences.png", lambda tmp: plot_differences(yearly, title, tmp))
    out = sys.stdout if out is None else out
    print(format_tables(yearly, horizon), file=out)
    print(f"comparison written to {target}/ ({', '.join(FILES)})", file=out)
    return 0


def differences_csv(yearly: pd.DataFrame, horizon: pd.DataFrame) -> str:
    """compare.csv: the horizon's rows (year "horizon"), then the yearly ones."""
    buf = io.StringIO()
    pd.concat([horizon.assign(year="horizon"), yearly]).to_csv(buf, index=False)
    return buf.getvalue()


def describe_run(directory: str, scenario: str) -> str:
    """'<scenario> (region <profile>, <households> households)' from the manifest.json of a
    run directory or sweep store; the bare name when the manifest says nothing usable."""
    config = next(iter(manifest_configs(directory, scenario)), {})
    if "profile" not in config or not isinstance(config.get("households"), int):
        return scenario
    return f"{scenario} (region {config['profile']}, {config['households']:,} households)"


def _dir_safe(name: str) -> str:
    return "".join(c if c not in "/\\\0" else "_" for c in name).strip() or "comparison"

