"""Values a measure holds for a few rows, read back at other rows (`sim/sparse.py`)."""

import numpy as np

from sim.sparse import values_at


def test_values_held_for_a_few_rows_are_read_back_at_any_rows():
    held, values = np.array([2, 5, 9]), np.array([20.0, 50.0, 90.0])
    np.testing.assert_array_equal(values_at(held, values, np.array([0, 2, 3, 5, 9, 10])), [0, 20, 0, 50, 90, 0])
    np.testing.assert_array_equal(values_at(held, values, np.array([9, 2, 5, 5, 1])), [90, 20, 50, 50, 0])
    assert not values_at(np.zeros(0, np.int64), np.zeros(0), np.array([1, 2])).any()
    rng = np.random.default_rng(3)
    held = np.unique(rng.integers(0, 10_000, 3_000))
    values = rng.random(held.size)
    rows = rng.integers(0, 10_000, 5_000)
    for r in (np.sort(rows), rows):
        at = np.minimum(np.searchsorted(held, r), held.size - 1)
        np.testing.assert_array_equal(values_at(held, values, r), np.where(held[at] == r, values[at], 0.0))
