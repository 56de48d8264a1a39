"""Post-disaster reconstruction support, 灾后重建帮扶 (003 §二(四); 003 §三(二)).

Supported households in a village hit by a disaster this year (`model.flows["disaster_hit"]`,
set by `agents/life.py`) receive relief of `disaster.relief_per_person` a member (a
transfer), and those whose house is unsafe have it rebuilt, at a fiscal cost of
`disaster.reconstruction_per_household` (003 §三(二) merges the funds for disaster-damaged
houses with those for dangerous-house renovation). Against disaster-caused poverty and
returns to poverty (003 §二(四)).
"""

from __future__ import annotations

import numpy as np

from sim.sums import weighted_sum

NAME = "disaster_reconstruction"


def act(model, on: bool) -> dict[str, float]:
    if not on:
        return {}
    hh, p, f = model.hh, model.p, model.flows
    hit = f.get("disaster_hit")
    if hit is None or not hit.any():
        return {}
    served = f["supported"] & hit & (hh.size > 0)
    relief = np.where(served, p["disaster.relief_per_person"] * hh.size, 0.0)
    hh.income_transfers += relief.astype(np.float32)
    rebuilt = served & hh.unsafe_housing
    hh.unsafe_housing &= ~rebuilt
    f["reached_disaster_reconstruction"] = served
    w = hh.weight.astype(np.float64)
    cost = float(weighted_sum(w, relief)) + p["disaster.reconstruction_per_household"] * float(weighted_sum(w, rebuilt))
    return {"fiscal": cost} if served.any() else {}
