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

import numpy as np

NAME = "medical_insurance"


def basic_rates(model) -> tuple[np.ndarray, float]:
    """(rate for each household's major episode, rate for chronic care) of basic insurance."""
    hh, p = model.hh, model.p
    u = model.streams.uniform("care_level", model.year, hh.n)
    t, c = p["medical.share_township"], p["medical.share_city"]
    factor = np.where(u < t, p["medical.factor_township"],
                      np.where(u < 1.0 - c, 1.0, p["medical.factor_city"]))
    rate = p["medical.reimbursement"]
    return np.minimum(rate * factor, 1.0), min(rate * p["medical.factor_township"], 1.0)


def cover(model, cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(reimbursed, compliant costs left) for insured households with these costs."""
    hh, p = model.hh, model.p
    major_rate, chronic_rate = basic_rates(model)
    chronic = np.minimum(hh.n_chronic * p["health.chronic_cost"] * model.price_index, cost)
    compliant_share = 1.0 - p["medical.noncompliant_share"]
    basic = compliant_share * ((cost - chronic) * major_rate + chronic * chronic_rate)
    left = cost * compliant_share - basic
    critical = np.maximum(left - p["medical.critical_deductible"], 0.0) * p["medical.critical_share"]
    return basic + critical, left - critical


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
    return {"insurance_fund": float(np.dot(hh.weight, reimbursed))}
