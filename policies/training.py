"""Skills training (000 §三(一), §三(三)3; 002 §6; 003 §三(九); 004 ch.2 §1): every poor
household with labor has at least one member with at least one skill.

Candidates: supported households with an able working-age member and no skilled member
(the "lack of skills" cause). The government assigns them within cadre capacity and the
budget; a trained member is skilled from then on (wage premium, better migration chances).
"""

from __future__ import annotations

import numpy as np

from sim.sums import weighted_sum

NAME = "training"
TARGETED = True


def candidates(model) -> np.ndarray:
    hh = model.hh
    return model.flows["supported"] & (hh.n_working - hh.n_college >= 1) & (hh.n_skilled == 0) & (hh.size > 0)


def unit_cost(model) -> np.ndarray:
    return np.full(model.hh.n, model.p["training.cost_per_trainee"])


def act(model, on: bool) -> dict[str, float]:
    if not on:
        return {}
    hh, f = model.hh, model.flows
    trained = f.get("assigned_training", np.zeros(hh.n, bool))
    hh.n_skilled += trained.astype(np.int8)
    f["reached_training"] = trained
    return {"fiscal": float(weighted_sum(hh.weight, trained)) * model.p["training.cost_per_trainee"]}
