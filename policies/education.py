"""Education support (000 §三(四); 002 §8; 003 §三(六); 004 ch.2 §3): no household falls or
returns into poverty because of schooling costs (000 §三(四)1), and education breaks the
passing of poverty from one generation to the next.

For supported households (registered, or exited within the support years) each pupil's
cost this year is reduced by the support of its stage, in yuan per pupil per year
(`education.support_*`), never by more than the stage's cost:

- primary and junior: living subsidy for boarders of poor families (000 §三(四)1);
- senior (high or vocational school): free tuition and a living subsidy (003 §三(六);
  002 §8), plus the 雨露计划 subsidy for the share of senior pupils in vocational school
  (`education.vocational_share`);
- college: the national grant (004 ch.2 §3), the 雨露计划 subsidy for the share in higher
  vocational colleges, and a student loan (000 §三(四)1; 003 §三(六)).

The student loan defers part of the college cost: the household does not pay it this year,
so it counts as support in `school_support`; the principal is the bank's, repaid by the
graduate after graduation from his or her own earnings, which the model does not follow
(there is no loan balance; the graduate's earnings already raise the household's ability
in the life pass). Its fiscal cost is the interest subsidized during study plus risk
compensation, `education.support_loan_fiscal_share` of the amount lent. Grants are
fiscal in full. So the fiscal cost is the weighted sum of grants plus that share of loans
(equal to the weighted sum of `school_support` when the share is 1 or there are no loans).

Accounting subtracts `school_support` from the gross schooling cost. The life pass
(`agents/life.py`) uses the same per-pupil amounts (`per_pupil`) for the households
supported at the start of the year, so continuing to senior school and college becomes
likelier and dropping out of compulsory school less likely.
"""

from __future__ import annotations

import numba
import numpy as np

from sim.fields import Cause
from sim.flows import Flow
from sim.measure import MeasureSpec
from sim.sums import BLOCKS, block_rows, block_totals
from sim.support import supported


# Guangyuan's five batches (003 §二(四)) have no education batch; its education
# project (003 §三(六)) builds skills and earning ability, so production and employment.
MEASURE = MeasureSpec(
    "education", "schooling", False, "education", "production_employment",
    "education support: living subsidies in compulsory school, free tuition and living subsidy in "
    "senior school, Yulu (雨露计划) subsidies for vocational and college students, student loans",
    entitlement=True)
# What a planner sets for it (`povsim app`).
PLANNER_PARAMETERS = ("education.support_senior", "education.support_yulu")
FIELDS_WRITTEN = ("school_support",)
FLOWS = (
    Flow("education_support_per_pupil", "yuan per pupil by stage", "policies/education.py: announce",
         "support per pupil by stage (STAGES order) this year, as households know it when they decide on schooling"),
    Flow("education_supported", "bool per row", "policies/education.py: announce",
         "households whose pupils the support reaches this year, as known at its start"),
)
ANNOUNCES = ("education_support_per_pupil", "education_supported")  # written by `announce`, not `act`
STAGES = ("primary", "junior", "senior", "college")


def per_pupil(model) -> tuple[np.ndarray, np.ndarray]:
    """(grants, loans) per pupil by stage (`STAGES` order) this year, in yuan; grants +
    loans never exceed the stage's cost (`model.school_cost`)."""
    p = model.p
    yulu = p["education.support_yulu"]
    wanted = np.array([
        p["education.support_primary_living"],
        p["education.support_junior_living"],
        p["education.support_senior"] + p["education.vocational_share"] * yulu,
        p["education.support_college_grant"] + p["education.support_yulu_college_share"] * yulu,
    ], dtype=np.float64)
    cost = np.array([model.school_cost(stage) for stage in STAGES], dtype=np.float64)
    grants = np.minimum(wanted, cost)
    loans = np.zeros(len(STAGES))
    loans[3] = min(p["education.support_college_loan"], cost[3] - grants[3])
    return grants, loans


def announce(model) -> None:
    """At the start of the year, before households decide on schooling (`agents/life.py`):
    the support per pupil by stage, and the households it reaches (supported then:
    registered, exited while support continues, monitored), when the measure is on."""
    if model.measures.get(MEASURE.name, False):
        model.flows["education_support_per_pupil"] = support_per_pupil(model)
        model.flows["education_supported"] = supported(model) & (model.hh.size > 0)


def support_per_pupil(model) -> np.ndarray:
    """Support (grants and loans) per pupil by stage (`STAGES` order) this year, in yuan."""
    grants, loans = per_pupil(model)
    return grants + loans


@numba.njit(cache=True, parallel=True)
def _support_rows(grants, loans, supported, size, weight, n_primary, n_junior, n_senior, n_college,
                  school_support, reached):
    """Every row's support this year; returns the weighted grants and loans (summed block
    by block, the blocks in order: the same totals on any number of threads)."""
    sums = np.zeros((BLOCKS, 2))
    for block in numba.prange(BLOCKS):
        grant_sum, loan_sum = 0.0, 0.0
        first, last = block_rows(block, size.shape[0])
        for i in range(first, last):
            grant, loan = 0.0, 0.0
            if supported[i] and size[i] > 0:
                grant = (n_primary[i] * grants[0] + n_junior[i] * grants[1] + n_senior[i] * grants[2]
                         + n_college[i] * grants[3])
                loan = (n_primary[i] * loans[0] + n_junior[i] * loans[1] + n_senior[i] * loans[2]
                        + n_college[i] * loans[3])
            school_support[i] = grant + loan
            reached[i] = school_support[i] > 0
            grant_sum += weight[i] * grant
            loan_sum += weight[i] * loan
        sums[block, 0] = grant_sum
        sums[block, 1] = loan_sum
    totals = block_totals(sums)
    return totals[0], totals[1]


def act(model, on: bool) -> dict[str, float]:
    hh, f = model.hh, model.flows
    if not on:
        hh.school_support = 0.0
        return {}
    grants, loans = per_pupil(model)
    reached = np.empty(hh.n, bool)
    grant_total, loan_total = _support_rows(grants, loans, f["supported"], hh.size, hh.weight, hh.n_primary,
                                            hh.n_junior, hh.n_senior, hh.n_college, hh.school_support, reached)
    f["reached_education"] = reached
    loan_share = model.p["education.support_loan_fiscal_share"]
    return {"fiscal": grant_total + loan_share * loan_total}


C_SCHOOLING = int(Cause.SCHOOLING)


def cause_removed(model, rows: np.ndarray) -> np.ndarray:
    """Rows (exiting this year) whose schooling cause this year's support removed: schooling
    is a recorded cause, and without the support the schooling costs would have been above
    the schooling threshold (`register.schooling_cause_share` of income), with it they are
    not (`sim/exit_routes.py`)."""
    hh = model.hh
    out = np.zeros(rows.size, bool)
    _removed_rows(float(model.p["register.schooling_cause_share"]), rows, hh.income, hh.causes, hh.school_cost,
                  hh.school_support, out)
    return out


@numba.njit(cache=True, parallel=True)
def _removed_rows(schooling_share, rows, income, causes, school_cost, school_support, out):
    for k in numba.prange(rows.shape[0]):
        i = rows[k]
        if causes[i] & C_SCHOOLING:
            t = schooling_share * max(np.float64(income[i]), 1.0)
            net = np.float64(school_cost[i])
            out[k] = net + school_support[i] > t and net <= t

