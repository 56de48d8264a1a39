"""Industry support (000 §三(一)3(2); 004 ch.2 §1): each poor village has a leading industry,
70% of agricultural industry project funds go to poor households (004), cooperatives pay
members a dividend.

Candidates: supported households not yet supported by an industry project. An assigned
household receives `industry.support_per_household` once: it joins a cooperative, which
pays a yearly dividend (property income) and raises its farm income by
`industry.farm_income_gain` from then on. Membership stays with the household whatever its
register status (after exit too, 摘帽不摘帮扶, docs/register_sources.md §2f) and whether or
not the measure is still switched on: a member is reached every year it is paid.
"""

from __future__ import annotations

import numba
import numpy as np

from sim.measure import MeasureSpec
from sim.sums import weighted_sum
from sim.table import Field as F


MEASURE = MeasureSpec(
    "industry", "production", False, "industry_employment", "production_employment",
    "industry support: cooperative membership with a dividend and better farm income")
TARGETED = True
# What a planner sets for it (`povsim app`).
PLANNER_PARAMETERS = ("industry.support_per_household", "industry.dividend")
FIELDS = (  # household columns of its own (`sim/table.py: Field`)
    F("cooperative", "bool", False, "flag", "member of a supported industry cooperative"),
)
FIELDS_WRITTEN = ("cooperative", "income_farm", "income_property")
# Its gain scales the farm income, as land returned to forest does (ecological), and its
# dividend adds to property income, as asset dividends do: the results agree either way
# but for rounding, so the order is declared, cooperative first.
ACTS_BEFORE = ("assets", "ecological")


@numba.njit(cache=True, parallel=True)
def _candidate_rows(supported, cooperative, size, out):
    for i in numba.prange(size.shape[0]):
        out[i] = supported[i] and not cooperative[i] and size[i] > 0


def candidates(model) -> np.ndarray:
    """Supported households not yet in a cooperative."""
    hh = model.hh
    out = np.empty(hh.n, bool)
    _candidate_rows(model.flows["supported"], hh.cooperative, hh.size, out)
    return out


def unit_cost(model) -> float:
    return float(model.p["industry.support_per_household"])


@numba.njit(cache=True, parallel=True)
def _member_rows(gain, dividend, joined, cooperative, income_farm, income_property, reached):
    """Cooperative members farm better and receive a dividend (float32, as the table):
    every member, whatever its register status; they are the households reached."""
    keep32, dividend32 = np.float32(1.0 + gain), np.float32(dividend)
    for i in numba.prange(joined.shape[0]):
        if joined[i]:
            cooperative[i] = True
        reached[i] = cooperative[i]
        if cooperative[i]:
            income_farm[i] *= keep32
            income_property[i] += dividend32


def act(model, on: bool) -> dict[str, float]:
    hh, f, p = model.hh, model.flows, model.p
    joined = f["assigned_industry"] if on and "assigned_industry" in f else np.zeros(hh.n, bool)
    if not (hh.cooperative.any() or joined.any()):
        return {}
    reached = np.empty(hh.n, bool)
    _member_rows(float(p["industry.farm_income_gain"]), float(p["industry.dividend"] * model.price_index), joined,
                 hh.cooperative, hh.income_farm, hh.income_property, reached)
    f["reached_industry"] = reached
    return {"fiscal": float(weighted_sum(hh.weight, joined)) * p["industry.support_per_household"]} if on else {}


def income_contribution(model, rows: np.ndarray) -> np.ndarray:
    """This year's income (yuan) the measure gave each of the given rows: for a member, the
    dividend plus the farm income gained, `farm_income_gain / (1 + farm_income_gain)` of
    its farm income (exact under the later measures that scale farm income, ecological
    compensation and relocation; it also takes that share of a microcredit project's
    profit, which is added to household-business income after this measure acts)."""
    hh, p = model.hh, model.p
    gain = float(p["industry.farm_income_gain"])
    dividend = np.float64(np.float32(p["industry.dividend"] * model.price_index))
    out = np.empty(np.size(rows))
    _income_rows(dividend, gain / (1.0 + gain), np.ascontiguousarray(rows, dtype=np.int64), hh.cooperative,
                 hh.income_farm, out)
    return out


@numba.njit(cache=True, parallel=True)
def _income_rows(dividend, gain_share, rows, cooperative, income_farm, out):
    for k in numba.prange(rows.shape[0]):
        i = rows[k]
        out[k] = dividend + max(np.float64(income_farm[i]), 0.0) * gain_share if cooperative[i] else 0.0
