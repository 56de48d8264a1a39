"""Post-disaster reconstruction support, 灾后重建帮扶 (003 §二(四); 003 §三(二)).

Supported households in a village hit by a disaster this year (`model.flows["disaster_hit"]`,
set by `agents/life.py`) receive relief of `disaster.relief_per_person` a member (a
transfer), and those whose house is unsafe have it rebuilt, at a fiscal cost of
`disaster.reconstruction_per_household` (003 §三(二) merges the funds for disaster-damaged
houses with those for dangerous-house renovation). Against disaster-caused poverty and
returns to poverty (003 §二(四)).
"""

from __future__ import annotations

import numba
import numpy as np

from sim.measure import MeasureSpec
from sim.sums import BLOCKS, block_rows, block_totals


MEASURE = MeasureSpec(
    "disaster_reconstruction", "housing", False, "social_security", "disaster_reconstruction",
    "post-disaster relief and reconstruction of damaged houses for supported households")
# What a planner sets for it (`povsim app`).
PLANNER_PARAMETERS = ("disaster.reconstruction_per_household", "disaster.relief_per_person")
READS = ("disaster_hit",)
FIELDS_READ = ("unsafe_housing",)  # houses relocation or renovation made safe need no rebuilding
FIELDS_WRITTEN = ("income_transfers", "unsafe_housing")


@numba.njit(cache=True, parallel=True)
def _relief_rows(relief_per_person, supported, hit, size, weight, unsafe_housing, income_transfers, served):
    """Relief to supported households in hit villages, their unsafe houses rebuilt;
    returns (weighted relief, weighted houses rebuilt), summed block by block in order."""
    sums = np.zeros((BLOCKS, 2))
    for block in numba.prange(BLOCKS):
        relief_total, rebuilt_total = 0.0, 0.0
        first, last = block_rows(block, size.shape[0])
        for i in range(first, last):
            served[i] = supported[i] and hit[i] and size[i] > 0
            if not served[i]:
                continue
            relief = relief_per_person * size[i]
            income_transfers[i] += np.float32(relief)
            w = np.float64(weight[i])
            relief_total += w * relief
            if unsafe_housing[i]:
                unsafe_housing[i] = False
                rebuilt_total += w
        sums[block, 0] = relief_total
        sums[block, 1] = rebuilt_total
    totals = block_totals(sums)
    return totals[0], totals[1]


def act(model, on: bool) -> dict[str, float]:
    if not on:
        return {}
    hh, p, f = model.hh, model.p, model.flows
    hit = f.get("disaster_hit")
    if hit is None or not hit.any():
        return {}
    served = np.empty(hh.n, bool)
    relief, rebuilt = _relief_rows(float(p["disaster.relief_per_person"]), f["supported"], hit, hh.size, hh.weight,
                                   hh.unsafe_housing, hh.income_transfers, served)
    f["reached_disaster_reconstruction"] = served
    cost = relief + p["disaster.reconstruction_per_household"] * rebuilt
    return {"fiscal": cost} if served.any() else {}


def income_contribution(model, rows: np.ndarray) -> np.ndarray:
    """This year's relief of the given rows (yuan): what the exit-route attribution credits
    to this measure (`sim/exit_routes.py`)."""
    served = model.flows.get("reached_disaster_reconstruction")
    if served is None:
        return np.zeros(rows.size)
    out = np.empty(np.size(rows))
    _relief_at(float(model.p["disaster.relief_per_person"]), np.ascontiguousarray(rows, dtype=np.int64), served,
                 model.hh.size, out)
    return out


@numba.njit(cache=True, parallel=True)
def _relief_at(per_person, rows, served, size, out):
    for k in numba.prange(rows.shape[0]):
        i = rows[k]
        out[k] = per_person * size[i] if served[i] else 0.0
