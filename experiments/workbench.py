"""What `povsim app` does, without the page: a measure mix on top of a scenario, validated as
`povsim check` validates a file, run beside the unmodified scenario on the same seeds through
the sweep store, and compared seed by seed as `povsim compare` compares.

A *mix* is a shipped (or given) scenario with some measures switched on or off
(`measures.<name> = true|false`, as `povsim run --set` takes them) and some of their main
parameters set (`MAIN_PARAMETERS`), run with the page's seeds, household rows and last year.
The *baseline* is the same scenario unmodified, run with the same seeds, household rows and
years: the two meet the same random events (common random numbers), so their difference
seed by seed is the effect of the mix alone.

Validation: `plan` writes both as scenario files (the mix's file is what the page saves) and
loads them with `experiments.scenario.load_scenario`, the function `povsim check` runs on a
scenario file, so a bad value gets `check`'s message word for word (naming the file the
page would save and the dotted path).

Runs: `run_pair` stores every (scenario, seed) in a sweep store (`experiments/store.py`:
runs/scenario=<name>/seed=<seed>/<config hash>.parquet, and a manifest.json), one store per
scenario, household rows and years, under `<results>/app/`; a run already stored with the
same configuration hash is loaded, not run again. `povsim compare <baseline> <mix> --in
<store>` and `povsim report <store>` read the same store.

Numbers: `compare_pair` is `experiments.compare.paired_differences` (mix - baseline per
year and over the horizon, 90% t-intervals of the mean over seeds), so the page's numbers
are those of `povsim compare`. Cost per sustained exit is the report's (`experiments/
report.py`): per run, the fiscal cost over the horizon divided by the exits not undone by a
return, exits - returns summed over the horizon; `extra_cost_per_sustained_exit` adds the
planner's ratio, the mean extra fiscal cost of the mix over the mean extra sustained exits.
"""

from __future__ import annotations

import math
import os
import tempfile
import threading
import time
import tomllib
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from sim.registry import MEASURES
from sim.errors import InputError
from sim.inputs import load_toml
from sim.params import flatten_dotted
from sim.schema import SuspiciousValue, problems_of

from . import store
from .scenario import MEASURE_SWITCH, Scenario, check_name, load_scenario

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"

#: Defaults of the page's run settings. assumption: answers within a minute on a laptop
#: once the engine is compiled (measured on 2 cores: a Shangluo run of 5,000 households,
#: 2016-2020, takes 0.2-0.5 s after the first, which loads the compiled passes in ~3.5 s;
#: the pair of 3 seeds is six runs), while 3 seeds still give a paired 90% interval.
DEFAULT_HOUSEHOLDS = 5_000
DEFAULT_SEEDS = 3

#: The parameters the page offers for each measure (shown under its switch): each measure's
#: `PLANNER_PARAMETERS`. assumption: the size or generosity of each measure as the plans set
#: it (amounts, shares covered, wages, pace), the values a planner decides; behavioural
#: parameters (take-up, returns of projects) stay as calibrated. Every other parameter can
#: still be changed in the saved file's [overrides]. The register's exit practice likewise.
MAIN_PARAMETERS: dict[str, tuple[str, ...]] = {
    name: tuple(getattr(spec.module, "PLANNER_PARAMETERS", ())) for name, spec in MEASURES.items()}
EXIT_PARAMETERS: tuple[str, ...] = (
    "exit.support_years_after_exit", "exit.verification_rate", "exit.target_pressure",
)

#: Where a page-set value says it came from, in the saved file.
SOURCE = "set in povsim app (a planner's choice)"

#: The yearly series the page shows as levels with bands over seeds (compare.YEARLY has
#: them all, with titles, units and display divisors).
LEVELS = ("registered_poor_people", "exits_people", "returns_people", "fiscal_cost_total")

_RUN_LOCK = threading.Lock()  # one pair at a time per process: runs share the cores


# ---------------------------------------------------------------------------------------
# scenarios and controls


def shipped_scenarios() -> list[Path]:
    """The scenario files shipped in experiments/scenarios/, by name."""
    return sorted(SCENARIO_DIR.glob("*.toml"))


@dataclass(frozen=True)
class Control:
    """One parameter the page offers: its value in the scenario and what the page shows."""

    name: str
    unit: str
    description: str
    source: str
    min: float | None
    max: float | None
    value: float  # in the scenario's start year
    by_year: dict[int, float] | None  # when the scenario's value changes over its years

    def bounds(self) -> str:
        lo = "-inf" if self.min is None else f"{self.min:g}"
        hi = "no maximum" if self.max is None else f"{self.max:g}"
        return f"{lo} to {hi}" if self.max is not None else f"at least {lo}" if self.min is not None else "any"


def controls(scenario: Scenario) -> dict[str, Control]:
    """Every parameter of MAIN_PARAMETERS and EXIT_PARAMETERS as the scenario has it."""
    out = {}
    names = [n for group in MAIN_PARAMETERS.values() for n in group] + list(EXIT_PARAMETERS)
    for name in names:
        spec = scenario.params.spec(name)
        years = range(scenario.start_year, scenario.end_year + 1)
        values = {y: spec.at(y) for y in years}
        varies = len(set(values.values())) > 1
        out[name] = Control(name=name, unit=spec.unit, description=spec.description, source=spec.source,
                            min=spec.min, max=spec.max, value=values[scenario.start_year],
                            by_year=values if varies else None)
    return out


def format_number(value) -> str:
    """A value as a control shows it and as TOML reads it back (0.7, 40000, 1e-05)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def read_value(text) -> object:
    """What a field's text means, as a value in a TOML file would (`povsim run --set` reads
    its values so): a number, true or false; text that is no TOML value stays text, so
    `povsim check` would say what it says of `key = "that text"`."""
    if not isinstance(text, str):
        return text
    stripped = text.strip()
    try:
        return tomllib.loads(f"value = {stripped}")["value"]
    except tomllib.TOMLDecodeError:
        return stripped


# ---------------------------------------------------------------------------------------
# the page's choices, as scenario files


@dataclass
class Choices:
    """What the planner set in the page. Text fields hold text, as typed."""

    scenario_file: str
    measures: dict[str, bool] = field(default_factory=dict)  # switches changed or not
    values: dict[str, str] = field(default_factory=dict)  # parameter -> text typed
    households: str = str(DEFAULT_HOUSEHOLDS)
    seeds: str = str(DEFAULT_SEEDS)
    seed: str = ""  # the root of the replication seeds; "" = the scenario's
    end_year: str = ""  # "" = the scenario's
    name: str = ""  # the saved scenario's name; "" = <scenario>_mix


def initial_choices(scenario_file, scenario: Scenario | None = None) -> Choices:
    """The page's fields for a scenario: its measures and values, the default run settings."""
    scenario = scenario or load_scenario(scenario_file)
    return Choices(
        scenario_file=str(scenario_file), measures=dict(scenario.measures),
        values={name: format_number(c.value) for name, c in controls(scenario).items()},
        households=str(min(DEFAULT_HOUSEHOLDS, scenario.households)), seeds=str(DEFAULT_SEEDS),
        seed=str(scenario.seed), end_year=str(scenario.end_year), name=f"{scenario.name}_mix")


def changes(choices: Choices, scenario: Scenario) -> dict[str, object]:
    """The mix's overrides against the scenario, in the page's order: measures switched
    (`measures.<name>`), then parameters whose field no longer reads as the scenario's value."""
    out: dict[str, object] = {}
    for name, on in choices.measures.items():
        if bool(on) != scenario.measures.get(name, False):
            out[f"{MEASURE_SWITCH}{name}"] = bool(on)
    current = controls(scenario)
    for name, text in choices.values.items():
        value = read_value(text)
        c = current.get(name)
        same = (c is not None and isinstance(value, (int, float)) and not isinstance(value, bool)
                and c.by_year is None and float(value) == float(c.value))
        if c is not None and c.by_year is not None and str(text).strip() == format_number(c.value):
            same = True  # left as shown: the scenario's values by year stay
        if not same:
            out[name] = value
    return out


def _relative_profile(profile: str, scenario_file: Path, target_dir: Path) -> str:
    """A profile given as a path, made relative to where the new file goes (a name stays)."""
    if profile.endswith(".toml") or "/" in profile or os.sep in profile:
        return os.path.relpath((scenario_file.parent / profile).resolve(), target_dir.resolve())
    return profile


def _prune_years(value, end: int):
    """A dated override without its years after `end` (None when nothing is left): they
    would never be used, and `povsim check` refuses them once the horizon is shorter."""
    if isinstance(value, dict) and "value" not in value:
        wrapped = "values" in value
        years = value["values"] if wrapped else value
        if isinstance(years, dict):
            kept = {k: v for k, v in years.items() if not (str(k).isdigit() and int(k) > end)}
            if not kept:
                return None
            return {**value, "values": kept} if wrapped else kept
    return value


def scenario_text(choices: Choices, target_dir, *, mix: bool = True, when: str | None = None,
                  base: Scenario | None = None) -> str:
    """The scenario file of the mix (or, with `mix=False`, of the baseline: the scenario
    unmodified but for the run settings) as TOML text for a file in `target_dir`. `base` is
    the scenario file as loaded, when the caller has it (else it is loaded here).

    Written in full: every measure's switch in [measures] (the scenario's own switches in
    [overrides] folded in), the scenario's overrides and then the page's values in
    [overrides], each page value with its source. Values are written as the page read them
    (a field that does not read as a number stays text), so the file says what was typed."""
    from .toml_text import toml_key, toml_value

    base_file = Path(choices.scenario_file)
    raw = load_toml(base_file)
    base_name = raw.get("name", base_file.stem) if isinstance(raw.get("name"), str) else base_file.stem
    profile = raw.get("profile")
    target_dir = Path(target_dir)
    end = read_value(choices.end_year) if str(choices.end_year).strip() else raw.get("end_year")
    measures = {name: spec.default_on for name, spec in MEASURES.items()}
    if isinstance(raw.get("measures"), dict):
        measures.update(raw["measures"])
    overrides = dict(flatten_dotted(raw.get("overrides", {}))) if isinstance(raw.get("overrides"), dict) else {}
    for key in [k for k in overrides if k.startswith(MEASURE_SWITCH)]:
        measures[key[len(MEASURE_SWITCH):]] = overrides.pop(key)
    if isinstance(end, int) and not isinstance(end, bool):
        overrides = {k: v for k, v in ((k, _prune_years(v, end)) for k, v in overrides.items()) if v is not None}
    name = base_name
    changed: dict[str, object] = {}
    if mix:
        name = choices.name.strip() if choices.name.strip() else f"{base_name}_mix"
        changed = changes(choices, base if base is not None else load_scenario(base_file))
        for key, value in changed.items():
            if key.startswith(MEASURE_SWITCH):
                measures[key[len(MEASURE_SWITCH):]] = value
            else:
                overrides[key] = {"value": value, "source": SOURCE} if isinstance(value, (int, float)) else value
    settings = {
        "start_year": raw.get("start_year"),
        "end_year": end,
        "households": read_value(choices.households),
        "seed": read_value(choices.seed) if str(choices.seed).strip() else raw.get("seed"),
        "seeds": read_value(choices.seeds),
    }
    what = ", ".join(f"{k} = {format_number(v) if not isinstance(v, str) else v}" for k, v in changed.items())
    lines = [f"# {name}: {base_file.name} ({base_name})"
             + (f" with a measure mix set in povsim app{' on ' + when if when else ''}." if mix else
                ", unmodified, with povsim app's run settings."),
             f"# Changed against {base_name}: {what or 'nothing'}." if mix else
             "# The baseline the mix is compared with, seed by seed.",
             f"name = {toml_value(name)}"]
    description = str(raw.get("description", "")) if isinstance(raw.get("description", ""), str) else ""
    if mix:
        description = (f"{description}; mix: {what}" if what else description).strip("; ")
    if description:
        lines.append(f"description = {toml_value(description)}")
    if isinstance(profile, str):
        lines.append(f"profile = {toml_value(_relative_profile(profile, base_file, target_dir))}")
    for key, value in settings.items():
        if value is not None:
            lines.append(f"{key} = {toml_value(value)}")
    lines += ["", "[measures]"] + [f"{toml_key(k)} = {toml_value(v)}" for k, v in measures.items()]
    if overrides:
        lines += ["", "[overrides]"] + [f"{toml_value(str(k))} = {toml_value(v)}" for k, v in overrides.items()]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------
# validation: as `povsim check`


class Refused(Exception):
    """The page's choices do not make a valid scenario: `lines` are what `povsim check`
    prints for the saved file (without its `povsim: error: ` prefix), one per problem."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        super().__init__("\n".join(lines))


@dataclass
class Pair:
    """A validated mix and its baseline, ready to run on the same seeds."""

    baseline: Scenario
    mix: Scenario
    seeds: list[int]
    root: int
    changes: dict[str, object]
    text: str  # the mix's scenario file
    file_name: str  # <name>.toml
    warnings: list[str] = field(default_factory=list)

    @property
    def names(self) -> tuple[str, str]:
        return self.baseline.name, self.mix.name


def _load_as(text: str, shown: str, where: Path) -> tuple[Scenario, list[str]]:
    """Load scenario text as `povsim check` loads a file; problems and warnings name `shown`."""
    path = where / Path(shown).name
    path.write_text(text, encoding="utf-8")

    def named(line: str) -> str:
        return line.replace(str(path), shown)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SuspiciousValue)
        try:
            scenario = load_scenario(path)
        except InputError as err:
            raise Refused([named(" ".join(p.one_line().split())) for p in problems_of(err)]) from None
    said = [named(" ".join(w.message.one_line().split())) for w in caught if isinstance(w.message, SuspiciousValue)]
    return scenario, list(dict.fromkeys(said))


def mix_run_name(base: str, changed: dict[str, object], config_hash: str) -> str:
    """The mix's name in the store: the scenario's name with its changes, as `povsim run
    --set` names a run (shangluo[measures.microcredit=false]); a name too long for a
    folder gets the configuration hash instead of the changes."""
    from .sweep import point_name

    name = point_name(base, changed)
    try:
        check_name(name, "", "")
    except InputError:
        name = f"{base}[mix {config_hash[:12]}]"
    return name


def plan(choices: Choices, when: str | None = None) -> Pair:
    """The mix and its baseline from the page's choices, validated as `povsim check`
    validates the mix's saved file; `Refused` with check's lines otherwise (and when the
    mix changes nothing)."""
    from .runner import replication_seeds

    base_file = Path(choices.scenario_file)
    base = load_scenario(base_file)  # a shipped file, or one `povsim app` checked at start
    name = choices.name.strip() or f"{base.name}_mix"
    file_name = f"{name}.toml" if "/" not in name and "\\" not in name else "mix.toml"
    with tempfile.TemporaryDirectory(prefix="povsim-app-") as tmp:
        where = Path(tmp)
        # the file the page saves, named as saved: check's messages name it so
        text = scenario_text(choices, where, mix=True, when=when, base=base)
        mix, said = _load_as(text, file_name, where)
        baseline, _ = _load_as(scenario_text(choices, where, mix=False), f"{base.name}.toml", where)
    changed = changes(choices, base)
    if not changed:
        raise Refused([f"{file_name}: the mix is the scenario {base.name} itself: switch a measure "
                       "or change a value to compare a mix with it"])
    seeds = replication_seeds(mix.seed, mix.seeds)
    baseline = replace(baseline, name=base.name, file=str(base_file))
    mix = replace(mix, name=mix_run_name(base.name, changed, mix.config_hash()), file=file_name)
    text = scenario_text(choices, Path.cwd(), mix=True, when=when, base=base)  # profile paths from here
    return Pair(baseline=baseline, mix=mix, seeds=seeds, root=mix.seed, changes=changed, text=text,
                file_name=file_name, warnings=said)


def save(pair: Pair, choices: Choices, directory, when: str | None = None) -> Path:
    """Write the mix's scenario file into `directory` (atomically); its path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    text = scenario_text(choices, directory, mix=True, when=when)
    path = directory / pair.file_name
    return store.atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


# ---------------------------------------------------------------------------------------
# running, through the sweep store


def store_dir(results, pair: Pair) -> Path:
    """The sweep store of a pair: one per scenario, household rows and years, so changing
    them does not replace the stored runs of other settings."""
    b = pair.baseline
    return Path(results) / "app" / b.name / f"{b.households}hh_{b.start_year}-{b.end_year}"


@dataclass
class Outcome:
    """The pair's runs and their comparison."""

    pair: Pair
    store: Path
    frames: pd.DataFrame  # both scenarios, one row per scenario x seed x year
    yearly: pd.DataFrame  # compare.paired_differences: mix - baseline by year
    horizon: pd.DataFrame  # and over the horizon
    ran: int
    loaded: int
    seconds: float


def _record(out: Path, pair: Pair) -> None:
    """The store's manifest.json, as a sweep's: the pair's scenarios (configuration and
    hash) beside those recorded before in the same store, so `povsim compare --in` and
    `povsim report` find every mix run there."""
    from .provenance import utc_now
    from .sweep import Sweep

    sweep = Sweep(name=f"app {pair.baseline.name}", file=str(pair.baseline.file),
                  description="mixes set in povsim app, each beside the scenario it changes",
                  seed=pair.root, replications=len(pair.seeds), households=pair.baseline.households,
                  baseline=pair.baseline.name, scenarios=[(s.name, s) for s in (pair.baseline, pair.mix)])
    now = utc_now()
    manifest = store.sweep_manifest(sweep, now, now, command=["povsim", "app"])
    before = store.read_manifest_quietly(out) or {}
    names = {e["name"] for e in manifest["scenarios"]}
    kept = [e for e in before.get("scenarios") or [] if isinstance(e, dict) and e.get("name") not in names]
    manifest["scenarios"] = manifest["scenarios"] + kept
    store.write_json(out / store.MANIFEST, manifest)


def read_pair(out, pair: Pair) -> pd.DataFrame:
    """The stored runs of the pair's scenarios and seeds, read as `povsim compare --in`
    reads the store (`store.load_results`), `scenario` and `seed` first."""
    df = store.load_results(out)
    keep = df["scenario"].isin(pair.names) & df["seed"].isin([int(s) for s in pair.seeds])
    df = df[keep]
    for scenario in (pair.baseline, pair.mix):  # the runs of this configuration, every seed
        rows = df[df["scenario"] == scenario.name]
        if set(rows["config_hash"]) != {scenario.config_hash()} or set(rows["seed"]) != set(pair.seeds):
            raise RuntimeError(f"the store {out} lacks runs of {scenario.name} with configuration "
                               f"{scenario.config_hash()} for seeds {pair.seeds}")
    return df.reset_index(drop=True)


def run_pair(pair: Pair, results, on_progress=None, say=None) -> Outcome:
    """Run the baseline and the mix on the pair's seeds, each run not already stored, into
    the store; then compare. `on_progress(fraction, text)` as each run and year begins;
    `say(line)` for the engine's compiling notice."""
    from sim.precompile import ensure_compiled

    from .runner import run_one

    progress = on_progress or (lambda fraction, text: None)
    out = store_dir(results, pair)
    t0 = time.perf_counter()
    with _RUN_LOCK:
        out.mkdir(parents=True, exist_ok=True)
        store.clean_temporary(out)
        runs = [(s.name, int(seed), s.config_hash()) for s in (pair.baseline, pair.mix) for seed in pair.seeds]
        store.adopt_renamed(out, runs)
        have = store.completed(out)
        todo = [(s, int(seed), s.config_hash()) for s in (pair.baseline, pair.mix) for seed in pair.seeds
                if (s.name, int(seed), s.config_hash()) not in have]
        if todo:
            on = {m: pair.baseline.measures.get(m, False) or pair.mix.measures.get(m, False)
                  for m in pair.mix.measures}
            ensure_compiled(say=say, measures=on)
        _record(out, pair)
        for i, (scenario, seed, h) in enumerate(todo):
            years = scenario.end_year - scenario.start_year + 1
            which = "baseline" if scenario is pair.baseline else "mix"

            def year_begins(year, i=i, which=which, seed=seed, scenario=scenario, years=years):
                done = year - scenario.start_year
                progress((i + done / years) / len(todo),
                         f"run {i + 1} of {len(todo)}: the {which}, seed {seed}, year {year}")

            frame = run_one(scenario, seed, on_year=year_begins)
            store.write_run(out, scenario.name, seed, h, frame)
        progress(1.0, f"{len(todo)} run{'s' if len(todo) != 1 else ''} done, "
                      f"{len(runs) - len(todo)} loaded from the store")
        frames = read_pair(out, pair)
    yearly, horizon = compare_pair(frames, pair)
    return Outcome(pair=pair, store=out, frames=frames, yearly=yearly, horizon=horizon,
                   ran=len(todo), loaded=len(runs) - len(todo), seconds=time.perf_counter() - t0)


# ---------------------------------------------------------------------------------------
# the numbers


def compare_pair(frames: pd.DataFrame, pair: Pair) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(yearly, horizon): mix - baseline, paired by seed, as `povsim compare` computes it."""
    from .compare import paired_differences

    base, mix = pair.names
    a = frames[frames["scenario"] == base]
    b = frames[frames["scenario"] == mix]
    return paired_differences(a, b, (base, mix), where=pair.file_name)


def extra_cost_per_sustained_exit(horizon: pd.DataFrame) -> tuple[float, str]:
    """The mix's extra fiscal cost over the horizon per extra sustained exit (both mean
    paired differences over the seeds: fiscal cost, and exits - returns), in yuan per
    person, with what it means in words; NaN when the mix changes no sustained exit."""
    d = horizon.set_index("measure")["mean"]
    cost = float(d["fiscal_cost"])
    extra = float(d["exits"]) - float(d["returns"])
    if not math.isfinite(extra) or extra == 0:
        return math.nan, "no change in sustained exits: no ratio"
    ratio = cost / extra
    if extra > 0 and cost >= 0:
        return ratio, f"{ratio:,.0f} yuan of extra fiscal cost per extra sustained exit"
    if extra > 0:
        return ratio, f"costs {-cost / 1e6:,.1f} million yuan less and sustains {extra:,.0f} more exits (people)"
    if cost <= 0:
        return ratio, f"{ratio:,.0f} yuan saved per sustained exit given up"
    return ratio, f"costs {cost / 1e6:,.1f} million yuan more and sustains {-extra:,.0f} fewer exits (people)"


def levels(frames: pd.DataFrame, pair: Pair) -> pd.DataFrame:
    """Per scenario and year: mean over seeds and band (runner.summary_table's min-max,
    5-95% from 20 seeds) of the LEVELS columns."""
    from .figures import mean_band

    rows = []
    for role, name in zip(("baseline", "mix"), pair.names):
        df = frames[frames["scenario"] == name]
        for column in LEVELS:
            mean, lo, hi, band = mean_band(df, column)
            for year in mean.index:
                rows.append({"scenario": role, "measure": column, "year": int(year), "mean": float(mean[year]),
                             "lo": float(lo[year]), "hi": float(hi[year]), "band": band})
    return pd.DataFrame(rows)


def differences_csv(outcome: Outcome) -> str:
    """compare.csv of `povsim compare` for the pair."""
    from .compare import differences_csv as written

    return written(outcome.yearly, outcome.horizon)


def results_parquet(outcome: Outcome) -> bytes:
    import io

    buf = io.BytesIO()
    outcome.frames.to_parquet(buf, engine="pyarrow", index=False)
    return buf.getvalue()


def results_csv(outcome: Outcome) -> str:
    return outcome.frames.to_csv(index=False)


def compare_command(outcome: Outcome) -> str:
    """The `povsim compare` line that prints the page's differences from the same store."""
    import shlex

    base, mix = outcome.pair.names
    return f"povsim compare {shlex.quote(base)} {shlex.quote(mix)} --in {shlex.quote(str(outcome.store))}"
