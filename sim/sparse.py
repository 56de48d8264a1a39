"""Values a year holds for a few rows, read back at other rows.

Some measures keep what they paid sparsely: the rows they reached (ascending row numbers)
and a value for each. Exit routes read those values at the rows that exited, also
ascending, so both lists are walked once side by side instead of searching one in the
other row by row.
"""

from __future__ import annotations

import numba
import numpy as np



def values_at(held_rows: np.ndarray, values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The value held for each of `rows` (float64; 0 where none is held). `held_rows` are
    ascending; `rows` may come in any order (ascending is the fast case)."""
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    out = np.zeros(rows.shape[0])
    if held_rows.shape[0] == 0 or rows.shape[0] == 0:
        return out
    _values_at(np.ascontiguousarray(held_rows, dtype=np.int64), np.ascontiguousarray(values, dtype=np.float64),
               rows, out)
    return out


@numba.njit(cache=True)
def _values_at(held, values, rows, out):
    k = 0
    for j in range(rows.shape[0]):
        r = rows[j]
        if j > 0 and r < rows[j - 1]:  # out of order: find its place by bisection
            k = np.searchsorted(held, r)
        while k < held.shape[0] and held[k] < r:
            k += 1
        if k < held.shape[0] and held[k] == r:
            out[j] = values[k]

