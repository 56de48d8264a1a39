"""Return monitoring (防止返贫监测和帮扶机制), from the year it began.

From `monitoring.start_year` (the national guidance of 20 March 2020, docs/register_sources.md
§4a), cadres take on exited households and never-registered households whose measured
per-capita income is below `monitoring.range_multiple` times the line (about 1.5 times,
§4a), or whose rigid spending (out-of-pocket medical and schooling costs) this year is
above `monitoring.rigid_share` of last year's measured income ("rigid spending clearly
above last year's income", §4a). A monitored household is helped as a supported one from
the next year (medical assistance, a public job, the other measures: `sim/support.py: supported`)
and may apply to be registered (`sim/adjustment.py`) only after that help, if its income
is still measured below the line. It leaves monitoring when an assessment finds it above
the range with no rigid-spending shock (风险消除). Each county monitors at most
`monitoring.scale` times the people it registered in the start year (about 5% of the
registered population, at most 10%, §4a): those already monitored keep their place while
at risk, the others come in by income left after rigid spending, lowest first.
"""

from __future__ import annotations

import numba
import numpy as np

from .fields import Status
from .groups import FILL, SLOT_MONITORING, lottery, priority, take_within
from .sums import BLOCKS, block_rows

NEVER, EXITED = int(Status.NEVER), int(Status.EXITED)


@numba.njit(cache=True, parallel=True)
def _risk_rows(range_pc, rigid_share, status, size, measured_pc, measured_pc_last, oop_medical, school_cost, out):
    """Block by block, in a branch-free loop the compiler vectorizes."""
    for block in numba.prange(BLOCKS):
        a, b = block_rows(block, status.shape[0])
        _risk_block(range_pc, rigid_share, status[a:b], size[a:b], measured_pc[a:b], measured_pc_last[a:b],
                    oop_medical[a:b], school_cost[a:b], out[a:b])


@numba.njit(cache=True)
def _risk_block(range_pc, rigid_share, status, size, measured_pc, measured_pc_last, oop_medical, school_cost, out):
    for j in range(np.uint64(out.shape[0])):
        off = ((status[j] == NEVER) | (status[j] == EXITED)) & (size[j] > 0)
        rigid = (np.float64(oop_medical[j]) + school_cost[j]) / max(size[j], 1)
        out[j] = off & ((measured_pc[j] < range_pc) | (rigid > rigid_share * measured_pc_last[j]))


@numba.njit(cache=True, parallel=True)
def _candidates(idx, line, weight, size, measured_pc, oop_medical, school_cost, monitor_year, key, people, unit):
    """Per household at risk: its selection key (income left after rigid spending, over
    the line; those monitored already first, `groups.priority_key`), people and size."""
    for k in numba.prange(idx.shape[0]):
        i = idx[k]
        left = (np.float64(measured_pc[i]) - (np.float64(oop_medical[i]) + school_cost[i]) / max(size[i], 1)) / line
        key[k] = priority(left, monitor_year[i] > 0)
        people[k] = np.float64(weight[i]) * size[i]
        unit[k] = size[i]


@numba.njit(cache=True, parallel=True)
def _update_rows(year, kept, monitor_year, newly):
    """Taken on this year where kept and not monitored yet; released where not kept."""
    for block in numba.prange(BLOCKS):
        a, b = block_rows(block, kept.shape[0])
        _newly_block(kept[a:b], monitor_year[a:b], newly[a:b])
        _monitor_block(year, kept[a:b], monitor_year[a:b])


@numba.njit(cache=True)
def _newly_block(kept, monitor_year, out):
    for j in range(np.uint64(out.shape[0])):
        out[j] = kept[j] & (monitor_year[j] == 0)


@numba.njit(cache=True)
def _monitor_block(year, kept, monitor_year):
    for j in range(np.uint64(kept.shape[0])):
        monitor_year[j] = (monitor_year[j] if monitor_year[j] > 0 else year) if kept[j] else 0


def monitor(model) -> None:
    """Take on households at risk within each county's scale; release those whose risk is
    gone. Households already monitored keep their place while at risk; the others come in
    by income left after rigid spending, lowest first."""
    hh, p = model.hh, model.p
    newly = np.zeros(hh.n, bool)
    if model.year >= p["monitoring.start_year"]:
        at_risk = np.empty(hh.n, bool)
        _risk_rows(float(p["monitoring.range_multiple"] * model.line), float(p["monitoring.rigid_share"]), hh.status,
                   hh.size, hh.measured_pc, hh.measured_pc_last, hh.oop_medical, hh.school_cost, at_risk)
        idx = np.flatnonzero(at_risk)
        key, people, unit = np.empty(idx.size), np.empty(idx.size), np.empty(idx.size)
        _candidates(idx, float(model.line), hh.weight, hh.size, hh.measured_pc, hh.oop_medical, hh.school_cost,
                    hh.monitor_year, key, people, unit)
        limit = p["monitoring.scale"] * model.start_register_people
        kept = take_within(hh.county, model.counties.n, idx, key, people, limit, FILL, unit=unit,
                           draws=lottery(model, SLOT_MONITORING))
        _update_rows(model.year, kept, hh.monitor_year, newly)
    model.flows["newly_monitored"] = newly
