"""Basic and critical-illness medical insurance (NCMS): reimburse compliant costs of the insured.

Basic insurance reimburses `medical.reimbursement` of compliant costs; critical-illness
insurance then pays `medical.critical_share` of what is left above `critical_deductible`.
Non-compliant costs are reimbursed by nothing. What is left is out of pocket and reduces
the household's resources; the 'basic medical guarantee' of the exit rule reads `insured`.
"""

from __future__ import annotations

import numpy as np

NAME = "medical_insurance"


def cover(cost: np.ndarray, p) -> tuple[np.ndarray, np.ndarray]:
    """(reimbursed, compliant costs left) for insured households with these costs."""
    compliant = cost * (1.0 - p["medical.noncompliant_share"])
    basic = compliant * p["medical.reimbursement"]
    left = compliant - basic
    critical = np.maximum(left - p["medical.critical_deductible"], 0.0) * p["medical.critical_share"]
    return basic + critical, left - critical


def act(model, on: bool) -> dict[str, float]:
    hh, p = model.hh, model.p
    cost = hh.medical_cost.astype(np.float64)
    if not on:
        hh.oop_medical = cost
        model.flows["compliant_left"] = cost * (1.0 - p["medical.noncompliant_share"])
        return {}
    reimbursed, left = cover(cost, p)
    reimbursed = np.where(hh.insured, reimbursed, 0.0)
    hh.oop_medical = cost - reimbursed
    model.flows["compliant_left"] = np.where(hh.insured, left, cost * (1.0 - p["medical.noncompliant_share"]))
    model.flows["reached_medical_insurance"] = hh.insured & (reimbursed > 0)
    return {"insurance_fund": float(np.dot(hh.weight, reimbursed))}
