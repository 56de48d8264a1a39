"""Basic medical insurance (NCMS): reimburses a share of compliant costs of the insured.

What is left is out of pocket and reduces the household's resources; the 'basic medical
guarantee' of the exit rule reads `insured`.
"""

from __future__ import annotations

import numba
import numpy as np

NAME = "medical_insurance"


@numba.njit(cache=True, parallel=True)
def _reimburse_rows(on, compliant_share, reimbursement, medical_cost, insured, weight, oop, paid):
    for i in numba.prange(medical_cost.shape[0]):
        r = medical_cost[i] * compliant_share * reimbursement if on and insured[i] else 0.0
        oop[i] = medical_cost[i] - r
        paid[i] = weight[i] * r


def act(model, on: bool) -> dict[str, float]:
    hh, p = model.hh, model.p
    paid = np.zeros(hh.n)
    _reimburse_rows(on, 1.0 - p["medical.noncompliant_share"], p["medical.reimbursement"],
                    hh.medical_cost, hh.insured, hh.weight, hh.oop_medical, paid)
    return {"insurance_fund": float(paid.sum())} if on else {}
