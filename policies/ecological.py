"""Ecological compensation (002 §12; 004 ch.2 §4): farmland steeper than 25 degrees returns
to forest with compensation per mu; forest ranger and cleaner jobs go to the poor.

Households in ecologically fragile places (the `ECO_FRAGILE` location flag) that have not
relocated return `eco.mu_per_household` mu of steep farmland, once: their farm earnings
fall by `eco.farm_loss_share` and they receive `eco.payment_per_mu` a mu each year. A share
`eco.ranger_share` of supported households in those places hold a ranger job each year,
paying `eco.ranger_wage` (poorest first).
"""

from __future__ import annotations

import numba
import numpy as np

from sim.ranking import poorest_within
from sim.sums import BLOCKS, block_rows, block_totals

from sim.fields import Location

NAME = "ecological"


@numba.njit(cache=True, parallel=True)
def _compensate_rows(mu_per_household, keep, payment_per_mu, fragile_bit, location_risk, size, supported,
                     n_working, n_college, n_migrants, weight, eco_mu, income_farm, income_transfers, paid,
                     eligible):
    """Fragile places return steep farmland once (less farm income, a payment per mu each
    year, float32 as the table); who was paid and who may hold a ranger job. Returns the
    weighted payments, summed block by block in order."""
    keep32, pay32 = np.float32(keep), np.float32(payment_per_mu)
    sums = np.zeros((BLOCKS, 1))
    for block in numba.prange(BLOCKS):
        total = 0.0
        first, last = block_rows(block, size.shape[0])
        for i in range(first, last):
            fragile = (location_risk[i] & fragile_bit) != 0 and size[i] > 0
            if fragile and eco_mu[i] <= 0:
                eco_mu[i] = mu_per_household
            pay = 0.0
            if eco_mu[i] > 0:
                income_farm[i] *= keep32
                pay = eco_mu[i] * pay32
                income_transfers[i] += np.float32(pay)
            paid[i] = pay > 0
            total += np.float64(weight[i]) * pay
            eligible[i] = fragile and supported[i] and n_working[i] - n_college[i] - n_migrants[i] >= 1
        sums[block, 0] = total
    return block_totals(sums)[0]


def act(model, on: bool) -> dict[str, float]:
    if not on:
        return {}
    hh, f, p = model.hh, model.flows, model.p
    reached, eligible = np.empty(hh.n, bool), np.empty(hh.n, bool)
    payments = _compensate_rows(float(p["eco.mu_per_household"]), float(1.0 - p["eco.farm_loss_share"]),
                                float(p["eco.payment_per_mu"]), int(Location.ECO_FRAGILE), hh.location_risk,
                                hh.size, f["supported"], hh.n_working, hh.n_college, hh.n_migrants, hh.weight,
                                hh.eco_mu, hh.income_farm, hh.income_transfers, reached, eligible)
    idx = np.flatnonzero(eligible)
    jobs = p["eco.ranger_share"] * float(hh.weight[idx].sum(dtype=np.float64))
    rangers = poorest_within(idx, hh.measured_pc, hh.weight, jobs)
    wage = p["eco.ranger_wage"]
    hh.income_local_wage[rangers] += np.float32(wage)
    wages = wage * float(hh.weight[rangers].sum(dtype=np.float64))
    if wage > 0:
        reached[rangers] = True
    f["reached_ecological"] = reached
    return {"fiscal": payments + wages}
