"""Poorest first within a limit: the rule by which cadres, job schemes and budgets pick
households (the lowest measured income first, ties by row, while the cumulative weight or
cost stays within what there is).

A full stable sort of every candidate is the simple way, and too slow for a national
register (tens of millions of candidates a year). When the limit binds, only the
candidates below a key threshold can be chosen: a systematic sample estimates the key at
which the cumulative amount reaches the limit, the candidates at or below a slightly
higher threshold are sorted, and if their amounts pass the limit the answer is exactly the
one a full sort gives (the threshold is raised until they do). The stable order of a subset
is the order of those elements in the stable order of the whole.
"""

from __future__ import annotations

import numba
import numpy as np

from .sums import BLOCKS, block_rows, block_totals

PARTIAL_MIN = 200_000  # assumption: below this many candidates a full sort is cheap enough
SAMPLE = 20_000  # candidates the threshold is estimated from
MARGIN = 1.25  # the share of the limit the first threshold aims at


def ranked(idx: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Candidate rows `idx` in ascending `key` order, ties in `idx` order (row order: the
    callers' candidates come from `np.flatnonzero`).

    A float32 key and the candidate's position pack into one unique 64-bit integer whose
    order is the stable order; numpy sorts those with its vectorized quicksort (an order
    of magnitude faster than a stable argsort, and the same result)."""
    if key.dtype != np.float32 or idx.size >= 1 << 32:
        return idx[np.argsort(key[idx], kind="stable")]
    packed = np.empty(idx.size, np.uint64)
    _pack(idx, key, key.view(np.uint32), packed)
    return _sorted_rows(packed, idx)


def _ranked_below(idx: np.ndarray, key: np.ndarray, threshold) -> np.ndarray:
    """`ranked(idx[key[idx] <= threshold], key)`: `in_order` keeps `idx`'s order, so ties
    still fall in row order."""
    return ranked(in_order(idx, key <= threshold), key)


def _sorted_rows(packed: np.ndarray, idx: np.ndarray) -> np.ndarray:
    packed.sort()  # unique values: any sort gives the one order
    out = np.empty(packed.size, idx.dtype)
    _unpack(packed, idx, out)
    return out


@numba.njit(cache=True, inline="always")
def _packed(v, b, j):
    """(the order-preserving bits of a float32 v whose bits are b) << 32 | j. As numpy
    sorts: -0.0 equals 0.0, and NaN comes last."""
    b = np.uint64(b)
    if v == 0:
        b = np.uint64(0)  # +0.0
    if v != v:
        b = np.uint64(0xFFFFFFFF)
    elif b & np.uint64(0x80000000):
        b = np.uint64(0xFFFFFFFF) - b  # negative: larger magnitude first
    else:
        b |= np.uint64(0x80000000)
    return (b << np.uint64(32)) | np.uint64(j)


@numba.njit(cache=True, parallel=True)
def _pack(idx, key, bits, out):
    for j in numba.prange(idx.shape[0]):
        out[j] = _packed(key[idx[j]], bits[idx[j]], j)


@numba.njit(cache=True, parallel=True)
def _unpack(packed, idx, out):
    for j in numba.prange(packed.shape[0]):
        out[j] = idx[packed[j] & np.uint64(0xFFFFFFFF)]


@numba.njit(cache=True, parallel=True)
def _gathered_total(idx, amount):
    """sum(amount[idx]) in float64, block by block in order (the same on any thread count)."""
    sums = np.zeros((BLOCKS, 1))
    for block in numba.prange(BLOCKS):
        first, last = block_rows(block, idx.shape[0])
        t = 0.0
        for j in range(first, last):
            t += amount[idx[j]]
        sums[block, 0] = t
    return block_totals(sums)[0]


@numba.njit(cache=True)
def _leading_within(order, amount, limit, acc):
    """How many leading rows of `order` keep the running sum of `amount` (added in the
    type of `acc`, one row after another, as numpy's cumsum) within `limit`."""
    for i in range(order.shape[0]):
        acc += amount[order[i]]
        if acc > limit:
            return i
    return order.shape[0]


def _prefix(order: np.ndarray, amount: np.ndarray, limit: float, dtype) -> tuple[np.ndarray, bool]:
    """The leading rows of `order` within `limit`, and whether the limit was reached."""
    dtype = np.dtype(dtype or amount.dtype)
    if dtype in (np.float32, np.float64) and amount.dtype in (np.float32, np.float64):
        k = int(_leading_within(order, amount, float(limit), dtype.type(0.0)))
    else:
        k = int(np.searchsorted(np.cumsum(amount[order], dtype=dtype), limit, side="right"))
    return order[:k], k < order.size


def poorest_within(idx: np.ndarray, key: np.ndarray, amount: np.ndarray, limit: float,
                   dtype=None) -> np.ndarray:
    """The rows a full stable sort of `idx` by `key` would take first while the cumulative
    `amount` (summed in its own dtype, in that order) stays within `limit`, in that order.

    `key` and `amount` are indexed by row (full length); `dtype` is the cumulative sum's
    (default: the amount's). With an infinite limit every candidate is returned, sorted.
    """
    if not np.isfinite(limit):
        return ranked(idx, key)
    if idx.size < PARTIAL_MIN:
        return _prefix(ranked(idx, key), amount, limit, dtype)[0]
    total = float(_gathered_total(idx, amount))
    if total <= limit:
        return ranked(idx, key)
    sample = np.sort(key[idx[:: max(idx.size // SAMPLE, 1)]])
    share = limit / total * MARGIN
    while share < 1.0:
        threshold = sample[min(int(share * sample.size) + 1, sample.size - 1)]
        chosen, reached = _prefix(_ranked_below(idx, key, threshold), amount, limit, dtype)
        if reached:
            return chosen
        share *= 2.0
    return _prefix(ranked(idx, key), amount, limit, dtype)[0]


def in_order(order: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """`order[mask[order]]`: the rows of `order` that `mask` marks, in `order`'s order."""
    out = np.empty(order.size, order.dtype)
    return out[: _select_in_order(order, mask, out)]


@numba.njit(cache=True, parallel=True)
def _select_in_order(order, mask, out):
    n = order.shape[0]
    counts = np.zeros(BLOCKS + 1, np.int64)
    for block in numba.prange(BLOCKS):
        first, last = block_rows(block, n)
        c = 0
        for j in range(first, last):
            c += mask[order[j]]
        counts[block + 1] = c
    for block in range(BLOCKS):  # each block's first output position
        counts[block + 1] += counts[block]
    for block in numba.prange(BLOCKS):
        first, last = block_rows(block, n)
        k = counts[block]
        for j in range(first, last):
            if mask[order[j]]:
                out[k] = order[j]
                k += 1
    return counts[BLOCKS]
