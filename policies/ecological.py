"""Ecological compensation (002 §12; 004 ch.2 §4): farmland steeper than 25 degrees returns
to forest with compensation per mu; forest ranger and cleaner jobs go to the poor.

Households in ecologically fragile places (the `ECO_FRAGILE` location flag) that have not
relocated return `eco.mu_per_household` mu of steep farmland, once: their farm earnings
fall by `eco.farm_loss_share` and they receive `eco.payment_per_mu` a mu each year. A share
`eco.ranger_share` of supported households in those places hold a ranger job each year,
paying `eco.ranger_wage` (poorest first).
"""

from __future__ import annotations

import numpy as np

from sim.sums import weighted_sum

from sim.fields import Location

NAME = "ecological"


def act(model, on: bool) -> dict[str, float]:
    if not on:
        return {}
    hh, f, p = model.hh, model.flows, model.p
    fragile = ((hh.location_risk & Location.ECO_FRAGILE) != 0) & (hh.size > 0)
    returning = fragile & (hh.eco_mu <= 0)
    hh.eco_mu = np.where(returning, p["eco.mu_per_household"], hh.eco_mu)
    hh.income_farm *= np.where(hh.eco_mu > 0, 1.0 - p["eco.farm_loss_share"], 1.0).astype(np.float32)
    payment = hh.eco_mu * p["eco.payment_per_mu"]
    hh.income_transfers += payment.astype(np.float32)

    eligible = fragile & f["supported"] & (hh.n_working - hh.n_college - hh.n_migrants >= 1)
    idx = np.flatnonzero(eligible)
    idx = idx[np.argsort(hh.measured_pc[idx], kind="stable")]
    jobs = p["eco.ranger_share"] * float(hh.weight[idx].sum())
    rangers = idx[: int(np.searchsorted(np.cumsum(hh.weight[idx]), jobs, side="right"))]
    wage = np.zeros(hh.n)
    wage[rangers] = p["eco.ranger_wage"]
    hh.income_local_wage += wage.astype(np.float32)
    f["reached_ecological"] = (payment > 0) | (wage > 0)
    return {"fiscal": float(weighted_sum(hh.weight, payment + wage))}
