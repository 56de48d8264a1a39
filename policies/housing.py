"""Dangerous-house renovation, 危房改造 (002 §10; 003 §三(二); 004 ch.2 §2.5).

Supported households living in an unsafe house (`unsafe_housing`) have it renovated or
rebuilt with a fiscal subsidy of `housing.subsidy_per_household`. Each year a share
`housing.households_per_year_share` of those eligible (weighted) is served, poorest by
measured resources first (ties by a draw from "housing_order"); the default, 1, serves all
of them. A safe house is one of the "three guarantees" of exit (002 §3; 003 §二(二)), so
an unsafe house keeps a household on the register whatever its income.

Households relocated this year already have a new house. When post-disaster
reconstruction is switched on, houses in villages hit by a disaster this year are left to
it (003 §二(四)), so that each house is paid for once and reported under its own batch.
"""

from __future__ import annotations

import numpy as np

from sim.measure import MeasureSpec


# 004 ch.2 §2.5 puts dangerous-house renovation under relocation.
MEASURE = MeasureSpec(
    "housing", "housing", False, "relocation", "relocation",
    "dangerous-house renovation for supported households in unsafe houses")
PLANNER_PARAMETERS = ("housing.subsidy_per_household",)  # what a planner sets for it (`povsim app`)
STREAMS = ("housing_order",)  # random streams of its own (`sim/streams.py`)
FIELDS_READ = ("unsafe_housing",)  # relocated households have a new house already
FIELDS_WRITTEN = ("unsafe_housing",)
# Houses in villages hit this year are left to post-disaster reconstruction, which acts after.
ACTS_BEFORE = ("disaster_reconstruction",)


def act(model, on: bool) -> dict[str, float]:
    if not on:
        return {}
    hh, p, f = model.hh, model.p, model.flows
    eligible = f["supported"] & hh.unsafe_housing & (hh.size > 0)
    if model.measures.get("disaster_reconstruction", False) and "disaster_hit" in f:
        eligible &= ~f["disaster_hit"]
    order = np.flatnonzero(eligible)
    share = p["housing.households_per_year_share"]
    if share < 1.0:  # a quota: the poorest first (with everyone served, the order is moot)
        tie = model.streams.uniform_at("housing_order", model.year, order)  # the draws of these rows only
        order = order[np.lexsort((tie, hh.measured_pc[order]))]
        cum = np.cumsum(hh.weight[order].astype(np.float64))
        quota = share * (cum[-1] if cum.size else 0.0)
        order = order[: int(np.searchsorted(cum, quota * (1 + 1e-9), side="right"))]
    renovated = np.zeros(hh.n, bool)
    renovated[order] = True
    hh.unsafe_housing &= ~renovated
    f["reached_housing"] = renovated
    households = float(hh.weight[order].astype(np.float64).sum())
    return {"fiscal": households * p["housing.subsidy_per_household"]} if order.size else {}
