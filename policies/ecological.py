"""Ecological compensation (002 §12; 004 ch.2 §4): farmland steeper than 25 degrees returns
to forest with compensation per mu; forest ranger and cleaner jobs go to the poor.

Households in ecologically fragile places (the `ECO_FRAGILE` location flag) that have not
relocated return `eco.mu_per_household` mu of steep farmland, once: their farm earnings
fall by `eco.farm_loss_share` and they receive `eco.payment_per_mu` a mu each year.

Ranger (and cleaner) jobs: there are `eco.ranger_share` times the supported households in
those places with a working-age member at home (weighted) posts a year, each paying
`eco.ranger_wage` (local wage income). A post stays with the household that holds it
(`ranger_job`) from year to year while the household is supported (also after it exits
the register while support continues: 摘帽不摘帮扶, docs/register_sources.md §2f), lives in a
fragile place and has a working-age member at home; posts that fall vacant, and new
posts, go to the other such households, poorest first; should there be fewer posts than
holders, the poorest holders keep theirs. Switched off, no one holds a post and nothing
is paid.
"""

from __future__ import annotations

import numba
import numpy as np

from sim.fields import Location
from sim.measure import MeasureSpec
from sim.ranking import poorest_within
from sim.sums import BLOCKS, block_rows, block_totals
from sim.table import Field as F


MEASURE = MeasureSpec(
    "ecological", "production", False, "ecological", "production_employment",
    "ecological compensation: payments per mu of steep farmland returned to forest, ranger jobs")
PLANNER_PARAMETERS = ("eco.payment_per_mu", "eco.ranger_wage")  # what a planner sets for it (`povsim app`)
FIELDS = (  # household columns of its own (`sim/table.py: Field`)
    F("ranger_job", "bool", False, "flag",
      "a member holds an ecological ranger job (kept by its holder from year to year)"),
    F("eco_mu", "float32", 0.0, "mu", "steep farmland returned to forest with compensation"),
)
FIELDS_WRITTEN = ("eco_mu", "income_farm", "income_local_wage", "income_transfers", "ranger_job")


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
    hh, f, p = model.hh, model.flows, model.p
    if not on:
        hh.ranger_job = False
        return {}
    reached, eligible = np.empty(hh.n, bool), np.empty(hh.n, bool)
    payments = _compensate_rows(float(p["eco.mu_per_household"]), float(1.0 - p["eco.farm_loss_share"]),
                                float(p["eco.payment_per_mu"]), int(Location.ECO_FRAGILE), hh.location_risk,
                                hh.size, f["supported"], hh.n_working, hh.n_college, hh.n_migrants, hh.weight,
                                hh.eco_mu, hh.income_farm, hh.income_transfers, reached, eligible)
    idx = np.flatnonzero(eligible)
    jobs = p["eco.ranger_share"] * float(hh.weight[idx].sum(dtype=np.float64))
    kept = idx[hh.ranger_job[idx]]  # holders still eligible keep their posts
    held = float(hh.weight[kept].sum(dtype=np.float64))
    if held > jobs:  # fewer posts than holders: the poorest holders keep theirs
        rangers = poorest_within(kept, hh.measured_pc, hh.weight, jobs)
    else:  # vacancies (and new posts) to the other eligible households, poorest first
        new = poorest_within(idx[~hh.ranger_job[idx]], hh.measured_pc, hh.weight, jobs - held)
        rangers = np.concatenate([kept, new])
    hh.ranger_job = False
    hh.ranger_job[rangers] = True
    wage = p["eco.ranger_wage"]
    hh.income_local_wage[rangers] += np.float32(wage)  # distinct rows
    wages = wage * float(hh.weight[rangers].sum(dtype=np.float64))
    if wage > 0:
        reached[rangers] = True
    f["reached_ecological"] = reached
    return {"fiscal": payments + wages}


def income_contribution(model, rows: np.ndarray) -> np.ndarray:
    """This year's income (yuan) the measure gave each of the given rows: the payment for
    the farmland it returned plus the ranger wage if it holds a post (0 where none, and
    everywhere while the measure is switched off)."""
    if not model.measures.get(MEASURE.name, False):
        return np.zeros(np.size(rows))
    hh, p = model.hh, model.p
    out = np.empty(np.size(rows))
    _income_rows(np.float32(p["eco.payment_per_mu"]), np.float64(np.float32(p["eco.ranger_wage"])),
                 np.ascontiguousarray(rows, dtype=np.int64), hh.eco_mu, hh.ranger_job, out)
    return out


@numba.njit(cache=True, parallel=True)
def _income_rows(per_mu32, wage, rows, eco_mu, ranger_job, out):
    """The payment (float32, as the table adds it) plus the ranger wage of each of `rows`."""
    for k in numba.prange(rows.shape[0]):
        i = rows[k]
        mu = eco_mu[i]
        pay = np.float64(mu * per_mu32) if mu > 0 else 0.0
        out[k] = pay + (wage if ranger_job[i] else 0.0)
