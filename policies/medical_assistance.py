"""Medical assistance for the poor (002 §9; 001 §四(十); 003 §三(七); 004 ch.2 §1.5.1).

For supported households (registered, or exited within the support years): the government
pays basic-insurance premiums, so every one of them is insured (an uninsured household is
enrolled and its year's costs are reimbursed as if it had been insured); then assistance
covers `medical.assistance_share` (at least 70%, 002 §9) of the compliant costs left after
insurance; a yearly out-of-pocket cap (`medical.oop_cap`, 0 = none) limits what is left.
Non-compliant costs stay out of pocket (below the cap).
"""

from __future__ import annotations

import numpy as np

from sim.sums import weighted_sum

from . import medical

NAME = "medical_assistance"


def act(model, on: bool) -> dict[str, float]:
    if not on:
        return {}
    hh, p, f = model.hh, model.p, model.flows
    served = f["supported"] & (hh.size > 0)
    cost = hh.medical_cost.astype(np.float64)

    # Premiums paid: the uninsured among the served are enrolled for this year.
    newly = served & ~hh.insured
    hh.insured |= served
    premiums = float(weighted_sum(hh.weight, np.where(served, hh.size * p["medical.premium"], 0.0)))
    insurance = 0.0
    if model.measures.get("medical_insurance", False) and newly.any():
        reimbursed, left = medical.cover(model, cost)
        hh.oop_medical = np.where(newly, cost - reimbursed, hh.oop_medical)
        f["compliant_left"] = np.where(newly, left, f["compliant_left"])
        insurance = float(weighted_sum(hh.weight, np.where(newly, reimbursed, 0.0)))

    assist = np.where(served, p["medical.assistance_share"] * f["compliant_left"], 0.0)
    oop = hh.oop_medical - assist
    cap = p["medical.oop_cap"]
    if cap > 0:
        over = np.where(served, np.maximum(oop - cap, 0.0), 0.0)
        assist = assist + over
        oop = oop - over
    hh.oop_medical = oop
    f["reached_medical_assistance"] = served & ((assist > 0) | newly)
    out = {"fiscal": premiums + float(weighted_sum(hh.weight, assist))}
    if insurance:
        out["insurance_fund"] = insurance
    return out
