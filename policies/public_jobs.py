"""Public-welfare jobs for the poor (002 §6; 004 ch.2 §1; facts.md: Jobs): road upkeep,
cleaning, patrols, paid by the government.

Each year the jobs (`public_jobs.jobs_per_registered_household` times the registered
households at the start of the run) go to supported households with a member at home able
to work, poorest first, within cadre capacity and budget. A job adds `public_jobs.wage` to
local wage income.
"""

from __future__ import annotations

import numba
import numpy as np

from sim.ranking import poorest_within
from sim.sums import weighted_sum

NAME = "public_jobs"
TARGETED = True


@numba.njit(cache=True, parallel=True)
def _candidate_rows(supported, labor, n_working, n_college, n_migrants, size, out):
    for i in numba.prange(size.shape[0]):
        out[i] = (supported[i] and labor[i] != 0 and n_working[i] - n_college[i] - n_migrants[i] >= 1
                  and size[i] > 0)


def candidates(model) -> np.ndarray:
    """Supported households with some labor and a working-age member at home."""
    hh = model.hh
    out = np.empty(hh.n, bool)
    _candidate_rows(model.flows["supported"], hh.labor, hh.n_working, hh.n_college, hh.n_migrants, hh.size, out)
    return out


def unit_cost(model) -> float:
    return float(model.p["public_jobs.wage"])


def act(model, on: bool) -> dict[str, float]:
    hh, f, p = model.hh, model.flows, model.p
    if not on:
        hh.public_job = False
        return {}
    assigned = f["assigned_public_jobs"] if "assigned_public_jobs" in f else np.zeros(hh.n, bool)
    jobs = p["public_jobs.jobs_per_registered_household"] * model.initial["registered_poor_households"]
    holders = poorest_within(np.flatnonzero(assigned), hh.measured_pc, hh.weight, jobs)
    hh.public_job = False
    hh.public_job[holders] = True
    hh.income_local_wage[holders] += np.float32(p["public_jobs.wage"])  # holders: distinct rows
    f["reached_public_jobs"] = hh.public_job.copy()
    return {"fiscal": float(weighted_sum(hh.weight, hh.public_job)) * p["public_jobs.wage"]}
