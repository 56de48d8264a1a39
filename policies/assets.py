"""Asset income (002 §17; 003 §四(三)): fiscal funds invested in solar, hydro, farming or
tourism assets are quantified as shares for poor households, first those without labor,
with a guaranteed minimum return plus dividends.

Candidates: supported households without shares; households without labor come first
(the government's poorest-first order is applied within each labor class). An assigned
household's shares cost `assets.investment_per_household` once and pay each year the
larger of the guaranteed minimum and the asset's return (shocked by the county's prices).
The shares stay with the household whatever its register status (after exit too,
摘帽不摘帮扶, docs/register_sources.md §2f) and whether or not the measure is still
switched on: a shareholder is reached every year it is paid.
"""

from __future__ import annotations

import numba
import numpy as np

from sim.measure import MeasureSpec
from sim.sums import weighted_sum
from sim.table import Field as F


MEASURE = MeasureSpec(
    "assets", "production", False, "industry_employment", "production_employment",
    "asset income: shares in fiscal-funded assets, first for households without labor")
TARGETED = True
# What a planner sets for it (`povsim app`).
PLANNER_PARAMETERS = ("assets.investment_per_household", "assets.return_rate")
FIELDS = (  # household columns of its own (`sim/table.py: Field`)
    F("asset_shares", "bool", False, "flag", "holds shares in fiscal-funded assets"),
)
FIELDS_WRITTEN = ("asset_shares", "income_property")


def candidates(model) -> np.ndarray:
    hh = model.hh
    eligible = model.flows["supported"] & ~hh.asset_shares & (hh.size > 0)
    if model.p["assets.no_labor_first"]:
        for labor_class in (0, 1, 2):  # none, partial, full: the first class with candidates
            first = eligible & (hh.labor == labor_class)
            if first.any():
                return first
    return eligible


def unit_cost(model) -> float:
    return float(model.p["assets.investment_per_household"])


@numba.njit(cache=True, parallel=True)
def _dividend_rows(per_household_return, min_dividend, new, county, price_shock, asset_shares, income_property,
                   reached):
    """Shareholders receive the larger of the guaranteed minimum and the asset's return
    (float32, as the table): every shareholder, whatever its register status; they are
    the households reached."""
    ret32, min32 = np.float32(per_household_return), np.float32(min_dividend)
    for i in numba.prange(new.shape[0]):
        if new[i]:
            asset_shares[i] = True
        if asset_shares[i]:
            income_property[i] += max(ret32 * price_shock[county[i]], min32)
        reached[i] = asset_shares[i]


def act(model, on: bool) -> dict[str, float]:
    hh, f, p = model.hh, model.flows, model.p
    new = f["assigned_assets"] if on and "assigned_assets" in f else np.zeros(hh.n, bool)
    if not (hh.asset_shares.any() or new.any()):
        return {}
    reached = np.empty(hh.n, bool)
    _dividend_rows(float(p["assets.investment_per_household"] * p["assets.return_rate"]),
                   float(p["assets.min_dividend"]), new, hh.county, model.counties.price_shock, hh.asset_shares,
                   hh.income_property, reached)
    f["reached_assets"] = reached
    return {"fiscal": float(weighted_sum(hh.weight, new)) * p["assets.investment_per_household"]} if on else {}


def income_contribution(model, rows: np.ndarray) -> np.ndarray:
    """This year's dividend (yuan) of each of the given rows (0 without shares), as `act`
    pays it: the larger of the guaranteed minimum and the return under the county's price
    shock (float32, as the table)."""
    hh, p = model.hh, model.p
    ret32 = np.float32(p["assets.investment_per_household"] * p["assets.return_rate"])
    min32 = np.float32(p["assets.min_dividend"])
    out = np.empty(np.size(rows))
    _dividend_at(ret32, min32, np.ascontiguousarray(rows, dtype=np.int64), hh.asset_shares, hh.county,
                   model.counties.price_shock, out)
    return out


@numba.njit(cache=True, parallel=True)
def _dividend_at(ret32, min32, rows, asset_shares, county, price_shock, out):
    """The dividend of each of `rows`, computed in float32 as `act` pays it."""
    for k in numba.prange(rows.shape[0]):
        i = rows[k]
        out[k] = np.float64(max(ret32 * price_shock[county[i]], min32)) if asset_shares[i] else 0.0
