"""The dibao floor and centralized support (002 §3, §7; 004 ch.2 §五 1-3).

Households without full labor capacity whose per-capita income before dibao is below the
dibao line receive the gap, plus `dibao.extra_share` of the line for each member in the
groups 004 ch.2 §五2 names (aged 70+, children, disabled, students beyond compulsory
school). With "two lines in one" (004 ch.2 §五) the dibao line is at least the poverty
line. Households with no working-age member and no labor (特困) get centralized support up
to `dibao.tekun_multiple` times the line instead. Targeting errors both ways: an eligible
household is missed with `exclusion_error`; an ineligible one below twice the line is
covered with `inclusion_error` and a partial benefit.
"""

from __future__ import annotations

import numba
import numpy as np

from sim.fields import Labor
from sim.streams import u01
from sim.sums import BLOCKS, block_rows, block_totals

NAME = "dibao"
FULL, NONE = int(Labor.FULL), int(Labor.NONE)


@numba.njit(cache=True, parallel=True)
def _dibao_rows(key, line, exclusion, inclusion, inclusion_share, extra_share, share_70, tekun_multiple,
                size, labor, weight, n_working, n_college, n_elderly, n_child, n_primary, n_junior, n_senior,
                n_disabled, income_farm, income_local_wage, income_migrant, income_transfers, income_property,
                transfer_dibao, dibao):
    """Every row's dibao this year; returns the weighted benefits paid (summed block by
    block, the blocks in order: the same total on any number of threads)."""
    sums = np.zeros((BLOCKS, 1))
    for block in numba.prange(BLOCKS):
        first, last = block_rows(block, size.shape[0])
        sums[block, 0] = _dibao_block(first, last, key, line, exclusion, inclusion,
                                   inclusion_share, extra_share, share_70, tekun_multiple, size, labor, weight,
                                   n_working, n_college, n_elderly, n_child, n_primary, n_junior, n_senior,
                                   n_disabled, income_farm, income_local_wage, income_migrant, income_transfers,
                                   income_property, transfer_dibao, dibao)
    return block_totals(sums)[0]


@numba.njit(cache=True)
def _dibao_block(lo, hi, key, line, exclusion, inclusion, inclusion_share, extra_share, share_70, tekun_multiple,
                 size, labor, weight, n_working, n_college, n_elderly, n_child, n_primary, n_junior, n_senior,
                 n_disabled, income_farm, income_local_wage, income_migrant, income_transfers, income_property,
                 transfer_dibao, dibao):
    paid = 0.0
    for i in range(lo, hi):
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
                    floor = line
                    if labor[i] == NONE and n_working[i] - n_college[i] <= 0:
                        floor = tekun_multiple * line  # 特困: no labor, no working-age support
                    extras = (n_elderly[i] * share_70 + n_child[i] + n_primary[i] + n_junior[i]
                              + n_disabled[i] + n_senior[i] + n_college[i])
                    benefit = max(floor - pc, 0.0) * size[i] + extra_share * line * extras
            elif pc < 2.0 * line and u < inclusion:
                covered = True
                benefit = inclusion_share * line * size[i]
        transfer_dibao[i] = benefit
        income_transfers[i] += benefit
        dibao[i] = covered
        paid += weight[i] * np.float32(benefit)  # a float32 product, as the column arithmetic gave
    return paid


def dibao_line(p) -> float:
    line = float(p["dibao.line"])
    return max(line, float(p["poverty.line"])) if p["dibao.two_lines_in_one"] else line


def act(model, on: bool) -> dict[str, float]:
    if not on:
        return {}
    hh, p = model.hh, model.p
    paid = _dibao_rows(model.streams.key("dibao_targeting", model.year), dibao_line(p),
                p["dibao.exclusion_error"], p["dibao.inclusion_error"], p["dibao.inclusion_benefit_share"],
                p["dibao.extra_share"], p["dibao.share_of_elderly_over_70"], p["dibao.tekun_multiple"],
                hh.size, hh.labor, hh.weight, hh.n_working, hh.n_college, hh.n_elderly, hh.n_child, hh.n_primary,
                hh.n_junior, hh.n_senior, hh.n_disabled, hh.income_farm, hh.income_local_wage, hh.income_migrant,
                hh.income_transfers, hh.income_property, hh.transfer_dibao, hh.dibao)
    model.flows["reached_dibao"] = hh.dibao.copy()
    return {"fiscal": float(paid)}
