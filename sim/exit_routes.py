"""Which measures carried an exiting household out: the model's counterpart of a plan's
"lift out a batch through ..." (通过…脱贫一批) numbers.

Plans count the people each route is expected to lift out (004 ch.2: 346,000 through
industry, employment and ecology, 67,000 through medical assistance, ...), not everyone a
measure touches. A household that exits this year is counted for a measure when

- the measure carried it over the line: without what the measure paid it this year
  (`income_contribution` of the measure's module) its per-capita income would be below
  the exit threshold; where no single measure was needed but all of them together were,
  the one that paid most is credited;
- or the measure removed a cause it was registered for, this year, as its module's
  `cause_removed(model, rows)` says: medical assistance when illness is among its recorded
  causes and without this year's assistance its out-of-pocket medical costs would have been
  above the illness threshold (`register.illness_cause_share` of income) and with it are
  not; education support likewise for schooling costs (`register.schooling_cause_share`);
  relocation for a relocated household (the place was the cause: 搬迁脱贫).

A household may be counted for several measures (the plans' batches overlap too); a batch
counts a household once however many of its measures are credited.
"""

from __future__ import annotations

import numba
import numpy as np

from .measure import BATCH_NAMES
from .registry import MEASURES

from .exits import thresholds_at
from .groups import row_people
from .sums import BLOCKS, block_rows

CHUNK = 1 << 20  # rows attributed at a time (bounds the per-measure arrays at national size)


@numba.njit(cache=True, parallel=True)
def _credit_rows(contrib, income, size, threshold, extra, bits):
    """Each row's credited measures as bits (bit k: the k-th of `contrib`'s measures): those
    without whose payment its per-capita income would be below the threshold, else, where
    all together were needed, the one that paid most (the first among equals); with the
    bits of `extra` (the causes removed)."""
    for j in numba.prange(bits.shape[0]):
        credited, paid, best, most = 0, 0.0, 0, 0.0
        for k in range(contrib.shape[0]):
            c = contrib[k, j]
            paid += c
            if c > 0 and (income[j] - c) / size[j] < threshold[j]:
                credited |= 1 << k
            if c > most:
                best, most = k, c
        if credited == 0 and paid > 0 and (income[j] - paid) / size[j] < threshold[j]:
            credited |= 1 << best
        bits[j] = credited | extra[j]


@numba.njit(cache=True, parallel=True)
def _people_by_bits(bits, people, masks, out):
    """out[k] += people of the rows whose bits meet `masks[k]` (a measure's bit, or a
    batch's measures); block by block, the blocks added in order."""
    parts = np.zeros((BLOCKS, masks.shape[0]))
    for block in numba.prange(BLOCKS):
        a, b = block_rows(block, bits.shape[0])
        acc = parts[block]
        for j in range(a, b):
            for k in range(masks.shape[0]):
                if bits[j] & masks[k]:
                    acc[k] += people[j]
    for block in range(BLOCKS):
        out += parts[block]


def _credited(model, rows: np.ndarray, names: list[str]) -> np.ndarray:
    """Each row's credited measures among `names` (those switched on), as bits."""
    hh = model.hh
    contrib = np.empty((len(names), rows.size))
    extra = np.zeros(rows.size, np.int64)  # the causes removed this year (the measure's `cause_removed`)
    for k, name in enumerate(names):
        module = MEASURES[name].module
        contrib[k] = module.income_contribution(model, rows) if hasattr(module, "income_contribution") else 0.0
        if hasattr(module, "cause_removed"):
            extra |= module.cause_removed(model, rows).astype(np.int64) << k
    size = np.maximum(hh.size[rows], 1).astype(np.float64)
    income = hh.income[rows].astype(np.float64)
    bits = np.empty(rows.size, np.int64)
    _credit_rows(contrib, income, size, thresholds_at(model, rows), extra, bits)
    return bits


def attribute_exits(model) -> None:
    """People exiting this year by measure and by batch that carried them out
    (`model.flows["exit_routes"]`: {"measure:<name>" or "batch:<batch>": people})."""
    hh, f = model.hh, model.flows
    names = [name for name in MEASURES if model.measures.get(name, False)]
    masks = [1 << k for k in range(len(names))]
    for b in BATCH_NAMES:
        masks.append(sum(1 << k for k, name in enumerate(names)
                         if b in (MEASURES[name].batch, MEASURES[name].batch_guangyuan)))
    masks = np.array(masks, np.int64)
    totals = np.zeros(masks.size)
    idx = f["exited_rows"] if "exited_rows" in f else np.flatnonzero(f["exited"])
    for lo in range(0, idx.size, CHUNK):
        rows = idx[lo:lo + CHUNK]
        people = row_people(hh, rows)
        _people_by_bits(_credited(model, rows, names), people, masks, totals)
    by_measure = dict.fromkeys(MEASURES, 0.0)
    by_measure.update(zip(names, totals[:len(names)].tolist()))
    f["exit_routes"] = {**{f"measure:{k}": v for k, v in by_measure.items()},
                        **{f"batch:{b}": v for b, v in zip(BATCH_NAMES, totals[len(names):].tolist())}}
