"""The dibao floor: tops up per-capita income to the dibao line for households without
enough labor capacity (002 §3, §7; 004 ch.2 §1.5), with targeting errors both ways.

Eligibility uses income before dibao (earnings, pension, property). An ineligible
household below twice the line is covered in error with a chance and receives a partial
benefit; an eligible one missed by exclusion error gets none.
"""

from __future__ import annotations

import numba
import numpy as np

from sim.fields import Labor
from sim.streams import u01

NAME = "dibao"
FULL = int(Labor.FULL)


@numba.njit(cache=True, parallel=True)
def _dibao_rows(key, line, exclusion, inclusion, inclusion_share, size, labor, weight,
                income_farm, income_local_wage, income_migrant, income_transfers, income_property,
                transfer_dibao, dibao, paid):
    for i in numba.prange(size.shape[0]):
        benefit = 0.0
        covered = False
        if size[i] > 0:
            before = (float(income_farm[i]) + income_local_wage[i] + income_migrant[i]
                      + income_transfers[i] + income_property[i])
            pc = before / size[i]
            u = u01(key, i, 0)
            if labor[i] != FULL and pc < line:
                if u >= exclusion:
                    covered = True
                    benefit = (line - pc) * size[i]
            elif pc < 2.0 * line and u < inclusion:
                covered = True
                benefit = inclusion_share * line * size[i]
        transfer_dibao[i] = benefit
        income_transfers[i] += benefit
        dibao[i] = covered
        paid[i] = weight[i] * np.float32(benefit)


def act(model, on: bool) -> dict[str, float]:
    if not on:
        return {}
    hh, p = model.hh, model.p
    paid = np.zeros(hh.n)
    _dibao_rows(model.streams.key("dibao_targeting", model.year), float(p["dibao.line"]),
                p["dibao.exclusion_error"], p["dibao.inclusion_error"], p["dibao.inclusion_benefit_share"],
                hh.size, hh.labor, hh.weight, hh.income_farm, hh.income_local_wage, hh.income_migrant,
                hh.income_transfers, hh.income_property, hh.transfer_dibao, hh.dibao, paid)
    return {"civil_affairs": float(paid.sum())}
