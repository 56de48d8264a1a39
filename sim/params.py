"""Parameters as data: dotted name, unit, description, values by year, source.

A value holds from its year until the next one (OpenFisca's convention). The files live
in `policies/parameters/*.toml`; a region profile or a scenario may override any value by
its dotted path. Unknown names, wrong types and out-of-range values are errors that name
the file, the path and the nearest valid name (the complaint users most often make of
parameter systems is that a misspelt key is silently ignored).
"""

from __future__ import annotations

import bisect
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import InputError, nearest, unknown_key
from .schema import Key, check_number

PARAMETER_DIR = Path(__file__).resolve().parent.parent / "policies" / "parameters"

_LEAF_KEYS = {"unit", "description", "source", "value", "values", "min", "max", "choices"}


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
    for key in raw:
        if key not in _LEAF_KEYS:
            raise unknown_key(file, f"{name}.{key}", key, _LEAF_KEYS)
    for key in ("unit", "description", "source"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise InputError(file, f"{name}.{key}", "required text is missing")
    if ("value" in raw) == ("values" in raw):
        raise InputError(file, name, "give exactly one of 'value' or 'values'")
    dated = _dated(raw["values"], file, f"{name}.values") if "values" in raw else {0: raw["value"]}
    first = next(iter(dated.values()))
    choices = tuple(raw["choices"]) if "choices" in raw else None
    p = Param(name=name, unit=raw["unit"], description=raw["description"], source=raw["source"],
              years=(), min=raw.get("min"), max=raw.get("max"), choices=choices,
              kind=_kind_of(first), file=file)
    years = sorted(dated)
    values = tuple(_check_value(p, dated[y], file, f"{name}.values.{y}" if y else f"{name}.value")
                   for y in years)
    return replace(p, years=tuple(years), values=values)


def _walk(tree: dict, prefix: str, file: str, out: dict[str, Param]):
    for key, sub in tree.items():
        name = f"{prefix}.{key}" if prefix else key
        if not isinstance(sub, dict):
            raise InputError(file, name, "expected a table with unit, description, source and value(s)")
        if "value" in sub or "values" in sub or "source" in sub:
            if name in out:
                raise InputError(file, name, f"declared twice (also in {out[name].file})")
            out[name] = _leaf(name, sub, file)
        else:
            _walk(sub, name, file, out)


def load_toml(path: Path | str) -> dict:
    """Parse a TOML file, turning every failure into an InputError naming the file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(str(path), "", "file not found") from None
    except OSError as exc:
        raise InputError(str(path), "", f"cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(str(path), "", f"not UTF-8 text (byte {exc.start})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(str(path), "", f"malformed TOML: {exc}") from None


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
        for name, raw in flatten_dotted(overrides).items():
            path = f"{section}.{name}"
            if name not in specs:
                parent, _, last = name.rpartition(".")
                if parent in specs:  # a table of years with a non-year key
                    raise InputError(file, path, f"expected a year like 2016 as key, found {last!r}")
                raise unknown_key(file, path, name, specs)
            p = specs[name]
            if isinstance(raw, dict) and ("value" in raw or "values" in raw):
                extra = set(raw) - {"value", "values", "source"}
                if extra:
                    k = sorted(extra)[0]
                    raise unknown_key(file, f"{path}.{k}", k, {"value", "values", "source"})
                raw_values = raw.get("values", raw.get("value"))
                src = raw.get("source", source)
            else:
                raw_values, src = raw, source
            dated = _dated(raw_values, file, path)
            checked = {y: _check_value(p, v, file, f"{path}.{y}" if y else path) for y, v in dated.items()}
            first = min(checked)
            merged = {y: v for y, v in zip(p.years, p.values) if y < first}
            merged.update(checked)
            years = sorted(merged)
            note = f"{src or 'override'} ({file})"
            specs[name] = replace(p, years=tuple(years), values=tuple(merged[y] for y in years),
                                  source=f"{note}; default: {p.source}")
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
