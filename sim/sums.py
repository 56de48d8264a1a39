"""Weighted sums without BLAS.

`np.dot` on float vectors calls the BLAS library, whose own threads busy-wait after each
call and then compete for the cores with the compiled passes' threads, slowing the next
pass by half on a two-core machine. Weighted counts and costs are plain loops here.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def weighted_people(weight, size, mask) -> float:
    """sum(weight[i] * size[i]) over the rows of `mask`, in float64, in row order."""
    total = 0.0
    for i in range(weight.shape[0]):
        if mask[i]:
            total += np.float64(weight[i]) * size[i]
    return total


@numba.njit(cache=True)
def weighted_sum(weight, values) -> float:
    """sum(weight[i] * values[i]) in float64; values may be bool, integer or float."""
    total = 0.0
    for i in range(weight.shape[0]):
        total += weight[i] * (values[i] + 0.0)  # + 0.0 turns bool and int into float
    return total
