"""Asset income (002 §17; 003 §四(三)): fiscal funds invested in solar, hydro, farming or
tourism assets are quantified as shares for poor households, first those without labor,
with a guaranteed minimum return plus dividends.

Candidates: supported households without shares; households without labor come first
(the government's poorest-first order is applied within each labor class). An assigned
household's shares cost `assets.investment_per_household` once and pay each year the
larger of the guaranteed minimum and the asset's return (shocked by the county's prices).
"""

from __future__ import annotations

import numpy as np

from sim.sums import weighted_sum

NAME = "assets"
TARGETED = True


def candidates(model) -> np.ndarray:
    hh = model.hh
    eligible = model.flows["supported"] & ~hh.asset_shares & (hh.size > 0)
    if model.p["assets.no_labor_first"]:
        for labor_class in (0, 1, 2):  # none, partial, full: the first class with candidates
            first = eligible & (hh.labor == labor_class)
            if first.any():
                return first
    return eligible


def unit_cost(model) -> np.ndarray:
    return np.full(model.hh.n, model.p["assets.investment_per_household"])


def act(model, on: bool) -> dict[str, float]:
    hh, f, p = model.hh, model.flows, model.p
    new = f.get("assigned_assets", np.zeros(hh.n, bool)) if on else np.zeros(hh.n, bool)
    hh.asset_shares |= new
    if not hh.asset_shares.any():
        return {}
    ret = p["assets.investment_per_household"] * p["assets.return_rate"] * model.counties.price_shock[hh.county]
    dividend = np.maximum(ret, p["assets.min_dividend"])
    hh.income_property += np.where(hh.asset_shares, dividend, 0.0).astype(np.float32)
    f["reached_assets"] = hh.asset_shares & f["supported"]
    return {"fiscal": float(weighted_sum(hh.weight, new)) * p["assets.investment_per_household"]} if on else {}
