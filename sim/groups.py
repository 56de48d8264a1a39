"""Selection within places up to a limit: the rule behind the register's quotas and plans.

Villages register households up to their quota, counties admit applicants up to theirs
and exit households up to their plan. Each is the same operation: within each group
(village or county), take the candidates in ascending order of a key (a float32; ties in
the order given, which is row order), while the cumulative amount (weighted people) stays
within the group's limit.

Candidates are put in group order by a stable counting sort (one pass over them), their
keys and amounts moved with them, so that each group's candidates lie side by side; the
groups are then worked on in parallel. A group whose candidates all fit takes them all
unsorted. A large group sorts only the candidates below a key threshold estimated from a
sample of its keys (raised until the ones below it reach the limit), which takes exactly
what a full stable sort would (`sim/ranking.py` does the same for one group). The result
depends only on the keys, amounts, limits and draws, never on the number of threads.
"""

from __future__ import annotations

import numba
import numpy as np

from .ranking import _packed
from .streams import u01
from .sums import BLOCKS, block_rows

# How the first candidate that does not fit is treated:
# - `WITHIN` stops before it;
# - `NEAREST` takes it when that leaves the total nearer the limit, and stops (a share of a
#   total met on average);
# - `FILL` (a quota never exceeded, filled as far as whole households allow) passes over it
#   when not one household of it fits and goes on with the next; when some of the
#   households a weighted sample row stands for fit (k of its w), it takes the row with
#   chance k / w, one draw, and stops. At full size (rows of one household) that is "pass
#   over what does not fit"; on a sample it fills the quota as the full population would,
#   on average, where stopping at the row would fill coarse samples less than fine ones.
WITHIN, NEAREST, FILL = 0, 1, 2
SORT_ALL_BELOW = 4096  # assumption: below this many candidates a group sorts them all
SAMPLE = 1024  # keys of a large group its threshold is estimated from
MARGIN = 1.25  # the share of the limit the first threshold aims at
# assumption: up to this many groups (counties, not villages) each block's counts per group
# are small enough to keep (BLOCKS x groups), and the candidates are put in order in parallel
PARALLEL_GROUPS_MAX = 1 << 14
RUNS = 1 << 10  # assumption: many groups are ordered first by this many runs of consecutive groups
# Slots of the "quota" stream, one per selection that may hold a lottery in a year.
SLOT_BALANCE, SLOT_ADJUSTMENT, SLOT_EXIT, SLOT_PRESSURE, SLOT_MONITORING = range(5)


@numba.njit(cache=True, inline="always")
def priority(value: float, first: bool) -> float:
    """One row's key of `priority_key` (for compiled passes that build keys themselves)."""
    return value / (1.0 + abs(value)) - 3.0 * first


@numba.njit(cache=True)
def _priority_rows(values, first, out):
    for k in range(values.shape[0]):
        out[k] = priority(values[k], first[k])


def priority_key(values: np.ndarray, first: np.ndarray) -> np.ndarray:
    """A key ordering the rows of `first` before the others, each part by `values`: the
    values squashed into (-1, 1) (v / (1 + |v|), order kept), the first ones moved down
    by 3. Squashed, the order survives the float32 the selection sorts by (an offset added
    to the raw values would round nearby values together)."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    out = np.empty(values.shape[0])
    _priority_rows(values, np.ascontiguousarray(first, dtype=np.bool_), out)
    return out


def row_people(hh, rows: np.ndarray) -> np.ndarray:
    """The people each of `rows` stands for (weight times size, float64): the amount the
    register's selections count."""
    return hh.weight[rows].astype(np.float64) * hh.size[rows]


def lottery(model, slot: int, year: int | None = None) -> tuple:
    """The draws of a `FILL` selection's lottery: the "quota" stream of the year, one slot
    per selection (two selections of a year draw independently); a row's draw is
    `u01(key, row, slot)`, taken only for the row that partly fits."""
    return np.uint64(model.streams.key("quota", model.year if year is None else year)), int(slot)


def take_within(group: np.ndarray, n_groups: int, idx: np.ndarray, key: np.ndarray, amount: np.ndarray,
                limit: np.ndarray, rounding: int = WITHIN, unit: np.ndarray | None = None,
                draws: tuple | None = None) -> np.ndarray:
    """The candidate rows taken, as a mask over all rows (`group`'s length).

    `idx` are the candidate rows in row order; `key`, `amount` and (for `FILL`) `unit`
    (the amount of one of the households a row stands for: its size) are given per
    candidate, aligned with `idx`; `draws` (`lottery`) are the stream and slot of the
    lottery of a row that partly fits (without them such a row is passed over). A limit of
    inf takes every candidate of its group."""
    taken = np.zeros(group.shape[0], bool)
    if idx.size == 0:
        return taken
    key32 = np.ascontiguousarray(key, dtype=np.float32)
    amount = np.ascontiguousarray(amount, dtype=np.float64)
    own_unit = unit is not None
    unit = np.ascontiguousarray(unit, dtype=np.float64) if own_unit else amount
    if n_groups <= PARALLEL_GROUPS_MAX:
        starts, _, rows, keys, amounts, units = _group_order_blocks(idx, group, n_groups, 0, key32, amount, unit,
                                                                    own_unit)
    else:
        starts, rows, keys, amounts, units = _group_order_two_levels(idx, group, n_groups, key32, amount, unit,
                                                                     own_unit)
    if not own_unit:
        units = amounts
    stream, slot = draws if draws is not None else (np.uint64(0), -1)
    _take_groups(starts, rows, keys, keys.view(np.uint32), amounts, units, np.uint64(stream), int(slot),
                 np.ascontiguousarray(limit, dtype=np.float64), rounding, taken)
    return taken


@numba.njit(cache=True, parallel=True)
def _group_order_blocks(idx, group, n_groups, shift, key, amount, unit, own_unit):
    """The candidates in order of their group `group[idx[j]] >> shift`, their order kept
    within a group (a stable counting sort): where each group's run starts
    (starts[g]..starts[g + 1]), and per position its own group, row, key, amount and
    (`own_unit`; else an empty array) unit. The candidates' values move with them, so
    that the selection reads each group's candidates side by side. In parallel: each
    block of candidates counts its groups, the counts give every block its place in every
    group's run, and the blocks fill them at once."""
    n = idx.shape[0]
    counts = np.zeros((BLOCKS, n_groups), np.int64)
    for block in numba.prange(BLOCKS):
        a, b = block_rows(block, n)
        c = counts[block]
        for j in range(a, b):
            c[group[idx[j]] >> shift] += 1
    starts = np.zeros(n_groups + 1, np.int64)
    fill = np.empty((BLOCKS, n_groups), np.int64)
    at = 0
    for g in range(n_groups):
        starts[g] = at
        for block in range(BLOCKS):
            fill[block, g] = at
            at += counts[block, g]
    starts[n_groups] = at
    groups = np.empty(n, np.int32)
    rows = np.empty(n, np.int64)
    keys = np.empty(n, np.float32)
    amounts = np.empty(n)
    units = np.empty(n if own_unit else 0)
    for block in numba.prange(BLOCKS):
        a, b = block_rows(block, n)
        f = fill[block]
        for j in range(a, b):
            i = idx[j]
            full = group[i]
            g = full >> shift
            at = f[g]
            groups[at] = full
            rows[at] = i
            keys[at] = key[j]
            amounts[at] = amount[j]
            if own_unit:
                units[at] = unit[j]
            f[g] = at + 1
    return starts, groups, rows, keys, amounts, units


@numba.njit(cache=True, parallel=True)
def _group_order_two_levels(idx, group, n_groups, key, amount, unit, own_unit):
    """The same order for many groups (villages): first by runs of 2^shift consecutive
    groups (few runs, so the first pass writes to few places), then each run by its own
    groups, the runs in parallel (a run's candidates fit in cache). Stable at both levels,
    so the order within a group is the candidates' order, as a single counting sort gives.
    Returns the starts and the rows, keys, amounts and units in that order."""
    shift = 0
    while (n_groups >> shift) >= RUNS:
        shift += 1
    n_runs = ((n_groups - 1) >> shift) + 1
    run_starts, group_of, by_rows, by_keys, by_amounts, by_units = _group_order_blocks(
        idx, group, n_runs, shift, key, amount, unit, own_unit)
    width = 1 << shift
    n = idx.shape[0]
    starts = np.empty(n_groups + 1, np.int64)
    starts[n_groups] = n
    rows = np.empty(n, np.int64)
    keys = np.empty(n, np.float32)
    amounts = np.empty(n)
    units = np.empty(n if own_unit else 0)
    for r in numba.prange(n_runs):
        lo, hi = run_starts[r], run_starts[r + 1]
        first = r * width
        groups_here = min(width, n_groups - first)
        fill = np.zeros(groups_here + 1, np.int64)
        for k in range(lo, hi):
            fill[group_of[k] - first + 1] += 1
        fill[0] = lo
        for g in range(groups_here):
            fill[g + 1] += fill[g]
        for g in range(groups_here):
            starts[first + g] = fill[g]
        for k in range(lo, hi):
            g = group_of[k] - first
            at = fill[g]
            rows[at] = by_rows[k]
            keys[at] = by_keys[k]
            amounts[at] = by_amounts[k]
            if own_unit:
                units[at] = by_units[k]
            fill[g] = at + 1
    return starts, rows, keys, amounts, units


@numba.njit(cache=True, parallel=True)
def _take_groups(starts, rows, key, bits, amount, unit, stream, slot, limit, rounding, taken):
    """The groups in `BLOCKS` ranges in parallel; a group's candidates lie side by side in
    the ordered arrays. The working lists are allocated once a range (a village's
    selection is small: allocating per group would cost as much as selecting)."""
    n_groups = starts.shape[0] - 1
    for block in numba.prange(BLOCKS):
        span = block_rows(block, n_groups)
        first, last = np.int64(span[0]), np.int64(span[1])
        width = 0
        for g in range(first, last):
            width = max(width, starts[g + 1] - starts[g])
        work = _work(width)
        for h in range(first, last):
            a, b = starts[h], starts[h + 1]
            if b > a:
                group = (rows[a:b], key[a:b], bits[a:b], amount[a:b], unit[a:b])
                _take_group(group, (stream, slot), limit[h], rounding, taken, work)


@numba.njit(cache=True)
def _work(width):
    """The working lists of one group's selection: positions, chosen, packed keys, ranked,
    the radix sort's second buffer and its counts."""
    return (np.empty(width, np.int64), np.empty(width, np.int64), np.empty(width, np.uint64),
            np.empty(width, np.int64), np.empty(width, np.uint64), np.empty((4, 256), np.int64))


@numba.njit(cache=True, inline="always")
def _take_group(group, draws, cap, rounding, taken, work):
    """One group's candidates (row, key, key bits, amount, unit), in row order."""
    rows, keys, amounts = group[0], group[1], group[3]
    n = rows.shape[0]
    total = 0.0
    for k in range(n):
        total += amounts[k]
    if total <= cap:  # everyone fits (also every group without a limit)
        for k in range(n):
            taken[rows[k]] = True
        return
    if n > SORT_ALL_BELOW:
        step = max(n // SAMPLE, 1)
        sample = np.sort(keys[::step])
        share = cap / total * MARGIN
        while share < 1.0:
            threshold = sample[min(int(share * sample.shape[0]) + 1, sample.shape[0] - 1)]
            if _take_lowest(threshold, group, draws, cap, rounding, taken, work):
                return
            share *= 2.0
    _take_lowest(np.inf, group, draws, cap, rounding, taken, work)


@numba.njit(cache=True)
def _ranked(positions, keys, key_bits, work):
    """`positions` (into the group's candidates) in stable key order, written to the front
    of the work's ranked list. Each float32 key and its place in `positions` pack into one
    unique 64-bit integer whose order is the stable order (`sim/ranking.py`)."""
    packed, out = work[2], work[3]
    n = positions.shape[0]
    for k in range(n):
        m = positions[k]
        packed[k] = _packed(keys[m], key_bits[m], k)
    ordered = _sorted_packed(n, packed, work[4], work[5])
    for k in range(n):
        out[k] = positions[ordered[k] & np.uint64(0xFFFFFFFF)]
    return out[:n]


INSERTION_MAX = 24  # assumption: up to this many values an insertion sort is the fastest


@numba.njit(cache=True)
def _sorted_packed(n, packed, other, counts):
    """The first `n` packed keys in ascending order (in `packed` or `other`). They are
    unique, so any sort gives the one order. A packed key's low half is its place in the
    list, already ascending; a stable sort by the high half alone (the key's bits) leaves
    equal halves in that place's order, which is the full order. Sorted by a radix sort of
    the high half, a byte a pass, skipping the bytes all keys share (a group's keys often
    do); few keys by insertion."""
    if n <= INSERTION_MAX:
        for k in range(1, n):
            v = packed[k]
            j = k
            while j > 0 and packed[j - 1] > v:
                packed[j] = packed[j - 1]
                j -= 1
            packed[j] = v
        return packed
    counts[:] = 0
    for k in range(n):
        high = packed[k] >> np.uint64(32)
        for byte in range(4):
            counts[byte, (high >> np.uint64(8 * byte)) & np.uint64(0xFF)] += 1
    src, dst = packed, other
    for byte in range(4):
        c = counts[byte]
        first_bucket = (src[0] >> np.uint64(32 + 8 * byte)) & np.uint64(0xFF)
        if c[first_bucket] == n:  # every key has this byte: the pass would change nothing
            continue
        at = 0
        for b in range(256):
            here = c[b]
            c[b] = at
            at += here
        shift = np.uint64(32 + 8 * byte)
        for k in range(n):
            v = src[k]
            b = (v >> shift) & np.uint64(0xFF)
            dst[c[b]] = v
            c[b] += 1
        src, dst = dst, src
    return src


@numba.njit(cache=True)
def _greedy(ranked, idx, amount, unit, draws, cap, rounding, total, chosen, n_chosen):
    """Go through `ranked` within `cap` by the rounding rule, from `total` taken so far;
    chosen positions are appended to `chosen`. Returns (total, how many are chosen now,
    stopped: the rule stopped at a candidate, passed: FILL passed over one)."""
    passed = False
    for j in ranked:
        a = amount[j]
        if total + a <= cap:
            chosen[n_chosen] = j
            n_chosen += 1
            total += a
            continue
        if rounding == WITHIN:
            return total, n_chosen, True, passed
        if rounding == NEAREST:
            if total + a - cap < cap - total:
                chosen[n_chosen] = j
                n_chosen += 1
                total += a
            return total, n_chosen, True, passed
        fit = np.floor((cap - total) / unit[j])  # households of this row that fit
        if fit >= 1.0:
            stream, slot = draws
            if slot >= 0 and u01(stream, idx[j], slot) < fit * unit[j] / a:
                chosen[n_chosen] = j
                n_chosen += 1
                total += a
            return total, n_chosen, True, passed
        passed = True
    return total, n_chosen, False, passed


@numba.njit(cache=True)
def _take_lowest(threshold, group, draws, cap, rounding, taken, work):
    """Take from the group's candidates those with keys up to `threshold` (inf: all of
    them) in stable key order within `cap`. True when that decides the group as a full
    sort would; only then is anything taken. When those all fit and others are left, the
    threshold was too low: False. When FILL passed over some of them, the others that
    could still fit follow, in key order."""
    rows, keys, key_bits, amounts, units = group
    positions, chosen = work[0], work[1]
    n = rows.shape[0]
    n_below = 0
    for k in range(n):
        if keys[k] <= threshold:
            positions[n_below] = k
            n_below += 1
    has_rest = n_below < n
    order = _ranked(positions[:n_below], keys, key_bits, work)
    total, n_chosen, stopped, passed = _greedy(order, rows, amounts, units, draws, cap, rounding, 0.0, chosen, 0)
    if not stopped and not passed and has_rest:
        return False
    if not stopped and has_rest:
        left = cap - total
        n_fits = 0
        for k in range(n):
            if (keys[k] > threshold) & (units[k] <= left):
                positions[n_fits] = k
                n_fits += 1
        if n_fits > 0:  # the others cannot take even one household
            order = _ranked(positions[:n_fits], keys, key_bits, work)
            total, n_chosen, stopped, passed = _greedy(order, rows, amounts, units, draws, cap, rounding, total,
                                                       chosen, n_chosen)
    for k in range(n_chosen):
        taken[rows[chosen[k]]] = True
    return True
