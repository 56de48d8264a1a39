"""Household choices of the year: who works where (farm, local wages, migration), and the
earnings that follow; enrolment in medical insurance.

Migration rises with skills and with the village's migration network (the share of its
working-age people who worked away last year) and falls with care needs at home.
"""

from __future__ import annotations

import numpy as np

from sim.draws import stochastic_round
from sim.fields import Illness, Labor


def labor_capacity(hh, p) -> np.ndarray:
    """Set labor units and capacity class from age, disability and illness; return able workers."""
    avail = (hh.n_working - hh.n_college).astype(np.float32)
    adults = avail + hh.n_elderly
    impaired = np.minimum(1.0, np.divide(hh.n_disabled + hh.n_chronic, adults,
                                         out=np.zeros_like(adults), where=adults > 0))
    partial = p["economy.partial_labor_units"]
    able_workers = avail * (1.0 - impaired)
    units = able_workers + avail * impaired * partial
    units += hh.n_elderly * (1.0 - impaired) * p["economy.elderly_farm_units"]
    units -= np.where(hh.illness == Illness.MAJOR, p["health.major_labor_loss"], 0.0)
    hh.labor_units = np.maximum(units, 0.0)
    hh.labor = np.where(able_workers >= 1.0 - 1e-6, Labor.FULL,
                        np.where(hh.labor_units > 0, Labor.PARTIAL, Labor.NONE))
    return able_workers


def allocate_labor(model, u_migrate: np.ndarray, u_local: np.ndarray) -> None:
    """How many able workers migrate and how many take local wage work."""
    hh, p = model.hh, model.p
    workers = labor_capacity(hh, p)
    network = model.villages.migration_share[hh.village]
    dependants = hh.n_child + hh.n_elderly + hh.n_chronic + hh.n_disabled
    share = (p["economy.migration_base"] + p["economy.migration_network_effect"] * network
             + p["economy.migration_skill_effect"] * (hh.n_skilled > 0)
             - p["economy.migration_care_penalty"] * dependants
             + p["economy.migration_willingness_effect"] * (hh.willingness_to_move - 0.5))
    share = np.clip(share, 0.0, 0.9)
    hh.n_migrants = np.minimum(stochastic_round(workers * share, u_migrate), np.floor(workers))
    stay = np.maximum(np.floor(workers) - hh.n_migrants, 0)
    hh.n_local = stochastic_round(stay * p["economy.local_work_share"], u_local)


def earnings(model, shocks: bool = True) -> None:
    """Farm, local wage and migrant earnings, pension and property income of the year."""
    hh, p = model.hh, model.p
    workers = np.maximum(hh.n_working - hh.n_college, 1)
    skilled = np.minimum(hh.n_skilled / workers, 1.0)
    skill_mult = 1.0 + (p["economy.skill_premium"] - 1.0) * skilled
    farm_units = np.maximum(hh.labor_units - hh.n_migrants - hh.n_local, 0.0) + p["economy.land_income_units"]
    level = hh.ability * model.growth_index
    farm = level * farm_units
    local = level * p["economy.local_wage_ratio"] * skill_mult * hh.n_local
    if shocks:
        s = p["economy.income_shock_sd"]
        z = model.streams.normal("income_shock", model.year, hh.n)
        c = model.counties
        farm = (farm * c.price_shock[hh.county] * (1.0 - model.villages.disaster_loss[hh.village])
                * np.exp(s * z - s * s / 2))
        local = local * c.wage_shock[hh.county]
    hh.income_farm = farm
    hh.income_local_wage = local
    hh.income_migrant = level * p["economy.migrant_wage_ratio"] * skill_mult * hh.n_migrants
    hh.income_transfers = hh.n_elderly * p["economy.pension"]
    hh.income_property = 0.0
    hh.transfer_dibao = 0.0
    hh.dibao = False


def enrol_insurance(model) -> None:
    hh = model.hh
    joins = model.streams.uniform("insurance_enrol", model.year, hh.n) < model.p["medical.enrolment_rate"]
    hh.insured |= joins


def decide(model) -> None:
    """Step 2 of the year: behaviour."""
    n, year = model.hh.n, model.year
    allocate_labor(model, model.streams.uniform("migrate", year, n), model.streams.uniform("local_work", year, n))
    earnings(model)
    enrol_insurance(model)
