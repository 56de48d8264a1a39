"""A year of life: ageing and schooling, births and deaths, disability, illness and medical
costs, disasters that hit whole villages, price and wage shocks by county, earning-ability
drift, housing damage and repair.

The household rules run in one compiled pass (`_live_rows`), a block of rows at a time:
ageing and schooling row by row, the rest in loops over the block the compiler vectorizes.
Each decision draws from its own stream by (row, slot), so a policy that changes one
household's income changes no one else's illness (common random numbers). Members move between age bands at
1 / (band width) a year, as if ages were spread evenly within a band; the count of members
meeting an event is one draw per member. Households keep their rows (a household whose
members all die is empty). With the education measure on, households supported at the
start of the year weigh the costs of junior, senior and college net of the support per
pupil (`policies/education.py`) when their children continue or drop out.
"""

from __future__ import annotations

from collections import namedtuple

import numba
import numpy as np

from sim.fields import Illness
from sim.params import pass_params, read_pass_params
from sim.register import registered
from sim.exp import exp_block
from sim.streams import (binomial_draw, binomial_from, binomial_members, binomial_none,
                         fill_mean_one_lognormals,
                         fill_normals, fill_uniforms)
from sim.sums import BLOCKS, block_rows, gather

# Years spent in each band or stage (ageing rates are their inverses).
YEARS_CHILD, YEARS_PRIMARY, YEARS_JUNIOR, YEARS_SENIOR = 6, 6, 3, 3
YEARS_COLLEGE, YEARS_WORKING, YEARS_COMPULSORY_OUT = 4, 47, 2

# The parameters the compiled pass reads (by name: `p.birth_rate`), then the year's values
# that are not parameters: costs of schooling by stage, indices, the line, education support
# per pupil by stage (0 when the measure is off).
LIFE_PARAMS = (
    "demography.birth_rate", "education.senior_continue_base", "education.senior_continue_cost_slope",
    "education.compulsory_dropout_base", "education.compulsory_dropout_cost_slope",
    "education.dropout_return", "education.college_continue_base", "education.college_continue_cost_slope",
    "education.vocational_share", "demography.death_rate_working", "demography.death_rate_elderly",
    "demography.major_illness_death_multiplier", "economy.college_premium",
    "demography.disability_onset_working", "demography.disability_onset_elderly",
    "health.chronic_onset_working", "health.chronic_onset_elderly", "health.chronic_recovery",
    "health.admission_rate_poor", "health.admission_rate_other", "health.elderly_admission_multiplier",
    "health.admission_cost_median", "health.admission_cost_sigma", "health.chronic_cost",
    "economy.ability_drift_sd", "economy.disaster_housing_damage", "economy.housing_repair",
)
LifeParams = pass_params("LifeParams", LIFE_PARAMS, __name__, extra=(
    "cost_junior", "cost_senior", "cost_college", "price_index", "line", "log_no_admission_poor",
    "log_no_admission_other", "support_junior", "support_senior", "support_college"))

# The streams the compiled pass draws from, read by name (`keys.birth`).
LifeKeys = namedtuple("LifeKeys", (
    "birth", "child_to_school", "primary_to_junior", "junior_to_senior", "senior_continue",
    "senior_finish", "vocational", "college_continue", "college_finish", "dropout_age_out",
    "dropout_return", "compulsory_dropout", "compulsory_age_out", "working_to_elderly",
    "death_working", "death_elderly", "disability_onset", "chronic_onset", "chronic_recovery",
    "major_illness", "medical_cost", "ability_drift", "housing_damage", "housing_repair",
))
MAJOR, CHRONIC, NONE = int(Illness.MAJOR), int(Illness.CHRONIC), int(Illness.NONE)


@numba.njit(cache=True)
def _clip01(x):
    return min(max(x, 0.0), 1.0)


@numba.njit(cache=True, parallel=True, error_model="numpy")
def _live_rows(keys, p, is_registered, edu_supported, village_hit,
               n_child, n_primary, n_junior, n_senior, n_dropout, n_dropout_compulsory,
               n_working, n_college, n_elderly, n_skilled, n_disabled, n_chronic, size,
               illness, medical_cost, ability, income, resources, unsafe_housing, village,
               births_out, deaths_out, hit_out):
    for block in numba.prange(BLOCKS):
        first, last = block_rows(block, size.shape[0])
        # the uniforms of the decisions most rows take, drawn for the block in vector loops
        # (the others are drawn in the row loop, only where someone faces the decision)
        n = last - first
        u_birth, u_to_elderly, u_death_w = np.empty(n), np.empty(n), np.empty(n)
        u_death_e, u_disability, u_chronic = np.empty(n), np.empty(n), np.empty(n)
        fill_uniforms(keys.birth, first, u_birth)
        fill_uniforms(keys.working_to_elderly, first, u_to_elderly)
        fill_uniforms(keys.death_working, first, u_death_w)
        fill_uniforms(keys.death_elderly, first, u_death_e)
        fill_uniforms(keys.disability_onset, first, u_disability)
        fill_uniforms(keys.chronic_onset, first, u_chronic)
        for j in range(last - first):
            i = first + j
            avail = n_working[i] - n_college[i]
            inc = max(float(income[i]), 1.0)
            # schooling costs as the household weighs them: net of education support if it gets it
            cost_junior, cost_senior, cost_college = p.cost_junior, p.cost_senior, p.cost_college
            if edu_supported[i]:
                cost_junior -= p.support_junior
                cost_senior -= p.support_senior
                cost_college -= p.support_college
            # --- ageing and schooling, all from the state at the start of the year
            births = binomial_from(u_birth[j], avail, p.birth_rate)
            to_primary = binomial_members(keys.child_to_school, i, n_child[i], 1.0 / YEARS_CHILD)
            to_junior = binomial_members(keys.primary_to_junior, i, n_primary[i], 1.0 / YEARS_PRIMARY)
            junior_done = binomial_members(keys.junior_to_senior, i, n_junior[i], 1.0 / YEARS_JUNIOR)
            # (the chances that depend on costs are worked out only where someone faces them)
            to_senior = dropped = to_college = 0
            if junior_done > 0:
                cont_p = _clip01(p.senior_continue_base - p.senior_continue_cost_slope * cost_senior / inc)
                to_senior = binomial_members(keys.senior_continue, i, junior_done, cont_p)
            if n_junior[i] - junior_done > 0:
                drop_p = _clip01(p.compulsory_dropout_base + p.compulsory_dropout_cost_slope * cost_junior / inc)
                dropped = binomial_members(keys.compulsory_dropout, i, n_junior[i] - junior_done, drop_p)
            back = binomial_members(keys.dropout_return, i, n_dropout_compulsory[i], p.dropout_return)
            aged_out_c = binomial_members(keys.compulsory_age_out, i, n_dropout_compulsory[i] - back,
                                          1.0 / YEARS_COMPULSORY_OUT)
            senior_done = binomial_members(keys.senior_finish, i, n_senior[i], 1.0 / YEARS_SENIOR)
            if senior_done > 0:
                col_p = _clip01(p.college_continue_base - p.college_continue_cost_slope * cost_college / inc)
                to_college = binomial_members(keys.college_continue, i, senior_done, col_p)
            vocational = binomial_members(keys.vocational, i, senior_done - to_college, p.vocational_share)
            dropout_adult = binomial_members(keys.dropout_age_out, i, n_dropout[i], 1.0 / YEARS_SENIOR)
            graduates = binomial_members(keys.college_finish, i, n_college[i], 1.0 / YEARS_COLLEGE)
            to_elderly = binomial_from(u_to_elderly[j], avail, 1.0 / YEARS_WORKING)
            deaths_w = binomial_from(u_death_w[j], avail - to_elderly, p.death_rate_working)
            d_e = p.death_rate_elderly * (p.major_illness_death_multiplier if illness[i] == MAJOR else 1.0)
            deaths_e = binomial_from(u_death_e[j], n_elderly[i], d_e)

            n_child[i] += births - to_primary
            n_primary[i] += to_primary - to_junior
            n_junior[i] += to_junior - junior_done - dropped + back
            n_senior[i] += to_senior - senior_done
            n_dropout_compulsory[i] += dropped - back - aged_out_c
            n_dropout[i] += junior_done - to_senior + aged_out_c - dropout_adult
            n_working[i] += senior_done + dropout_adult - to_elderly - deaths_w
            n_college[i] += to_college - graduates
            n_elderly[i] += to_elderly - deaths_e
            n_skilled[i] += vocational + graduates
            if graduates > 0:  # a graduate's earnings raise the household's ability (share of its labor)
                workers = max(n_working[i] - n_college[i], 1)
                ability[i] *= 1.0 + (p.college_premium - 1.0) * graduates / workers
            adults = n_working[i] + n_elderly[i]
            n_disabled[i] = min(n_disabled[i], adults)
            n_chronic[i] = min(n_chronic[i], adults)
            n_skilled[i] = min(n_skilled[i], n_working[i])
            size[i] = (n_child[i] + n_primary[i] + n_junior[i] + n_senior[i] + n_dropout[i]
                       + n_dropout_compulsory[i] + n_working[i] + n_elderly[i])
            births_out[i] = births
            deaths_out[i] = deaths_w + deaths_e

        # The rest is the same arithmetic for every row: done for the block at once in
        # branch-free loops the compiler runs in vector registers (in the row loop above
        # the major-episode branch and the exponentials cost a third of the pass).
        # --- disability and chronic illness, by age
        rows = (n_working[first:last], n_elderly[first:last], n_disabled[first:last], n_chronic[first:last])
        _disability_and_chronic(keys, p, first, u_disability, u_chronic, rows)
        # --- disasters damage houses; those who can, repair
        gather(village_hit, village[first:last], hit_out[first:last])
        u_damage, u_repair = np.empty(last - first), np.empty(last - first)
        fill_uniforms(keys.housing_damage, first, u_damage)
        fill_uniforms(keys.housing_repair, first, u_repair)
        _housing(p.disaster_housing_damage, p.housing_repair, 2.0 * p.line, hit_out[first:last], u_damage, u_repair,
                 resources[first:last], size[first:last], unsafe_housing[first:last])
        _episodes(keys, p, first, is_registered[first:last], n_working[first:last], n_elderly[first:last],
                  size[first:last], n_chronic[first:last], medical_cost[first:last], illness[first:last])
        # --- earning ability drifts
        drift = np.empty(last - first)
        fill_mean_one_lognormals(keys.ability_drift, first, p.ability_drift_sd, drift)
        _scale_by(ability[first:last], drift)


@numba.njit(cache=True, error_model="numpy")
def _disability_and_chronic(keys, p, first, u_disability, u_chronic, rows):
    """New disabilities, chronic illnesses and recoveries of a block of rows from row
    `first`: each count is `binomial_from`'s, its common answer (none) found for the
    block in a vector loop, the rare others one by one."""
    n_working, n_elderly, n_disabled, n_chronic = rows
    n = n_working.shape[0]
    u_recover = np.empty(n)
    fill_uniforms(keys.chronic_recovery, first, u_recover)
    disabled, onset, recover = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int64)
    w_dis, e_dis = p.disability_onset_working, p.disability_onset_elderly
    w_chr, e_chr, rec = p.chronic_onset_working, p.chronic_onset_elderly, p.chronic_recovery
    _onsets(w_dis, e_dis, n_working, n_elderly, n_disabled, u_disability, disabled)
    _onsets(w_chr, e_chr, n_working, n_elderly, n_chronic, u_chronic, onset)
    _recoveries(rec, n_chronic, u_recover, recover)
    for j in range(np.uint64(n)):
        if disabled[j] < 0:
            at_risk, rate = _onset_chance(w_dis, e_dis, n_working[j], n_elderly[j], n_disabled[j])
            disabled[j] = binomial_draw(u_disability[j], at_risk, rate)
        if onset[j] < 0:
            at_risk, rate = _onset_chance(w_chr, e_chr, n_working[j], n_elderly[j], n_chronic[j])
            onset[j] = binomial_draw(u_chronic[j], at_risk, rate)
        if recover[j] < 0:
            recover[j] = binomial_draw(u_recover[j], n_chronic[j], rec)
    _add(n_disabled, disabled, onset, 0)
    _add(n_chronic, onset, recover, 1)


@numba.njit(cache=True, inline="always")
def _onset_chance(rate_working, rate_elderly, n_working, n_elderly, n_ill):
    """(members at risk, chance for each) of a disability or a chronic illness starting."""
    adults = n_working + n_elderly
    if adults <= 0:
        return 0, 0.0
    return max(adults - n_ill, 0), (n_working * rate_working + n_elderly * rate_elderly) / adults


@numba.njit(cache=True, inline="always")
def _none_or_unknown(u, n, p):
    """0 where `binomial_from(u, n, p)` is 0 by its shortcut, -1 where it needs the inverse CDF."""
    return 0 if binomial_none(u, n, p) else -1


@numba.njit(cache=True, error_model="numpy")
def _onsets(rate_working, rate_elderly, n_working, n_elderly, n_ill, u, out):
    for j in range(np.uint64(out.shape[0])):
        at_risk, rate = _onset_chance(rate_working, rate_elderly, n_working[j], n_elderly[j], n_ill[j])
        out[j] = _none_or_unknown(u[j], at_risk, rate)


@numba.njit(cache=True, error_model="numpy")
def _recoveries(rate, n_chronic, u, out):
    for j in range(np.uint64(out.shape[0])):
        out[j] = _none_or_unknown(u[j], n_chronic[j], rate)


@numba.njit(cache=True)
def _add(counts, plus, minus, sign):
    """counts += plus (sign 0) or plus - minus (sign 1)."""
    for j in range(np.uint64(counts.shape[0])):
        counts[j] += plus[j] - sign * minus[j]


@numba.njit(cache=True)
def _housing(p_damage, p_repair, two_lines, hit, u_damage, u_repair, resources, size, unsafe_housing):
    """Houses a disaster damaged become unsafe; households with resources above twice the
    line repair unsafe ones with chance `p_repair`."""
    for j in range(np.uint64(hit.shape[0])):
        damaged = hit[j] & (u_damage[j] < p_damage)
        repaired = unsafe_housing[j] & (resources[j] > two_lines * max(size[j], 1)) & (u_repair[j] < p_repair)
        unsafe_housing[j] = (unsafe_housing[j] & ~repaired) | damaged


@numba.njit(cache=True, error_model="numpy")
def _episodes(keys, p, first, is_registered, n_working, n_elderly, size, n_chronic, medical_cost, illness):
    """A major episode this year, by poverty status and age, and the year's medical cost,
    for a block of rows from row `first` (the arrays are that block). Its loops each store
    one array, in functions of their own: the compiler vectorizes them (see `sim/streams.py`)."""
    n = size.shape[0]
    log_none, no_episode = np.empty(n), np.empty(n)  # the chance of none: (1 - rate) ** (people at risk)
    _log_no_episode(p.elderly_admission_multiplier, p.log_no_admission_poor, p.log_no_admission_other, is_registered,
                    n_working, n_elderly, size, log_none)
    exp_block(log_none, no_episode)
    u = np.empty(n)
    fill_uniforms(keys.major_illness, first, u)
    z, episode = np.empty(n), np.empty(n)  # the cost of an episode: drawn for every row, used where there is one
    fill_normals(keys.medical_cost, first, z)
    _scale(z, p.admission_cost_sigma)
    exp_block(z, episode)
    _costs(p.admission_cost_median, p.chronic_cost, p.price_index, u, no_episode, episode, n_chronic, medical_cost)
    _illness(u, no_episode, n_chronic, illness)


@numba.njit(cache=True, error_model="numpy")
def _log_no_episode(elderly_mult, log_poor, log_other, is_registered, n_working, n_elderly, size, out):
    for j in range(np.uint64(size.shape[0])):
        at_risk = n_working[j] + elderly_mult * n_elderly[j] + 0.5 * (size[j] - n_working[j] - n_elderly[j])
        out[j] = (log_poor if is_registered[j] else log_other) * at_risk


@numba.njit(cache=True, error_model="numpy")
def _costs(median, chronic_cost, price_index, u, no_episode, episode, n_chronic, medical_cost):
    for j in range(np.uint64(u.shape[0])):
        cost = n_chronic[j] * chronic_cost
        cost += median * episode[j] if u[j] < 1.0 - no_episode[j] else 0.0
        medical_cost[j] = cost * price_index


@numba.njit(cache=True, error_model="numpy")
def _illness(u, no_episode, n_chronic, illness):
    for j in range(np.uint64(u.shape[0])):
        illness[j] = MAJOR if u[j] < 1.0 - no_episode[j] else (CHRONIC if n_chronic[j] > 0 else NONE)


@numba.njit(cache=True, error_model="numpy")
def _scale(values, factor):
    for j in range(np.uint64(values.shape[0])):
        values[j] *= factor


@numba.njit(cache=True, error_model="numpy")
def _scale_by(values, factors):
    for j in range(np.uint64(values.shape[0])):
        values[j] *= factors[j]


def village_and_county_shocks(model) -> np.ndarray:
    """Disasters by village, price and wage shocks by county; returns villages hit."""
    p, v, c, year = model.p, model.villages, model.counties, model.year
    hit = model.streams.uniform("disaster", year, v.n) < p["economy.disaster_probability"]
    m = p["economy.disaster_loss_mean"]
    conc = 4.0  # assumption: beta concentration; losses spread between none and total
    severity = model.streams.generator("disaster_severity", year).beta(
        max(m * conc, 1e-6), max((1 - m) * conc, 1e-6), v.n)
    v.disaster_loss = np.where(hit, severity, 0.0)
    for field, name, sd in (("price_shock", "price_shock", "economy.price_shock_sd"),
                            ("wage_shock", "wage_shock", "economy.wage_shock_sd")):
        s = p[sd]
        c[field] = np.exp(s * model.streams.normal(name, year, c.n) - s * s / 2)
    return hit


def live_year(model) -> None:
    """Step 1 of the year: life."""
    hh, p = model.hh, model.p
    hit = village_and_county_shocks(model)
    # Education support as announced at the start of the year (`policies/education.py:
    # announce`, when the measure is on): the support per pupil by stage (primary, junior,
    # senior, college) and the households it reaches.
    support = model.flows.get("education_support_per_pupil", np.zeros(4))
    edu_supported = model.flows.get("education_supported")
    if edu_supported is None:
        edu_supported = np.zeros(hh.n, bool)
    params = read_pass_params(
        LifeParams, p, cost_junior=model.school_cost("junior"), cost_senior=model.school_cost("senior"),
        cost_college=model.school_cost("college"), price_index=model.price_index, line=model.line,
        log_no_admission_poor=np.log1p(-p["health.admission_rate_poor"]),
        log_no_admission_other=np.log1p(-p["health.admission_rate_other"]), support_junior=support[1],
        support_senior=support[2], support_college=support[3])
    births = np.zeros(hh.n, np.int8)
    deaths = np.zeros(hh.n, np.int8)
    hit_rows = np.empty(hh.n, bool)
    _live_rows(model.streams.named_keys(LifeKeys, model.year), params, registered(hh), edu_supported, hit,
               hh.n_child, hh.n_primary, hh.n_junior, hh.n_senior, hh.n_dropout, hh.n_dropout_compulsory,
               hh.n_working, hh.n_college, hh.n_elderly, hh.n_skilled, hh.n_disabled, hh.n_chronic, hh.size,
               hh.illness, hh.medical_cost, hh.ability, hh.income, hh.resources, hh.unsafe_housing, hh.village,
               births, deaths, hit_rows)
    model.flows["births"] = births
    model.flows["deaths"] = deaths
    model.flows["disaster_hit"] = hit_rows
