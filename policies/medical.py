"""Basic and critical-illness medical insurance (NCMS): reimburse compliant costs of the insured.

Basic insurance reimburses compliant costs at a rate that depends on the level of care: a
major episode is treated at a township, county or city hospital (shares
`medical.share_township`, `medical.share_city`, the county the rest; one draw per
household), reimbursed at `medical.reimbursement` times that level's factor (higher in
township hospitals, lower in city hospitals); chronic care is township-level.
Critical-illness insurance then pays `medical.critical_share` of what is left above
`critical_deductible`.
Non-compliant costs are reimbursed by nothing. What is left is out of pocket and reduces
the household's resources; the 'basic medical guarantee' of the exit rule reads `insured`.
"""

from __future__ import annotations

import numba
import numpy as np

from sim.streams import u01
from sim.sums import weighted_sum

NAME = "medical_insurance"


@numba.njit(cache=True, parallel=True)
def _cover_rows(key, q, cost, n_chronic, reimbursed, left):
    share_township, share_city, f_township, f_city, rate, noncompliant, chronic_cost, deductible, critical_share = q
    compliant_share = 1.0 - noncompliant
    chronic_rate = min(rate * f_township, 1.0)
    for i in numba.prange(cost.shape[0]):
        chronic = min(n_chronic[i] * chronic_cost, cost[i])
        major = cost[i] - chronic
        basic = chronic * compliant_share * chronic_rate
        if major > 0:
            u = u01(key, i, 0)
            factor = f_township if u < share_township else (1.0 if u < 1.0 - share_city else f_city)
            basic += major * compliant_share * min(rate * factor, 1.0)
        rest = cost[i] * compliant_share - basic
        critical = max(rest - deductible, 0.0) * critical_share
        reimbursed[i] = basic + critical
        left[i] = rest - critical


def cover(model, cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(reimbursed, compliant costs left) for insured households with these costs."""
    hh, p = model.hh, model.p
    q = np.array([p["medical.share_township"], p["medical.share_city"], p["medical.factor_township"],
                  p["medical.factor_city"], p["medical.reimbursement"], p["medical.noncompliant_share"],
                  p["health.chronic_cost"] * model.price_index, p["medical.critical_deductible"],
                  p["medical.critical_share"]], dtype=np.float64)
    reimbursed, left = np.empty(hh.n), np.empty(hh.n)
    _cover_rows(model.streams.key("care_level", model.year), q, np.asarray(cost, dtype=np.float64),
                hh.n_chronic, reimbursed, left)
    return reimbursed, left


def act(model, on: bool) -> dict[str, float]:
    hh, p = model.hh, model.p
    cost = hh.medical_cost.astype(np.float64)
    if not on:
        hh.oop_medical = cost
        model.flows["compliant_left"] = cost * (1.0 - p["medical.noncompliant_share"])
        return {}
    reimbursed, left = cover(model, cost)
    reimbursed = np.where(hh.insured, reimbursed, 0.0)
    hh.oop_medical = cost - reimbursed
    model.flows["compliant_left"] = np.where(hh.insured, left, cost * (1.0 - p["medical.noncompliant_share"]))
    model.flows["reached_medical_insurance"] = hh.insured & (reimbursed > 0)
    return {"insurance_fund": float(weighted_sum(hh.weight, reimbursed))}
