"""Which measures carried an exiting household out: the model's counterpart of a plan's
"lift out a batch through ..." (通过…脱贫一批) numbers.

Plans count the people each route is expected to lift out (004 ch.2: 346,000 through
industry, employment and ecology, 67,000 through medical assistance, ...), not everyone a
measure touches. A household that exits this year is counted for a measure when

- the measure carried it over the line: without what the measure paid it this year
  (`income_contribution` of the measure's module) its per-capita income would be below
  the exit threshold; where no single measure was needed but all of them together were,
  the one that paid most is credited;
- or the measure removed the cause it was registered for: relocation for a relocated
  household (搬迁脱贫), medical assistance for a household registered mainly because of
  illness that assistance reached, education support for one registered mainly because
  of schooling costs that support reached.

A household may be counted for several measures (the plans' batches overlap too); a batch
counts a household once however many of its measures are credited.
"""

from __future__ import annotations

import numpy as np

from policies import BATCH_NAMES, MEASURES

from .exits import thresholds_at
from .fields import Cause

CHUNK = 1 << 20  # rows attributed at a time (bounds the per-measure arrays at national size)
MEASURE_BIT = {name: 1 << k for k, name in enumerate(MEASURES)}
MAIN_CAUSE_OF = {"medical_assistance": Cause.ILLNESS, "education": Cause.SCHOOLING}


def _credited(model, rows: np.ndarray) -> np.ndarray:
    """(measures x rows) which measures carried each row out."""
    hh = model.hh
    names = list(MEASURES)
    contrib = np.zeros((len(names), rows.size))
    for k, name in enumerate(names):
        module = MEASURES[name].module
        if model.measures.get(name, False) and hasattr(module, "income_contribution"):
            contrib[k] = module.income_contribution(model, rows)
    size = np.maximum(hh.size[rows], 1).astype(np.float64)
    income = hh.income[rows].astype(np.float64)
    t = thresholds_at(model, rows)
    credited = (contrib > 0) & ((income - contrib) / size < t)
    together = ~credited.any(0) & ((income - contrib.sum(0)) / size < t)
    largest = contrib.argmax(0)
    credited[largest[together], np.flatnonzero(together)] = True
    reached = hh.measures_reached[rows]
    if model.measures.get("relocation", False):
        credited[names.index("relocation")] |= hh.relocated[rows]
    for name, cause in MAIN_CAUSE_OF.items():
        if model.measures.get(name, False):
            bit = int(cause).bit_length() - 1
            credited[names.index(name)] |= (hh.main_cause[rows] == bit) & ((reached & MEASURE_BIT[name]) != 0)
    return credited


def attribute_exits(model) -> None:
    """People exiting this year by measure and by batch that carried them out
    (`model.flows["exit_routes"]`: {"measure:<name>" or "batch:<batch>": people})."""
    hh, f = model.hh, model.flows
    by_measure = dict.fromkeys(MEASURES, 0.0)
    by_batch = dict.fromkeys(BATCH_NAMES, 0.0)
    idx = np.flatnonzero(f["exited"])
    batches = [(b, [k for k, spec in enumerate(MEASURES.values()) if b in (spec.batch, spec.batch_guangyuan)])
               for b in BATCH_NAMES]
    for lo in range(0, idx.size, CHUNK):
        rows = idx[lo:lo + CHUNK]
        credited = _credited(model, rows)
        people = hh.weight[rows].astype(np.float64) * hh.size[rows]
        for k, name in enumerate(MEASURES):
            by_measure[name] += float(people[credited[k]].sum())
        for b, ks in batches:
            by_batch[b] += float(people[credited[ks].any(0)].sum()) if ks else 0.0
    f["exit_routes"] = {**{f"measure:{k}": v for k, v in by_measure.items()},
                        **{f"batch:{k}": v for k, v in by_batch.items()}}
