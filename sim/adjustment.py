"""The yearly adjustment of the register (动态调整) and the re-check (回头看).

Households enter the register only here, once a year after the exits: never-registered
households (new entries) and exited ones (returns) whose income cadres measured below
the line apply with `register.application_chance`; the village appraises the applicants
(`sim/appraisal.py`) and the county admits the poorest-looking up to its quota,
`register.adjustment_quota` times the people on its register at the start of the year
(dated: 0 closes the adjustment; `register.adjustment_quota_base` = "start" takes the
register it built in the start year instead). The 2014 scale was set from NBS's count of
the rural poor, and that count fell year by year with the register (docs/register_sources.md
§1c, §3d), so the adjustment's scale shrinks as the register empties. Identification was by application, village appraisal and
public notice within a scale (规模控制) set from above (国开办发〔2014〕24号), adjusted yearly
since 2017 (docs/register_sources.md §1, §3b). From the year after return monitoring
begins (`monitoring.start_year`; in 2020 itself new poor and returns were still
registered as they fell, docs/register_sources.md §3c), a household must have been under
monitoring, and so helped, since an earlier year before it can apply: help comes before
registration.

In the re-check year (`register.recheck_year`; nationally August 2015 to June 2016,
docs/register_sources.md §3a) a share `register.recheck_correction` of the register's
errors is corrected each way: registered households truly above the line are removed
(not exits: they are taken off as wrongly registered), households truly below it and
never registered are added (new entries); the causes of every household left on the
register are recorded again (the re-check's own record: docs/register_sources.md §9 gives
the illness share before and after it).
"""

from __future__ import annotations

import numba
import numpy as np

from . import appraisal
from .fields import Status
from .groups import FILL, SLOT_ADJUSTMENT, lottery, row_people, take_within
from .register import diagnose, register_rows, registered
from .streams import u01
from .sums import BLOCKS, block_rows

NEVER, REGISTERED, EXITED, RETURNED = (int(s) for s in (Status.NEVER, Status.REGISTERED, Status.EXITED,
                                                        Status.RETURNED))


@numba.njit(cache=True, parallel=True)
def _applicant_rows(year, line, monitoring, key, chance, status, exit_year, size, measured_pc, monitor_year, out):
    """Block by block: who may apply, in a branch-free loop the compiler vectorizes, then
    the application draw (`u01(key, row, 0)`, as `Streams.uniform_at` gives it) of those
    who may."""
    for block in numba.prange(BLOCKS):
        a, b = block_rows(block, status.shape[0])
        _off_below_block(year, line, monitoring, status[a:b], exit_year[a:b], size[a:b], measured_pc[a:b],
                         monitor_year[a:b], out[a:b])
        for i in range(a, b):
            if out[i]:
                out[i] = u01(key, i, 0) < chance


@numba.njit(cache=True)
def _off_below_block(year, line, monitoring, status, exit_year, size, measured_pc, monitor_year, out):
    for j in range(np.uint64(out.shape[0])):
        off = ((status[j] == NEVER) | ((status[j] == EXITED) & (exit_year[j] < year))) & (size[j] > 0)
        helped = ~monitoring | ((monitor_year[j] > 0) & (monitor_year[j] < year))
        out[j] = off & (measured_pc[j] < line) & helped


def applicants(model) -> np.ndarray:
    """The rows that apply this year: not on the register, measured below the line, one
    "application" draw below the application chance, and (from the year after monitoring
    began) under monitoring since an earlier year. An exit of this year cannot return the
    same year."""
    hh, p, year = model.hh, model.p, model.year
    applying = np.empty(hh.n, bool)
    helped_first = bool(year > p["monitoring.start_year"])  # in its first year nobody has been monitored yet
    _applicant_rows(year, float(model.line), helped_first, np.uint64(model.streams.key("application", year)),
                    float(p["register.application_chance"]), hh.status, hh.exit_year, hh.size, hh.measured_pc,
                    hh.monitor_year, applying)
    return np.flatnonzero(applying)


def quota_base(model) -> np.ndarray:
    """People per county the adjustment quota is a share of: the county's register at the
    start of the year (`register.adjustment_quota_base` = "current": the scale follows the
    poor population as it falls) or the register it built in the start year ("start")."""
    if model.p["register.adjustment_quota_base"] == "start":
        return np.asarray(model.start_register_people, np.float64)
    return np.asarray(model.counties.poor_people, np.float64)  # summed at the end of last year's assessment


def adjust(model) -> None:
    """Admit applicants within each county's quota: new entries and returns."""
    hh, p, f = model.hh, model.p, model.flows
    quota_share = float(p["register.adjustment_quota"])
    new, back = np.zeros(hh.n, bool), np.zeros(hh.n, bool)
    if quota_share > 0:
        idx = applicants(model)
        if idx.size:
            people = row_people(hh, idx)
            score = appraisal.score(model, model.line, model.year, idx)
            quota = quota_share * quota_base(model)
            admitted = take_within(hh.county, model.counties.n, idx, score, people, quota, FILL,
                                   unit=hh.size[idx], draws=lottery(model, SLOT_ADJUSTMENT))
            rows = idx[admitted[idx]]
            was = hh.status[rows]
            new_rows, back_rows = rows[was == NEVER], rows[was == EXITED]
            new[new_rows] = True
            back[back_rows] = True
            register_rows(model, new_rows, REGISTERED)
            register_rows(model, back_rows, RETURNED)
    f["new_poor"] = new
    f["returned"] = back


def recheck(model) -> None:
    """The re-check: a share of the register's errors corrected each way (true incomes)."""
    hh, p, f = model.hh, model.p, model.flows
    added, removed = np.zeros(hh.n, bool), np.zeros(hh.n, bool)
    if model.year == p["register.recheck_year"] and p["register.recheck_correction"] > 0:
        pc = hh.income / np.maximum(hh.size, 1)
        reg = registered(hh)
        wrong_in = reg & ~f["new_poor"] & ~f["returned"] & (pc >= model.line)
        wrong_out = (hh.status == NEVER) & (hh.size > 0) & (pc < model.line)
        idx = np.flatnonzero(wrong_in | wrong_out)
        corrected = idx[model.streams.uniform_at("recheck", model.year, idx) < p["register.recheck_correction"]]
        removed[corrected] = wrong_in[corrected]
        added[corrected] = wrong_out[corrected]
        hh.status[removed] = NEVER
        hh.reg_year[removed] = 0
        hh.causes[removed] = 0
        hh.main_cause[removed] = -1
        register_rows(model, added, REGISTERED)
        f["new_poor"] = f["new_poor"] | added
        # the re-check records again the causes of every household left on the register
        diagnose(model, registered(hh))
    f["recheck_added"] = added
    f["recheck_removed"] = removed
