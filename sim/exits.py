"""Exits from the register: each county's yearly plan, the exit standard, exit practice.

Provinces made yearly plans (年度计划) for getting their poor out by the deadline
(关于建立贫困退出机制的意见, 2016; docs/register_sources.md §2a), and counties exited
households on them: a pre-exit list chosen at the start of the year and checked at its end
(local practice, docs/register_sources.md §2b: the households expected to exit get
targeted support first, `planned_households`). The region's plan for a year is its
profile's schedule where the plan gives one (Shangluo, Guangdong), otherwise what is left
on the register spread evenly over the years to the deadline (national: everyone out by
the end of 2020), never below the profile's yearly floor (Guangyuan's 60,000, Nanning's
100,000 in 2015); in the deadline year (and after it) everyone left is in the plan. The
region's plan is split over counties in proportion to their registered people. Poor
villages are planned the same way (`exit.schedule_villages`, or spread to the deadline),
the least poor first, and their households come first on the county's plan.
`exit.plan_rule = "qualifying"` drops the plan: every qualifying household exits (what
emerges without the deadline).
"""

from __future__ import annotations

import numba
import numpy as np

from .fields import Labor, Status
from .groups import FILL, NEAREST, SLOT_EXIT, SLOT_PRESSURE, lottery, priority, take_within
from .register import on_register, registered_people_by_county, registered_rows
from .sums import BLOCKS, PLACE_PARTS, block_rows, clear_block, part_rows

REGISTERED, EXITED, RETURNED = int(Status.REGISTERED), int(Status.EXITED), int(Status.RETURNED)
FULL = int(Labor.FULL)


def _this_year(profile, path: str, year: int):
    """A profile's dated value for exactly this year, or None."""
    if not profile.has(path):
        return None
    values = profile.value(path)
    return values.get(year) if isinstance(values, dict) else None


def _deadline(profile):
    """The year by which everyone on the register is to be out, or None."""
    return profile.value("exit.deadline") if profile.has("exit.deadline") else None


def _plan(model, schedule: str, remaining: float, floor: str | None = None) -> float:
    """This year's plan by the profile's `schedule` where its plan gives one, otherwise
    `remaining` spread evenly over the years to the deadline, at least the `floor` path's
    value; everything remaining from the deadline on (inf: no plan limits it)."""
    if model.p["exit.plan_rule"] == "qualifying":
        return np.inf
    prof, year = model.profile, model.year
    deadline = _deadline(prof)
    plan = _this_year(prof, schedule, year)
    if plan is None and deadline is not None and year < deadline:
        plan = remaining / (deadline - year + 1)
    least = _this_year(prof, floor, year) if floor is not None else None
    if least is not None:
        plan = max(plan or 0.0, least)
    if deadline is not None and year >= deadline:
        plan = remaining  # everything left
    return np.inf if plan is None else float(plan)


def region_plan(model, reg_people: float) -> float:
    """People the region plans to exit this year (inf: no plan limits exits)."""
    return _plan(model, "exit.schedule_people", reg_people, floor="exit.floor_people")


def register_rows(model) -> np.ndarray:
    """The register's rows this year (ascending), listed by `plan_year` at the start of the
    year: statuses change only in the assessment, from its exit step on, after the last
    pass that reads the list."""
    rows = model.flows.get("registered_rows")
    return registered_rows(model.hh) if rows is None else rows


def county_plans(model) -> np.ndarray:
    """This year's plan of each county, in people: the region's plan split in proportion
    to the counties' registered people now."""
    hh, c = model.hh, model.counties
    people = registered_people_by_county(register_rows(model), hh.n, hh.county, hh.weight, hh.size, c.n)
    total = float(people.sum())
    plan = region_plan(model, total)
    if not np.isfinite(plan):
        return np.full(c.n, np.inf)
    return plan * people / total if total > 0 else np.zeros(c.n)


@numba.njit(cache=True, inline="always")
def _due(year, min_years, status, reg_year, size):
    """A registered household that may be assessed for exit this year."""
    return on_register(status) & (year - reg_year >= min_years) & (size > 0)


def region_village_plan(model) -> float:
    """Poor villages (weighted) the region plans to exit this year (inf: no plan limits
    them): the profile's village schedule where its plan gives one, otherwise the poor
    villages left spread evenly over the years to the deadline; all of them from the
    deadline on."""
    v = model.villages
    return _plan(model, "exit.schedule_villages", float(v.weight[v.poor].sum()))


def planned_villages(model) -> np.ndarray:
    """The poor villages planned to exit this year, a mask over villages: those with the
    smallest share of their people on the register at the last assessment first, as many
    as come nearest the village plan (none where no plan is made)."""
    v, deadline = model.villages, _deadline(model.profile)
    plan = region_village_plan(model)
    if not np.isfinite(plan):
        return np.zeros(v.n, bool)
    if deadline is not None and model.year >= deadline:
        return v.poor.copy()  # every poor village left
    idx = np.flatnonzero(v.poor)
    people = np.asarray(v.people, np.float64)[idx]
    incidence = np.divide(np.asarray(v.poor_people, np.float64)[idx], people, out=np.zeros(idx.size),
                          where=people > 0)
    return take_within(np.zeros(v.n, np.int64), 1, idx, incidence, np.asarray(v.weight, np.float64)[idx],
                       np.array([plan]), NEAREST)


def plan_year(model) -> None:
    """At the start of the year: each county's plan (`model.flows["county_plans"]`) and
    the poor villages planned to exit (`model.flows["planned_villages"]`), whose
    households come first on the county's plan (villages exited by plan, their households
    the plan's first batch: 关于建立贫困退出机制的意见, 2016, docs/register_sources.md §2a);
    the register's rows, which the year's passes over the register go through
    (`model.flows["registered_rows"]`)."""
    model.flows["registered_rows"] = registered_rows(model.hh)
    model.flows["county_plans"] = county_plans(model)
    model.flows["planned_villages"] = planned_villages(model)


# Cadres list the households they expect to exit by measured income in bands: closeness to
# the threshold (measured income over it) on a log scale from BAND_LOW to BAND_HIGH in
# BANDS bands (assumption: bands of about 1%, finer than the measurement's error).
BANDS, BAND_LOW, BAND_HIGH = 512, 0.1, 10.0


def planned_households(model) -> np.ndarray:
    """The households cadres expect to exit on this year's plans, to whom targeted support
    goes first: in each county the registered closest to the threshold at the last
    assessment, by bands of measured income from the top, down to the band that brings the
    list nearest the plan in people (no one where no plan limits exits)."""
    hh, p, f = model.hh, model.p, model.flows
    plans = f.get("county_plans")  # set by `plan_year` (none made: no one planned)
    if plans is None or not np.isfinite(plans).any():
        return np.zeros(hh.n, bool)
    threshold = float(exit_threshold(model))
    relative = model.profile.data["exit"]["rule"] == "relative"
    rows = register_rows(model)  # only they can be due for exit
    band = np.empty(rows.size, np.int16)
    villages = f.get("planned_villages")
    if villages is None:
        villages = np.zeros(model.villages.n, bool)
    _band_rows(model.year, int(p["register.min_years_before_exit"]), relative, float(model.line), threshold,
               rows, hh.status, hh.reg_year, hh.size, hh.labor, hh.measured_pc, hh.village, villages, band)
    people = np.zeros((model.counties.n, 2 * BANDS))
    _band_people(rows, hh.county, hh.weight, hh.size, band, people)
    cutoff = _cutoffs(people, np.where(np.isfinite(plans), plans, np.inf))
    out = np.empty(hh.n, bool)
    _planned_rows(rows, hh.county, band, cutoff, out)
    return out


@numba.njit(cache=True, inline="always")
def _row_threshold(relative, labor, line, threshold):
    """A household's threshold as `thresholds_at` gives it: the line under the relative
    rule for a household without full labor, else the exit threshold."""
    return line if relative and labor != FULL else threshold


@numba.njit(cache=True, parallel=True)
def _band_rows(year, min_years, relative, line, threshold, rows, status, reg_year, size, labor, measured_pc, village,
               planned_village, band):
    """Each of `rows`' band of closeness to its threshold, the highest band BANDS - 1,
    moved up by BANDS in a village planned to exit (listed before any other); -1 for
    households not due for exit assessment."""
    scale = BANDS / np.log(BAND_HIGH / BAND_LOW)
    for k in numba.prange(rows.shape[0]):
        i = rows[k]
        band[k] = -1
        if _due(year, min_years, status[i], reg_year[i], size[i]):  # the logarithm only where needed
            t = _row_threshold(relative, labor[i], line, threshold)
            c = max(np.float64(measured_pc[i]) / t, BAND_LOW)
            b = min(int(np.log(c / BAND_LOW) * scale), BANDS - 1)
            band[k] = b + BANDS * planned_village[village[i]]


@numba.njit(cache=True, parallel=True)
def _band_people(rows, county, weight, size, band, out):
    """People per county and band, each county's summed in row order. The counties are
    split into `PLACE_PARTS` ranges summed side by side, each part going through every
    row for its own counties (the sums scatter over megabytes and wait on memory)."""
    for part in numba.prange(PLACE_PARTS):
        span = part_rows(part, out.shape[0])
        lo, hi = np.int64(span[0]), np.int64(span[1])
        for k in range(rows.shape[0]):
            if band[k] >= 0:
                i = rows[k]
                c = np.int64(county[i])
                if lo <= c and c < hi:
                    out[c, band[k]] += np.float64(weight[i]) * size[i]


@numba.njit(cache=True)
def _cutoffs(people, plans):
    """Per county the lowest band listed: from the top band down, while that leaves the
    list nearer the plan (the number of bands: none listed)."""
    out = np.full(people.shape[0], people.shape[1], np.int64)
    for c in range(people.shape[0]):
        total = 0.0
        for b in range(people.shape[1] - 1, -1, -1):
            after = total + people[c, b]
            if after > plans[c] and after - plans[c] >= plans[c] - total:
                break
            total = after
            out[c] = b
    return out


@numba.njit(cache=True, parallel=True)
def _planned_rows(rows, county, band, cutoff, out):
    """out: the rows of `rows` in a band listed in their county, no other row."""
    for block in numba.prange(BLOCKS):
        a, b = block_rows(block, out.shape[0])
        clear_block(out[a:b])
    for k in numba.prange(rows.shape[0]):
        i = rows[k]
        out[i] = band[k] >= 0 and band[k] >= cutoff[county[i]]


def exit_threshold(model, year: int | None = None) -> float:
    """Per-capita income a labor-capable household must reach to exit this year (or in
    `year`: the stability test holds last year's measurement to last year's threshold)."""
    ex = model.profile.data["exit"]
    if year is None or year == model.year:
        line, year = model.line, model.year
    else:
        line = model.params.at("poverty.line", year)
    if ex["rule"] == "absolute":
        return line
    return ex["relative_share"]["value"] * model.profile.dated("exit.reference_income", year)


def thresholds_at(model, rows: np.ndarray) -> np.ndarray:
    """The threshold each of the given rows must reach (under the relative rule, the line
    for households without full labor: they exit through dibao, 002 §3)."""
    threshold = float(exit_threshold(model))
    if model.profile.data["exit"]["rule"] != "relative":
        return np.full(rows.size, threshold)
    return np.where(model.hh.labor[rows] != Labor.FULL, float(model.line), threshold)


@numba.njit(cache=True, parallel=True)
def _qualify_rows(q, rows, status, reg_year, measured_pc, measured_pc_last, labor, dibao, n_dropout_compulsory,
                  insured, unsafe_housing, size, ok_out, near_out):
    """Of each of `rows`: whether it meets the exit standard (ok_out) and whether it is
    within the pressure margin below it with the guarantees met (near_out)."""
    for k in numba.prange(rows.shape[0]):
        i = rows[k]
        ok_out[k], near_out[k] = _exit_test(q, status[i], reg_year[i], measured_pc[i], measured_pc_last[i], labor[i],
                                            dibao[i], n_dropout_compulsory[i], insured[i], unsafe_housing[i], size[i])


@numba.njit(cache=True, inline="always")
def _exit_test(q, status, reg_year, measured_pc, measured_pc_last, labor, dibao, n_dropout_compulsory, insured,
               unsafe_housing, size):
    """(meets the standard, within the pressure margin below it) of one household."""
    year, min_years, stable, relative, line, threshold, margin, last_line, last_threshold = q
    eligible = _due(year, min_years, status, reg_year, size)
    # the three guarantees: compulsory education, basic medical insurance, safe housing
    guaranteed = (n_dropout_compulsory == 0) & insured & ~unsafe_housing
    no_labor_rule = relative & (labor != FULL)  # under the relative rule, through dibao at the line
    t = line if no_labor_rule else threshold
    t_last = last_line if no_labor_rule else last_threshold
    above = (measured_pc >= t) & ((stable < 2) | (measured_pc_last >= t_last)) & (dibao | ~no_labor_rule)
    ok = eligible & guaranteed & above
    near = eligible & guaranteed & ~ok & (measured_pc < t) & (measured_pc >= (1.0 - margin) * t)
    return ok, near


def assess_exits(model) -> None:
    """Exit on the county's plan (关于建立贫困退出机制的意见, 2016; 002 §3; 003 §二(二)).

    A registered household qualifies when it has been on the register at least
    `register.min_years_before_exit` years, its measured income (one-off payments left
    out) is at or above the exit threshold at this assessment and, with
    `exit.stability_assessments` = 2, was at or above last year's threshold at the one
    before ("stably above"), and the three guarantees hold. Each county exits qualifying
    households up to its plan for the year (`county_plans`), the highest measured incomes
    (relative to the threshold) first. Then exit practice:
    under target pressure cadres certify households just below the threshold, within the
    plan (001 §五; 004 ch.3 §3); third-party verification of a sample of exits reverses
    the false ones it finds (002 §25; 004 ch.3 §4).
    """
    hh, p, f = model.hh, model.p, model.flows
    relative = model.profile.data["exit"]["rule"] == "relative"
    reg = register_rows(model)  # only they can be due for exit
    qualify, near = np.empty(reg.size, bool), np.empty(reg.size, bool)
    last = model.year - 1
    q = (int(model.year), int(p["register.min_years_before_exit"]), int(p["exit.stability_assessments"]), relative,
         float(model.line), float(exit_threshold(model)), float(p["exit.pressure_margin"]),
         float(model.params.at("poverty.line", last)), float(exit_threshold(model, last)))
    _qualify_rows(q, reg, hh.status, hh.reg_year, hh.measured_pc, hh.measured_pc_last, hh.labor, hh.dibao,
                  hh.n_dropout_compulsory, hh.insured, hh.unsafe_housing, hh.size, qualify, near)
    plans = f["county_plans"] if "county_plans" in f else county_plans(model)  # people (inf: no limit)
    n_c = model.counties.n
    idx = reg[qualify]
    key, people, unit = _exit_candidates(model, idx)
    exits = take_within(hh.county, n_c, idx, key, people, plans, FILL, unit=unit, draws=lottery(model, SLOT_EXIT))
    # planned exits that found no qualifying household, county by county
    unfilled = np.where(np.isfinite(plans), np.maximum(plans - np.bincount(hh.county[idx], people, minlength=n_c),
                                                       0.0), 0.0)
    pressured = _certify_under_pressure(model, reg[near], unfilled)
    exits |= pressured
    rows = np.flatnonzero(exits)
    reversed_ = np.zeros(hh.n, bool)
    reversed_[_verify(model, rows)] = True
    exits &= ~reversed_
    rows = rows[~reversed_[rows]]
    _record_exits(model.year, rows, hh.status, hh.exit_year)
    f["exited"] = exits
    f["exited_rows"] = rows  # the same households as row numbers, ascending
    f["exits_under_pressure"] = pressured & ~reversed_
    f["exits_reversed"] = reversed_
    f["planned_exits_people"] = float(plans[np.isfinite(plans)].sum())
    f["plan_unfilled_people"] = float(unfilled.sum())


@numba.njit(cache=True, parallel=True)
def _record_exits(year, rows, status, exit_year):
    for k in numba.prange(rows.shape[0]):
        status[rows[k]] = EXITED
        exit_year[rows[k]] = year


def _exit_candidates(model, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per candidate row: the key counties exit candidates by (those of villages planned
    to exit first, then the highest measured income relative to the threshold, as
    `groups.priority_key` orders them), its people and its size."""
    hh = model.hh
    planned = model.flows.get("planned_villages")
    if planned is None:
        planned = np.zeros(model.villages.n, bool)
    relative = model.profile.data["exit"]["rule"] == "relative"
    key, people, unit = np.empty(idx.size), np.empty(idx.size), np.empty(idx.size)
    _exit_candidate_rows(idx, relative, float(model.line), float(exit_threshold(model)), hh.labor, hh.measured_pc,
                         hh.weight, hh.size, hh.village, planned, key, people, unit)
    return key, people, unit


@numba.njit(cache=True, parallel=True)
def _exit_candidate_rows(idx, relative, line, threshold, labor, measured_pc, weight, size, village, planned, key,
                         people, unit):
    """The threshold as `thresholds_at` gives it, the people as `groups.row_people`."""
    for k in numba.prange(idx.shape[0]):
        i = idx[k]
        t = _row_threshold(relative, labor[i], line, threshold)
        key[k] = priority(-(np.float64(measured_pc[i]) / t), planned[village[i]])
        people[k] = np.float64(weight[i]) * size[i]
        unit[k] = size[i]


def _certify_under_pressure(model, idx, unfilled) -> np.ndarray:
    """Households certified as exited among those measured just under the threshold
    (`idx`, ascending), to fill a share `exit.target_pressure` of the county's planned
    exits that found no qualifying household (those in villages planned to exit first,
    then the closest first)."""
    hh = model.hh
    pressure = model.p["exit.target_pressure"]
    shortfall = unfilled * pressure
    if pressure <= 0 or not (shortfall > 0).any():
        return np.zeros(hh.n, bool)
    key, people, unit = _exit_candidates(model, idx)
    return take_within(hh.county, model.counties.n, idx, key, people, shortfall, FILL, unit=unit,
                       draws=lottery(model, SLOT_PRESSURE))


def _verify(model, rows: np.ndarray) -> np.ndarray:
    """Third-party checks of a sample of the exits (`rows`); the rows of those truly below
    the threshold, to be reversed."""
    hh = model.hh
    rate = model.p["exit.verification_rate"]
    if rate <= 0:
        return rows[:0]
    idx = rows[model.streams.uniform_at("verification", model.year, rows) < rate]
    false = hh.income[idx] / np.maximum(hh.size[idx], 1) < thresholds_at(model, idx)
    return idx[false]
