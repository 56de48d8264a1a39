"""The village appraisal (民主评议): how poor a household looks to the village.

Households were identified "with income as the main basis, housing, health and
education also considered", by application, village appraisal and two rounds of public
notice (国开办发〔2014〕24号; Xinhua 2014-12-24; docs/register_sources.md §1d). The score
mixes the cadres' measured per-capita income (log, relative to the line) with what
neighbours see: an unsafe house, a chronically ill or disabled member, little labor; and
the judgement of the meeting (a normal error). The lower the score, the poorer the
household looks. Inclusion and exclusion errors of the register follow from the score's
error and its non-income parts.
"""

from __future__ import annotations

import numba
import numpy as np

from .fields import Labor
from .streams import normal01

NONE, PARTIAL = int(Labor.NONE), int(Labor.PARTIAL)
WEIGHTS = ("register.appraisal_weight_housing", "register.appraisal_weight_illness",
           "register.appraisal_weight_disability", "register.appraisal_weight_labor")


@numba.njit(cache=True, parallel=True, error_model="numpy")
def _score_rows(key, noise, weights, line, rows, measured_pc, unsafe_housing, n_chronic, n_disabled, labor, out):
    w_housing, w_illness, w_disability, w_labor = weights
    for k in numba.prange(rows.shape[0]):
        i = rows[k]
        lacking = 1.0 if labor[i] == NONE else (0.5 if labor[i] == PARTIAL else 0.0)
        out[k] = (np.log(max(np.float64(measured_pc[i]), 1.0) / line)
                  - w_housing * unsafe_housing[i] - w_illness * (n_chronic[i] > 0)
                  - w_disability * (n_disabled[i] > 0) - w_labor * lacking
                  + noise * normal01(key, i, 0))


def score(model, line: float, year: int, rows: np.ndarray) -> np.ndarray:
    """The appraisal scores in `year` of the given rows (one "appraisal" draw per row and
    year, the same whichever rows are scored)."""
    hh, p = model.hh, model.p
    out = np.empty(rows.size)
    _score_rows(model.streams.key("appraisal", year), float(p["register.appraisal_noise"]),
                tuple(float(p[name]) for name in WEIGHTS), float(line), rows, hh.measured_pc, hh.unsafe_housing,
                hh.n_chronic, hh.n_disabled, hh.labor, out)
    return out
