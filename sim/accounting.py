"""Step 5 of the year: income by source, resources after rigid costs, savings and debt.

Resources (what the register assesses) = income - out-of-pocket medical costs - schooling
costs - repayments due on formal loans. Schooling costs are net of the education support
the household received this year (`school_support`, set by `policies/education.py`).

Savings absorb a share of what is left above the poverty line; a shortfall is covered from
savings, then by informal debt (assumption: interest-free loans from relatives, repaid
from later surpluses).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, parallel=True)
def _schooling_rows(costs, n_primary, n_junior, n_senior, n_college, out):
    for i in numba.prange(out.shape[0]):
        out[i] = n_primary[i] * costs[0] + n_junior[i] * costs[1] + n_senior[i] * costs[2] + n_college[i] * costs[3]


def schooling_cost(model) -> np.ndarray:
    """Gross schooling cost per household this year (before education support)."""
    hh = model.hh
    costs = np.array([model.school_cost(stage) for stage in ("primary", "junior", "senior", "college")])
    out = np.empty(hh.n)
    _schooling_rows(costs, hh.n_primary, hh.n_junior, hh.n_senior, hh.n_college, out)
    return out


@numba.njit(cache=True, parallel=True)
def _account_rows(costs, line, saved_share, income_farm, income_local_wage, income_migrant, income_transfers,
                  income_property, n_primary, n_junior, n_senior, n_college, size, oop_medical, obligations,
                  school_support, income, school_cost, resources, savings, debt):
    for i in numba.prange(size.shape[0]):
        inc = (float(income_farm[i]) + income_local_wage[i] + income_migrant[i] + income_transfers[i]
               + income_property[i])
        income[i] = inc
        school = n_primary[i] * costs[0] + n_junior[i] * costs[1] + n_senior[i] * costs[2] + n_college[i] * costs[3]
        school = max(school - school_support[i], 0.0)  # net of education support
        school_cost[i] = school
        res = inc - oop_medical[i] - school - obligations[i]
        resources[i] = res
        cash = float(savings[i]) - debt[i] + saved_share * max(res - line * size[i], 0.0) + min(res, 0.0)
        savings[i] = max(cash, 0.0)
        debt[i] = max(-cash, 0.0)


def account(model) -> None:
    hh = model.hh
    costs = np.array([model.school_cost(stage) for stage in ("primary", "junior", "senior", "college")])
    _account_rows(costs, float(model.line), 1.0 - model.p["economy.consumption_share"],
                  hh.income_farm, hh.income_local_wage, hh.income_migrant, hh.income_transfers,
                  hh.income_property, hh.n_primary, hh.n_junior, hh.n_senior, hh.n_college, hh.size,
                  hh.oop_medical, hh.obligations, hh.school_support, hh.income, hh.school_cost, hh.resources,
                  hh.savings, hh.debt)
