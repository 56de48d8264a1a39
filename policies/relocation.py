"""Poverty-alleviation relocation, 易地扶贫搬迁 (000 §三(二), §三(三)4; 002 §12; 003 §三(二);
004 ch.2 §2; facts.md: Relocation).

Eligible: supported households, not yet relocated, living where a relocation criterion
holds (`location_risk`: stone or deep mountains, geological hazard, ecologically fragile,
tiny hamlet; 000 §三(三)4(1)). Whole hamlets move together and the poorest go first
(000 §三(三)4(1)): the unit is the household's village row. Each year the villages with
eligible households that have not been relocated yet are taken in order of their incidence
of registered poor (highest first; ties by a draw from "relocation_order"), as long as the
people moving stay within the year's quota, `relocation.share_per_year` of the people
eligible at the start of the run (a hamlet larger than the whole quota moves alone in its
year). Moving is voluntary: in a chosen village each eligible household agrees with
chance `acceptance_base + acceptance_willingness_effect x (willingness_to_move - 0.5)`
(one "relocation_accept" draw per row); those who refuse stay, and the village counts as
relocated.

A household that moves gets a safe new house (15-20 m² a person, 000 §三(二)3(1)): it is
`relocated` (for good: it never moves again), `relocation_year` is recorded (the house
cannot be sold for 5 years), its place meets no criterion any more and its house is
safe. In the move year it loses `move_farm_loss_share` of its farm income. From the next
year on it leases out its land (000 §三(二)3(2)) for `land_rent_per_person` a member
(property income, added here each year whether or not relocation is still switched on),
farms less and finds work more easily near towns and parks (in the work pass,
`agents/behaviour.py`).

Cost (fiscal, in the move year): `cost_per_person` a person less the household's own
contribution, `household_contribution_per_person` a person. The household pays it from
income above the poverty line (a repayment that counts against its assessed resources,
`obligations`), then from savings; what it cannot pay is waived (and paid by the fiscal
subsidy), so the move leaves no one in debt.
"""

from __future__ import annotations

import numba
import numpy as np

from sim.measure import MeasureSpec
from sim.streams import u01
from sim.sums import BLOCKS, PLACE_PARTS, block_rows, block_totals, part_rows, weighted_people
from sim.table import Field as F, column_tuple


MEASURE = MeasureSpec(
    "relocation", "housing", False, "relocation", "relocation",
    "relocation of whole hamlets from places unfit to live in: a safe new house, land leased out, "
    "jobs near towns and parks")
# What a planner sets for it (`povsim app`).
PLANNER_PARAMETERS = ("relocation.share_per_year", "relocation.cost_per_person")
STREAMS = ("relocation_accept", "relocation_order")  # random streams of its own (`sim/streams.py`)
FIELDS = (  # household columns of its own (`sim/table.py: Field`)
    F("relocation_year", "int16", 0, "year", "year of relocation (0 = never); the house cannot be sold for 5 years"),
)
# The household columns the move pass reads and writes, by name (`h.relocated[i]`).
MoveColumns = column_tuple("MoveColumns", (
    "village", "size", "weight", "relocated", "relocation_year", "location_risk", "unsafe_housing", "income_farm",
    "income_local_wage", "income_migrant", "income_transfers", "income_property", "oop_medical", "obligations",
    "savings"), __name__)
FIELDS_WRITTEN = ("income_farm", "income_property", "location_risk", "obligations", "relocated",
                  "relocation_year", "savings", "unsafe_housing")


@numba.njit(cache=True, parallel=True)
def _eligible_rows(year, rent_per_person, supported, relocated, location_risk, size, relocation_year,
                   income_property, can_move):
    """Who may move this year; rent on land left behind from the year after a move."""
    for i in numba.prange(size.shape[0]):
        can_move[i] = supported[i] and not relocated[i] and location_risk[i] != 0 and size[i] > 0
        if relocated[i] and relocation_year[i] < year:
            income_property[i] += np.float32(rent_per_person * size[i])


@numba.njit(cache=True, parallel=True)
def _village_movers(key, base, effect, can_move, willingness, size, weight, village, relocated_v,
                    accepts, movers_v, open_v):
    """Who accepts (one "relocation_accept" draw per row) and, per village, the people who
    would move and whether any household there may move. Each of `PLACE_PARTS` row
    ranges is summed in row order into its own copy, the copies added in order (as the
    register's village sums)."""
    base32, effect32, half = np.float32(base), np.float32(effect), np.float32(0.5)
    n = size.shape[0]
    movers_parts = np.zeros((PLACE_PARTS, movers_v.shape[0]))
    open_parts = np.zeros((PLACE_PARTS, open_v.shape[0]), np.bool_)
    for part in numba.prange(PLACE_PARTS):
        movers, open_here = movers_parts[part], open_parts[part]
        first, last = part_rows(part, n)
        for i in range(first, last):
            accepts[i] = False
            if not can_move[i]:
                continue
            # the chance is float32 arithmetic, as numpy computes it on the float32 column
            willing = min(max(effect32 * (willingness[i] - half) + base32, np.float32(0.0)), np.float32(1.0))
            v = village[i]
            open_here[v] = not relocated_v[v]
            if u01(key, i, 0) < willing:
                accepts[i] = True
                movers[v] += np.float64(weight[i]) * size[i]
    for part in range(PLACE_PARTS):
        movers_v += movers_parts[part]
        open_v |= open_parts[part]


@numba.njit(cache=True, parallel=True)
def _move_rows(year, loss_share, owed_per_person, line, accepts, chosen_v, h, moved):
    """Households in chosen villages that accepted move; returns (weighted people moved,
    weighted contributions paid), summed block by block in order. The contribution comes
    from income above the line, then savings; the rest is waived. `h`: the `MoveColumns`."""
    sums = np.zeros((BLOCKS, 2))
    for block in numba.prange(BLOCKS):
        first, last = block_rows(block, h.size.shape[0])
        sums[block, 0], sums[block, 1] = _move_block(first, last, year, loss_share, owed_per_person, line, accepts,
                                                     chosen_v, h, moved)
    totals = block_totals(sums)
    return totals[0], totals[1]


@numba.njit(cache=True)
def _move_block(first, last, year, loss_share, owed_per_person, line, accepts, chosen_v, h, moved):
    people = 0.0
    paid = 0.0
    keep = np.float32(1.0 - loss_share)
    for i in range(first, last):
        moved[i] = accepts[i] and chosen_v[h.village[i]]
        if not moved[i]:
            continue
        h.relocated[i] = True
        h.relocation_year[i] = year
        h.location_risk[i] = 0
        h.unsafe_housing[i] = False
        h.income_farm[i] *= keep
        owed = owed_per_person * h.size[i]
        income = (np.float64(h.income_farm[i]) + h.income_local_wage[i] + h.income_migrant[i] + h.income_transfers[i]
                  + h.income_property[i])
        spare = max(income - h.oop_medical[i] - h.obligations[i] - line * h.size[i], 0.0)
        from_income = min(owed, spare)
        from_savings = min(owed - from_income, max(np.float64(h.savings[i]), 0.0))
        h.obligations[i] += np.float32(from_income)
        h.savings[i] -= np.float32(from_savings)
        w = np.float64(h.weight[i])
        people += w * h.size[i]
        paid += w * (from_income + from_savings)
    return people, paid


def _chosen_villages(model, movers_v: np.ndarray, open_v: np.ndarray, quota: float) -> np.ndarray:
    """Villages relocated this year: poorest (incidence of registered poor) first, within the quota."""
    v = model.villages
    incidence = np.divide(v.poor_people, v.people, out=np.zeros(v.n), where=v.people > 0)
    tie = model.streams.uniform("relocation_order", model.year, v.n)
    cand = np.flatnonzero(open_v)
    order = cand[np.lexsort((tie[cand], -incidence[cand]))]
    if quota <= 0 or order.size == 0:
        return order[:0]
    k = int(np.searchsorted(np.cumsum(movers_v[order]), quota * (1 + 1e-9), side="right"))
    return order[: max(k, 1)]


def act(model, on: bool) -> dict[str, float]:
    hh, v, p, f = model.hh, model.villages, model.p, model.flows
    if not on and not hh.relocated.any():
        return {}  # no move to make and no land rent to pay
    can_move = np.empty(hh.n, bool)
    _eligible_rows(model.year, float(p["relocation.land_rent_per_person"]), f["supported"], hh.relocated,
                   hh.location_risk, hh.size, hh.relocation_year, hh.income_property, can_move)
    if not on:
        return {}
    if getattr(model, "relocation_eligible_people", None) is None:  # the quota's base, the first year it acts
        model.relocation_eligible_people = float(weighted_people(hh.weight, hh.size, can_move))

    accepts = np.empty(hh.n, bool)
    movers_v = np.zeros(v.n)
    open_v = np.zeros(v.n, bool)
    _village_movers(model.streams.key("relocation_accept", model.year), float(p["relocation.acceptance_base"]),
                    float(p["relocation.acceptance_willingness_effect"]), can_move, hh.willingness_to_move,
                    hh.size, hh.weight, hh.village, v.relocated, accepts, movers_v, open_v)
    quota = p["relocation.share_per_year"] * model.relocation_eligible_people
    chosen = np.zeros(v.n, bool)
    chosen[_chosen_villages(model, movers_v, open_v, quota)] = True
    v.relocated |= chosen

    cost = p["relocation.cost_per_person"]
    moved = np.empty(hh.n, bool)
    people, paid = _move_rows(model.year, float(p["relocation.move_farm_loss_share"]),
                              float(min(p["relocation.household_contribution_per_person"], cost)),
                              float(model.line), accepts, chosen, hh.pick(MoveColumns), moved)
    f["reached_relocation"] = moved
    return {"fiscal": cost * people - paid} if moved.any() else {}


def income_contribution(model, rows: np.ndarray) -> np.ndarray:
    """This year's income (yuan) the measure gave each of the given rows: the rent on the
    land a relocated household left behind, from the year after its move (0 otherwise)."""
    hh = model.hh
    out = np.empty(np.size(rows))
    _rent_rows(float(model.p["relocation.land_rent_per_person"]), int(model.year),
               np.ascontiguousarray(rows, dtype=np.int64), hh.size, hh.relocated, hh.relocation_year, out)
    return out


@numba.njit(cache=True, parallel=True)
def _rent_rows(rent_per_person, year, rows, size, relocated, relocation_year, out):
    """The rent in float32, as `_eligible_rows` gives it."""
    for k in numba.prange(rows.shape[0]):
        i = rows[k]
        paid = relocated[i] and relocation_year[i] < year
        out[k] = np.float64(np.float32(rent_per_person * size[i])) if paid else 0.0


def cause_removed(model, rows: np.ndarray) -> np.ndarray:
    """Rows (exiting this year) that were relocated: the place was the cause (搬迁脱贫;
    `sim/exit_routes.py`)."""
    return model.hh.relocated[rows].copy()

