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

from sim.flows import Flow
from sim.measure import MeasureSpec
from sim.params import pass_params, read_pass_params
from sim.streams import fill_uniforms, u01
from sim.sums import BLOCKS, block_rows, block_totals


MEASURE = MeasureSpec(
    "medical_insurance", "costs", True, "social_security", "medical",
    "basic and critical-illness medical insurance (NCMS)",
    entitlement=True)
PLANNER_PARAMETERS = ("medical.reimbursement",)  # what a planner sets for it (`povsim app`)
# Random streams of its own (`sim/streams.py`); medical assistance reads the same draws.
STREAMS = ("care_level",)
FIELDS_WRITTEN = ("oop_medical",)
CoverParams = pass_params("CoverParams", (
    "medical.share_township", "medical.share_city", "medical.factor_township", "medical.factor_city",
    "medical.reimbursement", "medical.noncompliant_share", "medical.critical_deductible", "medical.critical_share"),
    __name__, extra=("chronic_cost",))
FLOWS = (
    Flow("compliant_left", "yuan per row", "policies/medical.py",
         "medical costs within the rules left after insurance (all of them when insurance is off)"),
)


@numba.njit(cache=True, inline="always")
def _cover_with(q, u, cost, n_chronic):
    """(reimbursed, compliant cost left) of one insured household's cost, given its draw u
    of the level of care (which matters only for a major episode). `q` is the year's
    `CoverParams` (a tuple, because an array handed to a function called once a row is
    reference-counted on every call)."""
    compliant_share = 1.0 - q.noncompliant_share
    chronic = min(n_chronic * q.chronic_cost, cost)
    major = cost - chronic
    basic = chronic * compliant_share * min(q.reimbursement * q.factor_township, 1.0)
    factor = q.factor_township if u < q.share_township else (1.0 if u < 1.0 - q.share_city else q.factor_city)
    basic += major * compliant_share * min(q.reimbursement * factor, 1.0)  # adds 0 without a major episode
    rest = cost * compliant_share - basic
    critical = max(rest - q.critical_deductible, 0.0) * q.critical_share
    return basic + critical, rest - critical


@numba.njit(cache=True)
def _cover_one(key, q, i, cost, n_chronic):
    """`_cover_with` for row i, drawing its level of care."""
    return _cover_with(q, u01(key, i, 0), cost, n_chronic)


@numba.njit(cache=True, parallel=True)
def _cover_rows(key, q, cost, n_chronic, reimbursed, left):
    for i in numba.prange(cost.shape[0]):
        reimbursed[i], left[i] = _cover_one(key, q, i, cost[i], n_chronic[i])


@numba.njit(cache=True, parallel=True)
def _insure_rows(key, q, medical_cost, n_chronic, insured, weight, oop, left, reached):
    """The year's cover of every household: out of pocket, compliant costs left, whether
    it was reimbursed; returns the weighted reimbursements (summed block by block, the
    blocks in order: the same total on any number of threads). Block by block in
    branch-free loops that each store one array: the compiler vectorizes them."""
    sums = np.zeros((BLOCKS, 1))
    for block in numba.prange(BLOCKS):
        first, last = block_rows(block, medical_cost.shape[0])
        u, reimbursed = np.empty(last - first), np.empty(last - first)
        fill_uniforms(key, first, u)
        cost, chronic, cover = medical_cost[first:last], n_chronic[first:last], insured[first:last]
        _reimbursed_block(q, u, cost, chronic, cover, reimbursed)
        _left_block(q, u, cost, chronic, cover, left[first:last])
        _oop_block(cost, reimbursed, oop[first:last])
        _reached_block(cover, reimbursed, reached[first:last])
        sums[block, 0] = _weighted_sum(weight[first:last], reimbursed)
    return block_totals(sums)[0]


@numba.njit(cache=True)
def _reimbursed_block(q, u, cost, n_chronic, insured, out):
    for j in range(np.uint64(u.shape[0])):
        r, _ = _cover_with(q, u[j], np.float64(cost[j]), n_chronic[j])
        out[j] = r if insured[j] else 0.0


@numba.njit(cache=True)
def _left_block(q, u, cost, n_chronic, insured, out):
    compliant_share = 1.0 - q.noncompliant_share
    for j in range(np.uint64(u.shape[0])):
        _, rest = _cover_with(q, u[j], np.float64(cost[j]), n_chronic[j])
        out[j] = rest if insured[j] else np.float64(cost[j]) * compliant_share


@numba.njit(cache=True)
def _oop_block(cost, reimbursed, out):
    for j in range(np.uint64(cost.shape[0])):
        out[j] = np.float64(cost[j]) - reimbursed[j]


@numba.njit(cache=True)
def _reached_block(insured, reimbursed, out):
    for j in range(np.uint64(insured.shape[0])):
        out[j] = insured[j] & (reimbursed[j] > 0)


@numba.njit(cache=True)
def _weighted_sum(weight, values):
    total = 0.0
    for j in range(np.uint64(values.shape[0])):
        total += weight[j] * values[j]
    return total


def _cover_params(model):
    """The cover's parameters of the year (`CoverParams`), the chronic cost price-indexed."""
    return read_pass_params(CoverParams, model.p, chronic_cost=model.p["health.chronic_cost"] * model.price_index)


def cover(model, cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(reimbursed, compliant costs left) for insured households with these costs."""
    hh = model.hh
    reimbursed, left = np.empty(hh.n), np.empty(hh.n)
    _cover_rows(model.streams.key("care_level", model.year), _cover_params(model),
                np.asarray(cost, dtype=np.float64), hh.n_chronic, reimbursed, left)
    return reimbursed, left


def act(model, on: bool) -> dict[str, float]:
    hh, p = model.hh, model.p
    if not on:
        cost = hh.medical_cost.astype(np.float64)
        hh.oop_medical = cost
        model.flows["compliant_left"] = cost * (1.0 - p["medical.noncompliant_share"])
        return {}
    left, reached = np.empty(hh.n), np.empty(hh.n, bool)
    reimbursed = _insure_rows(model.streams.key("care_level", model.year), _cover_params(model), hh.medical_cost,
                              hh.n_chronic, hh.insured, hh.weight, hh.oop_medical, left, reached)
    model.flows["compliant_left"] = left
    model.flows["reached_medical_insurance"] = reached
    return {"insurance_fund": float(reimbursed)}
