"""The county government's part of the year (step 3): each county's exit plan for the
year and the households expected to exit on it (`sim/exits.py: plan_year`), and targeted
measures assigned "one household, one method" (000 §二(二), §四(二)). Households enter the
register only in the yearly adjustment at the end of the year (`sim/adjustment.py`).

Targeted measures (those with `TARGETED = True` in their module) name their candidates
(by cause) and a cost per household. Cadres can take on only so many households a year
(`government.cadres_per_poor_village` x poor villages x `households_per_cadre`): the
households in this year's exit plan first (support goes to those planned to exit), then
the others, the poorest by measured income first within each. Each measure then funds its candidates, poorest
first, within its yearly budget (`budget.<measure>`, yuan, 0 = no limit) and within the
profile's budget per registered person if it has one (Guangdong: 20,000 yuan per poor
person, 002 §13). Unfunded needs wait for next year.
"""

from __future__ import annotations

import numba
import numpy as np

from sim.registry import MEASURES
from sim.support import supported
from sim.exits import planned_households
from sim.ranking import in_order, poorest_within
from sim.sums import BLOCKS, block_rows, clear_block


def targeted_measures(measures: dict[str, bool]):
    """(name, module) of the targeted measures switched on in `measures`."""
    return [(name, spec.module) for name, spec in MEASURES.items()
            if getattr(spec.module, "TARGETED", False) and measures.get(name, False)]


def cadre_capacity(model) -> float:
    """Households (weighted) cadres can newly take on this year."""
    p = model.p
    per_village = p["government.cadres_per_poor_village"] * p["government.households_per_cadre"]
    return per_village * model.initial_poor_villages if per_village > 0 else np.inf


def _within(order: np.ndarray, amounts: np.ndarray, limit: float) -> np.ndarray:
    """The leading entries of `order` whose cumulative amount stays within `limit`
    (`amounts` are given in the order of `order`)."""
    if not np.isfinite(limit):
        return order
    return order[: int(np.searchsorted(np.cumsum(amounts), limit, side="right"))]


def assign(model) -> None:
    hh, p, f = model.hh, model.p, model.flows
    f["supported"] = supported(model)
    measures = targeted_measures(model.measures)
    if not measures:
        return
    candidates = {name: module.candidates(model) for name, module in measures}
    anyone = np.zeros(hh.n, bool)
    for mask in candidates.values():
        anyone |= mask
    # Cadres take on the candidates in the exit plan first, then the others, the poorest
    # first within each, as many as they can (weighted).
    capacity = cadre_capacity(model)
    in_plan, others = rows_split(anyone, planned_households(model))
    first = poorest_within(in_plan, hh.measured_pc, hh.weight, capacity, dtype=np.float64)
    if np.isfinite(capacity):
        capacity -= float(hh.weight[first].sum(dtype=np.float64))
    rest = poorest_within(others, hh.measured_pc, hh.weight, max(capacity, 0.0), dtype=np.float64)
    served_ranked = np.concatenate([first, rest])
    served = np.zeros(hh.n, bool)
    served[served_ranked] = True
    total_left = np.inf
    per_person = p["budget.per_registered_person"]
    if per_person > 0:
        total_left = per_person * model.initial["registered_poor_people"]
    # The served candidates of a measure, taken in the order of all served candidates,
    # are in the order a stable sort of their own would give.
    for name, module in measures:
        order = in_order(served_ranked, candidates[name])
        limit = min(p[f"budget.{name}"] or np.inf, total_left)
        funded = order
        if np.isfinite(limit):  # without a budget the costs need not be known here
            unit = module.unit_cost(model)  # yuan a household: one number, or one per row
            cost = hh.weight[order].astype(np.float64) * (unit[order] if np.ndim(unit) else float(unit))
            funded = _within(order, cost, limit)
            total_left -= float(cost[: funded.size].sum())
        assigned, waiting = np.empty(hh.n, bool), np.empty(hh.n, bool)
        _assigned_rows(funded, candidates[name], assigned, waiting)
        f[f"assigned_{name}"] = assigned
        f[f"waiting_{name}"] = waiting


def rows_split(mask: np.ndarray, by: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows `mask` marks that `by` marks too, and those it does not (ascending, as
    `np.flatnonzero` gives them), in one pass over the rows."""
    counts = np.zeros((BLOCKS + 1, 2), np.int64)
    _split_counts(mask, by, counts)
    firsts = np.cumsum(counts, axis=0)
    both, only = np.empty(int(firsts[BLOCKS, 0]), np.int64), np.empty(int(firsts[BLOCKS, 1]), np.int64)
    _split_rows(mask, by, firsts, both, only)
    return both, only


@numba.njit(cache=True, parallel=True)
def _split_counts(mask, by, counts):
    """counts[block + 1]: the block's rows of mask & by, of mask & ~by."""
    for block in numba.prange(BLOCKS):
        a, b = block_rows(block, mask.shape[0])
        n_both, n_mask = 0, 0
        for i in range(a, b):
            n_mask += mask[i]
            n_both += mask[i] & by[i]
        counts[block + 1, 0] = n_both
        counts[block + 1, 1] = n_mask - n_both


@numba.njit(cache=True, parallel=True)
def _split_rows(mask, by, firsts, both, only):
    """Each block writes its rows from its first places (`firsts[block]`)."""
    for block in numba.prange(BLOCKS):
        a, b = block_rows(block, mask.shape[0])
        k_both, k_only = firsts[block, 0], firsts[block, 1]
        for i in range(a, b):
            if mask[i]:
                if by[i]:
                    both[k_both] = i
                    k_both += 1
                else:
                    only[k_only] = i
                    k_only += 1


@numba.njit(cache=True, parallel=True)
def _assigned_rows(funded, candidate, assigned, waiting):
    """assigned: the funded rows; waiting: the other candidates. The full-length passes
    go block by block in branch-free loops the compiler vectorizes."""
    n = assigned.shape[0]
    for block in numba.prange(BLOCKS):
        a, b = block_rows(block, n)
        clear_block(assigned[a:b])
    for j in numba.prange(funded.shape[0]):
        assigned[funded[j]] = True
    for block in numba.prange(BLOCKS):
        a, b = block_rows(block, n)
        _waiting_block(candidate[a:b], assigned[a:b], waiting[a:b])


@numba.njit(cache=True)
def _waiting_block(candidate, assigned, waiting):
    for j in range(np.uint64(waiting.shape[0])):
        waiting[j] = candidate[j] & ~assigned[j]

