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

from sim.fields import Cause
from sim.measure import MeasureSpec
from sim.sums import BLOCKS, block_rows, block_totals

from . import medical


MEASURE = MeasureSpec(
    "medical_assistance", "costs", False, "social_security", "medical",
    "premiums paid for the poor and assistance with costs left after insurance",
    entitlement=True)
# What a planner sets for it (`povsim app`).
PLANNER_PARAMETERS = ("medical.assistance_share", "medical.oop_cap")
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


C_ILLNESS = int(Cause.ILLNESS)


def cause_removed(model, rows: np.ndarray) -> np.ndarray:
    """Rows (exiting this year) whose illness cause this year's assistance removed: illness
    is a recorded cause, and without the assistance the out-of-pocket costs would have been
    above the illness threshold (`register.illness_cause_share` of income), with it they are
    not (`sim/exit_routes.py`)."""
    hh, p = model.hh, model.p
    out = np.zeros(rows.size, bool)
    compliant_left = model.flows.get("compliant_left")
    if compliant_left is not None:
        _removed_rows(float(p["medical.assistance_share"]), float(p["register.illness_cause_share"]), rows,
                      hh.income, hh.causes, compliant_left, hh.oop_medical, out)
    return out


@numba.njit(cache=True, parallel=True)
def _removed_rows(assistance_share, illness_share, rows, income, causes, compliant_left, oop_medical, out):
    for k in numba.prange(rows.shape[0]):
        i = rows[k]
        if causes[i] & C_ILLNESS:
            relief = assistance_share * compliant_left[i]
            t = illness_share * max(np.float64(income[i]), 1.0)
            oop = np.float64(oop_medical[i])
            out[k] = oop + relief > t and oop <= t

