"""Household choices of the year: who works where (farm, local wages, migration), the
earnings that follow, and enrolment in medical insurance.

Migration rises with skills, willingness to move and the village's migration network (the
share of its working-age people who worked away last year) and falls with care needs at
home. One compiled pass over the rows (`_work_rows`) does it all.

Relocated households (from the year after their move, `policies/relocation.py`) live near
towns and industrial parks: they migrate more (`relocation.migration_bonus`), find local
wage work more often (`relocation.local_work_bonus`) and farm less
(`relocation.farm_loss_share` of their farm labor; their land is leased out, so its own
yield, `economy.land_income_units`, comes to them as rent instead).
"""

from __future__ import annotations

import numba
import numpy as np

from sim.fields import Illness, Labor
from sim.streams import fill_mean_one_lognormals, fill_uniforms, u01
from sim.sums import BLOCKS, block_rows

WORK_PARAMS = (
    "economy.partial_labor_units", "economy.elderly_farm_units", "health.major_labor_loss",
    "economy.migration_base", "economy.migration_network_effect", "economy.migration_skill_effect",
    "economy.migration_care_penalty", "economy.migration_willingness_effect", "economy.local_work_share",
    "economy.skill_premium", "economy.land_income_units", "economy.local_wage_ratio",
    "economy.migrant_wage_ratio", "economy.income_shock_sd", "economy.pension", "medical.enrolment_rate",
    "relocation.farm_loss_share", "relocation.migration_bonus", "relocation.local_work_bonus",
)
(P_PARTIAL, P_ELDERLY_FARM, P_MAJOR_LOSS, P_MIG_BASE, P_MIG_NET, P_MIG_SKILL, P_MIG_CARE, P_MIG_WILL,
 P_LOCAL, P_SKILL, P_LAND, P_LOCAL_RATIO, P_MIG_RATIO, P_SHOCK, P_PENSION, P_ENROL,
 P_RELOC_FARM, P_RELOC_MIG, P_RELOC_LOCAL) = range(len(WORK_PARAMS))
MAJOR = int(Illness.MAJOR)
FULL, PARTIAL, NONE = int(Labor.FULL), int(Labor.PARTIAL), int(Labor.NONE)


@numba.njit(cache=True, parallel=True, error_model="numpy")
def _work_rows(p, growth_index, key_migrate, key_local, key_shock, key_enrol, shocks, enrol,
               network_v, disaster_v, price_c, wage_c, village, county,
               n_working, n_college, n_elderly, n_disabled, n_chronic, n_child, n_skilled, illness,
               willingness, ability, insured, relocated,
               labor, labor_units, n_migrants, n_local,
               income_farm, income_local_wage, income_migrant, income_transfers, income_property,
               transfer_dibao, dibao):
    for block in numba.prange(BLOCKS):
        first, last = block_rows(block, n_working.shape[0])
        # the block's draws first, in vector loops: income shocks' log-normal factors, the
        # uniforms that round expected migrants and local workers to whole people
        shock = np.empty(last - first)
        if shocks:
            fill_mean_one_lognormals(key_shock, first, p[P_SHOCK], shock)
        u_migrate, u_local = np.empty(last - first), np.empty(last - first)
        fill_uniforms(key_migrate, first, u_migrate)
        fill_uniforms(key_local, first, u_local)
        for j in range(last - first):
            i = first + j
            # --- labor capacity from age, disability, chronic and major illness
            avail = float(n_working[i] - n_college[i])
            adults = avail + n_elderly[i]
            impaired = min(1.0, (n_disabled[i] + n_chronic[i]) / adults) if adults > 0 else 0.0
            able = avail * (1.0 - impaired)
            units = able + avail * impaired * p[P_PARTIAL] + n_elderly[i] * (1.0 - impaired) * p[P_ELDERLY_FARM]
            if illness[i] == MAJOR:
                units -= p[P_MAJOR_LOSS]
            units = max(units, 0.0)
            labor_units[i] = units
            labor[i] = FULL if able >= 1.0 - 1e-6 else (PARTIAL if units > 0 else NONE)

            # --- migration and local work (stochastic rounding of expected counts)
            dependants = n_child[i] + n_elderly[i] + n_chronic[i] + n_disabled[i]
            share = (p[P_MIG_BASE] + p[P_MIG_NET] * network_v[village[i]]
                     + p[P_MIG_SKILL] * (1.0 if n_skilled[i] > 0 else 0.0)
                     - p[P_MIG_CARE] * dependants + p[P_MIG_WILL] * (willingness[i] - 0.5))
            local_share = p[P_LOCAL]
            if relocated[i]:  # near towns and parks: more work away and nearby
                share += p[P_RELOC_MIG]
                local_share = min(local_share + p[P_RELOC_LOCAL], 1.0)
            share = min(max(share, 0.0), 0.9)
            whole = np.floor(able)
            expect = able * share
            migrants = np.floor(expect) + (1.0 if u_migrate[j] < expect - np.floor(expect) else 0.0)
            migrants = min(migrants, whole)
            stay = max(whole - migrants, 0.0) * local_share
            local = np.floor(stay) + (1.0 if u_local[j] < stay - np.floor(stay) else 0.0)
            n_migrants[i] = int(migrants)
            n_local[i] = int(local)

            # --- earnings by source
            workers = max(n_working[i] - n_college[i], 1)
            skill_mult = 1.0 + (p[P_SKILL] - 1.0) * min(n_skilled[i] / workers, 1.0)
            level = ability[i] * growth_index
            if relocated[i]:  # farms less; the land is leased out (its rent is property income)
                farm = level * max(units - migrants - local, 0.0) * (1.0 - p[P_RELOC_FARM])
            else:
                farm = level * (max(units - migrants - local, 0.0) + p[P_LAND])
            wage = level * p[P_LOCAL_RATIO] * skill_mult * local
            if shocks:
                farm *= price_c[county[i]] * (1.0 - disaster_v[village[i]]) * shock[j]
                wage *= wage_c[county[i]]
            income_farm[i] = farm
            income_local_wage[i] = wage
            income_migrant[i] = level * p[P_MIG_RATIO] * skill_mult * migrants
            income_transfers[i] = n_elderly[i] * p[P_PENSION]
            income_property[i] = 0.0
            transfer_dibao[i] = 0.0
            dibao[i] = False
            if enrol and not insured[i] and u01(key_enrol, i, 0) < p[P_ENROL]:
                insured[i] = True


def work(model, key_migrate, key_local, shocks: bool, enrol: bool) -> None:
    hh, p, v, c = model.hh, model.p, model.villages, model.counties
    params = np.array([p[name] for name in WORK_PARAMS], dtype=np.float64)
    key_shock = model.streams.key("income_shock", model.year)
    key_enrol = model.streams.key("insurance_enrol", model.year)
    _work_rows(params, float(model.growth_index), key_migrate, key_local, key_shock, key_enrol, shocks, enrol,
               v.migration_share, v.disaster_loss, c.price_shock, c.wage_shock, hh.village, hh.county,
               hh.n_working, hh.n_college, hh.n_elderly, hh.n_disabled, hh.n_chronic, hh.n_child, hh.n_skilled,
               hh.illness, hh.willingness_to_move, hh.ability, hh.insured, hh.relocated,
               hh.labor, hh.labor_units, hh.n_migrants, hh.n_local,
               hh.income_farm, hh.income_local_wage, hh.income_migrant, hh.income_transfers,
               hh.income_property, hh.transfer_dibao, hh.dibao)


def decide(model) -> None:
    """Step 2 of the year: behaviour."""
    s, year = model.streams, model.year
    work(model, s.key("migrate", year), s.key("local_work", year), shocks=True, enrol=True)
