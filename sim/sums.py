"""Weighted sums without BLAS.

`np.dot` on float vectors calls the BLAS library, whose own threads busy-wait after each
call and then compete for the cores with the compiled passes' threads, slowing the next
pass by half on a two-core machine. Weighted counts and costs are plain loops here.
"""

from __future__ import annotations

import numba
import numpy as np

# Row blocks that parallel passes sum separately, then add up in block order: the same
# totals on any number of threads.
# assumption: enough blocks to keep a few dozen threads busy, few enough that their sums cost nothing
BLOCKS = 64


@numba.njit(cache=True, inline="always")
def block_rows(block, n):
    """(first, past-last) row of a block of n rows, unsigned: a loop over them indexes the
    columns without checking for negative indices (the check keeps loops from vectorizing)."""
    step = (n + BLOCKS - 1) // BLOCKS
    return np.uint64(min(block * step, n)), np.uint64(min((block + 1) * step, n))


# Row ranges that passes scattering into villages sum into separate copies, then add in
# order (a pass scattering into 580,000 villages waits on memory; two run side by side).
# assumption: one part per core of the two-core machine measured; each part costs a copy of the sums
PLACE_PARTS = 2


@numba.njit(cache=True, inline="always")
def part_rows(part, n):
    """(first, past-last) row of one of the `PLACE_PARTS` row ranges of n rows, unsigned."""
    return np.uint64(part * n // PLACE_PARTS), np.uint64((part + 1) * n // PLACE_PARTS)


@numba.njit(cache=True)
def gather(by_place, place, out):
    """out[j] = by_place[place[j]] (a village's or county's value for each row of a block),
    in a loop of its own: a loop that gathers is not vectorized, so passes gather first."""
    for j in range(np.uint64(out.shape[0])):
        out[j] = by_place[place[j]]


@numba.njit(cache=True)
def clear_block(out):
    """out[:] = False, in a loop the compiler vectorizes (for a block of a parallel pass)."""
    for j in range(np.uint64(out.shape[0])):
        out[j] = False


@numba.njit(cache=True)
def block_totals(sums):
    """Column totals of per-block sums (BLOCKS x k), added in block order."""
    out = np.zeros(sums.shape[1])
    for block in range(sums.shape[0]):
        for k in range(sums.shape[1]):
            out[k] += sums[block, k]
    return out


@numba.njit(cache=True, inline="always")
def _term(weight, values, i):
    return np.float64(weight[i]) * (values[i] + 0.0)  # + 0.0 turns bool and int into float


@numba.njit(cache=True, inline="always")
def _masked_term(weight, size, mask, i):
    return np.float64(weight[i]) * (size[i] * mask[i])  # no branch: the mask is unpredictable


@numba.njit(cache=True)
def weighted_people(weight, size, mask) -> float:
    """sum(weight[i] * size[i]) over the rows of `mask`, in float64, in a fixed order."""
    a0 = a1 = a2 = a3 = 0.0
    n = weight.shape[0]
    whole = n - n % 4
    for i in range(0, whole, 4):
        a0 += _masked_term(weight, size, mask, i)
        a1 += _masked_term(weight, size, mask, i + 1)
        a2 += _masked_term(weight, size, mask, i + 2)
        a3 += _masked_term(weight, size, mask, i + 3)
    for i in range(whole, n):
        a0 += _masked_term(weight, size, mask, i)
    return (a0 + a1) + (a2 + a3)


@numba.njit(cache=True)
def weighted_sum(weight, values) -> float:
    """sum(weight[i] * values[i]) in float64, in a fixed order; values may be bool, integer or float.

    Row i adds into partial sum i % 4 and the partial sums are added last, always in the
    same order: the same total on any machine and any number of threads, and four times
    faster than one running sum (whose every addition waits for the one before)."""
    a0 = a1 = a2 = a3 = 0.0
    n = weight.shape[0]
    whole = n - n % 4
    for i in range(0, whole, 4):
        a0 += _term(weight, values, i)
        a1 += _term(weight, values, i + 1)
        a2 += _term(weight, values, i + 2)
        a3 += _term(weight, values, i + 3)
    for i in range(whole, n):
        a0 += _term(weight, values, i)
    return (a0 + a1) + (a2 + a3)

