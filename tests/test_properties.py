"""Property-based tests (hypothesis): generated scenarios and populations, and generated
damage to valid input files.

- For any valid scenario (any profile, any mix of measures, any parameter values within
  their declared bounds, small populations) the model gives no NaN, no negative counts,
  costs or incomes by source (a household's income is the sum of its sources; only its
  resources, after medical and schooling costs, may be negative), and its accounting
  identities hold: people change by births minus deaths, the
  register changes by new poor plus returns minus exits, and the payers' fiscal costs add
  up to the total, as do the measures'.
- Any invalid mutation of a valid file (wrong type, out of range, unknown key, missing
  required key, duplicate key, wrong encoding) is refused with exit code 2, one line per
  problem naming the file, and the dotted path of the damaged key.
- The same invariants hold for generated populations: regions with other registers,
  incomes, household sizes, samplings and village locations.
- Damaged sweep files, parameter files and target files are refused the same way.

Bounded: few examples, no deadline (the first model run compiles), so the file takes
seconds, not minutes.
"""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from experiments import cli
from experiments.runner import run_one
from experiments.scenario import SCENARIO_SCHEMA, load_scenario
from sim.registry import MEASURES
from sim.errors import InputError
from sim.fields import Status
from sim.params import PARAMETER_DIR, Parameters
from sim.profiles import PROFILE_DIR, available_profiles, load_profile

REPO = Path(__file__).resolve().parent.parent
PARAMS = Parameters.load()

# generated extreme values are often suspicious (and warned about): expected here
pytestmark = pytest.mark.filterwarnings("ignore::sim.schema.SuspiciousValue")

# Parameters tied to others by rules of check_constraints (legal limits, shares adding up
# to one): a value drawn alone would be refused, correctly; they are left at their defaults.
TIED = re.compile(r"^(microcredit\.(term|amount|max_term|max_amount)|finance\.share_|"
                  r"medical\.share_(township|city))")


# No parameter needs keeping away from 0 (land_income_units = 0 once gave NaN incomes;
# test_zero_land_income_gives_finite_incomes keeps it fixed).
AWAY_FROM_ZERO: set[str] = set()


def _bounds(name: str):
    p = PARAMS.spec(name)
    if p.kind is not float or TIED.match(name) or p.min is None:
        return None
    if name == "poverty.line":  # far below incomes it is refused (check_population)
        return (min(p.values) / 2, max(p.values) * 2)
    if name in AWAY_FROM_ZERO:
        return (max(float(p.min), 0.01 * min(p.values)), float(p.max))
    high = p.max
    if high is None:
        default = max(abs(v) for v in p.values)
        if not default:
            return None
        high = p.min + 2 * default
    return (float(p.min), float(high))


NUMERIC = {n: b for n in PARAMS.names() if (b := _bounds(n)) is not None}

COUNT_COLUMNS = re.compile(r"(_households|_people|^households|^people|^births|^deaths|"
                           r"_villages|_counties|^poor_villages|^poor_counties|_loans|_defaults|"
                           r"_loans_made|^fiscal_cost|_outstanding|_subsidy|_compensation|"
                           r"^oop_medical_total|^relocated_people|^reached_people_|^batch_people_)")
SIGNED = {"registered_net_births_people"}  # births minus deaths: may be negative


INCOME_SOURCES = ("income_farm", "income_local_wage", "income_migrant", "income_transfers",
                  "income_property")


def run_checked(scenario, seed: int) -> pd.DataFrame:
    """Run the model (as `run_one` does) and check its households at the end: incomes by
    source are never negative (farm and business income apart from the year's loss on a
    microcredit project, which is negative income) and add up to the income; sizes and
    weights make sense. (Resources, income less medical and schooling costs, may be negative.)"""
    from policies import microcredit
    from sim.model import PovertyModel

    model = PovertyModel(rng=int(seed), **scenario.model_kwargs())
    frame = model.run().reset_index(drop=True)
    hh = model.hh
    project_loss = np.minimum(microcredit.income_contribution(model, np.arange(hh.n)), 0.0)
    for source in INCOME_SOURCES:
        values = np.asarray(getattr(hh, source), dtype=np.float64)
        if source == "income_farm":
            values = values - project_loss  # float32 rounding of the sum: a hundredth of a yuan
        assert (values >= (-0.01 if source == "income_farm" else 0.0)).all(), f"negative {source}"
    total = sum(np.asarray(getattr(hh, s), dtype=np.float64) for s in INCOME_SOURCES)
    income = np.asarray(hh.income, dtype=np.float64)
    assert np.allclose(income, total, rtol=1e-5, atol=1e-2), "income is not the sum of its sources"
    assert (np.asarray(hh.size) >= 0).all() and (np.asarray(hh.weight) > 0).all()
    assert (frame["mean_income_per_capita"] >= 0).all() and (frame["poverty_line"] > 0).all()
    # a failed project's loss is negative business income, so a small register's mean income
    # (`mean_income_registered`) may fall below 0; without project losses it never does
    registered = np.isin(hh.status, (int(Status.REGISTERED), int(Status.RETURNED))) & (hh.size > 0)
    w = np.asarray(hh.weight, np.float64)[registered]
    assert np.dot(w, (income - project_loss)[registered]) >= -0.01 * w.sum()
    return frame


@st.composite
def scenarios(draw):
    """A valid scenario: profile, one or two years, 60-250 households, measures, overrides."""
    profile = draw(st.sampled_from(available_profiles()))
    start = load_profile(profile).data["start_year"]
    measures = {m: draw(st.booleans()) for m in MEASURES}
    names = draw(st.lists(st.sampled_from(sorted(NUMERIC)), max_size=4, unique=True))
    overrides = {}
    for name in names:
        low, high = NUMERIC[name]
        overrides[name] = draw(st.floats(low, high, allow_nan=False, allow_infinity=False))
    return {"profile": profile, "start_year": start, "end_year": start + draw(st.integers(0, 1)),
            "households": draw(st.integers(60, 250)), "measures": measures, "overrides": overrides}


def scenario_text(spec: dict) -> str:
    lines = ['name = "generated"', f'profile = "{spec["profile"]}"',
             f'start_year = {spec["start_year"]}', f'end_year = {spec["end_year"]}',
             f'households = {spec["households"]}', "", "[measures]"]
    lines += [f"{m} = {'true' if on else 'false'}" for m, on in spec["measures"].items()]
    lines += ["", "[overrides]"] + [f'"{k}" = {v!r}' for k, v in spec["overrides"].items()]
    return "\n".join(lines) + "\n"


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(spec=scenarios(), seed=st.integers(0, 2**32 - 1))
def test_any_valid_scenario_gives_finite_non_negative_balanced_results(tmp_path, spec, seed):
    path = tmp_path / "generated.toml"
    path.write_text(scenario_text(spec), encoding="utf-8")
    frame = run_checked(load_scenario(path), seed)
    numeric = frame.select_dtypes(include=[np.number])
    assert len(frame) == spec["end_year"] - spec["start_year"] + 1
    bad = [c for c in numeric.columns if not np.isfinite(numeric[c].to_numpy(float)).all()]
    assert not bad, f"NaN or infinite values in {bad}"
    negative = [c for c in numeric.columns if COUNT_COLUMNS.search(c) and c not in SIGNED
                and (numeric[c] < 0).any()]
    assert not negative, f"negative counts or costs in {negative}"
    assert (frame["people"] >= frame["registered_poor_people"]).all()
    assert (frame["households"] >= frame["registered_poor_households"]).all()

    rel = lambda a, b: np.allclose(a, b, rtol=1e-9, atol=1e-6)  # noqa: E731
    payers = [c for c in frame.columns if c.startswith("fiscal_cost_payer_")]
    measures = [c for c in frame.columns if c.startswith("fiscal_cost_") and c not in payers
                and c != "fiscal_cost_total"]
    assert rel(frame[payers].sum(axis=1), frame["fiscal_cost_total"]), "payers do not add up"
    assert rel(frame[measures].sum(axis=1), frame["fiscal_cost_total"]), "measures do not add up"
    for m, on in spec["measures"].items():
        if not on and f"fiscal_cost_{m}" in frame.columns:
            assert (frame[f"fiscal_cost_{m}"] == 0).all(), f"{m} is off but costs money"
    if len(frame) > 1:  # stocks change by their flows, up to the rounding of weighted sums
        # (1e-8 of the stock; one household row weighs at least 1/250 of it here)
        people = frame["people"].to_numpy(float)
        change = (frame["births"] - frame["deaths"]).to_numpy(float)[1:]
        assert np.allclose(np.diff(people), change, rtol=0, atol=1e-8 * people.max()), "people"
        reg = frame["registered_poor_households"].to_numpy(float)
        flows = (frame["new_poor_households"] + frame["returns_households"] - frame["exits_households"]
                 - frame["recheck_removed_households"]).to_numpy(float)[1:]
        households = frame["households"].to_numpy(float).max()
        assert np.allclose(np.diff(reg), flows, rtol=0, atol=1e-8 * households), "register"


@st.composite
def populations(draw):
    """A valid region: Shangluo's profile with its register, population, sampling, village
    locations and exit thresholds drawn anew (values keyed by dotted path)."""
    u = lambda lo, hi: draw(st.floats(lo, hi, allow_nan=False))  # noqa: E731
    rural = 1_900_000
    people = round(rural * u(0.02, 0.4))
    values = {
        "register.people": people,
        "register.households": round(people / u(1.6, 5.5)),
        "register.poor_villages": draw(st.integers(0, 1450)),
        "population.household_size_other": u(1.5, 6.0),
        "population.income_mean": u(5000, 20000),
        "population.near_poor_upper": u(1.2, 4.0),
        "population.share_of_poor_in_poor_villages": u(0.0, 1.0),
        "sampling.registered": u(0.05, 1.0),
        "sampling.near_poor": u(0.05, 1.0),
        "sampling.other": u(0.05, 1.0),
        "exit.village_incidence": u(0.0, 0.2),
        "exit.county_incidence": u(0.0, 0.2),
    }
    for group in ("poor_villages", "other_villages"):
        for place in ("remote_mountain", "geo_hazard", "eco_fragile", "tiny_hamlet"):
            values[f"location.{group}.{place}"] = u(0.0, 1.0)
    return values


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(values=populations(), seed=st.integers(0, 2**32 - 1), on=st.booleans())
def test_any_valid_population_gives_finite_non_negative_balanced_results(tmp_path, values, seed, on):
    """Populations drawn from other registers, incomes, samplings and village locations
    (households fixed small, every measure on or off) keep the same invariants."""
    from hypothesis import assume

    from sim.errors import InputError

    text = SHANGLUO
    for dotted, value in values.items():
        text = _set_in(text, dotted, repr(value))
    (tmp_path / "region.toml").write_text(text, encoding="utf-8")
    spec = {"profile": "region.toml", "start_year": 2016, "end_year": 2017, "households": 200,
            "measures": {m: on for m in MEASURES}, "overrides": {}}
    path = tmp_path / "generated.toml"
    path.write_text(scenario_text(spec), encoding="utf-8")
    try:
        scenario = load_scenario(path)
    except InputError as err:  # refused before any run (e.g. a line too low for incomes)
        assume(False)
        raise AssertionError from err  # pragma: no cover
    frame = run_checked(scenario, seed)
    numeric = frame.select_dtypes(include=[np.number])
    bad = [c for c in numeric.columns if not np.isfinite(numeric[c].to_numpy(float)).all()]
    assert not bad, f"NaN or infinite values in {bad}"
    negative = [c for c in numeric.columns if COUNT_COLUMNS.search(c) and c not in SIGNED
                and (numeric[c] < 0).any()]
    assert not negative, f"negative counts or costs in {negative}"
    people = frame["people"].to_numpy(float)
    change = (frame["births"] - frame["deaths"]).to_numpy(float)[1:]
    assert np.allclose(np.diff(people), change, rtol=0, atol=1e-8 * people.max()), "people"
    payers = [c for c in frame.columns if c.startswith("fiscal_cost_payer_")]
    assert np.allclose(frame[payers].sum(axis=1), frame["fiscal_cost_total"], rtol=1e-9, atol=1e-6)


def test_zero_land_income_gives_finite_incomes(tmp_path):
    """With no land income, households without labor have nothing to scale an earning
    ability by: they live on pensions and transfers, and no income becomes NaN."""
    spec = {"profile": "guangdong", "start_year": 2016, "end_year": 2016, "households": 60,
            "measures": {m: False for m in MEASURES},
            "overrides": {"economy.land_income_units": 0.0}}
    path = tmp_path / "zero_land.toml"
    path.write_text(scenario_text(spec), encoding="utf-8")
    with np.errstate(divide="ignore", invalid="ignore"):
        frame = run_one(load_scenario(path), 5)
    assert np.isfinite(frame["mean_income_per_capita"]).all()


# ---------------------------------------------------------------------------------------
# invalid mutations of valid files: exit code 2, the file and the dotted path named

VALID_SCENARIO = {"name": "valid", "profile": "shangluo", "start_year": 2016, "end_year": 2017,
                  "households": 300, "seed": 5, "seeds": 2}
SCALARS = sorted(VALID_SCENARIO)
WRONG_TYPE = {"str": 12, "int": "twelve", "float": "x", "bool": 1}


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    return repr(v)


def _render(data: dict, measures: dict | None = None) -> str:
    lines = [f"{k} = {_toml_value(v)}" for k, v in data.items()]
    if measures:
        lines += ["", "[measures]"] + [f"{k} = {_toml_value(v)}" for k, v in measures.items()]
    return "\n".join(lines) + "\n"


@st.composite
def scenario_mutations(draw):
    """(file bytes, the dotted path the error must name or None, what the mutation was)."""
    data = dict(VALID_SCENARIO)
    measures = {"dibao": True, "microcredit": False}
    kind = draw(st.sampled_from(["wrong_type", "out_of_range", "unknown_key", "missing",
                                 "duplicate", "encoding", "measure_type", "unknown_measure"]))
    if kind == "wrong_type":
        key = draw(st.sampled_from(SCALARS))
        data[key] = WRONG_TYPE[SCENARIO_SCHEMA[key].kind]
        return _render(data, measures).encode(), key, kind
    if kind == "out_of_range":
        key = draw(st.sampled_from(["start_year", "end_year", "households", "seeds", "seed"]))
        spec = SCENARIO_SCHEMA[key]
        low = spec.min - draw(st.integers(1, 1000))
        high = int(spec.max) + draw(st.integers(1, 1000)) if key != "seed" else low
        data[key] = draw(st.sampled_from([int(low), int(high)]))
        if key == "start_year" and data[key] > VALID_SCENARIO["end_year"]:
            data["end_year"] = data[key]  # keep it about the range, not the order
            key_named = "start_year"
        else:
            key_named = key
        return _render(data, measures).encode(), key_named, kind
    if kind == "unknown_key":
        key = draw(st.sampled_from(SCALARS))
        typo = key[:-1] + ("x" if key[-1] != "x" else "y")
        data[typo] = data.pop(key)
        return _render(data, measures).encode(), typo, kind
    if kind == "missing":
        key = draw(st.sampled_from([k for k, s in SCENARIO_SCHEMA.items() if s.required]))
        data.pop(key)
        return _render(data, measures).encode(), key, kind
    if kind == "duplicate":
        key = draw(st.sampled_from(SCALARS))
        text = _render(data, measures) + ""
        lines = text.splitlines()
        i = next(j for j, line in enumerate(lines) if line.startswith(f"{key} ="))
        lines.insert(draw(st.integers(i + 1, len(lines) - 3)), lines[i])
        return ("\n".join(lines) + "\n").encode(), key, kind
    if kind == "encoding":
        data["description"] = "Shangluo 商洛"
        text = _render(data, measures)
        codec = draw(st.sampled_from(["utf-16", "gbk", "latin-1-bytes"]))
        raw = (text.encode("utf-16") if codec == "utf-16" else
               text.encode("gbk") if codec == "gbk" else text.replace("商洛", "café").encode("latin-1"))
        return raw, None, f"{kind} {codec}"
    if kind == "measure_type":
        name = draw(st.sampled_from(sorted(MEASURES)))
        measures[name] = draw(st.sampled_from(["yes", 1, 0.5]))
        return _render(data, measures).encode(), f"measures.{name}", kind
    name = draw(st.sampled_from(sorted(MEASURES)))
    measures[name[:-1]] = True
    return _render(data, measures).encode(), f"measures.{name[:-1]}", kind


VALID_SWEEP = {"name": "mutated", "description": "two scenarios", "seed": 3, "replications": 2,
               "households": 300, "baseline": "a"}
SWEEP_ENTRIES = [{"name": "a", "file": str(REPO / "experiments" / "scenarios" / "baseline.toml")},
                 {"name": "b", "file": str(REPO / "experiments" / "scenarios" / "shangluo.toml")}]


def _render_sweep(data: dict, entries: list[dict]) -> str:
    text = _render(data)
    for entry in entries:
        text += "\n[[scenarios]]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in entry.items())
    return text


@st.composite
def sweep_mutations(draw):
    """(file bytes, the dotted path the error must name or None, what the mutation was)."""
    from experiments.sweep import SWEEP_SCHEMA

    data = dict(VALID_SWEEP)
    entries = [dict(e) for e in SWEEP_ENTRIES]
    keys = sorted(data)
    kind = draw(st.sampled_from(["wrong_type", "out_of_range", "unknown_key", "missing",
                                 "duplicate", "entry_duplicate", "entry_unknown", "entry_missing",
                                 "encoding"]))
    i = draw(st.integers(0, len(entries) - 1))
    if kind == "wrong_type":
        key = draw(st.sampled_from(keys))
        data[key] = WRONG_TYPE[SWEEP_SCHEMA[key].kind]
        return _render_sweep(data, entries).encode(), key, kind
    if kind == "out_of_range":
        key = draw(st.sampled_from(["seed", "replications", "households"]))
        data[key] = int(SWEEP_SCHEMA[key].min) - draw(st.integers(1, 1000))
        return _render_sweep(data, entries).encode(), key, kind
    if kind == "unknown_key":
        key = draw(st.sampled_from(keys))
        typo = key[:-1] + ("x" if key[-1] != "x" else "y")
        data[typo] = data.pop(key)
        return _render_sweep(data, entries).encode(), typo, kind
    if kind == "missing":
        key = draw(st.sampled_from(["seed", "replications", "scenarios"]))
        if key == "scenarios":
            return _render(data).encode(), key, kind
        data.pop(key)
        return _render_sweep(data, entries).encode(), key, kind
    if kind == "duplicate":
        key = draw(st.sampled_from(keys))
        lines = _render_sweep(data, entries).splitlines()
        j = next(n for n, line in enumerate(lines) if line.startswith(f"{key} ="))
        lines.insert(j + 1, lines[j])
        return ("\n".join(lines) + "\n").encode(), key, kind
    if kind == "entry_duplicate":
        text = _render_sweep(data, entries)
        marker = f'name = "{entries[i]["name"]}"\n'
        return text.replace(marker, marker * 2).encode(), f"scenarios[{i}].name", kind
    if kind == "entry_unknown":
        entries[i]["nmae"] = entries[i].pop("name")
        return _render_sweep(data, entries).encode(), f"scenarios[{i}].nmae", kind
    if kind == "entry_missing":
        entries[i].pop("file")
        return _render_sweep(data, entries).encode(), f"scenarios[{i}].file", kind
    data["description"] = "商洛 mixes"
    codec = draw(st.sampled_from(["utf-16", "gbk"]))
    return _render_sweep(data, entries).encode(codec), None, f"{kind} {codec}"


def _check(path: Path, capsys) -> tuple[int, list[str]]:
    code = cli.main(["check", str(path)])
    out, err = capsys.readouterr()
    return code, err.strip().splitlines()


def _assert_refused_naming(path, raw, dotted, kind, capsys):
    """`povsim check` of the mutated file: exit 2, every line an error naming the file (no
    traceback), and one naming the mutated dotted path when there is one."""
    path.write_bytes(raw)
    code, lines = _check(path, capsys)
    assert code == 2, (kind, lines)
    assert lines and all(line.startswith(f"povsim: error: {path}") for line in lines), (kind, lines)
    assert not any("Traceback" in line for line in lines)
    if dotted is not None:
        assert any(line.startswith(f"povsim: error: {path}: {dotted}") for line in lines), (kind, lines)


def test_the_unmutated_file_is_valid(tmp_path, capsys):
    path = tmp_path / "valid.toml"
    path.write_text(_render(VALID_SCENARIO, {"dibao": True, "microcredit": False}), encoding="utf-8")
    code, lines = _check(path, capsys)
    assert code == 0 and lines == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutation=scenario_mutations())
def test_any_invalid_mutation_of_a_scenario_is_refused_naming_the_path(tmp_path, capsys, mutation):
    raw, dotted, kind = mutation
    _assert_refused_naming(tmp_path / "mutated.toml", raw, dotted, kind, capsys)


def test_the_unmutated_sweep_is_valid(tmp_path, capsys):
    path = tmp_path / "sweep.toml"
    path.write_text(_render_sweep(VALID_SWEEP, SWEEP_ENTRIES), encoding="utf-8")
    code, lines = _check(path, capsys)
    assert code == 0 and lines == []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutation=sweep_mutations())
def test_any_invalid_mutation_of_a_sweep_is_refused_naming_the_path(tmp_path, capsys, mutation):
    raw, dotted, kind = mutation
    _assert_refused_naming(tmp_path / "mutated_sweep.toml", raw, dotted, kind, capsys)


def _profile_leaves(node, path=""):
    """Dotted paths of every sourced number in a profile (`{value = ..., source = ...}`)."""
    if isinstance(node, dict):
        if "value" in node and "source" in node and isinstance(node["value"], (int, float)):
            yield path
            return
        for k, v in node.items():
            yield from _profile_leaves(v, f"{path}.{k}" if path else k)


SHANGLUO = (PROFILE_DIR / "shangluo.toml").read_text(encoding="utf-8")
PROFILE_LEAVES = sorted(_profile_leaves(tomllib.loads(SHANGLUO)))


def _set_in(text: str, dotted: str, replacement: str) -> str:
    """The profile text with the `value = ...` of `dotted` replaced (found by its table)."""
    *table, key = dotted.split(".")
    start = re.compile(rf"^\[{re.escape('.'.join(table))}\]", re.M).search(text).end() if table else 0
    m = re.compile(rf"^{re.escape(key)}\s*=\s*\{{\s*value\s*=\s*([^,}}]+)", re.M).search(text, start)
    assert m, dotted
    return text[:m.start(1)] + replacement + text[m.end(1):]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(leaf=st.sampled_from(PROFILE_LEAVES),
       damage=st.sampled_from(['"many"', "-5", "true", "nan", "1e400"]))
def test_any_damaged_number_of_a_profile_is_refused_naming_the_path(tmp_path, capsys, leaf, damage):
    path = tmp_path / "damaged.toml"
    path.write_text(_set_in(SHANGLUO, leaf, damage), encoding="utf-8")
    code, lines = _check(path, capsys)
    assert code == 2, (leaf, damage, lines)
    assert any(line.startswith(f"povsim: error: {path}: {leaf}") for line in lines), (leaf, damage, lines)


def test_profile_leaves_cover_every_section():
    """The damaged-profile test reaches every table of the profile schema that holds numbers."""
    sections = {leaf.split(".")[0] for leaf in PROFILE_LEAVES}
    assert {"register", "population", "sampling", "location", "exit"} <= sections
    assert math.isfinite(len(PROFILE_LEAVES)) and len(PROFILE_LEAVES) >= 20


# ---------------------------------------------------------------------------------------
# damaged parameter files

def _parameter_tables() -> list[tuple[str, str]]:
    """(file name, dotted name) of every parameter declared with a plain `value = <number>`."""
    out = []
    for path in sorted(PARAMETER_DIR.glob("*.toml")):
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r"^\[([\w.]+)\]\n((?:(?!\[).*\n)*)", text, re.M):
            if re.search(r"^value = -?[\d.]+\s*$", m.group(2), re.M):
                out.append((path.name, m.group(1)))
    return out


PARAMETER_TABLES = _parameter_tables()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=st.sampled_from(PARAMETER_TABLES),
       damage=st.sampled_from(["text", "unknown", "no_source", "twice", "no_value"]))
def test_any_damaged_parameter_is_refused_naming_file_and_path(tmp_path_factory, table, damage):
    name, dotted = table
    directory = tmp_path_factory.mktemp("parameters")
    for path in PARAMETER_DIR.glob("*.toml"):
        (directory / path.name).write_bytes(path.read_bytes())
    file = directory / name
    text = file.read_text(encoding="utf-8")
    start = text.index(f"[{dotted}]\n")
    end = text.find("\n[", start + 1)
    end = len(text) if end < 0 else end + 1
    block = text[start:end]
    if damage == "text":
        block = re.sub(r"^value = .*$", 'value = "lots"', block, flags=re.M)
    elif damage == "unknown":
        block = block.replace("description = ", "descripton = ", 1)
    elif damage == "no_source":
        block = re.sub(r"^source = .*\n", "", block, flags=re.M)
    elif damage == "twice":
        block = re.sub(r"^(value = .*\n)", r"\1\1", block, flags=re.M)
    else:
        block = re.sub(r"^value = .*\n", "", block, flags=re.M)
    file.write_text(text[:start] + block + text[end:], encoding="utf-8")
    with pytest.raises(InputError) as info:
        Parameters.load(directory)
    lines = [p.one_line() for p in getattr(info.value, "problems", [info.value])]
    assert any(line.startswith(f"{name}: {dotted}") or line.startswith(f"{file}: {dotted}")
               for line in lines), (damage, lines)


# ---------------------------------------------------------------------------------------
# damaged target files

TARGETS = REPO / "experiments" / "targets" / "shangluo.toml"
SERIES_DAMAGE = {
    "weight": ('weight = 1.0', 'weight = "heavy"', "weight"),
    "negative weight": ('weight = 1.0', 'weight = -1.0', "weight"),
    "tolerance": ('tolerance = 0.25', 'tolerance = 0', "tolerance"),
    "relation": ('relation = "equal"', 'relation = "equl"', "relation"),
    "unknown key": ('weight = 1.0', 'wieght = 1.0', "wieght"),
    "no source": ('source = "004 ch.2 (exit schedule)"\n', '', "source"),
    "year": ('2016 = 133000', '2101 = 133000', "values"),
    "value": ('2016 = 133000', '2016 = "many"', "values"),
}


@pytest.mark.skipif(not TARGETS.is_file(), reason="no target files in this tree")
@settings(max_examples=16, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(damage=st.sampled_from(sorted(SERIES_DAMAGE)))
def test_any_damaged_target_series_is_refused_naming_the_path(tmp_path, capsys, damage):
    old, new, key = SERIES_DAMAGE[damage]
    text = TARGETS.read_text(encoding="utf-8")
    start = text.index("[series.exits_people]\n")
    end = text.index("\n[", start + 1)
    block = text[start:end].replace(old, new, 1)
    assert block != text[start:end], damage
    damaged = (text[:start] + block + text[end:]).replace(  # the scenario, from anywhere
        'scenario = "../scenarios/', f'scenario = "{TARGETS.parent.parent}/scenarios/')
    path = tmp_path / "targets.toml"
    path.write_text(damaged, encoding="utf-8")
    code, lines = _check(path, capsys)
    assert code == 2, (damage, lines)
    assert any(line.startswith(f"povsim: error: {path}: series.exits_people.{key}") for line in lines), (
        damage, lines)
