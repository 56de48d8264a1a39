"""The measures the engine runs, and what they add to its declarations.

The engine names no measure: it finds them in the measures' package (`MEASURE_PACKAGE`),
each module with a `MEASURE` (`sim/measure.py: discover`), in the order they act, and
joins their household columns (`FIELDS`), random streams (`STREAMS`) and flows (`FLOWS`)
to its own. Nothing in `sim/` imports a measure's module by name.
"""

from __future__ import annotations

import functools

from .fields import HOUSEHOLD_FIELDS
from .flows import Flow, declare
from .measure import MeasureSpec, discover
from .streams import ENGINE_STREAMS
from .table import Registry

MEASURE_PACKAGE = "policies"

MEASURES: dict[str, MeasureSpec] = discover(MEASURE_PACKAGE)
assert len(MEASURES) <= 16  # one bit each in the households' `measures_reached`

# The household table's columns: the engine's, then each measure's own.
HOUSEHOLD = Registry("household", HOUSEHOLD_FIELDS + [f for spec in MEASURES.values()
                                                      for f in getattr(spec.module, "FIELDS", ())])
# The random streams a run draws from: the engine's, then each measure's own.
STREAM_NAMES = ENGINE_STREAMS + tuple(name for spec in MEASURES.values()
                                      for name in getattr(spec.module, "STREAMS", ()))


@functools.cache
def flow_registry() -> dict[str, Flow]:
    """Every flow a year may hold (`sim/flows.py`), the measures' own included."""
    return declare({name: spec.module for name, spec in MEASURES.items()})
