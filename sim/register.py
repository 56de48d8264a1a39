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

import numpy as np

from .fields import REGISTERED_STATUSES, Cause, Labor, Location, Status


def registered(hh) -> np.ndarray:
    return (hh.status == REGISTERED_STATUSES[0]) | (hh.status == REGISTERED_STATUSES[1])


def identify(model) -> None:
    """Register households below the line at the last assessment (step 3)."""
    hh, year = model.hh, model.year
    below = (hh.measured_pc < model.last_line) & (hh.size > 0)
    identify_new = model.p["register.identify_new"]
    new = below & (hh.status == Status.NEVER) & identify_new
    back = below & (hh.status == Status.EXITED) & identify_new
    hh.status = np.where(new, Status.REGISTERED, np.where(back, Status.RETURNED, hh.status))
    hh.reg_year = np.where(new | back, year, hh.reg_year)
    hh.return_year = np.where(back, year, hh.return_year)
    hh.n_returns += back.astype(np.int8)
    model.flows["new_poor"] = new
    model.flows["returned"] = back


def diagnose(model) -> None:
    """Causes of poverty for every registered household, as the 12-cause bitmask.

    Marriage and lack of water are official causes the model does not represent; they
    are never diagnosed.
    """
    hh, p = model.hh, model.p
    reg = registered(hh)
    size = np.maximum(hh.size, 1)
    disaster = model.flows.get("disaster_hit", np.zeros(hh.n, bool))
    median_ability = float(np.median(hh.ability)) if hh.n else 0.0
    bits = (
        (hh.n_chronic > 0) | (hh.illness != 0), Cause.ILLNESS,
        hh.n_disabled > 0, Cause.DISABILITY,
        hh.school_cost > p["register.schooling_cause_share"] * np.maximum(hh.income, 1.0), Cause.SCHOOLING,
        disaster, Cause.DISASTER,
        hh.ability < p["register.land_cause_ability_share"] * median_ability, Cause.LAND,
        (hh.n_skilled == 0) & (hh.head_schooling < 9), Cause.SKILLS,
        hh.savings < p["register.capital_cause_months"] / 12.0 * model.line * size, Cause.CAPITAL,
        hh.labor != Labor.FULL, Cause.LABOR,
        (hh.location_risk & (Location.REMOTE_MOUNTAIN | Location.TINY_HAMLET)) != 0, Cause.TRANSPORT,
        hh.motivation < p["register.motivation_cause_below"], Cause.MOTIVATION,
    )
    causes = np.zeros(hh.n, dtype=np.uint16)
    for mask, bit in zip(bits[::2], bits[1::2]):
        causes |= np.where(mask, np.uint16(bit), np.uint16(0))
    hh.causes = np.where(reg, causes, 0)


def measure_income(model) -> None:
    """Cadres measure per-capita resources with a log-normal error."""
    hh = model.hh
    s = model.p["register.measurement_error_sd"]
    err = np.exp(s * model.streams.normal("measurement", model.year, hh.n) - s * s / 2)
    size = hh.size.astype(np.float64)
    pc = np.divide(hh.resources, size, out=np.full(hh.n, np.inf), where=size > 0)
    hh.measured_pc = pc * err


def exit_threshold(model) -> np.ndarray | float:
    """Per-capita threshold a household must reach to exit this year."""
    ex = model.profile.data["exit"]
    if ex["rule"] == "absolute":
        return model.line
    return ex["relative_share"]["value"] * model.profile.dated("exit.reference_income", model.year)


def guarantees_hold(hh) -> np.ndarray:
    """Compulsory education, basic medical insurance and safe housing (002 §3)."""
    return (hh.n_dropout_compulsory == 0) & hh.insured & ~hh.unsafe_housing


def assess_exits(model) -> None:
    hh, year = model.hh, model.year
    reg = registered(hh)
    old_enough = (year - hh.reg_year) >= model.p["register.min_years_before_exit"]
    if model.profile.data["exit"]["rule"] == "relative":
        # Labor-capable households exit at the relative threshold; those that lost labor
        # exit once covered by dibao above the line (002 §3).
        above = np.where(hh.labor == Labor.FULL, hh.measured_pc >= exit_threshold(model),
                         hh.dibao & (hh.measured_pc >= model.line))
    else:
        above = hh.measured_pc >= model.line
    exits = reg & old_enough & above & guarantees_hold(hh) & (hh.size > 0)
    hh.status = np.where(exits, Status.EXITED, hh.status)
    hh.exit_year = np.where(exits, year, hh.exit_year)
    model.flows["exited"] = exits
    model.last_line = model.line


def aggregate_places(model) -> None:
    """Village and county people, poor people, income and migration network."""
    hh, v, c = model.hh, model.villages, model.counties
    people = hh.weight * hh.size
    poor = np.where(registered(hh), people, 0.0)
    v.people = np.bincount(hh.village, people, minlength=v.n)
    v.poor_people = np.bincount(hh.village, poor, minlength=v.n)
    income = np.bincount(hh.village, hh.weight * hh.income, minlength=v.n)
    v.income_pc = np.divide(income, v.people, out=np.zeros(v.n), where=v.people > 0)
    workers = hh.weight * np.maximum(hh.n_working - hh.n_college, 0)
    migrants = np.bincount(hh.village, hh.weight * hh.n_migrants, minlength=v.n)
    wk = np.bincount(hh.village, workers, minlength=v.n)
    v.migration_share = np.divide(migrants, wk, out=np.zeros(v.n), where=wk > 0)
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
