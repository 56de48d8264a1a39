"""Selection within places up to a limit (`sim/groups.py`) against a plain full sort, in
every rounding mode, on small and on large groups (which take the sampled-threshold path)."""

import numpy as np
import pytest

from sim.groups import FILL, NEAREST, SORT_ALL_BELOW, WITHIN, take_within
from sim.streams import u01


def brute_force(group, n_groups, idx, key, amount, limit, rounding, unit=None, draws=None):
    """The rule, written out: each group's candidates fully sorted (ties by row), then
    taken one by one; the lottery's draw of a row is `u01(stream, row, slot)`."""
    unit = amount if unit is None else unit
    draw = (np.array([u01(draws[0], int(i), draws[1]) for i in idx]) if draws is not None
            else np.ones(amount.size))
    taken = np.zeros(group.size, bool)
    key32 = key.astype(np.float32)
    for g in range(n_groups):
        mine = np.flatnonzero(group[idx] == g)
        order = mine[np.argsort(key32[mine], kind="stable")]
        if amount[mine].sum() <= limit[g]:
            taken[idx[mine]] = True
            continue
        total = 0.0
        for k, j in enumerate(order):
            if total + amount[j] <= limit[g]:
                total += amount[j]
                taken[idx[j]] = True
                continue
            if rounding == NEAREST and total + amount[j] - limit[g] < limit[g] - total:
                taken[idx[j]] = True
            if rounding != FILL:
                break
            fit = np.floor((limit[g] - total) / unit[j])
            if fit >= 1:  # a lottery for the row that partly fits, then stop
                if draw[j] < fit * unit[j] / amount[j]:
                    taken[idx[j]] = True
                break
    return taken


@pytest.mark.parametrize("rounding", [WITHIN, NEAREST, FILL])
@pytest.mark.parametrize("size", [30, 3 * SORT_ALL_BELOW])
def test_take_within_is_a_full_sort_prefix(rounding, size):
    rng = np.random.default_rng(size + rounding)
    for trial in range(5):
        n_rows, n_groups = 2 * size, 3
        group = rng.integers(0, n_groups, n_rows)
        idx = np.flatnonzero(rng.random(n_rows) < 0.7)
        key = rng.normal(size=idx.size)
        if trial % 2:
            key = np.round(key, 1)  # many ties
        amount = rng.choice([1.0, 2.0, 3.0, 50.0], idx.size)
        limit = np.array([amount.sum() * share / n_groups for share in (0.1, 0.5, 2.0)])
        got = take_within(group, n_groups, idx, key, amount, limit, rounding)
        want = brute_force(group, n_groups, idx, key, amount, limit, rounding)
        np.testing.assert_array_equal(got, want)
        if rounding != NEAREST:
            for g in range(n_groups):
                assert (amount * got[idx])[group[idx] == g].sum() <= limit[g]  # never exceeded


@pytest.mark.parametrize("rounding", [WITHIN, NEAREST, FILL])
def test_groups_of_a_few_hundred_with_signed_zeros_and_infinities(rounding):
    """Groups between the insertion sort's few keys and the sampled threshold's many,
    sorted whole by the radix sort, with keys that share bytes, signed zeros and
    infinities (as the stable argsort orders them: -0.0 equal to 0.0)."""
    rng = np.random.default_rng(7 + rounding)
    for trial in range(5):
        n_rows, n_groups = 3000, 7
        group = rng.integers(0, n_groups, n_rows)
        idx = np.flatnonzero(rng.random(n_rows) < 0.8)
        key = rng.choice([-np.inf, -1.5, -0.0, 0.0, 1e-3, 1.0 + 2.0 ** -20, 1.0, 2.5, np.inf], idx.size)
        if trial % 2:
            key = key + np.round(rng.normal(size=idx.size), 2) * (rng.random(idx.size) < 0.5)
        unit = rng.integers(1, 6, idx.size).astype(float)
        amount = unit * rng.choice([1.0, 10.0], idx.size)
        draws = (np.uint64(rng.integers(1, 2**63)), 2)
        limit = amount.sum() / n_groups * rng.choice([0.05, 0.3, 0.7, 1.5], n_groups)
        got = take_within(group, n_groups, idx, key, amount, limit, rounding, unit=unit, draws=draws)
        want = brute_force(group, n_groups, idx, key, amount, limit, rounding, unit=unit, draws=draws)
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("size", [30, 3 * SORT_ALL_BELOW])
def test_fill_with_weighted_rows_is_the_full_sort_rule(size):
    rng = np.random.default_rng(size)
    for trial in range(5):
        n_rows, n_groups = 2 * size, 3
        group = rng.integers(0, n_groups, n_rows)
        idx = np.flatnonzero(rng.random(n_rows) < 0.7)
        key = np.round(rng.normal(size=idx.size), 1 + trial % 2)
        unit = rng.integers(1, 6, idx.size).astype(float)  # household sizes
        amount = unit * rng.choice([1.0, 10.0, 50.0], idx.size)  # rows standing for 1, 10 or 50 households
        draws = (np.uint64(rng.integers(1, 2**63)), 3)
        limit = np.array([amount.sum() * share / n_groups for share in (0.05, 0.4, 0.9)])
        got = take_within(group, n_groups, idx, key, amount, limit, FILL, unit=unit, draws=draws)
        want = brute_force(group, n_groups, idx, key, amount, limit, FILL, unit=unit, draws=draws)
        np.testing.assert_array_equal(got, want)


def test_a_row_standing_for_several_households_fills_a_quota_on_average():
    """A quota of 30 people, one row of 10 households of 5 people (50): 6 of its households
    fit, so it is taken with chance 6/10; over many draws the quota is filled on average."""
    group, idx = np.zeros(1, np.int64), np.array([0])
    taken = [take_within(group, 1, idx, np.zeros(1), np.array([50.0]), np.array([30.0]), FILL,
                         unit=np.array([5.0]), draws=(np.uint64(key), 0))[0] for key in range(1, 4001)]
    assert np.mean(taken) * 50 == pytest.approx(30, rel=0.05)


def test_fill_passes_over_a_household_too_large_for_what_is_left():
    group = np.zeros(3, np.int64)
    idx = np.arange(3)
    taken = take_within(group, 1, idx, np.array([0.0, 1.0, 2.0]), np.array([3.0, 5.0, 2.0]), np.array([6.0]), FILL)
    assert taken.tolist() == [True, False, True]
    taken = take_within(group, 1, idx, np.array([0.0, 1.0, 2.0]), np.array([3.0, 5.0, 2.0]), np.array([6.0]), WITHIN)
    assert taken.tolist() == [True, False, False]


def test_no_limit_takes_everyone_and_no_candidates_take_no_one():
    group = np.array([0, 1, 1])
    taken = take_within(group, 2, np.array([0, 2]), np.array([1.0, 0.0]), np.array([5.0, 5.0]),
                        np.array([np.inf, np.inf]))
    assert taken.tolist() == [True, False, True]
    assert not take_within(group, 2, np.array([], np.int64), np.array([]), np.array([]), np.zeros(2)).any()


def test_a_priority_keeps_the_order_within_each_part_through_float32():
    """Two households in the plan (closeness 1.30 and 1.33) and one not (2.0): the planned
    ones first, the higher closeness first among them, although float32 near a large
    offset would round the two together."""
    from sim.groups import priority_key
    closeness = np.array([1.30, 1.33, 2.0])
    key = priority_key(-closeness, np.array([True, True, False]))
    group, idx = np.zeros(3, np.int64), np.arange(3)
    taken = take_within(group, 1, idx, key, np.ones(3), np.array([1.0]), FILL)
    assert taken.tolist() == [False, True, False]
    taken = take_within(group, 1, idx, key, np.ones(3), np.array([2.0]), FILL)
    assert taken.tolist() == [True, True, False]


def test_many_groups_are_put_in_the_order_of_a_stable_sort():
    """Villages (more groups than the one-pass ordering handles) are ordered in two levels;
    the order within each group is still the candidates' own, as a stable sort gives, and
    their keys, amounts and units move with them."""
    from sim.groups import PARALLEL_GROUPS_MAX, _group_order_two_levels

    rng = np.random.default_rng(7)
    for n_groups in (PARALLEL_GROUPS_MAX + 1, 3 * PARALLEL_GROUPS_MAX + 5):
        group = rng.integers(0, n_groups, 200_000)
        group[:50] = n_groups - 1  # the last group, of a run shorter than the others
        idx = np.flatnonzero(rng.random(group.size) < 0.6)
        key = rng.random(idx.size).astype(np.float32)
        amount, unit = rng.random(idx.size), rng.random(idx.size)
        starts, rows, keys, amounts, units = _group_order_two_levels(idx, group, n_groups, key, amount, unit, True)
        order = np.argsort(group[idx], kind="stable")
        np.testing.assert_array_equal(rows, idx[order])
        np.testing.assert_array_equal(keys, key[order])
        np.testing.assert_array_equal(amounts, amount[order])
        np.testing.assert_array_equal(units, unit[order])
        np.testing.assert_array_equal(starts, np.concatenate([[0], np.cumsum(np.bincount(group[idx],
                                                                                        minlength=n_groups))]))

