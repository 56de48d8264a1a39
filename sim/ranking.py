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

import numpy as np

PARTIAL_MIN = 200_000  # assumption: below this many candidates a full sort is cheap enough
SAMPLE = 20_000  # candidates the threshold is estimated from
MARGIN = 1.25  # the share of the limit the first threshold aims at


def ranked(idx: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Candidate rows `idx` in ascending `key` order, ties in row order."""
    return idx[np.argsort(key[idx], kind="stable")]


def _prefix(order: np.ndarray, amount: np.ndarray, limit: float, dtype) -> tuple[np.ndarray, bool]:
    """The leading rows of `order` within `limit`, and whether the limit was reached."""
    cum = np.cumsum(amount[order], dtype=dtype)
    k = int(np.searchsorted(cum, limit, side="right"))
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
    keys = key[idx]
    total = float(amount[idx].sum(dtype=np.float64))
    if total <= limit:
        return ranked(idx, key)
    sample = np.sort(keys[:: max(idx.size // SAMPLE, 1)])
    share = limit / total * MARGIN
    while share < 1.0:
        threshold = sample[min(int(share * sample.size) + 1, sample.size - 1)]
        chosen, reached = _prefix(ranked(idx[keys <= threshold], key), amount, limit, dtype)
        if reached:
            return chosen
        share *= 2.0
    return _prefix(ranked(idx, key), amount, limit, dtype)[0]
