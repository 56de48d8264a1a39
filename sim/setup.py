"""The set-up before the first simulated year, step by step (`sim/plan.py: setup_plan`):
earning ability backed out so that the synthesized households earn the incomes drawn for
them, the entitlements of the time, savings, then the register built from those incomes.

Earnings are linear in ability and work does not depend on it: one pass of the behaviour
step with unit ability gives each household's earnings per unit of ability (and its
pension); ability is backed out, then the same pass (same draws) gives the start year's
earnings. The earnings rules live only in the behaviour step. A first pass sets the
villages' migration networks, which the allocation of work reads. The drawn incomes are
those of the registration year (the year before the start): realized incomes, that year's
transitory farm shock among them, so that the first simulated year's fresh shocks leave the
spread of incomes as it was.
"""

from __future__ import annotations

import numba
import numpy as np

from agents import behaviour

from . import accounting, register

ABILITY_FLOOR_SHARE = 0.05  # assumption: a small floor of earnings, a share of the line a person


def _work(model) -> None:
    keys = (model.streams.key("synth.households", 0), model.streams.key("synth.households", 1))
    behaviour.work(model, *keys, shocks=True, enrol=False, shock_year=model.start_year - 1)


def unit_ability_work(model) -> None:
    """Work and earnings with unit ability: earnings per unit of ability."""
    model.hh.ability = 1.0
    _work(model)


def migration_networks(model) -> None:
    """The villages' migration networks, which the allocation of work reads."""
    register.aggregate_places(model)


def ability_backed_out(model) -> None:
    """Work again on the networks, then ability = the drawn per-capita income (net income
    before dibao: earnings and pension, what the register measures, no costs added back)
    over the earnings per unit of ability."""
    hh = model.hh
    _work(model)
    _ability_rows(float(model.growth_index), ABILITY_FLOOR_SHARE * model.line, model.population.target_income_pc,
                  hh.size, hh.income_farm, hh.income_local_wage, hh.income_migrant, hh.income_transfers, hh.ability)


def start_earnings(model) -> None:
    """The start year's work and earnings at the backed-out ability (same draws)."""
    _work(model)
    model.flows.update(births=np.zeros(model.hh.n, np.int8), deaths=np.zeros(model.hh.n, np.int8))


def costs_of_last_year(model) -> None:
    """No medical costs yet: the synthesized income already reflects last year's."""
    model.hh.oop_medical = 0.0
    model.hh.medical_cost = 0.0


def start_accounts(model) -> None:
    """Income, resources, then savings of some months of income (more outside the poor stratum)."""
    hh, p = model.hh, model.p
    accounting.account(model)
    _start_rows(float(p["synth.savings_months_poor"]), float(p["synth.savings_months_other"]),
                model.population.poor, hh.income, hh.savings, hh.debt)


def set_up_flows(model) -> None:
    """The flows a year's record reads, empty: no exit, return or entry before the start."""
    hh = model.hh
    empty = np.zeros(hh.n, bool)
    model.flows.update(exited=empty, returned=empty, new_poor=empty,
                       villages_exited=np.zeros(model.villages.n, bool),
                       counties_exited=np.zeros(model.counties.n, bool))


@numba.njit(cache=True, parallel=True)
def _ability_rows(growth, floor_per_person, target_pc, size, income_farm, income_local_wage, income_migrant,
                  income_transfers, ability):
    """Earning ability backed out from the earnings per unit of ability the work pass gave.
    A household with nothing to earn from (no labor and no land income) has no ability to
    back out: it lives on its pension and transfers."""
    for i in numba.prange(size.shape[0]):
        units = (np.float64(income_farm[i]) + income_local_wage[i] + income_migrant[i]) / growth
        earned = max(target_pc[i] * size[i] - np.float64(income_transfers[i]), floor_per_person * size[i])
        ability[i] = earned / units if units > 0 else 0.0


@numba.njit(cache=True, parallel=True)
def _start_rows(months_poor, months_other, poor, income, savings, debt):
    """Savings of some months of income, more for households outside the poor stratum."""
    for i in numba.prange(income.shape[0]):
        savings[i] = (months_poor if poor[i] else months_other) / 12.0 * max(np.float64(income[i]), 0.0)
        debt[i] = 0.0
