"""The dibao floor: tops up per-capita income to the dibao line for households without
enough labor capacity (002 §3, §7; 004 ch.2 §1.5), with targeting errors both ways.

Eligibility uses income before dibao (earnings, pension, property). A household covered
in error receives a partial benefit; an eligible one missed by exclusion error gets none.
"""

from __future__ import annotations

import numpy as np

from sim.fields import Labor

NAME = "dibao"


def income_before_dibao(hh) -> np.ndarray:
    return (hh.income_farm.astype(np.float64) + hh.income_local_wage + hh.income_migrant
            + hh.income_transfers + hh.income_property)


def act(model, on: bool) -> dict[str, float]:
    if not on:
        return {}
    hh, p = model.hh, model.p
    line = p["dibao.line"]
    size = hh.size.astype(np.float64)
    pc = np.divide(income_before_dibao(hh), size, out=np.full(hh.n, np.inf), where=size > 0)
    eligible = (hh.labor != Labor.FULL) & (pc < line)
    u = model.streams.uniform("dibao_targeting", model.year, hh.n)
    covered = eligible & (u >= p["dibao.exclusion_error"])
    in_error = ~eligible & (size > 0) & (pc < 2.0 * line) & (u < p["dibao.inclusion_error"])
    benefit = np.where(covered, (line - np.minimum(pc, line)) * size, 0.0)
    benefit = np.where(in_error, p["dibao.inclusion_benefit_share"] * line * size, benefit)
    hh.transfer_dibao = benefit
    hh.income_transfers += benefit.astype(np.float32)
    hh.dibao = covered | in_error
    return {"civil_affairs": float(np.dot(hh.weight, benefit))}
