"""Villages and counties as Mesa agents: thin views onto rows of the village and county
tables, so that Mesa users can inspect and iterate them while the yearly rules stay
vectorized over the arrays."""

from __future__ import annotations

from collections.abc import Sequence

import mesa

EAGER_MAX = 50_000  # assumption: above this many rows, Mesa agents are made on first use


class _RowView(mesa.Agent):
    """A Mesa agent whose attributes are the fields of one row of a table."""

    _table_name = ""

    def __init__(self, model, row: int):
        super().__init__(model)
        self.row = row

    @property
    def _table(self):
        return getattr(self.model, self._table_name)

    def __getattr__(self, name):
        if name.startswith("_") or name in ("model", "row", "unique_id"):
            raise AttributeError(name)
        table = self._table
        if name in table.registry:
            return table[name][self.row].item()
        raise AttributeError(f"{type(self).__name__} has no attribute '{name}'")

    def state(self) -> dict:
        return self._table.row(self.row)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(row={self.row})"


class Village(_RowView):
    """A village: poor-village status and exit, migration network, disasters, location."""

    _table_name = "villages"


class County(_RowView):
    """A county: poor-county status and exit, price and wage shocks."""

    _table_name = "counties"


class Household(_RowView):
    """One household row, for inspection and examples; the model never steps it."""

    _table_name = "hh"


class PlaceAgents(Sequence):
    """The Mesa agents of a table's rows: all made at once for a region's few thousand
    villages, made on first use (and then kept) above `EAGER_MAX` rows, where making
    them up front would dominate set-up (about 15 us and 1 KB an agent: the national
    profile's 580,000 villages would take ten seconds and half a gigabyte)."""

    def __init__(self, model, kind: type, n: int):
        self._model, self._kind, self._n = model, kind, n
        self._made: dict[int, _RowView] = {}
        if n <= EAGER_MAX:
            for i in range(n):
                self._made[i] = kind(model, i)

    @property
    def lazy(self) -> bool:
        return self._n > EAGER_MAX

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._n))]
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError(f"{self._kind.__name__} row {i} outside 0..{self._n - 1}")
        agent = self._made.get(i)
        if agent is None:
            agent = self._made[i] = self._kind(self._model, i)
        return agent
