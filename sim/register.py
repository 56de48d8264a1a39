"""The poverty register (建档立卡): identification, diagnosis of causes, and the yearly
assessment of exits, returns and village and county exit.

Identification (step 3) registers households whose measured per-capita resources fell
below the line at the last assessment: never-registered ones are new poor, exited ones
have returned. Assessment (step 6) measures this year's resources with error and lets a
registered household exit when it is above the exit threshold of the year and the
"two no-worries, three guarantees" hold (002 §3; 003 §二(二)): no child out of compulsory
school for cost, basic medical insurance, safe housing. Each year, in households,
registered(end) = registered(start) + new + returns - exits exactly.
"""

from __future__ import annotations

import numba
import numpy as np

from .fields import Cause, Labor, Location, Status
from .streams import fill_mean_one_lognormals
from .sums import BLOCKS, PLACE_PARTS, block_rows, part_rows, weighted_sum

NEVER, REGISTERED, EXITED, RETURNED = (int(s) for s in (Status.NEVER, Status.REGISTERED, Status.EXITED,
                                                        Status.RETURNED))
FULL = int(Labor.FULL)
(C_ILLNESS, C_DISABILITY, C_SCHOOLING, C_DISASTER, C_LAND, C_SKILLS, C_CAPITAL, C_LABOR, C_TRANSPORT,
 C_MOTIVATION) = (int(c) for c in (Cause.ILLNESS, Cause.DISABILITY, Cause.SCHOOLING, Cause.DISASTER, Cause.LAND,
                                   Cause.SKILLS, Cause.CAPITAL, Cause.LABOR, Cause.TRANSPORT, Cause.MOTIVATION))
TRANSPORT_PLACES = int(Location.REMOTE_MOUNTAIN | Location.TINY_HAMLET)


def registered(hh) -> np.ndarray:
    out = np.empty(hh.n, bool)
    _registered_rows(hh.status, out)
    return out


@numba.njit(cache=True, parallel=True)
def _registered_rows(status, out):
    for i in numba.prange(status.shape[0]):
        out[i] = status[i] == REGISTERED or status[i] == RETURNED


@numba.njit(cache=True, parallel=True)
def _identify_rows(measured_pc, last_line, size, status, reg_year, return_year, n_returns, year, new, back):
    for i in numba.prange(size.shape[0]):
        below = measured_pc[i] < last_line and size[i] > 0
        new[i] = below and status[i] == NEVER
        back[i] = below and status[i] == EXITED
        if new[i]:
            status[i] = REGISTERED
            reg_year[i] = year
        elif back[i]:
            status[i] = RETURNED
            reg_year[i] = year
            return_year[i] = year
            n_returns[i] += 1


def identify(model) -> None:
    """Register households below the line at the last assessment (step 3)."""
    hh = model.hh
    if model.p["register.identify_new"]:
        new, back = np.empty(hh.n, bool), np.empty(hh.n, bool)  # every row written
        _identify_rows(hh.measured_pc, float(model.last_line), hh.size, hh.status, hh.reg_year,
                       hh.return_year, hh.n_returns, model.year, new, back)
    else:
        new, back = np.zeros(hh.n, bool), np.zeros(hh.n, bool)
    model.flows["new_poor"] = new
    model.flows["returned"] = back


@numba.njit(cache=True, parallel=True)
def _diagnose_rows(t, status, n_chronic, illness, n_disabled, school_cost, income, disaster, ability,
                   n_skilled, head_schooling, savings, size, labor, location_risk, motivation, causes):
    for i in numba.prange(status.shape[0]):
        if status[i] != REGISTERED and status[i] != RETURNED:
            causes[i] = 0
            continue
        c = 0
        if n_chronic[i] > 0 or illness[i] != 0:
            c |= C_ILLNESS
        if n_disabled[i] > 0:
            c |= C_DISABILITY
        if school_cost[i] > t[0] * max(income[i], 1.0):
            c |= C_SCHOOLING
        if disaster[i]:
            c |= C_DISASTER
        if ability[i] < t[1]:
            c |= C_LAND
        if n_skilled[i] == 0 and head_schooling[i] < 9:
            c |= C_SKILLS
        if savings[i] < t[2] * max(size[i], 1):
            c |= C_CAPITAL
        if labor[i] != FULL:
            c |= C_LABOR
        if location_risk[i] & TRANSPORT_PLACES:
            c |= C_TRANSPORT
        if motivation[i] < t[3]:
            c |= C_MOTIVATION
        causes[i] = c


MEDIAN_SAMPLE = 20_000  # rows a systematic sample uses to estimate the median ability


def median_ability(hh) -> float:
    """Median earning ability, from a systematic sample of rows when there are many."""
    if hh.n == 0:
        return 0.0
    step = max(hh.n // MEDIAN_SAMPLE, 1)
    return float(np.median(hh.ability[::step]))


def diagnose(model) -> None:
    """Causes of poverty for every registered household, as the 12-cause bitmask.

    Marriage and lack of water are official causes the model does not represent; they
    are never diagnosed.
    """
    hh, p = model.hh, model.p
    disaster = model.flows.get("disaster_hit", np.zeros(hh.n, bool))
    thresholds = np.array([p["register.schooling_cause_share"],
                           p["register.land_cause_ability_share"] * median_ability(hh),
                           p["register.capital_cause_months"] / 12.0 * model.line,
                           p["register.motivation_cause_below"]])
    _diagnose_rows(thresholds, hh.status, hh.n_chronic, hh.illness, hh.n_disabled, hh.school_cost, hh.income,
                   disaster, hh.ability, hh.n_skilled, hh.head_schooling, hh.savings, hh.size, hh.labor,
                   hh.location_risk, hh.motivation, hh.causes)


@numba.njit(cache=True, parallel=True, error_model="numpy")
def _measure_rows(key, sd, resources, size, measured_pc):
    for block in numba.prange(BLOCKS):
        first, last = block_rows(block, size.shape[0])
        error = np.empty(last - first)
        fill_mean_one_lognormals(key, first, sd, error)
        _measured_block(resources[first:last], size[first:last], error, measured_pc[first:last])


@numba.njit(cache=True, error_model="numpy")
def _measured_block(resources, size, error, measured_pc):
    """Measured per-capita resources of a block of rows (infinite for empty households),
    branch-free: the compiler runs it in vector registers."""
    for j in range(np.uint64(size.shape[0])):
        measured_pc[j] = resources[j] / size[j] * error[j] if size[j] > 0 else np.inf


def measure_income(model) -> None:
    """Cadres measure per-capita resources with a log-normal error."""
    hh = model.hh
    _measure_rows(model.streams.key("measurement", model.year), float(model.p["register.measurement_error_sd"]),
                  hh.resources, hh.size, hh.measured_pc)


def exit_threshold(model) -> np.ndarray | float:
    """Per-capita threshold a household must reach to exit this year."""
    ex = model.profile.data["exit"]
    if ex["rule"] == "absolute":
        return model.line
    return ex["relative_share"]["value"] * model.profile.dated("exit.reference_income", model.year)


@numba.njit(cache=True, parallel=True)
def _exit_rows(year, min_years, relative, threshold, line, status, reg_year, measured_pc, labor, dibao,
               n_dropout_compulsory, insured, unsafe_housing, size, exits):
    """Who meets the exit rule (statuses change once exit practice has had its say)."""
    for i in numba.prange(status.shape[0]):
        # the three guarantees: compulsory education, basic medical insurance, safe housing
        ok = ((status[i] == REGISTERED or status[i] == RETURNED) and year - reg_year[i] >= min_years
              and n_dropout_compulsory[i] == 0 and insured[i] and not unsafe_housing[i] and size[i] > 0)
        if ok:
            if relative and labor[i] != FULL:
                ok = dibao[i] and measured_pc[i] >= line
            else:
                ok = measured_pc[i] >= threshold
        exits[i] = ok


@numba.njit(cache=True, parallel=True)
def _record_exits(year, exits, status, exit_year):
    for i in numba.prange(exits.shape[0]):
        if exits[i]:
            status[i] = EXITED
            exit_year[i] = year


def assess_exits(model) -> None:
    """Exit at the year's threshold when the three guarantees hold (002 §3).

    Under the relative rule labor-capable households exit at the relative threshold;
    those that lost labor exit once covered by dibao above the line (002 §3). Then exit
    practice: under target pressure cadres certify households just below the threshold
    to meet the year's exit target (001 §五; 004 ch.3 §3), and third-party verification
    of a sample of exits reverses the false ones it finds (002 §25; 004 ch.3 §4).
    """
    hh, p = model.hh, model.p
    relative = model.profile.data["exit"]["rule"] == "relative"
    threshold = float(exit_threshold(model))
    exits = np.zeros(hh.n, bool)
    _exit_rows(model.year, p["register.min_years_before_exit"], relative, threshold,
               float(model.line), hh.status, hh.reg_year, hh.measured_pc, hh.labor, hh.dibao,
               hh.n_dropout_compulsory, hh.insured, hh.unsafe_housing, hh.size, exits)

    def row_threshold(rows=slice(None)):
        """The threshold each row must reach (the line for those without labor under the relative rule)."""
        return np.where(relative & (hh.labor[rows] != Labor.FULL), model.line, threshold)

    pressured = _certify_under_pressure(model, exits, row_threshold)
    exits |= pressured
    reversed_ = _verify(model, exits, row_threshold)
    exits &= ~reversed_
    _record_exits(model.year, exits, hh.status, hh.exit_year)
    model.flows["exited"] = exits
    model.flows["exits_under_pressure"] = pressured & ~reversed_
    model.flows["exits_reversed"] = reversed_
    model.last_line = model.line


def exit_target(model) -> float | None:
    """The profile's exit target for this year (people), if it has one."""
    if not model.profile.has("targets.exits_people"):
        return None
    targets = model.profile.value("targets.exits_people")
    return targets.get(model.year) if isinstance(targets, dict) else None


def _certify_under_pressure(model, exits, row_threshold) -> np.ndarray:
    """Households certified as exited, measured just under the threshold, to meet a target."""
    hh, p = model.hh, model.p
    pressure = p["exit.target_pressure"]
    target = exit_target(model)
    none = np.zeros(hh.n, bool)
    if pressure <= 0 or target is None:
        return none
    people = hh.weight * hh.size
    shortfall = pressure * target - float(weighted_sum(people, exits))
    if shortfall <= 0:
        return none
    thresholds = row_threshold()
    was_registered = (hh.status == Status.REGISTERED) | (hh.status == Status.RETURNED)
    near = (was_registered & ~exits & (hh.size > 0)
            & (model.year - hh.reg_year >= p["register.min_years_before_exit"])
            & (hh.measured_pc >= (1.0 - p["exit.pressure_margin"]) * thresholds)
            & (hh.measured_pc < thresholds))
    idx = np.flatnonzero(near)
    idx = idx[np.argsort(-hh.measured_pc[idx] / thresholds[idx], kind="stable")]  # closest first
    take = idx[: int(np.searchsorted(np.cumsum(people[idx]), shortfall)) + 1]
    chosen = none.copy()
    chosen[take] = True
    return chosen


def _verify(model, exits, row_threshold) -> np.ndarray:
    """Third-party checks of a sample of exits; those truly below the threshold are reversed."""
    hh = model.hh
    rate = model.p["exit.verification_rate"]
    if rate <= 0:
        return np.zeros(hh.n, bool)
    idx = np.flatnonzero(exits)
    idx = idx[model.streams.uniform_at("verification", model.year, idx) < rate]
    false = hh.resources[idx] / np.maximum(hh.size[idx], 1) < row_threshold(idx)
    reversed_ = np.zeros(hh.n, bool)
    reversed_[idx[false]] = True
    return reversed_


@numba.njit(cache=True, parallel=True)
def _village_sums(village, weight, size, status, income, n_working, n_college, n_migrants, out):
    """Per village: people, registered people, income, working-age people, migrants.
    Each of `PLACE_PARTS` row ranges is summed in row order into its own copy (a pass
    scattering into 580,000 villages waits on memory; two run side by side), then the
    copies are added in order."""
    n = village.shape[0]
    parts = np.zeros((PLACE_PARTS,) + out.shape)
    for part in numba.prange(PLACE_PARTS):
        acc = parts[part]
        first, last = part_rows(part, n)
        for i in range(first, last):
            v = village[i]
            people = weight[i] * size[i]
            acc[v, 0] += people
            # multiplied in, not branched on (adding 0.0 changes no sum): who is registered
            # is unpredictable row to row
            acc[v, 1] += people * ((status[i] == REGISTERED) | (status[i] == RETURNED))
            acc[v, 2] += weight[i] * income[i]
            acc[v, 3] += weight[i] * max(n_working[i] - n_college[i], 0)
            acc[v, 4] += weight[i] * n_migrants[i]
    for part in range(PLACE_PARTS):
        out += parts[part]


def aggregate_places(model) -> None:
    """Village and county people, poor people, income and migration network."""
    hh, v, c = model.hh, model.villages, model.counties
    sums = np.zeros((v.n, 5))
    _village_sums(hh.village, hh.weight, hh.size, hh.status, hh.income, hh.n_working, hh.n_college,
                  hh.n_migrants, sums)
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


def assess(model) -> None:
    """Step 6 of the year: measurement, exits, village and county exit."""
    measure_income(model)
    assess_exits(model)
    aggregate_places(model)
    assess_places(model)
