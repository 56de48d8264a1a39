"""Public-welfare jobs for the poor (002 §6; 004 ch.2 §1; facts.md: Jobs): road upkeep,
cleaning, patrols, paid by the government.

There are `public_jobs.jobs_per_registered_household` times the registered households at
the start of the run jobs (no more than `budget.public_jobs` pays for, if it is set). A
job stays with the household that holds it (`public_job`) from year to year while the
household is supported (`sim/support.py: supported`: registered, exited while support continues,
under return monitoring; 摘帽不摘帮扶, docs/register_sources.md §2f) and has some labor and
a working-age member at home: exiting the register does not cost it the job. Jobs that
fall vacant, and new jobs when their number rises, go to the households the government
assigned (candidates: households that meet the same rule and hold no job), poorest
first, within cadre capacity and budget; should there be fewer jobs than holders, the
poorest holders keep theirs. Each year a job is held it adds `public_jobs.wage` to local
wage income. Switched off, no one holds a job.
"""

from __future__ import annotations

import numba
import numpy as np

from sim.measure import MeasureSpec
from sim.ranking import poorest_within
from sim.sums import weighted_sum
from sim.table import Field as F


MEASURE = MeasureSpec(
    "public_jobs", "jobs", False, "industry_employment", "production_employment",
    "public-welfare jobs (roads, cleaning, patrols) for the poor")
TARGETED = True
# What a planner sets for it (`povsim app`).
PLANNER_PARAMETERS = ("public_jobs.jobs_per_registered_household", "public_jobs.wage")
FIELDS = (  # household columns of its own (`sim/table.py: Field`)
    F("public_job", "bool", False, "flag",
      "a member holds a public-welfare job (kept by its holder from year to year)"),
)
FIELDS_WRITTEN = ("income_local_wage", "public_job")


@numba.njit(cache=True, parallel=True)
def _rule_rows(supported, labor, n_working, n_college, n_migrants, size, public_job, holders, out):
    """Supported households with some labor and a working-age member at home that hold a
    job (holders = True: they keep it) or do not (False: candidates for one)."""
    for i in numba.prange(size.shape[0]):
        out[i] = (supported[i] and labor[i] != 0 and n_working[i] - n_college[i] - n_migrants[i] >= 1
                  and size[i] > 0 and public_job[i] == holders)


def candidates(model) -> np.ndarray:
    """Supported households with some labor and a working-age member at home, holding no job."""
    hh = model.hh
    out = np.empty(hh.n, bool)
    _rule_rows(model.flows["supported"], hh.labor, hh.n_working, hh.n_college, hh.n_migrants, hh.size,
               hh.public_job, False, out)
    return out


def unit_cost(model) -> float:
    return float(model.p["public_jobs.wage"])


def act(model, on: bool) -> dict[str, float]:
    hh, f, p = model.hh, model.flows, model.p
    if not on:
        hh.public_job = False
        return {}
    wage = float(p["public_jobs.wage"])
    jobs = p["public_jobs.jobs_per_registered_household"] * model.initial["registered_poor_households"]
    if p["budget.public_jobs"] > 0 and wage > 0:  # the yearly budget pays every job held
        jobs = min(jobs, p["budget.public_jobs"] / wage)
    keep = np.empty(hh.n, bool)
    _rule_rows(f["supported"], hh.labor, hh.n_working, hh.n_college, hh.n_migrants, hh.size, hh.public_job, True,
               keep)
    holders = np.flatnonzero(keep)
    held = float(weighted_sum(hh.weight, keep))
    if held > jobs:  # fewer jobs than holders: the poorest holders keep theirs
        holders, new = poorest_within(holders, hh.measured_pc, hh.weight, jobs), holders[:0]
    else:  # vacancies (and new jobs) to the assigned households, poorest first
        assigned = f["assigned_public_jobs"] if "assigned_public_jobs" in f else np.zeros(hh.n, bool)
        new = poorest_within(np.flatnonzero(assigned & ~keep), hh.measured_pc, hh.weight, jobs - held)
    hh.public_job = False
    hh.public_job[holders] = True
    hh.public_job[new] = True
    hh.income_local_wage[holders] += np.float32(wage)  # holders and new: distinct rows
    hh.income_local_wage[new] += np.float32(wage)
    f["reached_public_jobs"] = hh.public_job.copy()
    return {"fiscal": float(weighted_sum(hh.weight, hh.public_job)) * wage}


def income_contribution(model, rows: np.ndarray) -> np.ndarray:
    """This year's income (yuan) the measure gave each of the given rows: the wage where
    the household holds a job, else 0."""
    wage = np.float64(np.float32(model.p["public_jobs.wage"]))  # as added to the float32 column
    out = np.empty(np.size(rows))
    _wage_rows(wage, np.ascontiguousarray(rows, dtype=np.int64), model.hh.public_job, out)
    return out


@numba.njit(cache=True, parallel=True)
def _wage_rows(wage, rows, public_job, out):
    for k in numba.prange(rows.shape[0]):
        out[k] = wage if public_job[rows[k]] else 0.0
