"""Employment services (000 §三(一); 002 §6; 004 ch.2 §1; facts.md: Jobs): poverty workshops
near home and organized labor export.

Candidates: supported households with full labor and an able working-age member at home
who neither migrates nor works for wages. An assigned household places one such member:
one willing to move (willingness to move of at least one half) goes out with an
organized labor-export team (a migrant's earnings), the others take a job in a workshop
near home (`employment.workshop_wage_ratio` times the household's farm earnings per
worker); either way the member leaves the farm. Placements are made each year.
"""

from __future__ import annotations

import numpy as np

from sim.sums import weighted_sum

NAME = "employment"
TARGETED = True


def candidates(model) -> np.ndarray:
    hh = model.hh
    idle = hh.n_working - hh.n_college - hh.n_migrants - hh.n_local - hh.public_job
    return model.flows["supported"] & (hh.labor == 2) & (idle >= 1) & (hh.size > 0)


def unit_cost(model) -> np.ndarray:
    return np.full(model.hh.n, model.p["employment.cost_per_placement"])


def act(model, on: bool) -> dict[str, float]:
    if not on:
        return {}
    hh, f, p = model.hh, model.flows, model.p
    placed = f.get("assigned_employment", np.zeros(hh.n, bool)) & candidates(model)
    export = placed & (hh.willingness_to_move >= 0.5)
    workshop = placed & ~export
    level = hh.ability * model.growth_index
    farm_lost = np.minimum(level, hh.income_farm)
    hh.income_farm -= np.where(placed, farm_lost, 0.0).astype(np.float32)
    hh.income_migrant += np.where(export, level * p["economy.migrant_wage_ratio"], 0.0).astype(np.float32)
    hh.income_local_wage += np.where(workshop, level * p["employment.workshop_wage_ratio"], 0.0).astype(np.float32)
    hh.n_migrants += export.astype(np.int8)
    hh.n_local += workshop.astype(np.int8)
    f["reached_employment"] = placed
    return {"fiscal": float(weighted_sum(hh.weight, placed)) * p["employment.cost_per_placement"]}
