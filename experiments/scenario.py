"""Scenario files: a region profile, a horizon, seeds, which measures are on, and overrides.

Everything is validated before any run starts: unknown keys, wrong types, out-of-range
values and unknown parameter paths are InputErrors naming the file and the dotted path.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from sim.errors import InputError, nearest
from sim.inputs import check_input_file, load_toml
from sim.params import Parameters, flatten_dotted
from sim.profiles import Profile, available_profiles, load_profile, profile_path
from sim.schema import Key, declare, suspicious, validate
from sim.registry import MEASURES

MAX_YEAR = 2035

SCENARIO_SCHEMA = declare("scenario", {
    "name": Key("str"),
    "description": Key("str"),
    "profile": Key("str", required=True, help="a profile name (shangluo) or a path to a profile file"),
    "start_year": Key("int", min=2011, max=MAX_YEAR),
    "end_year": Key("int", required=True, min=2011, max=MAX_YEAR),
    "households": Key("int", min=10, max=100_000_000),
    "seed": Key("int", min=0, max=2**63 - 1),
    "seeds": Key("int", min=1, max=100_000),
    "measures": Key("table", schema={name: Key("bool") for name in MEASURES}),
    "overrides": Key("table"),
})


@dataclass
class Scenario:
    """A validated scenario with its profile and fully resolved parameters."""

    name: str
    file: str
    description: str
    profile: Profile
    start_year: int
    end_year: int
    households: int
    seed: int
    seeds: int
    measures: dict[str, bool]
    overrides: dict
    params: Parameters = field(repr=False)

    def model_kwargs(self) -> dict:
        """Keyword arguments for PovertyModel (what a Mesa batch_run user would pass)."""
        return dict(profile=self.profile, households=self.households, start_year=self.start_year,
                    end_year=self.end_year, measures=self.measures, params=self.params,
                    scenario=self.name)

    def resolved(self) -> dict:
        """Everything that determines the results, for the manifest and the config hash."""
        return {
            "scenario": self.name,
            "profile": self.profile.name,
            "profile_data": self.profile.data,
            "start_year": self.start_year,
            "end_year": self.end_year,
            "households": self.households,
            "measures": self.measures,
            "parameters": self.params.resolved(self.start_year, self.end_year),
        }

    def hashed(self) -> dict:
        """What goes into the config hash: only what determines a run's numbers.

        In: the profile's numbers and settings (its data without the labels `name` and
        `title` and without citations, `source` and `note`), the horizon, the household
        rows, which measures are on, and every parameter's value in every year. Out: the
        scenario's name, file and description, the profile's name and file, and where
        each value came from. So renaming a scenario, moving a file or rewording a
        citation keeps the hash, and a sweep does not re-run identical work; any change
        of a number changes it, and so does any change of the engine's code (its
        sources' fingerprint, `sim/kernel_cache.py`): runs stored by other code are
        done again, never taken for this code's results. (The seed is not in it: a run
        is keyed by (hash, seed).)
        """
        from sim.kernel_cache import engine_fingerprint

        return {
            "engine": engine_fingerprint()[:16],
            "profile_data": _numbers_only(self.profile.data),
            "start_year": self.start_year,
            "end_year": self.end_year,
            "households": self.households,
            "measures": dict(sorted(self.measures.items())),
            "parameters": self.params.resolved(self.start_year, self.end_year),
        }

    def config_hash(self) -> str:
        text = json.dumps(self.hashed(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


_LABELS = ("name", "title")
_CITATIONS = ("source", "note")


def _numbers_only(node, top: bool = True):
    """A profile's data without its labels (top level) and citations (anywhere)."""
    if isinstance(node, dict):
        drop = _CITATIONS + (_LABELS if top else ())
        return {k: _numbers_only(v, top=False) for k, v in node.items() if k not in drop}
    if isinstance(node, list):
        return [_numbers_only(v, top=False) for v in node]
    return node


def check_override_years(overrides: dict, end: int, file: str, section: str) -> None:
    """A dated override for a year after the horizon would never be used: refused, so a
    typo in a year (2030 for 2020) does not pass silently. Years before the start are
    fine: a dated value holds from its year on, into the horizon."""
    for name, raw in flatten_dotted(overrides).items():
        years = raw.get("values", raw) if isinstance(raw, dict) and "value" not in raw else {}
        if not isinstance(years, dict):
            continue
        late = sorted(int(y) for y in years if str(y).isdigit() and int(y) > end)
        if late:
            raise InputError(file, f"{section}.{name}.{late[0]}", f"{late[0]} is after the last simulated year "
                             f"{end}: the value would never be used")


def check_constraints(params: Parameters, start: int, end: int, file: str) -> None:
    """Rules between parameters: legal loan limits, payer shares that add up to one."""
    for year in range(start, end + 1):
        p = params.year(year)
        for value, limit in (("microcredit.term", "microcredit.max_term"),
                             ("microcredit.amount", "microcredit.max_amount")):
            if p[value] > p[limit]:
                raise InputError(file, f"overrides.{value}",
                                 f"{p[value]:g} in {year} exceeds the legal limit {limit} = {p[limit]:g}")
        if p["medical.share_township"] + p["medical.share_city"] > 1.0 + 1e-9:
            raise InputError(file, "overrides.medical.share_city",
                             f"township and city shares of care add up to more than 1 in {year}")
        shares = [p[f"finance.share_{level}"] for level in ("central", "province", "city", "county")]
        if abs(sum(shares) - 1.0) > 1e-6:
            raise InputError(file, "overrides.finance.share_*",
                             f"the payer shares add up to {sum(shares):g} in {year}, not 1")


def check_population(profile: Profile, params: Parameters, start: int, file: str,
                     where: str = "") -> None:
    """The population can be drawn: a log-normal income with the profile's mean income
    must put the registered share of people below the poverty line of the start year
    (a line of 0, or far below incomes, cannot). Checked here so that such a scenario is
    refused before any run, not failed in every run."""
    import numpy as np

    from sim.synth import income_sigma

    line = params.at("poverty.line", start)
    mean = profile.value("population.income_mean")
    share = profile.value("register.people") / profile.value("population.rural_people")
    if not np.isfinite(line):
        raise InputError(file, where, f"the poverty line of {start} is {line!r}: expected a finite number")
    try:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            ok = line > 0 and np.isfinite(income_sigma(mean, line, share))
    except (ValueError, ZeroDivisionError, FloatingPointError):
        ok = False
    if not ok:
        side = "high" if line > 0 and _line_too_high(mean, line, share) else "low"
        leave = "as few as" if side == "high" else "as many as"
        raise InputError(file, where, f"the poverty line of {start} ({line:g}) is too {side} for the "
                         f"profile's mean income ({mean:g}): no spread of incomes the synthesis allows leaves {leave} "
                         f"{share:.1%} of people (its registered share) below it")


def _line_too_high(mean: float, line: float, share: float) -> bool:
    """Which side of the feasible lines a line that `sim.synth.income_sigma` cannot fit is
    on: log-normal incomes with this mean put Phi(ln(line / mean) / s + s / 2) of people
    below the line. The search there spans s in [1e-3, 3]: at the widest spread the share
    below rises with the line, so a line under which even s = 3 leaves fewer than `share`
    is too low; otherwise even the narrowest spread leaves more below it: too high."""
    import math

    from scipy.special import ndtr

    widest = float(ndtr(math.log(line / mean) / 3.0 + 1.5))
    return widest >= share


# A run's name becomes a folder name twice: results/<name>/ and, percent-encoded, a sweep's
# runs/scenario=<name>/ (file systems allow 255 bytes a name).
MAX_NAME_BYTES = 200
MAX_ENCODED_NAME = 240


def check_name(name: str, file: str, path: str, what: str = "scenario name") -> None:
    """A name that can be a directory name: not empty, no surrounding spaces, not . or
    .., no slashes, NUL or control characters, short enough once percent-encoded."""
    from urllib.parse import quote

    if not name or name != name.strip() or name in (".", ".."):
        raise InputError(file, path, f"{name!r} cannot be used as a {what} (empty, . or .., or spaces around it)")
    bad = next((c for c in name if c in "/\\" or ord(c) < 32 or ord(c) == 127), None)
    if bad is not None:
        raise InputError(file, path, f"{name[:40]!r} cannot be used as a {what}: it holds {bad!r} "
                         "(no slashes or control characters)")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES or len(quote(name, safe="")) > MAX_ENCODED_NAME:
        raise InputError(file, path, f"{name[:40]!r}... ({len(name)} characters) is too long for a {what}: it "
                         f"names folders; at most {MAX_NAME_BYTES} bytes ({MAX_ENCODED_NAME} once percent-encoded)")


MEASURE_SWITCH = "measures."


def measure_switches(overrides: dict, file: str, section: str) -> tuple[dict[str, bool], dict]:
    """(measure switches, parameter overrides) of an overrides table: `measures.<name> =
    true|false` switches a measure on or off, so a measure mix is one line of overrides (in
    a scenario, a sweep's scenario entry or grid, or `povsim run --set`); every other key
    is a parameter's dotted path."""
    switches, params = {}, {}
    for key, value in flatten_dotted(overrides).items():
        if not key.startswith(MEASURE_SWITCH):
            params[key] = value
            continue
        name, path = key[len(MEASURE_SWITCH):], f"{section}.{key}"
        if name not in MEASURES:
            hint = nearest(name, MEASURES) or f" (measures: {', '.join(MEASURES)})"
            raise InputError(file, path, f"unknown measure '{name}'{hint}")
        if not isinstance(value, bool):
            raise InputError(file, path, f"expected true or false, found {value!r}")
        switches[name] = value
    return switches, params


def apply_overrides(params: Parameters, overrides: dict, profile: Profile, start: int, end: int,
                    file: str, section: str) -> tuple[dict[str, bool], Parameters]:
    """(measure switches, parameters) of an overrides table applied on top of `params`, and
    checked as a scenario's are: values against their bounds, years within the horizon, the
    constraints between parameters, and a poverty line the profile's population can meet."""
    switches, parameter_overrides = measure_switches(overrides, file, section)
    params = params.override(parameter_overrides, file, section=section)
    check_override_years(parameter_overrides, end, file, section)
    check_constraints(params, start, end, file)
    check_population(profile, params, start, file,
                     f"{section}.poverty.line" if "poverty.line" in parameter_overrides else "")
    return switches, params


def load_scenario(path: str | Path, households: int | None = None,
                  base_params: Parameters | None = None) -> Scenario:
    path = Path(path)
    file = str(path)
    data = validate(load_toml(path), SCENARIO_SCHEMA, file)
    ppath = profile_path(data["profile"], relative_to=path.parent)
    if not ppath.exists():
        name = data["profile"]
        raise InputError(file, "profile", f"no profile named '{name}'{nearest(name, available_profiles())}"
                         f" (available: {', '.join(available_profiles())}, or a path to a .toml file)")
    # sim.profiles reads the file itself: it gets only a regular file within the input limit
    check_input_file(ppath, (file, "profile"))
    profile = load_profile(data["profile"], relative_to=path.parent)
    start = data.get("start_year", profile.data["start_year"])
    end = data["end_year"]
    if end < start:
        raise InputError(file, "end_year", f"{end} is before start_year {start}")
    if start < profile.data["start_year"]:
        suspicious(file, "start_year", f"{start} is before the profile's start year "
                   f"{profile.data['start_year']} (its register and population are of that year)")
    measures = {name: spec.default_on for name, spec in MEASURES.items()}
    measures.update(data.get("measures", {}))
    params = base_params or Parameters.load()
    params = params.override(profile.parameter_overrides, profile.file, section="parameters")
    overrides = data.get("overrides", {})
    switches, params = apply_overrides(params, overrides, profile, start, end, file, "overrides")
    measures.update(switches)
    if "name" in data:
        check_name(data["name"], file, "name")
    n = households if households is not None else data.get("households", profile.data["default_households"])
    return Scenario(
        name=data.get("name", path.stem), file=file, description=data.get("description", ""),
        profile=profile, start_year=start, end_year=end, households=int(n),
        seed=data.get("seed", 0), seeds=data.get("seeds", 1), measures=measures,
        overrides=overrides, params=params,
    )
