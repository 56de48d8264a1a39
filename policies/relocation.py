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

import numpy as np

from sim.sums import weighted_sum

NAME = "relocation"


def eligible(model) -> np.ndarray:
    hh = model.hh
    return model.flows["supported"] & ~hh.relocated & (hh.location_risk != 0) & (hh.size > 0)


def _pay_rent(model) -> None:
    """Rent on the land left behind, from the year after the move."""
    hh = model.hh
    renting = hh.relocated & (hh.relocation_year < model.year)
    if renting.any():
        rent = np.where(renting, model.p["relocation.land_rent_per_person"] * hh.size, 0.0)
        hh.income_property += rent.astype(np.float32)


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
    w = hh.weight.astype(np.float64)
    people = w * hh.size
    can_move = eligible(model)
    if getattr(model, "relocation_eligible_people", None) is None:  # the quota's base, at the start
        model.relocation_eligible_people = float(weighted_sum(people, can_move))
    _pay_rent(model)
    if not on:
        return {}

    willing = np.clip(p["relocation.acceptance_base"] + p["relocation.acceptance_willingness_effect"]
                      * (hh.willingness_to_move - 0.5), 0.0, 1.0)
    accepts = can_move & (model.streams.uniform("relocation_accept", model.year, hh.n) < willing)
    open_v = (np.bincount(hh.village, can_move, minlength=v.n) > 0) & ~v.relocated
    movers_v = np.bincount(hh.village, np.where(accepts, people, 0.0), minlength=v.n)
    quota = p["relocation.share_per_year"] * model.relocation_eligible_people
    chosen = np.zeros(v.n, bool)
    chosen[_chosen_villages(model, movers_v, open_v, quota)] = True
    moved = accepts & chosen[hh.village]
    v.relocated |= chosen

    hh.relocated |= moved
    hh.relocation_year = np.where(moved, model.year, hh.relocation_year)
    hh.location_risk = np.where(moved, 0, hh.location_risk)
    hh.unsafe_housing &= ~moved
    hh.income_farm *= np.where(moved, 1.0 - p["relocation.move_farm_loss_share"], 1.0).astype(np.float32)

    # The household's contribution: from income above the line, then savings; the rest is waived.
    cost = p["relocation.cost_per_person"]
    owed = np.where(moved, min(p["relocation.household_contribution_per_person"], cost) * hh.size, 0.0)
    income = (hh.income_farm.astype(np.float64) + hh.income_local_wage + hh.income_migrant
              + hh.income_transfers + hh.income_property)
    spare = np.maximum(income - hh.oop_medical - hh.obligations - model.line * hh.size, 0.0)
    from_income = np.minimum(owed, spare)
    from_savings = np.minimum(owed - from_income, np.maximum(hh.savings, 0.0))
    hh.obligations += from_income.astype(np.float32)
    hh.savings -= from_savings.astype(np.float32)

    f["reached_relocation"] = moved
    fiscal = cost * float(weighted_sum(w, np.where(moved, hh.size, 0))) - float(weighted_sum(w, from_income + from_savings))
    return {"fiscal": fiscal} if moved.any() else {}
