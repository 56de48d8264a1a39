"""One error type for bad input, so the CLI can print one line and exit 2."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class InputError(Exception):
    """A problem in a file the user gave us: which file, which dotted path, what is wrong."""

    def __init__(self, file: str, path: str, message: str):
        self.file = str(file)
        self.path = path
        self.message = message
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        return f"{where}: {self.message}"


def nearest(name: str, valid: Iterable[str]) -> str:
    """' (did you mean X?)' for a misspelt name, or '' when nothing is close.

    For dotted names with a known prefix, only the last part is compared, so a shared
    prefix such as 'health.' does not make a distant name look close.
    """
    valid = list(valid)
    prefix, _, last = name.rpartition(".")
    siblings = {v.rpartition(".")[2]: v for v in valid if prefix and v.rpartition(".")[0] == prefix}
    if siblings:
        match = difflib.get_close_matches(last, list(siblings), n=1, cutoff=0.6)
        if match:
            return f" (did you mean '{siblings[match[0]]}'?)"
    match = difflib.get_close_matches(name, valid, n=1, cutoff=0.8 if siblings else 0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def unknown_key(file: str, path: str, key: str, valid: Iterable[str]) -> InputError:
    valid = sorted(valid)
    hint = nearest(key, valid)
    if not hint:
        hint = f" (valid: {', '.join(valid[:12])}{', ...' if len(valid) > 12 else ''})"
    return InputError(file, path, f"unknown key '{key}'{hint}")
