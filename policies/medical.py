"""Basic medical insurance (NCMS): reimburses a share of compliant costs of the insured.

What is left is out of pocket and reduces the household's resources; the 'basic medical
guarantee' of the exit rule reads `insured`.
"""

from __future__ import annotations

import numpy as np

NAME = "medical_insurance"


def act(model, on: bool) -> dict[str, float]:
    hh, p = model.hh, model.p
    cost = hh.medical_cost.astype(np.float64)
    if not on:
        hh.oop_medical = cost
        return {}
    compliant = cost * (1.0 - p["medical.noncompliant_share"])
    reimbursed = np.where(hh.insured, compliant * p["medical.reimbursement"], 0.0)
    hh.oop_medical = cost - reimbursed
    return {"insurance_fund": float(np.dot(hh.weight, reimbursed))}
