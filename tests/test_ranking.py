"""Poorest first within a limit: the partial sort must take exactly the rows a full stable
sort takes, ties and all."""

import numpy as np
import pytest

from sim import ranking


def full_sort_prefix(idx, key, amount, limit, dtype=None):
    order = idx[np.argsort(key[idx], kind="stable")]
    cum = np.cumsum(amount[order], dtype=dtype)
    return order[: int(np.searchsorted(cum, limit, side="right"))]


@pytest.mark.parametrize("share", [0.001, 0.05, 0.3, 0.9, 1.0, 2.0])
def test_partial_sort_takes_what_a_full_sort_takes(monkeypatch, share):
    monkeypatch.setattr(ranking, "PARTIAL_MIN", 100)
    monkeypatch.setattr(ranking, "SAMPLE", 50)
    rng = np.random.default_rng(3)
    n = 20_000
    # coarse keys make many ties; uneven weights make the cut fall inside tie groups
    key = np.round(rng.lognormal(8, 0.6, n), -2).astype(np.float32)
    key[rng.random(n) < 0.01] = np.inf  # empty households are measured at infinity
    weight = rng.choice(np.array([1.0, 2.5, 40.0], np.float32), n)
    idx = np.flatnonzero(rng.random(n) < 0.7)
    limit = share * float(weight[idx].sum(dtype=np.float64))
    got = ranking.poorest_within(idx, key, weight, limit, dtype=np.float64)
    want = full_sort_prefix(idx, key, weight, limit, np.float64)
    np.testing.assert_array_equal(got, want)


def test_no_limit_returns_every_candidate_poorest_first():
    key = np.array([5.0, 1.0, 3.0, 1.0], np.float32)
    got = ranking.poorest_within(np.arange(4), key, np.ones(4, np.float32), np.inf)
    np.testing.assert_array_equal(got, [1, 3, 2, 0])


def test_small_limit_takes_the_poorest_whole_households_only():
    key = np.array([5.0, 1.0, 3.0, 2.0], np.float32)
    weight = np.array([1.0, 1.0, 1.0, 1.0], np.float32)
    got = ranking.poorest_within(np.arange(4), key, weight, 2.5)
    np.testing.assert_array_equal(got, [1, 3])


def test_ranked_is_the_stable_order_with_signed_zeros_infinities_and_nans():
    """The packed-integer sort must order exactly as numpy's stable argsort: negative keys
    (incomes after losses) before positive, -0.0 tied with 0.0, NaN last, ties by position."""
    rng = np.random.default_rng(5)
    n = 5000
    key = np.round(rng.normal(0, 3000, n), -3).astype(np.float32)  # many ties, both signs
    for value, share in ((0.0, 0.1), (-0.0, 0.05), (np.inf, 0.01), (-np.inf, 0.01), (np.nan, 0.01),
                         (-np.nan, 0.01)):
        key[rng.random(n) < share] = value
    idx = np.flatnonzero(rng.random(n) < 0.7)
    for candidates in (idx, rng.permutation(idx), idx[:0]):
        want = candidates[np.argsort(key[candidates], kind="stable")]
        np.testing.assert_array_equal(ranking.ranked(candidates, key), want)
