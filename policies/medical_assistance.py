"""Medical assistance for the poor (002 §9; 001 §四(十); 003 §三(七); 004 ch.2 §1.5.1).

For supported households (registered, or exited within the support years): the government
pays basic-insurance premiums, so every one of them is insured (an uninsured household is
enrolled and its year's costs are reimbursed as if it had been insured); then assistance
covers `medical.assistance_share` (at least 70%, 002 §9) of the compliant costs left after
insurance; a yearly out-of-pocket cap (`medical.oop_cap`, 0 = none) limits what is left.
Non-compliant costs stay out of pocket (below the cap).
"""

from __future__ import annotations

import numba
import numpy as np

from sim.sums import BLOCKS, block_rows, block_totals

from . import medical

NAME = "medical_assistance"
READS = ("compliant_left",)  # written by medical insurance, on or off
FIELDS_READ = ("oop_medical", "insured")
FIELDS_WRITTEN = ("insured", "oop_medical")


@numba.njit(cache=True, parallel=True)
def _assist_rows(key, q, covered, premium, share, cap, supported, size, weight, medical_cost, n_chronic,
                 insured, oop, compliant_left, reached):
    """Premiums, cover for the newly insured and assistance, row by row; returns the
    weighted (premiums, insurance reimbursements, assistance), summed block by block in order."""
    sums = np.zeros((BLOCKS, 3))
    for block in numba.prange(BLOCKS):
        premiums, insurance, assistance = 0.0, 0.0, 0.0
        first, last = block_rows(block, size.shape[0])
        for i in range(first, last):
            reached[i] = False
            if not (supported[i] and size[i] > 0):
                continue
            w = np.float64(weight[i])
            newly = not insured[i]
            insured[i] = True
            premiums += w * (size[i] * premium)
            if newly and covered:
                cost = np.float64(medical_cost[i])
                r, left = medical._cover_one(key, q, i, cost, n_chronic[i])
                oop[i] = cost - r
                compliant_left[i] = left
                insurance += w * r
            assist = share * compliant_left[i]
            out = oop[i] - assist
            if cap > 0:
                over = max(out - cap, 0.0)
                assist += over
                out -= over
            oop[i] = out
            assistance += w * assist
            reached[i] = assist > 0 or newly
        sums[block, 0] = premiums
        sums[block, 1] = insurance
        sums[block, 2] = assistance
    totals = block_totals(sums)
    return totals[0], totals[1], totals[2]


def act(model, on: bool) -> dict[str, float]:
    if not on:
        return {}
    hh, p, f = model.hh, model.p, model.flows
    reached = np.empty(hh.n, bool)
    premiums, insurance, assistance = _assist_rows(
        model.streams.key("care_level", model.year), medical._cover_params(model),
        bool(model.measures.get("medical_insurance", False)), float(p["medical.premium"]),
        float(p["medical.assistance_share"]), float(p["medical.oop_cap"]), f["supported"], hh.size, hh.weight,
        hh.medical_cost, hh.n_chronic, hh.insured, hh.oop_medical, f["compliant_left"], reached)
    f["reached_medical_assistance"] = reached
    out = {"fiscal": premiums + assistance}
    if insurance:
        out["insurance_fund"] = insurance
    return out
