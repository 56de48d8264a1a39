"""A result column's declaration: its unit and meaning. The engine's columns are in
`sim/metrics.py: COLUMNS`; a measure declares its own in its module (`RESULTS`, with a
`results(model)` that computes them each year), and the README's column table is checked
against both.
"""

from __future__ import annotations

from typing import NamedTuple


class Column(NamedTuple):
    unit: str      # as the README's column table gives it
    meaning: str
