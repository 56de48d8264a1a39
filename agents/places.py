"""Villages and counties as Mesa agents: thin views onto rows of the village and county
tables, so that Mesa users can inspect and iterate them while the yearly rules stay
vectorized over the arrays."""

from __future__ import annotations

import mesa


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
