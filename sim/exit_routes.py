"""Which measures carried an exiting household out: the model's counterpart of a plan's
"lift out a batch through ..." (通过…脱贫一批) numbers.

Plans count the people each route is expected to lift out (004 ch.2: 346,000 through
industry, employment and ecology, 67,000 through medical assistance, ...), not everyone a
measure touches. A household that exits this year is counted for a measure when

- the measure carried it over the line: without what the measure paid it this year
  (`income_contribution` of the measure's module) its per-capita income would be below
  the exit threshold; where no single measure was needed but all of them together were,
  the one that paid most is credited;
- or the measure removed a cause it was registered for, this year: medical assistance
  when illness is among its recorded causes and without this year's assistance its
  out-of-pocket medical costs would have been above the illness threshold
  (`register.illness_cause_share` of income) and with it are not; education support
  likewise for schooling costs (`register.schooling_cause_share`); relocation for a
  relocated household (the place was the cause: 搬迁脱贫).

A household may be counted for several measures (the plans' batches overlap too); a batch
counts a household once however many of its measures are credited.
"""

from __future__ import annotations

import numpy as np

from policies import BATCH_NAMES, MEASURES

from .exits import thresholds_at
from .fields import Cause

CHUNK = 1 << 20  # rows attributed at a time (bounds the per-measure arrays at national size)


def _credited(model, rows: np.ndarray, names: list[str]) -> np.ndarray:
    """(measures x rows) which of the measures `names` (those switched on) carried each
    row out."""
    hh = model.hh
    contrib = np.zeros((len(names), rows.size))
    for k, name in enumerate(names):
        module = MEASURES[name].module
        if hasattr(module, "income_contribution"):
            contrib[k] = module.income_contribution(model, rows)
    size = np.maximum(hh.size[rows], 1).astype(np.float64)
    income = hh.income[rows].astype(np.float64)
    t = thresholds_at(model, rows)
    credited = (contrib > 0) & ((income - contrib) / size < t)
    paid = contrib.sum(0)
    together = ~credited.any(0) & (paid > 0) & ((income - paid) / size < t)
    largest = contrib.argmax(0)
    credited[largest[together], np.flatnonzero(together)] = True
    if "relocation" in names:
        credited[names.index("relocation")] |= hh.relocated[rows]
    p, f = model.p, model.flows
    inc = np.maximum(income, 1.0)
    causes = hh.causes[rows]
    if "medical_assistance" in names and "compliant_left" in f:
        relief = p["medical.assistance_share"] * f["compliant_left"][rows]
        t = p["register.illness_cause_share"] * inc
        oop = hh.oop_medical[rows].astype(np.float64)
        ill = (causes & int(Cause.ILLNESS)) != 0
        credited[names.index("medical_assistance")] |= ill & (oop + relief > t) & (oop <= t)
    if "education" in names:
        t = p["register.schooling_cause_share"] * inc
        net = hh.school_cost[rows].astype(np.float64)
        gross = net + hh.school_support[rows]
        schooling = (causes & int(Cause.SCHOOLING)) != 0
        credited[names.index("education")] |= schooling & (gross > t) & (net <= t)
    return credited


def attribute_exits(model) -> None:
    """People exiting this year by measure and by batch that carried them out
    (`model.flows["exit_routes"]`: {"measure:<name>" or "batch:<batch>": people})."""
    hh, f = model.hh, model.flows
    by_measure = dict.fromkeys(MEASURES, 0.0)
    by_batch = dict.fromkeys(BATCH_NAMES, 0.0)
    idx = np.flatnonzero(f["exited"])
    names = [name for name in MEASURES if model.measures.get(name, False)]
    batches = [(b, [k for k, name in enumerate(names) if b in (MEASURES[name].batch, MEASURES[name].batch_guangyuan)])
               for b in BATCH_NAMES]
    for lo in range(0, idx.size, CHUNK):
        rows = idx[lo:lo + CHUNK]
        credited = _credited(model, rows, names)
        people = hh.weight[rows].astype(np.float64) * hh.size[rows]
        for k, name in enumerate(names):
            by_measure[name] += float(people[credited[k]].sum())
        for b, ks in batches:
            if ks:
                by_batch[b] += float(people[credited[ks].any(0)].sum())
    f["exit_routes"] = {**{f"measure:{k}": v for k, v in by_measure.items()},
                        **{f"batch:{k}": v for k, v in by_batch.items()}}
