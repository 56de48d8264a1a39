"""A small declarative schema for the TOML files users write (profiles, scenarios).

Each kind of file declares its keys once; `validate` walks the data and raises an
InputError naming the file, the dotted path, what was expected and what was found,
with the nearest valid name for a misspelt key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import InputError, unknown_key


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
        raise InputError(file, path, f"{value:g} is above the maximum {key.max:g}{units}")
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
    """Checked copy of `data`; unknown keys, missing keys and bad values raise InputError."""
    out = {}
    for k, v in data.items():
        sub = f"{path}.{k}" if path else k
        if k not in schema:
            raise unknown_key(file, sub, k, schema)
        out[k] = check_value(v, schema[k], file, sub)
    for k, key in schema.items():
        if key.required and k not in data:
            raise InputError(file, f"{path}.{k}" if path else k,
                             f"required key is missing ({_EXPECT.get(key.kind, key.kind)}"
                             f"{': ' + key.help if key.help else ''})")
    return out
