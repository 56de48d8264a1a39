"""Struct-of-arrays tables: one numpy array per declared field, locked against others.

One Python object per household costs ~0.5 KB and is 150-600 times slower than numpy,
so households (and villages, counties) live as rows of a table. Every field is declared
once, with dtype, default, unit and meaning, in a registry (`sim/fields.py`); the table
refuses attributes that were not declared, so a typo cannot silently create new state.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass

import numba
import numpy as np


@dataclass(frozen=True)
class Field:
    name: str
    dtype: str
    default: float | int | bool
    unit: str
    meaning: str


class Registry:
    """An ordered set of field declarations for one kind of row."""

    def __init__(self, kind: str, fields: list[Field]):
        names = [f.name for f in fields]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"{kind}: fields declared twice: {dup}")
        self.kind = kind
        self.fields = {f.name: f for f in fields}

    def __iter__(self):
        return iter(self.fields.values())

    def __contains__(self, name: str) -> bool:
        return name in self.fields

    def bytes_per_row(self) -> int:
        return sum(np.dtype(f.dtype).itemsize for f in self)

    def describe(self) -> list[tuple[str, str, str, str]]:
        """(name, dtype, unit, meaning) rows, for docs and `Household` inspection."""
        return [(f.name, f.dtype, f.unit, f.meaning) for f in self]


def column_tuple(type_name: str, names: tuple[str, ...], module: str):
    """A named tuple type of a table's columns, for a compiled pass to read them by name
    (`h.n_child[a:b]`); the type lives in `module` under `type_name` (so passes that take
    it can be cached). `Table.pick` fills one.

    A parallel pass writes a column of the tuple only in a function it calls (`_copy(x,
    h.labor[a:b])`), never directly (`h.labor[a:b] = x`): numba drops writes to a tuple's
    arrays made in the body of a `parallel=True` function (numba/numba#5872, #10338)."""
    return namedtuple(type_name, names, module=module)


PREFAULT_BYTES = 256 << 10  # assumption: below 64 pages the faults cost too little to matter


def _allocate(n: int, dtype: str, default) -> np.ndarray:
    """A column of n defaults. A large zero column is written, not left to calloc.

    calloc's fresh pages are mapped to the kernel's shared zero page when first read and
    faulted again when first written; with threads running, that second fault interrupts
    the other cores to flush their page tables. Passes read columns before writing them,
    so at national size a fifth of the CPU went to those faults. Writing the zeros once,
    in parallel, faults each page in once."""
    if n * np.dtype(dtype).itemsize < PREFAULT_BYTES:
        return np.zeros(n, dtype=dtype) if default == 0 else np.full(n, default, dtype=dtype)
    col = np.empty(n, dtype=dtype)
    if default == 0:
        _zero_bytes(col.view(np.uint8))
    else:  # the default's bytes, repeated (one compiled fill for every dtype)
        pattern = np.array([default], dtype=dtype).view(np.uint8)
        _fill_bytes(col.view(np.uint8), pattern)
    return col


@numba.njit(cache=True, parallel=True)
def _zero_bytes(b):
    for i in numba.prange(b.shape[0]):
        b[i] = 0


@numba.njit(cache=True, parallel=True)
def _fill_bytes(b, pattern):
    width = pattern.shape[0]
    for i in numba.prange(b.shape[0] // width):
        for k in range(width):
            b[i * width + k] = pattern[k]


class Table:
    """Rows of one kind; attribute access returns the column array (a view, not a copy)."""

    __slots__ = ("_registry", "_cols", "n")

    def __init__(self, registry: Registry, n: int):
        object.__setattr__(self, "_registry", registry)
        object.__setattr__(self, "n", int(n))
        cols = {f.name: _allocate(n, f.dtype, f.default) for f in registry}
        object.__setattr__(self, "_cols", cols)

    @property
    def registry(self) -> Registry:
        return self._registry

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self._cols[name]
        except KeyError:
            raise AttributeError(
                f"{self._registry.kind} has no field '{name}'; declare it in sim/fields.py or in its measure's FIELDS"
            ) from None

    def __setattr__(self, name: str, value) -> None:
        if name not in self._cols:
            raise AttributeError(
                f"{self._registry.kind} has no field '{name}'; declare it in sim/fields.py or in its measure's FIELDS"
            )
        col = self._cols[name]
        col[...] = value  # in place: keeps dtype and any views handed out

    def __getitem__(self, name: str) -> np.ndarray:
        return getattr(self, name)

    def __setitem__(self, name: str, value) -> None:
        setattr(self, name, value)

    def columns(self) -> dict[str, np.ndarray]:
        return dict(self._cols)

    def pick(self, kind):
        """The columns a `column_tuple` type names, in a tuple of that type."""
        return kind(*(getattr(self, name) for name in kind._fields))

    def row(self, i: int) -> dict:
        return {k: v[i].item() for k, v in self._cols.items()}

    def nbytes(self) -> int:
        return sum(c.nbytes for c in self._cols.values())

    @classmethod
    def from_columns(cls, registry: Registry, columns: dict[str, np.ndarray]) -> "Table":
        """Build from given columns; undeclared names are refused, missing ones get defaults."""
        unknown = set(columns) - set(registry.fields)
        if unknown:
            raise AttributeError(f"{registry.kind}: undeclared fields {sorted(unknown)}")
        lengths = {len(np.asarray(v)) for v in columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"{registry.kind}: columns of different lengths {sorted(lengths)}")
        n = lengths.pop() if lengths else 0
        table = cls(registry, n)
        for name, values in columns.items():
            table[name] = np.asarray(values)
        return table
