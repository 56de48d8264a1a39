"""A small declarative schema for the TOML files users write, and their safe loader.

Each kind of file (profile, parameter file, scenario, sweep, target file) declares its keys
once, with `declare(kind, schema)`; `SCHEMAS` lists them. `parse_toml` reads a file's text
(UTF-8, duplicate keys named with their dotted path and line) and `validate` walks the data:
every problem it finds is one line naming the file, the dotted path, what was expected and
what was found, with the nearest valid name for a misspelt key; several problems of one file
are raised together as `InputProblems` (an InputError whose `problems` list them all).

Values that are legal but suspicious (a share written as a percentage, a value of another
year) are reported with `suspicious(...)`, a `SuspiciousValue` warning naming the file and
the dotted path; the command line prints them as `povsim: warning: ...` and carries on.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
import warnings
from dataclasses import dataclass

from .errors import InputError, unknown_key

#: The declared schema of every kind of input file, by kind (filled by `declare`).
SCHEMAS: dict[str, dict] = {}


def declare(kind: str, schema: dict) -> dict:
    """Register `schema` as the one schema of files of `kind`; returns it."""
    SCHEMAS[kind] = schema
    return schema


class InputProblems(InputError):
    """Several problems in input files, each an InputError (one line each)."""

    def __init__(self, problems: list[InputError]):
        flat: list[InputError] = []
        for p in problems:
            flat.extend(getattr(p, "problems", [p]))
        self.problems = flat
        first = flat[0]
        super().__init__(first.file, first.path, first.message)

    def lines(self) -> list[str]:
        return [p.one_line() for p in self.problems]

    def __str__(self) -> str:
        return "\n".join(self.lines())


def problems_of(err: InputError) -> list[InputError]:
    """The single problems of an InputError (one, or those of an InputProblems)."""
    return list(getattr(err, "problems", [err]))


def raise_all(problems: list[InputError]) -> None:
    """Raise the problems found, if any: one as itself, several as InputProblems."""
    if len(problems) == 1 and not hasattr(problems[0], "problems"):
        raise problems[0]
    if problems:
        raise InputProblems(problems)


class SuspiciousValue(UserWarning):
    """A legal value that is probably a mistake; names the file and the dotted path."""

    def __init__(self, file: str, path: str, message: str):
        self.file, self.path, self.message = str(file), path, message
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        return f"{where}: {self.message}"


def suspicious(file: str, path: str, message: str) -> None:
    """Warn about a legal but suspicious value (see `SuspiciousValue`)."""
    warnings.warn(SuspiciousValue(file, path, message), stacklevel=2)


# ---------------------------------------------------------------------------------------
# the safe loader

_BARE = r"[A-Za-z0-9_-]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"|\'[^\']*\''
_PART = rf"(?:{_BARE}|{_QUOTED})"
_KEYS = rf"{_PART}(?:\s*\.\s*{_PART})*"
_ARRAY_TABLE = re.compile(rf"^\s*\[\[\s*({_KEYS})\s*\]\]")
_TABLE = re.compile(rf"^\s*\[\s*({_KEYS})\s*\]")
_KEY = re.compile(rf"^\s*({_KEYS})\s*=")
_INLINE = re.compile(r"\(at line (\d+), column \d+\)|\(at end of document\)")


def _parts(keys: str) -> tuple[str, ...]:
    out = []
    for m in re.finditer(_PART, keys):
        part = m.group(0)
        out.append(part[1:-1] if part[0] in "\"'" else part)
    return tuple(out)


def _show(parts: tuple) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out


def find_duplicate_key(text: str) -> tuple[int, str, int] | None:
    """(line, dotted path, line first set) of the first key or table given twice, or None.

    A line-based scan of TOML's plain structure (table headers and `key =` lines outside
    multi-line strings); it names what tomllib only reports as "Cannot overwrite a value".
    """
    seen: dict[tuple, int] = {}
    arrays: dict[tuple, int] = {}
    table: tuple = ()
    in_string = None
    for n, line in enumerate(text.splitlines(), start=1):
        if in_string:
            if line.count(in_string) % 2 == 1:
                in_string = None
            continue
        if (m := _ARRAY_TABLE.match(line)):
            base = _parts(m.group(1))
            arrays[base] = arrays.get(base, -1) + 1
            table = base + (arrays[base],)
            continue
        if (m := _TABLE.match(line)):
            table = _parts(m.group(1))
            # [a.b] inside the current element of [[a]]
            for base, index in arrays.items():
                if table[:len(base)] == base:
                    table = base + (index,) + table[len(base):]
                    break
            if ("table",) + table in seen:
                return n, _show(table), seen[("table",) + table]
            if table in seen:
                return n, _show(table), seen[table]
            seen[("table",) + table] = n
            continue
        if (m := _KEY.match(line)):
            key = table + _parts(m.group(1))
            if key in seen:
                return n, _show(key), seen[key]
            if ("table",) + key in seen:
                return n, _show(key), seen[("table",) + key]
            seen[key] = n
            rest = line[m.end():]
            for quote in ('"""', "'''"):
                if rest.count(quote) % 2 == 1:
                    in_string = quote
    return None


def parse_toml(data: bytes, file: str) -> dict:
    """The TOML document in `data`, or an InputError naming the file (and line) on bad
    encoding, bad syntax or a key given twice. A UTF-8 byte-order mark is allowed."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(file, "", "UTF-16 text: save the file as UTF-8")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise InputError(file, "", f"not UTF-8 text: byte 0x{data[exc.start]:02x} on line {line} "
                         "(save the file as UTF-8)") from None
    if "\x00" in text:
        raise InputError(file, "", "not a text file (it contains NUL bytes)")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        if "overwrite" in message or "twice" in message or "Duplicate" in message:
            dup = find_duplicate_key(text)
            if dup is not None:
                line, path, first = dup
                raise InputError(file, path, f"given twice (line {first} and line {line})") from None
        raise InputError(file, "", f"malformed TOML: {message}") from None


@dataclass(frozen=True)
class Key:
    kind: str  # "str", "int", "float", "bool", "table", "dated", "sourced", "any"
    required: bool = False
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None
    schema: dict | None = None  # for "table": the sub-schema; for "sourced": the value kind
    help: str = ""


_EXPECT = {"str": "text", "int": "a whole number", "float": "a number", "bool": "true or false",
           "table": "a table", "dated": "a number or a table of year = number",
           "sourced": "a table with value (or values) and source"}


def check_number(value, kind: str, key: Key, file: str, path: str, unit: str = ""):
    """A finite number within the key's range, as int or float; else an InputError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(file, path, f"expected {_EXPECT[kind]}, found {value!r}")
    if kind == "int" and not float(value).is_integer():
        raise InputError(file, path, f"expected a whole number, found {value!r}")
    if not math.isfinite(value):
        raise InputError(file, path, f"expected a finite number, found {value!r}")
    units = f" ({unit})" if unit else ""
    if key.min is not None and value < key.min:
        raise InputError(file, path, f"{value:g} is below the minimum {key.min:g}{units}")
    if key.max is not None and value > key.max:
        hint = ""
        if key.max == 1 and value <= 100:
            hint = f"; a percentage? write a share: {value / 100:g}"
        raise InputError(file, path, f"{value:g} is above the maximum {key.max:g}{units}{hint}")
    return int(value) if kind == "int" else float(value)


def _dated(value, key: Key, file: str, path: str) -> dict[int, float]:
    if not isinstance(value, dict):
        return {0: check_number(value, "float", key, file, path)}
    if not value:
        raise InputError(file, path, "expected at least one year = value")
    out = {}
    for k, v in value.items():
        try:
            year = int(k)
        except ValueError:
            raise InputError(file, f"{path}.{k}", f"expected a year like 2016, found {k!r}") from None
        out[year] = check_number(v, "float", key, file, f"{path}.{k}")
    return dict(sorted(out.items()))


def check_value(value, key: Key, file: str, path: str):
    kind = key.kind
    if kind == "any":
        return value
    if kind in ("int", "float"):
        return check_number(value, kind, key, file, path)
    if kind == "bool":
        if not isinstance(value, bool):
            raise InputError(file, path, f"expected true or false, found {value!r}")
        return value
    if kind == "str":
        if not isinstance(value, str):
            raise InputError(file, path, f"expected text, found {value!r}")
        if key.choices is not None and value not in key.choices:
            from .errors import nearest
            raise InputError(file, path, f"expected one of {list(key.choices)}, found {value!r}"
                             f"{nearest(value, key.choices)}")
        return value
    if kind == "dated":
        return _dated(value, key, file, path)
    if kind == "sourced":
        if not isinstance(value, dict):
            raise InputError(file, path, f"expected {_EXPECT[kind]}, found {value!r}")
        inner = Key(key.schema or "float", min=key.min, max=key.max)
        spec = {"value": Key("any"), "values": Key("any"), "source": Key("str", required=True),
                "note": Key("str")}
        validate(value, spec, file, path)
        if ("value" in value) == ("values" in value):
            raise InputError(file, path, "give exactly one of 'value' or 'values'")
        if not value["source"].strip():
            raise InputError(file, f"{path}.source", "a source is required (a citation or 'assumption: why')")
        if "values" in value:
            return {"values": _dated(value["values"], inner, file, f"{path}.values"),
                    "source": value["source"]}
        return {"value": check_value(value["value"], inner, file, f"{path}.value"), "source": value["source"]}
    if kind == "table":
        if not isinstance(value, dict):
            raise InputError(file, path, f"expected a table, found {value!r}")
        return validate(value, key.schema or {}, file, path) if key.schema is not None else value
    raise ValueError(f"schema kind {kind!r}")


def validate(data: dict, schema: dict[str, Key], file: str, path: str = "") -> dict:
    """Checked copy of `data`; unknown keys, missing keys and bad values are InputErrors,
    all of them found in `data` raised together (see `raise_all`)."""
    out = {}
    problems: list[InputError] = []
    misspelt: set[str] = set()  # valid names suggested for unknown keys
    for k, v in data.items():
        sub = f"{path}.{k}" if path else k
        if k not in schema:
            problems.append(unknown_key(file, sub, k, schema))
            match = difflib.get_close_matches(str(k), list(schema), n=1, cutoff=0.6)
            misspelt.update(match)
            continue
        try:
            out[k] = check_value(v, schema[k], file, sub)
        except InputError as err:
            problems.append(err)
    for k, key in schema.items():
        if key.required and k not in data and k not in misspelt:  # not twice for a typo
            problems.append(InputError(file, f"{path}.{k}" if path else k,
                                       f"required key is missing ({_EXPECT.get(key.kind, key.kind)}"
                                       f"{': ' + key.help if key.help else ''})"))
    raise_all(problems)
    return out
