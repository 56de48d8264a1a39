"""Parameters as data: dotted name, unit, description, values by year, source.

A value holds from its year until the next one (OpenFisca's convention). The files live
in `policies/parameters/*.toml`; a region profile or a scenario may override any value by
its dotted path. Unknown names, wrong types and out-of-range values are errors that name
the file, the path and the nearest valid name (the complaint users most often make of
parameter systems is that a misspelt key is silently ignored).
"""

from __future__ import annotations

import bisect
import math
from collections import namedtuple
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import InputError, nearest, unknown_key
from .inputs import load_toml
from .schema import Key, check_number, declare, validate, problems_of, raise_all, suspicious

PARAMETER_DIR = Path(__file__).resolve().parent.parent / "policies" / "parameters"

#: One parameter in a parameter file (`[dotted.name]` tables nest freely above it).
PARAMETER_SCHEMA = declare("parameter file", {
    "unit": Key("str", required=True, help="the unit, e.g. yuan/person/year or share"),
    "description": Key("str", required=True),
    "source": Key("str", required=True, help="a citation or 'assumption: why'"),
    "value": Key("any", help="the value in every year"),
    "values": Key("any", help="a table of year = value"),
    "min": Key("float"),
    "max": Key("float"),
    "choices": Key("any", help="the allowed values (a list of text)"),
})
_LEAF_KEYS = set(PARAMETER_SCHEMA)

#: An override of a parameter by dotted path may be a value, a table of years, or this.
OVERRIDE_SCHEMA = {"value": Key("any"), "values": Key("any"), "source": Key("str")}

#: A value this many times the default (or this many times smaller) is probably in another
#: unit (a percentage for a share, yuan for 10,000 yuan): a warning, not an error.
SUSPICIOUS_FACTOR = 100.0


@dataclass(frozen=True)
class Param:
    name: str
    unit: str
    description: str
    source: str
    years: tuple[int, ...]  # sorted; 0 means "from the beginning"
    values: tuple = ()
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] | None = None
    kind: type = float
    file: str = ""

    def at(self, year: int):
        i = bisect.bisect_right(self.years, year) - 1
        return self.values[max(i, 0)]


def _kind_of(value):
    if isinstance(value, bool):
        return bool
    if isinstance(value, (int, float)):
        return float
    if isinstance(value, str):
        return str
    return type(value)


def _check_value(p: Param, value, file: str, path: str):
    """The value converted to the parameter's kind, or an InputError saying why not."""
    kind = _kind_of(value)
    if kind is not p.kind:
        expected = {float: "a number", bool: "true or false", str: "a string"}[p.kind]
        raise InputError(file, path, f"expected {expected}, found {value!r}")
    if p.kind is float:
        value = check_number(value, "float", Key("float", min=p.min, max=p.max), file, path, p.unit)
    if p.choices is not None and value not in p.choices:
        raise InputError(file, path, f"expected one of {list(p.choices)}, found {value!r}{nearest(str(value), p.choices)}")
    return value


def _year_key(key, file: str, path: str) -> int:
    try:
        year = int(key)
    except (TypeError, ValueError):
        raise InputError(file, path, f"expected a year like 2016 as key, found {key!r}") from None
    if not 1949 <= year <= 2100:
        raise InputError(file, path, f"year {year} is outside 1949..2100")
    return year


def _dated(raw, file: str, path: str) -> dict[int, object]:
    """{year: value} from either a plain value (holds from the beginning) or a year table."""
    if isinstance(raw, dict):
        if not raw:
            raise InputError(file, path, "expected at least one year = value")
        return {_year_key(k, file, f"{path}.{k}"): v for k, v in raw.items()}
    return {0: raw}


def _leaf(name: str, raw: dict, file: str) -> Param:
    validate(raw, PARAMETER_SCHEMA, file, name)
    for key in ("unit", "description", "source"):
        if not raw[key].strip():
            raise InputError(file, f"{name}.{key}", "required text is missing")
    if "choices" in raw and not (isinstance(raw["choices"], list) and raw["choices"]
                                 and all(isinstance(c, str) for c in raw["choices"])):
        raise InputError(file, f"{name}.choices", f"expected a list of text, found {raw['choices']!r}")
    if ("value" in raw) == ("values" in raw):
        raise InputError(file, name, "give exactly one of 'value' or 'values'")
    dated = _dated(raw["values"], file, f"{name}.values") if "values" in raw else {0: raw["value"]}
    first = next(iter(dated.values()))
    choices = tuple(raw["choices"]) if "choices" in raw else None
    where = f"{name}.values.{min(dated)}" if "values" in raw else f"{name}.value"
    kind = _kind_of(first)
    # the kind is declared by the first value: a number, true/false, or text from `choices`
    if kind not in (float, bool, str):
        raise InputError(file, where, f"expected a number, true or false, or text, found {first!r}")
    if kind is str and choices is None:
        raise InputError(file, where, f"expected a number, found {first!r} "
                         "(a text value needs 'choices')")
    if kind is not float and ("min" in raw or "max" in raw):
        raise InputError(file, where, f"expected a number (min/max are given), found {first!r}")
    p = Param(name=name, unit=raw["unit"], description=raw["description"], source=raw["source"],
              years=(), min=raw.get("min"), max=raw.get("max"), choices=choices,
              kind=_kind_of(first), file=file)
    years = sorted(dated)
    values = tuple(_check_value(p, dated[y], file, f"{name}.values.{y}" if y else f"{name}.value")
                   for y in years)
    return replace(p, years=tuple(years), values=values)


def _walk(tree: dict, prefix: str, file: str, out: dict[str, Param], problems: list | None = None):
    """Every parameter of a parameter file's tree into `out`; problems collected."""
    top = problems is None
    problems = [] if top else problems
    for key, sub in tree.items():
        name = f"{prefix}.{key}" if prefix else key
        try:
            if not isinstance(sub, dict):
                raise InputError(file, name, "expected a table with unit, description, source and value(s)")
            if "value" in sub or "values" in sub or "source" in sub:
                if name in out:
                    raise InputError(file, name, f"declared twice (also in {out[name].file})")
                out[name] = _leaf(name, sub, file)
            else:
                _walk(sub, name, file, out, problems)
        except InputError as err:
            problems.extend(problems_of(err))
    if top:
        raise_all(problems)


def flatten_dotted(tree: dict, prefix: str = "") -> dict:
    """Join nested tables into dotted names: TOML reads an unquoted `a.b = 1` as {a: {b: 1}}.

    A table whose keys are years, or that has `value`/`values`, is a value, not a level.
    """
    out = {}
    for key, val in tree.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        is_level = (isinstance(val, dict) and val and "value" not in val and "values" not in val
                    and not all(str(k).isdigit() for k in val))
        if is_level:
            out.update(flatten_dotted(val, name))
        else:
            out[name] = val
    return out


@dataclass
class Parameters:
    """All model parameters, with dated values, ready for lookup by year."""

    specs: dict[str, Param] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: Path | str = PARAMETER_DIR) -> "Parameters":
        specs: dict[str, Param] = {}
        files = sorted(Path(directory).glob("*.toml"))
        if not files:
            raise InputError(str(directory), "", "no parameter files (*.toml) found")
        for path in files:
            _walk(load_toml(path), "", path.name, specs)
        return cls(specs)

    def __contains__(self, name: str) -> bool:
        return name in self.specs

    def names(self) -> list[str]:
        return sorted(self.specs)

    def spec(self, name: str) -> Param:
        try:
            return self.specs[name]
        except KeyError:
            raise KeyError(f"unknown parameter '{name}'{nearest(name, self.specs)}") from None

    def at(self, name: str, year: int):
        return self.spec(name).at(year)

    def year(self, year: int) -> "YearParams":
        return YearParams(self, year)

    def override(self, overrides: dict, file: str, section: str = "overrides",
                 source: str | None = None) -> "Parameters":
        """A copy with values replaced by dotted path; each value a scalar or {year: value}.

        A dated override keeps the earlier values and replaces them from its first year on.
        """
        specs = dict(self.specs)
        problems: list[InputError] = []
        for name, raw in flatten_dotted(overrides).items():
            try:
                specs[name] = _override_one(specs, name, raw, file, f"{section}.{name}", source)
            except InputError as err:
                problems.extend(problems_of(err))
        raise_all(problems)
        return Parameters(specs)

    def resolved(self, first_year: int, last_year: int) -> dict[str, object]:
        """Every parameter's value in each year of a run, for the manifest and hashing."""
        out = {}
        for name in self.names():
            p = self.specs[name]
            vals = [p.at(y) for y in range(first_year, last_year + 1)]
            out[name] = vals[0] if all(v == vals[0] for v in vals) else dict(
                zip(range(first_year, last_year + 1), vals))
        return out


def _override_one(specs: dict[str, Param], name: str, raw, file: str, path: str,
                  source: str | None) -> Param:
    """The parameter `name` with the override `raw` applied (see Parameters.override)."""
    if name not in specs:
        parent, _, last = name.rpartition(".")
        if parent in specs:  # a table of years with a non-year key
            raise InputError(file, path, f"expected a year like 2016 as key, found {last!r}")
        raise unknown_key(file, path, name, specs)
    p = specs[name]
    if isinstance(raw, dict) and ("value" in raw or "values" in raw):
        validate(raw, OVERRIDE_SCHEMA, file, path)
        if "value" in raw and "values" in raw:
            raise InputError(file, path, "give exactly one of 'value' or 'values'")
        raw_values = raw.get("values", raw.get("value"))
        src = raw.get("source", source)
    else:
        raw_values, src = raw, source
    dated = _dated(raw_values, file, path)
    checked = {y: _check_value(p, v, file, f"{path}.{y}" if y else path) for y, v in dated.items()}
    for y, v in checked.items():
        _warn_if_suspicious(p, y, v, file, f"{path}.{y}" if y else path)
    first = min(checked)
    merged = {y: v for y, v in zip(p.years, p.values) if y < first}
    merged.update(checked)
    years = sorted(merged)
    note = f"{src or 'override'} ({file})"
    return replace(p, years=tuple(years), values=tuple(merged[y] for y in years),
                   source=f"{note}; default: {p.source}")


def _warn_if_suspicious(p: Param, year: int, value, file: str, path: str) -> None:
    """Warn about a legal override that is probably a mistake:

    - the value another year has by default, far from this year's (a poverty line of
      2014 given for 2019): only for parameters whose default changes over the years;
    - a value `SUSPICIOUS_FACTOR` times the default or more, or as many times smaller (a
      percentage for a share, yuan for 10,000 yuan).
    """
    if p.kind is not float or isinstance(value, bool):
        return
    default = p.at(year if year else (p.years[0] if p.years else 0))
    unit = f" {p.unit}" if p.unit else ""
    if year and len(set(p.values)) > 1 and default and abs(value - default) > 0.02 * abs(default):
        for y, v in zip(p.years, p.values):
            if y and v and abs(value - v) <= 0.005 * abs(v):
                suspicious(file, path, f"{value:g}{unit} is the default of {y}, not of {year} "
                           f"({default:g}): a value for the wrong year?")
                return
    if default and value and not (1 / SUSPICIOUS_FACTOR < abs(value / default) < SUSPICIOUS_FACTOR):
        ratio = abs(value / default)
        big = ratio if ratio > 1 else (1 / ratio if ratio > 1e-300 else math.inf)
        amount = f"{big:,.0f}" if big < 1e7 else f"{big:.1e}"
        size = (f"{amount} times" if ratio > 1 else f"1/{amount} of" if math.isfinite(big)
                else "a vanishing fraction of")
        suspicious(file, path, f"{value:g}{unit} is {size} the default {default:g}: "
                   "another unit (a percentage, yuan for 10,000 yuan)?")


class YearParams:
    """Parameters of one year, read as `p["medical.reimbursement"]`; cached per name."""

    __slots__ = ("_params", "year", "_cache")

    def __init__(self, params: Parameters, year: int):
        self._params = params
        self.year = year
        self._cache: dict[str, object] = {}

    def __getitem__(self, name: str):
        try:
            return self._cache[name]
        except KeyError:
            value = self._cache[name] = self._params.at(name, self.year)
            return value


def pass_params(type_name: str, names: tuple[str, ...], module: str, extra: tuple[str, ...] = ()) -> type:
    """A named-tuple type of what a compiled pass reads: each parameter under its name
    without the section (`birth_rate` for `demography.birth_rate`), then `extra` values of
    the year that are not parameters. numba reads a named tuple's fields by name, so a
    misspelt or missing field does not compile and two entries cannot swap places."""
    fields = [name.split(".", 1)[1] for name in names] + list(extra)
    twice = sorted({f for f in fields if fields.count(f) > 1})
    if twice:
        raise ValueError(f"{type_name}: fields named twice: {twice}")
    cls = namedtuple(type_name, fields, module=module)
    cls.parameters = tuple(names)
    return cls


def read_pass_params(cls, p, **extra):
    """The year's values of a `pass_params` type, as floats: an unknown parameter is a
    KeyError naming it here, before the pass runs."""
    return cls(*(float(p[name]) for name in cls.parameters), **{k: float(v) for k, v in extra.items()})
