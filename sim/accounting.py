"""Step 5 of the year: income by source, resources after rigid costs, savings and debt."""

from __future__ import annotations

import numpy as np

def schooling_cost(model) -> np.ndarray:
    hh = model.hh
    return (hh.n_primary * model.school_cost("primary") + hh.n_junior * model.school_cost("junior")
            + hh.n_senior * model.school_cost("senior") + hh.n_college * model.school_cost("college"))


def account(model) -> None:
    hh, p = model.hh, model.p
    hh.income = (hh.income_farm.astype(np.float64) + hh.income_local_wage + hh.income_migrant
                 + hh.income_transfers + hh.income_property)
    hh.school_cost = schooling_cost(model)
    hh.resources = hh.income.astype(np.float64) - hh.oop_medical - hh.school_cost
    # Savings absorb what is left after consumption; a shortfall becomes informal debt
    # (assumption: interest-free loans from relatives, repaid from later surpluses).
    floor = model.line * hh.size
    surplus = (1.0 - p["economy.consumption_share"]) * np.maximum(hh.resources - floor, 0.0)
    shortfall = np.minimum(hh.resources, 0.0)
    cash = hh.savings.astype(np.float64) - hh.debt + surplus + shortfall
    hh.savings = np.maximum(cash, 0.0)
    hh.debt = np.maximum(-cash, 0.0)
