"""The planner's page of `povsim app` (Solara components); the logic is experiments/workbench.py.

The page opens on a scenario, offers its measures as switches and their main parameters as
fields (unit, bounds and source shown with each), and the run settings (seeds, household
rows, last year). Run validates the mix as `povsim check` validates its saved file (a bad
value is refused with check's message and nothing runs), then runs the mix and the scenario
unmodified on the same seeds through the sweep store, with a progress bar, and shows per
year the registered poor, exits, returns and fiscal cost of both with bands over seeds, the
paired differences mix - baseline with 90% intervals (the numbers of `povsim compare`), and
the cost per sustained exit. Save writes the mix's scenario file; the results download as
Parquet and CSV.

Mesa's SolaraViz components draw one model as it steps (agents in space, plots of a
DataCollector); this page compares stored runs of two scenarios over seeds, so it uses
Solara's own components.
"""

from __future__ import annotations

import dataclasses
import functools
import html
import os
from pathlib import Path

import solara
from solara.lab import task

from experiments import workbench
from experiments.app_server import ENV_RESULTS, ENV_SCENARIOS
from experiments.compare import YEARLY, interval_text, number_text
from experiments.outcomes import LEVEL, OUTCOMES as HORIZON
from experiments.scenario import load_scenario
from sim.registry import MEASURES
from sim.errors import InputError
from sim.schema import problems_of

COST_DEFINITION = (
    "Cost per sustained exit (as povsim report and povsim compare define it): for each run, the "
    "fiscal cost of all measures summed over the horizon, divided by its sustained exits, the "
    "people who exited the register minus the people who returned to it after exiting, both "
    "summed over the horizon; the mean over seeds. The extra cost per extra sustained exit "
    "compares the mix with the baseline: the mean paired difference in fiscal cost over the "
    "horizon divided by the mean paired difference in sustained exits (no interval: a ratio of "
    "two means).")


# ---------------------------------------------------------------------------------------
# what the page offers


def scenario_options() -> dict[str, str]:
    """label -> scenario file: the files given to `povsim app` first, then the shipped ones."""
    given = [p for p in os.environ.get(ENV_SCENARIOS, "").split(os.pathsep) if p]
    out: dict[str, str] = {}
    for path in [*given, *map(str, workbench.shipped_scenarios())]:
        if Path(path).resolve() in {Path(v).resolve() for v in out.values()}:
            continue
        label = Path(path).stem if Path(path).stem not in out else path
        out[label] = path
    return out


def results_root() -> Path:
    return Path(os.environ.get(ENV_RESULTS, "results"))


def save_dir() -> Path:
    return results_root() / "app" / "scenarios"


@functools.lru_cache(maxsize=64)
def _scenario(path: str):
    return load_scenario(path)


OPTIONS = scenario_options()
FIRST = next(iter(OPTIONS))

scenario_label = solara.reactive(FIRST)
choices = solara.reactive(workbench.initial_choices(OPTIONS[FIRST], _scenario(OPTIONS[FIRST])))
refused = solara.reactive([])  # check's lines for the last Run or Save that was refused
notes = solara.reactive([])  # check's warnings for the mix
status = solara.reactive("")
saved = solara.reactive("")  # where the scenario file was saved
planned = solara.reactive(None)  # the last valid Pair (for the file's download)


@task
def run_pair(pair):
    def progress(fraction, text):
        run_pair.progress = 100.0 * fraction
        status.set(text)

    return workbench.run_pair(pair, results_root(), on_progress=progress, say=status.set)


def _update(**kw) -> None:
    choices.set(dataclasses.replace(choices.value, **kw))


def _pick(label: str) -> None:
    path = OPTIONS[label]
    scenario_label.set(label)
    choices.set(workbench.initial_choices(path, _scenario(path)))
    for r in (refused, notes):
        r.set([])
    saved.set("")
    planned.set(None)


def _plan():
    """The validated pair, or None with check's lines shown."""
    refused.set([])
    try:
        pair = workbench.plan(choices.value)
    except workbench.Refused as r:
        refused.set(r.lines)
        return None
    except InputError as err:  # the scenario file itself
        refused.set([" ".join(p.one_line().split()) for p in problems_of(err)])
        return None
    notes.set(pair.warnings)
    planned.set(pair)
    return pair


def _run() -> None:
    saved.set("")
    pair = _plan()
    if pair is not None:
        status.set("starting")
        run_pair(pair)


def _save() -> None:
    pair = _plan()
    if pair is not None:
        replaced = (save_dir() / pair.file_name).exists()
        path = workbench.save(pair, choices.value, save_dir())
        saved.set(f"{path}" + (" (it replaces the file saved there before)" if replaced else ""))


# ---------------------------------------------------------------------------------------
# tables (HTML text; cells carry data- attributes a test can read)


def _e(text) -> str:
    return html.escape(str(text))


def horizon_html(outcome) -> str:
    base, mix = outcome.pair.names
    rows = []
    for _, r in outcome.horizon.iterrows():
        title, unit, div, dec = HORIZON[r["measure"]]
        rows.append(f"<tr><th>{_e(title)}</th><td>{_e(unit)}</td><td>{number_text(r['a_mean'], div, dec, False)}</td>"
                    f"<td>{number_text(r['b_mean'], div, dec, False)}</td>"
                    f"<td class='diff' data-measure='{_e(r['measure'])}'>{interval_text(r, div, dec)}</td></tr>")
    head = ("<tr><th>over the horizon</th><th>unit</th><th>baseline</th><th>mix</th>"
            f"<th>mix - baseline [{LEVEL:.0%} interval]</th></tr>")
    return f"<table class='povsim-table povsim-horizon'>{head}{''.join(rows)}</table>"


def differences_html(outcome) -> str:
    y = outcome.yearly
    years = sorted(y["year"].unique())
    head = "<tr><th>year</th>" + "".join(f"<th>{_e(t)} ({_e(u)})</th>" for t, u, _ in YEARLY.values()) + "</tr>"
    rows = []
    for year in years:
        cells = []
        for column, (_, _, div) in YEARLY.items():
            r = y[(y["measure"] == column) & (y["year"] == year)].iloc[0]
            cells.append(f"<td class='diff' data-measure='{column}' data-year='{int(year)}'>{interval_text(r, div)}</td>")
        rows.append(f"<tr><th>{int(year)}</th>{''.join(cells)}</tr>")
    return f"<table class='povsim-table povsim-differences'>{head}{''.join(rows)}</table>"


def levels_html(outcome) -> str:
    table = workbench.levels(outcome.frames, outcome.pair)
    band = next((b for b in table["band"] if b), None)
    years = sorted(table["year"].unique())
    head = "<tr><th rowspan='2'>year</th>" + "".join(
        f"<th colspan='2'>{_e(YEARLY[c][0])} ({_e(YEARLY[c][1])})</th>" for c in workbench.LEVELS) + "</tr>"
    head += "<tr>" + "<th>baseline</th><th>mix</th>" * len(workbench.LEVELS) + "</tr>"
    rows = []
    for year in years:
        cells = []
        for column in workbench.LEVELS:
            div = YEARLY[column][2]
            for role in ("baseline", "mix"):
                r = table[(table["scenario"] == role) & (table["measure"] == column) & (table["year"] == year)].iloc[0]
                text = number_text(r["mean"], div, signed=False)
                if band:
                    text += f" [{number_text(r['lo'], div, signed=False)}-{number_text(r['hi'], div, signed=False)}]"
                cells.append(f"<td class='level' data-scenario='{role}' data-measure='{column}' "
                             f"data-year='{int(year)}'>{text}</td>")
        rows.append(f"<tr><th>{int(year)}</th>{''.join(cells)}</tr>")
    note = f"mean over seeds [{band} over seeds]" if band else "one seed"
    return f"<table class='povsim-table povsim-levels'><caption>{_e(note)}</caption>{head}{''.join(rows)}</table>"


TABLE_STYLE = """
<style>
.povsim-table { border-collapse: collapse; margin: 8px 0 16px 0; font-size: 13px; }
.povsim-table th, .povsim-table td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
.povsim-table th:first-child { text-align: left; }
.povsim-table caption { caption-side: top; text-align: left; font-style: italic; }
</style>
"""


# ---------------------------------------------------------------------------------------
# figures


def levels_figure(outcome):
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    from experiments.figures import mean_band

    fig = Figure(figsize=(13, 3.4), layout="constrained")
    axes = fig.subplots(1, len(workbench.LEVELS))
    shown = None
    for role, name, colour in (("baseline", outcome.pair.names[0], "C7"), ("mix", outcome.pair.names[1], "C0")):
        df = outcome.frames[outcome.frames["scenario"] == name]
        for ax, column in zip(axes, workbench.LEVELS):
            title, unit, div = YEARLY[column]
            mean, lo, hi, band = mean_band(df, column)
            ax.plot(mean.index, mean.values / div, color=colour, lw=2, marker="o", ms=3, label=role)
            if band:
                shown = band
                ax.fill_between(mean.index, lo.values / div, hi.values / div, color=colour, alpha=0.2, lw=0)
            ax.set_title(title, fontsize=10)
            ax.set_ylabel(unit)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=8)
    n = len(outcome.pair.seeds)
    fig.suptitle(f"baseline and mix: mean over {n} seed{'s' if n != 1 else ''}"
                 + (f", shaded: {shown} over seeds" if shown else ""), fontsize=11)
    return fig


def differences_figure(outcome):
    from experiments.compare import plot_differences

    n = len(outcome.pair.seeds)
    return plot_differences(outcome.yearly, f"mix - baseline, paired by seed over {n} seeds "
                            f"(shaded: {LEVEL:.0%} t-interval of the mean)")


# ---------------------------------------------------------------------------------------
# components


@solara.component
def ParameterField(name: str, control, text: str, active: bool):
    by_year = ""
    if control.by_year:
        shown = ", ".join(f"{y}: {workbench.format_number(v)}" for y, v in control.by_year.items())
        by_year = f" In this scenario by year ({shown}); a value typed here holds in every year."
    hint = (f"{control.description}. Bounds: {control.bounds()} {control.unit}. Source: {control.source}."
            + by_year + ("" if active else " (measure off: no effect)"))
    solara.InputText(f"{name} ({control.unit})", value=text,
                     on_value=lambda v, name=name: _update(values={**choices.value.values, name: v}),
                     message=hint, classes=[f"povsim-param-{name.replace('.', '-')}"])


@solara.component
def Settings(scenario):
    ch = choices.value
    solara.Select("Scenario (region)", values=list(OPTIONS), value=scenario_label.value, on_value=_pick,
                  classes=["povsim-scenario"])
    solara.Text(f"{scenario.description} ({scenario.profile.name}, {scenario.start_year}-{scenario.end_year}; "
                f"file {OPTIONS[scenario_label.value]})")
    with solara.Row():
        solara.InputText("Seeds (replications)", value=ch.seeds, on_value=lambda v: _update(seeds=v),
                         classes=["povsim-seeds"])
        solara.InputText("Household rows", value=ch.households, on_value=lambda v: _update(households=v),
                         classes=["povsim-households"])
    with solara.Row():
        solara.InputText("Root seed", value=ch.seed, on_value=lambda v: _update(seed=v), classes=["povsim-seed"])
        solara.InputText("Last year", value=ch.end_year, on_value=lambda v: _update(end_year=v),
                         classes=["povsim-end-year"],
                         message=f"the scenario runs {scenario.start_year}-{scenario.end_year}")
    solara.Text(f"Defaults: {workbench.DEFAULT_SEEDS} seeds and at most {workbench.DEFAULT_HOUSEHOLDS:,} household "
                "rows answer within a minute on a laptop once the engine is compiled (the first run after "
                "installing compiles it, about a minute and a half on 2 cores).")


@solara.component
def Measures(scenario, controls):
    ch = choices.value
    for name, spec in MEASURES.items():
        on = bool(ch.measures.get(name, False))
        changed = on != scenario.measures.get(name, False)
        with solara.Card(classes=[f"povsim-measure povsim-measure-{name}"], style="margin: 4px 0; padding: 4px"):
            solara.Switch(label=f"{name}: {spec.description}" + ("  (changed)" if changed else ""), value=on,
                          on_value=lambda v, name=name: _update(measures={**choices.value.measures, name: v}),
                          classes=[f"povsim-switch-{name}"])
            for p in workbench.MAIN_PARAMETERS.get(name, ()):
                ParameterField(p, controls[p], ch.values.get(p, ""), on)
    with solara.Card("Exit practice and support after exit (the register's rules)", style="margin: 4px 0"):
        for p in workbench.EXIT_PARAMETERS:
            ParameterField(p, controls[p], ch.values.get(p, ""), True)


@solara.component
def Actions():
    ch = choices.value
    busy = run_pair.pending
    with solara.Row():
        solara.Button("Run mix and baseline", on_click=_run, disabled=busy, color="primary",
                      classes=["povsim-run"])
        solara.InputText("Mix name (scenario file name)", value=ch.name, on_value=lambda v: _update(name=v),
                         classes=["povsim-name"])
        solara.Button("Save scenario file", on_click=_save, disabled=busy, classes=["povsim-save"])
    for line in refused.value:
        solara.Error(line, classes=["povsim-refused"])
    for line in notes.value:
        solara.Warning(line, classes=["povsim-warning"])
    if saved.value:
        path, _, note = saved.value.partition(" (")
        solara.Success(f"saved {path}: povsim run {path} gives the mix's numbers" + (f" ({note}" if note else ""),
                       classes=["povsim-saved"])
    if planned.value is not None:
        solara.FileDownload(planned.value.text, filename=planned.value.file_name,
                            label=f"Download {planned.value.file_name}", mime_type="application/toml")
    if busy:
        solara.ProgressLinear(run_pair.progress if run_pair.progress is not None else True)
        solara.Text(status.value, classes=["povsim-status"])


@solara.component
def Results():
    if run_pair.error:
        solara.Error(f"the run failed: {run_pair.exception}", classes=["povsim-failed"])
        return
    outcome = run_pair.value if run_pair.finished else None
    if outcome is None:
        if not run_pair.pending:
            solara.Info("Switch measures or set values, then Run: the mix and the scenario unmodified "
                        "run on the same seeds and are compared seed by seed.")
        return
    Outcome(outcome)


@solara.component
def Outcome(outcome):
    pair = outcome.pair
    b = pair.baseline
    ratio, meaning = workbench.extra_cost_per_sustained_exit(outcome.horizon)
    levels_fig = solara.use_memo(lambda: levels_figure(outcome), dependencies=[outcome])
    diff_fig = solara.use_memo(lambda: differences_figure(outcome), dependencies=[outcome])
    seeds = ", ".join(str(s) for s in pair.seeds)
    solara.HTML(tag="div", classes=["povsim-results"], unsafe_innerHTML=TABLE_STYLE + (
        f"<p class='povsim-summary'>Baseline <b>{_e(pair.names[0])}</b>, mix <b>{_e(pair.names[1])}</b>: "
        f"region {_e(b.profile.name)}, {b.households:,} household rows, {b.start_year}-{b.end_year}, "
        f"{len(pair.seeds)} seeds ({_e(seeds)}). {outcome.ran} runs done, {outcome.loaded} loaded from the "
        f"store <code>{_e(outcome.store)}</code> ({outcome.seconds:.1f} s). povsim compare on that store gives "
        f"these differences, paired over the seeds stored there (these, unless others were run): "
        f"<code class='povsim-compare-command'>{_e(workbench.compare_command(outcome))}</code></p>"
        f"<h3>Over the horizon</h3>{horizon_html(outcome)}"
        f"<p class='povsim-cost'><b>Extra cost per extra sustained exit: {_e(meaning)}</b></p>"
        f"<p class='povsim-cost-definition'>{_e(COST_DEFINITION)}</p>"
        f"<h3>Paired differences by year: mix - baseline, mean [{LEVEL:.0%} t-interval of the mean]</h3>"
        f"{differences_html(outcome)}"
        f"<h3>Levels by year</h3>{levels_html(outcome)}"))
    solara.FigureMatplotlib(levels_fig, format="png")
    solara.FigureMatplotlib(diff_fig, format="png")
    stem = workbench.store_dir(".", pair).name
    with solara.Row():
        solara.FileDownload(lambda: workbench.results_parquet(outcome), filename=f"{pair.file_name[:-5]}_{stem}.parquet",
                            label="Download results (Parquet)")
        solara.FileDownload(lambda: workbench.results_csv(outcome), filename=f"{pair.file_name[:-5]}_{stem}.csv",
                            label="Download results (CSV)", mime_type="text/csv")
        solara.FileDownload(lambda: workbench.differences_csv(outcome), filename="compare.csv",
                            label="Download differences (compare.csv)", mime_type="text/csv")


@solara.component
def Page():
    ch = choices.value
    scenario = _scenario(ch.scenario_file)
    controls = workbench.controls(scenario)
    solara.Title("povsim: a measure mix against its scenario")
    with solara.Columns([1, 2]):
        with solara.Column():
            Settings(scenario)
            Measures(scenario, controls)
        with solara.Column():
            Actions()
            Results()
