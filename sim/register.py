"""The poverty register (建档立卡): statuses, the cadres' measurement of income, the causes
recorded at registration, and village and county aggregates and exits.

The register does not follow households' incomes year by year. It is built once by
quota (`sim/register_build.py`), adjusted once a year on application within county quotas
(`sim/adjustment.py`), emptied on each county's yearly exit plan towards the region's
deadline (`sim/exits.py`), and from 2020 return monitoring helps exited and near-poor
households before they can be registered again (`sim/monitoring.py`). The order of the
year's assessment is in `sim/plan.py: year_plan`.
"""

from __future__ import annotations

import numba
import numpy as np

from .fields import Cause, Labor, Location, Status
from .params import pass_params, read_pass_params
from .streams import fill_mean_one_lognormals
from .sums import BLOCKS, PLACE_PARTS, block_rows, part_rows

NEVER, REGISTERED, EXITED, RETURNED = (int(s) for s in (Status.NEVER, Status.REGISTERED, Status.EXITED,
                                                        Status.RETURNED))
FULL = int(Labor.FULL)
(C_ILLNESS, C_DISABILITY, C_SCHOOLING, C_DISASTER, C_LAND, C_SKILLS, C_CAPITAL, C_LABOR, C_TRANSPORT,
 C_MOTIVATION) = (int(c) for c in (Cause.ILLNESS, Cause.DISABILITY, Cause.SCHOOLING, Cause.DISASTER, Cause.LAND,
                                   Cause.SKILLS, Cause.CAPITAL, Cause.LABOR, Cause.TRANSPORT, Cause.MOTIVATION))
TRANSPORT_PLACES = int(Location.REMOTE_MOUNTAIN | Location.TINY_HAMLET)
NO_CAUSE = -1
# What the causes are recorded against: shares and thresholds of the year (`diagnose`).
CauseThresholds = pass_params("CauseThresholds", (
    "register.illness_cause_share", "register.schooling_cause_share", "register.motivation_cause_below"),
    __name__, extra=("land_ability", "capital_per_person"))
# A village's sums, one record a village (its five sums in one cache line).
PLACE_SUMS = np.dtype([("people", "f8"), ("registered", "f8"), ("income", "f8"), ("workers", "f8"),
                       ("migrants", "f8")])


@numba.njit(cache=True, inline="always")
def on_register(status) -> bool:
    """Registered or returned: on the register."""
    return (status == REGISTERED) | (status == RETURNED)


def registered(hh) -> np.ndarray:
    out = np.empty(hh.n, bool)
    _registered_rows(hh.status, out)
    return out


@numba.njit(cache=True, parallel=True)
def _registered_rows(status, out):
    for block in numba.prange(BLOCKS):
        a, b = block_rows(block, status.shape[0])
        _registered_block(status[a:b], out[a:b])


@numba.njit(cache=True)
def _registered_block(status, out):
    for j in range(np.uint64(out.shape[0])):
        out[j] = on_register(status[j])


def registered_rows(hh) -> np.ndarray:
    """The rows on the register (registered or returned), ascending: the passes that only
    concern the register go through these instead of every row."""
    counts = np.zeros(BLOCKS + 1, np.int64)
    _registered_counts(hh.status, counts)
    firsts = np.cumsum(counts)
    out = np.empty(int(firsts[BLOCKS]), np.int64)
    _registered_fill(hh.status, firsts, out)
    return out


@numba.njit(cache=True, parallel=True)
def _registered_counts(status, counts):
    """counts[block + 1]: the block's rows on the register."""
    for block in numba.prange(BLOCKS):
        a, b = block_rows(block, status.shape[0])
        n = 0
        for i in range(a, b):
            n += on_register(status[i])
        counts[block + 1] = n


@numba.njit(cache=True, parallel=True)
def _registered_fill(status, firsts, out):
    """Each block writes its rows on the register from its first place (`firsts[block]`)."""
    for block in numba.prange(BLOCKS):
        a, b = block_rows(block, status.shape[0])
        k = firsts[block]
        for i in range(a, b):
            if on_register(status[i]):
                out[k] = i
                k += 1


def as_rows(rows: np.ndarray) -> np.ndarray:
    """Row indices from a row mask or from indices."""
    return np.flatnonzero(rows) if rows.dtype == np.bool_ else rows


def register_rows(model, rows: np.ndarray, status: int) -> None:
    """Put `rows` (a mask or indices) on the register this year as `status` (REGISTERED for
    a new entry, RETURNED for a household that exited before) and record their causes."""
    hh = model.hh
    rows = as_rows(rows)
    if rows.size == 0:
        return
    hh.status[rows] = status
    hh.reg_year[rows] = model.year
    if status == RETURNED:
        hh.return_year[rows] = model.year
        hh.n_returns[rows] += 1
    hh.monitor_year[rows] = 0  # registered: helped as registered, not as monitored
    diagnose(model, rows)


# --- causes, recorded at registration ---------------------------------------------------------

@numba.njit(cache=True, parallel=True)
def _diagnose_rows(t, rows, n_chronic, n_disabled, oop, school_cost, income, disaster, ability, n_skilled,
                   head_schooling, savings, size, labor, location_risk, motivation, causes, main_cause):
    for k in numba.prange(rows.shape[0]):
        i = rows[k]
        inc = max(np.float64(income[i]), 1.0)
        c = 0
        if oop[i] > t.illness_cause_share * inc or (n_chronic[i] > 0 and labor[i] != FULL):
            c |= C_ILLNESS
        if n_disabled[i] > 0:
            c |= C_DISABILITY
        if school_cost[i] > t.schooling_cause_share * inc:
            c |= C_SCHOOLING
        if disaster[i]:
            c |= C_DISASTER
        if ability[i] < t.land_ability:
            c |= C_LAND
        if n_skilled[i] == 0 and head_schooling[i] < 9:
            c |= C_SKILLS
        if savings[i] < t.capital_per_person * max(size[i], 1):
            c |= C_CAPITAL
        if labor[i] != FULL:
            c |= C_LABOR
        if location_risk[i] & TRANSPORT_PLACES:
            c |= C_TRANSPORT
        if motivation[i] < t.motivation_cause_below:
            c |= C_MOTIVATION
        causes[i] = c
        main = NO_CAUSE
        for b in range(16):  # the first recorded cause in the official order
            if (c >> b) & 1:
                main = b
                break
        main_cause[i] = main


MEDIAN_SAMPLE = 20_000  # rows a systematic sample uses to estimate the median ability


def median_ability(hh) -> float:
    """Median earning ability, from a systematic sample of rows when there are many."""
    if hh.n == 0:
        return 0.0
    step = max(hh.n // MEDIAN_SAMPLE, 1)
    return float(np.median(hh.ability[::step]))


def diagnose(model, rows: np.ndarray) -> None:
    """Record the causes of poverty of the households registered now (`rows`, a mask or
    indices), as the 12-cause bitmask, and their main cause: the first recorded cause in
    the official order (illness, disability, schooling, disaster, ...), the order cadres'
    forms list them.

    Illness is recorded when the year's out-of-pocket medical costs exceed
    `register.illness_cause_share` of income, or a chronically ill member leaves the
    household short of full labor. Marriage and lack of water are official causes the
    model does not represent; they are never recorded.
    """
    hh, p = model.hh, model.p
    idx = as_rows(rows)
    if idx.size == 0:
        return
    disaster = model.flows.get("disaster_hit", np.zeros(hh.n, bool))
    t = read_pass_params(CauseThresholds, p, land_ability=p["register.land_cause_ability_share"] * median_ability(hh),
                         capital_per_person=p["register.capital_cause_months"] / 12.0 * model.line)
    _diagnose_rows(t, idx, hh.n_chronic, hh.n_disabled, hh.oop_medical, hh.school_cost, hh.income, disaster,
                   hh.ability, hh.n_skilled, hh.head_schooling, hh.savings, hh.size, hh.labor, hh.location_risk,
                   hh.motivation, hh.causes, hh.main_cause)


# --- measurement --------------------------------------------------------------------------------

@numba.njit(cache=True, parallel=True, error_model="numpy")
def _measure_rows(key, sd, one_off_pc, one_off, income, size, measured_pc, measured_pc_last):
    for block in numba.prange(BLOCKS):
        first, last = block_rows(block, size.shape[0])
        error = np.empty(last - first)
        fill_mean_one_lognormals(key, first, sd, error)
        _copy(measured_pc[first:last], measured_pc_last[first:last])
        _measured_block(one_off_pc, one_off[first:last], income[first:last], size[first:last], error,
                        measured_pc[first:last])


@numba.njit(cache=True)
def _copy(values, out):
    for j in range(np.uint64(out.shape[0])):
        out[j] = values[j]


@numba.njit(cache=True, error_model="numpy")
def _measured_block(one_off_pc, one_off, income, size, error, measured_pc):
    """Measured per-capita income of a block of rows, one-off payments left out (infinite
    for empty households), branch-free: the compiler runs it in vector registers."""
    for j in range(np.uint64(size.shape[0])):
        measured_pc[j] = (income[j] / size[j] - one_off_pc * one_off[j]) * error[j] if size[j] > 0 else np.inf


def measure_income(model, year: int | None = None) -> None:
    """Cadres measure per-capita net income, transfers counted (dibao, pensions, ecological
    payments, dividends, public-job wages), with a log-normal error; last year's
    measurement is kept for the stability test. One-off payments (this year's disaster
    relief) are left out: the standard is income stably above the line. Medical and
    school costs are not subtracted: they drain savings and raise debt, and count through
    the guarantees and return monitoring."""
    hh, f = model.hh, model.flows
    key = model.streams.key("measurement", model.year if year is None else year)
    relieved = f.get("reached_disaster_reconstruction")
    one_off_pc = float(model.p["disaster.relief_per_person"]) if relieved is not None else 0.0
    if relieved is None:
        relieved = np.zeros(hh.n, bool)
    _measure_rows(key, float(model.p["register.measurement_error_sd"]), one_off_pc, relieved, hh.income, hh.size,
                  hh.measured_pc, hh.measured_pc_last)


# --- villages and counties ----------------------------------------------------------------------

@numba.njit(cache=True, parallel=True)
def _village_sums(village, weight, size, status, income, n_working, n_college, n_migrants, parts):
    """Per village (`PLACE_SUMS`): people, registered people, income, working-age people,
    migrants. Each of `PLACE_PARTS` row ranges is summed in row order into its own copy in
    `parts` (a pass scattering into 580,000 villages waits on memory; two run side by side);
    the caller adds the copies in order."""
    n = village.shape[0]
    for part in numba.prange(PLACE_PARTS):
        first, last = part_rows(part, n)
        for i in range(first, last):
            acc = parts[part, village[i]]
            people = weight[i] * size[i]
            acc.people += people
            # multiplied in, not branched on (adding 0.0 changes no sum): who is registered
            # is unpredictable row to row
            acc.registered += people * on_register(status[i])
            acc.income += weight[i] * income[i]
            acc.workers += weight[i] * max(n_working[i] - n_college[i], 0)
            acc.migrants += weight[i] * n_migrants[i]


def aggregate_places(model) -> None:
    """Village and county people, poor people, income and migration network."""
    hh, v, c = model.hh, model.villages, model.counties
    parts = np.zeros((PLACE_PARTS, v.n), PLACE_SUMS)
    _village_sums(hh.village, hh.weight, hh.size, hh.status, hh.income, hh.n_working, hh.n_college,
                  hh.n_migrants, parts)
    sums = np.zeros((v.n, len(PLACE_SUMS.names)))
    for part in parts.view(np.float64).reshape(PLACE_PARTS, v.n, -1):
        sums += part
    people, poor, income, workers, migrants = sums.T
    v.people = people
    v.poor_people = poor
    v.income_pc = np.divide(income, people, out=np.zeros(v.n), where=people > 0)
    v.migration_share = np.divide(migrants, workers, out=np.zeros(v.n), where=workers > 0)
    c.people = np.bincount(v.county, v.people, minlength=c.n)
    c.poor_people = np.bincount(v.county, v.poor_people, minlength=c.n)


def assess_places(model) -> None:
    """Poor villages and counties exit by the profile's rule."""
    v, c = model.villages, model.counties
    ex = model.profile.data["exit"]
    incidence = np.divide(v.poor_people, v.people, out=np.zeros(v.n), where=v.people > 0)
    if ex["village_rule"] == "incidence":
        out = incidence < ex["village_incidence"]["value"]
    else:
        ref = model.profile.dated("exit.reference_income", model.year)
        out = v.income_pc >= ex["village_income_share"]["value"] * ref
    leaving = v.poor & out
    v.poor = v.poor & ~leaving
    v.exit_year = np.where(leaving, model.year, v.exit_year)
    model.flows["villages_exited"] = leaving

    c_inc = np.divide(c.poor_people, c.people, out=np.zeros(c.n), where=c.people > 0)
    c_leaving = c.poor & (c_inc < ex["county_incidence"]["value"])
    c.poor = c.poor & ~c_leaving
    c.exit_year = np.where(c_leaving, model.year, c.exit_year)
    model.flows["counties_exited"] = c_leaving


@numba.njit(cache=True, parallel=True)
def registered_people_by_county(rows, n, county, weight, size, n_counties):
    """Registered people of each county (weighted), from the register's rows (`rows`,
    ascending, of a table of `n` rows): each block of the table's rows summed into its
    own copy in row order, the copies added in block order (the same sums on any number
    of threads, and the same as a pass over every row adding nothing for the others)."""
    parts = np.zeros((BLOCKS, n_counties))
    for block in numba.prange(BLOCKS):
        a, b = block_rows(block, n)
        acc = parts[block]
        for k in range(np.searchsorted(rows, np.int64(a)), np.searchsorted(rows, np.int64(b))):
            i = rows[k]
            acc[county[i]] += np.float64(weight[i]) * size[i]
    out = np.zeros(n_counties)
    for block in range(BLOCKS):
        out += parts[block]
    return out
