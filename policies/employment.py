"""Employment services (000 §三(一); 002 §6; 004 ch.2 §1; facts.md: Jobs): poverty workshops
near home and organized labor export.

Candidates: supported households with full labor and an able working-age member at home
who neither migrates nor works for wages. An assigned household places one such member:
one willing to move (willingness to move of at least one half) goes out with an
organized labor-export team (a migrant's earnings), the others take a job in a workshop
near home (`employment.workshop_wage_ratio` times the household's farm earnings per
worker); either way the member leaves the farm. The placed member counts among the
household's migrants or local wage workers (`n_migrants`, `n_local`), which persist from
year to year (`agents/behaviour.py`): from the next year on the member is one of them,
paid as they are, and stops at their rate (`economy.migrant_exit_rate`,
`economy.local_work_exit_rate`), so the placement lasts; the member is no longer idle, so
is neither placed again nor counted twice. This year's placements and what they pay are
kept (sparse) in `model.flows["employment_placed"]` for `income_contribution`.
"""

from __future__ import annotations

import numba
import numpy as np

from sim.flows import Flow
from sim.measure import MeasureSpec
from sim.sparse import values_at
from sim.sums import weighted_sum


MEASURE = MeasureSpec(
    "employment", "jobs", False, "industry_employment", "production_employment",
    "employment services: poverty workshops near home and organized labor export")
TARGETED = True
# What a planner sets for it (`povsim app`).
PLANNER_PARAMETERS = ("employment.workshop_wage_ratio", "employment.cost_per_placement")
FIELDS_READ = ("public_job",)  # a member holding a public job is not placed
FIELDS_WRITTEN = ("income_farm", "income_local_wage", "income_migrant", "n_local", "n_migrants")
FLOWS = (
    Flow("employment_placed", "(rows, yuan per listed row)", "policies/employment.py",
         "members placed this year: their households' rows and the earnings the placement pays this year"),
)


@numba.njit(cache=True, parallel=True)
def _candidate_rows(supported, labor, n_working, n_college, n_migrants, n_local, public_job, size, out):
    for i in numba.prange(size.shape[0]):
        idle = n_working[i] - n_college[i] - n_migrants[i] - n_local[i] - public_job[i]
        out[i] = supported[i] and labor[i] == 2 and idle >= 1 and size[i] > 0


def candidates(model) -> np.ndarray:
    """Supported households with full labor and an idle working-age member at home."""
    hh = model.hh
    out = np.empty(hh.n, bool)
    _candidate_rows(model.flows["supported"], hh.labor, hh.n_working, hh.n_college, hh.n_migrants, hh.n_local,
                    hh.public_job, hh.size, out)
    return out


def unit_cost(model) -> float:
    return float(model.p["employment.cost_per_placement"])


@numba.njit(cache=True, parallel=True)
def _place_rows(growth, migrant_ratio, workshop_ratio, assigned, supported, labor, size, n_working, n_college,
                n_migrants, n_local, public_job, willingness, ability, income_farm, income_migrant,
                income_local_wage, placed):
    """Assigned candidates place one member: away with a labor-export team if willing to
    move, else in a workshop near home; the member leaves the farm (float32, as the table)."""
    growth32, mig32, shop32 = np.float32(growth), np.float32(migrant_ratio), np.float32(workshop_ratio)
    for i in numba.prange(size.shape[0]):
        idle = n_working[i] - n_college[i] - n_migrants[i] - n_local[i] - public_job[i]
        placed[i] = assigned[i] and supported[i] and labor[i] == 2 and idle >= 1 and size[i] > 0
        if not placed[i]:
            continue
        level = ability[i] * growth32
        income_farm[i] -= min(level, income_farm[i])
        if willingness[i] >= 0.5:
            income_migrant[i] += level * mig32
            n_migrants[i] += 1
        else:
            income_local_wage[i] += level * shop32
            n_local[i] += 1


def act(model, on: bool) -> dict[str, float]:
    if not on:
        return {}
    hh, f, p = model.hh, model.flows, model.p
    placed = np.empty(hh.n, bool)
    _place_rows(float(model.growth_index), float(p["economy.migrant_wage_ratio"]),
                float(p["employment.workshop_wage_ratio"]), f["assigned_employment"] if "assigned_employment" in f else np.zeros(hh.n, bool),
                f["supported"], hh.labor, hh.size, hh.n_working, hh.n_college, hh.n_migrants, hh.n_local,
                hh.public_job, hh.willingness_to_move, hh.ability, hh.income_farm, hh.income_migrant,
                hh.income_local_wage, placed)
    f["reached_employment"] = placed
    rows = np.flatnonzero(placed)
    level = hh.ability[rows] * np.float32(model.growth_index)  # float32, as `_place_rows` pays it
    away = hh.willingness_to_move[rows] >= 0.5
    ratio = np.where(away, np.float32(p["economy.migrant_wage_ratio"]),
                     np.float32(p["employment.workshop_wage_ratio"]))
    f["employment_placed"] = (rows, (level * ratio).astype(np.float64))
    return {"fiscal": float(weighted_sum(hh.weight, placed)) * p["employment.cost_per_placement"]}


def income_contribution(model, rows: np.ndarray) -> np.ndarray:
    """This year's income (yuan) the measure gave each of the given rows: the placed
    member's earnings in the year of placement (0 in other years: the member is then one
    of the household's own workers)."""
    placed, earnings = model.flows.get("employment_placed", (np.zeros(0, np.int64), np.zeros(0)))
    return values_at(placed, earnings, rows)
