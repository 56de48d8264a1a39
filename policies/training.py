"""Skills training (000 §三(一), §三(三)3; 002 §6; 003 §三(九); 004 ch.2 §1): every poor
household with labor has at least one member with at least one skill.

Candidates: supported households with an able working-age member and no skilled member
(the "lack of skills" cause). The government assigns them within cadre capacity and the
budget; a trained member is skilled from then on (wage premium, better migration chances).
"""

from __future__ import annotations

import numba
import numpy as np

from sim.measure import MeasureSpec
from sim.sums import weighted_sum


MEASURE = MeasureSpec(
    "training", "skills", False, "industry_employment", "production_employment",
    "skills training: one member of each poor household with labor trained")
TARGETED = True
PLANNER_PARAMETERS = ("training.cost_per_trainee",)  # what a planner sets for it (`povsim app`)
FIELDS_WRITTEN = ("n_skilled",)


@numba.njit(cache=True, parallel=True)
def _candidate_rows(supported, n_working, n_college, n_skilled, size, out):
    for i in numba.prange(size.shape[0]):
        out[i] = supported[i] and n_working[i] - n_college[i] >= 1 and n_skilled[i] == 0 and size[i] > 0


def candidates(model) -> np.ndarray:
    """Supported households with a working-age member at home and no skilled member."""
    hh = model.hh
    out = np.empty(hh.n, bool)
    _candidate_rows(model.flows["supported"], hh.n_working, hh.n_college, hh.n_skilled, hh.size, out)
    return out


def unit_cost(model) -> float:
    return float(model.p["training.cost_per_trainee"])


def act(model, on: bool) -> dict[str, float]:
    if not on:
        return {}
    hh, f = model.hh, model.flows
    trained = f["assigned_training"] if "assigned_training" in f else np.zeros(hh.n, bool)
    hh.n_skilled += trained.astype(np.int8)
    f["reached_training"] = trained
    return {"fiscal": float(weighted_sum(hh.weight, trained)) * model.p["training.cost_per_trainee"]}
