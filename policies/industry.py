"""Industry support (000 §三(一)3(2); 004 ch.2 §1): each poor village has a leading industry,
70% of agricultural industry project funds go to poor households (004), cooperatives pay
members a dividend.

Candidates: supported households not yet supported by an industry project. An assigned
household receives `industry.support_per_household` once: it joins a cooperative, which
pays a yearly dividend (property income) and raises its farm income by
`industry.farm_income_gain` from then on.
"""

from __future__ import annotations

import numpy as np

from sim.sums import weighted_sum

NAME = "industry"
TARGETED = True


def candidates(model) -> np.ndarray:
    hh = model.hh
    return model.flows["supported"] & ~hh.cooperative & (hh.size > 0)


def unit_cost(model) -> np.ndarray:
    return np.full(model.hh.n, model.p["industry.support_per_household"])


def act(model, on: bool) -> dict[str, float]:
    hh, f, p = model.hh, model.flows, model.p
    joined = f.get("assigned_industry", np.zeros(hh.n, bool)) if on else np.zeros(hh.n, bool)
    hh.cooperative |= joined
    if not hh.cooperative.any():
        return {}
    hh.income_farm *= np.where(hh.cooperative, 1.0 + p["industry.farm_income_gain"], 1.0).astype(np.float32)
    dividend = p["industry.dividend"] * model.price_index
    hh.income_property += np.where(hh.cooperative, dividend, 0.0).astype(np.float32)
    f["reached_industry"] = joined | (hh.cooperative & f["supported"])
    return {"fiscal": float(weighted_sum(hh.weight, joined)) * p["industry.support_per_household"]} if on else {}
