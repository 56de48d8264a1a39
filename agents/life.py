"""A year of life, vectorized over households: ageing and schooling, births and deaths,
disability, illness and medical costs, disasters that hit whole villages, price and wage
shocks by county, housing damage and repair.

Every rule draws one number per household row from its own named stream (common random
numbers), so a policy that changes one household's income changes no one's illness.
Members move between age bands at 1 / (band width) a year, as if ages were spread evenly
within a band; households keep their rows (a household whose members all die is empty).
"""

from __future__ import annotations

import numpy as np

from sim.draws import any_of, binomial, lognormal
from sim.fields import Illness
from sim.register import registered

# Years spent in each band or stage (ageing rates are their inverses).
YEARS_CHILD, YEARS_PRIMARY, YEARS_JUNIOR, YEARS_SENIOR = 6, 6, 3, 3
YEARS_COLLEGE, YEARS_WORKING, YEARS_COMPULSORY_OUT = 4, 47, 2


def _u(model, name):
    return model.streams.uniform(name, model.year, model.hh.n)


def cost_burden(cost_per_pupil: float, income: np.ndarray) -> np.ndarray:
    """Schooling cost of one pupil relative to the household's income last year."""
    return cost_per_pupil / np.maximum(income, 1.0)


def age_and_school(model) -> None:
    """Births, school progress and dropout, ageing into work and old age, deaths."""
    hh, p = model.hh, model.p
    income = hh.income.astype(np.float64)
    avail = (hh.n_working - hh.n_college).astype(np.int16)

    births = binomial(_u(model, "birth"), avail, p["demography.birth_rate"])
    to_primary = binomial(_u(model, "child_to_school"), hh.n_child, 1 / YEARS_CHILD)
    to_junior = binomial(_u(model, "primary_to_junior"), hh.n_primary, 1 / YEARS_PRIMARY)
    junior_done = binomial(_u(model, "junior_to_senior"), hh.n_junior, 1 / YEARS_JUNIOR)
    cont_p = np.clip(p["education.senior_continue_base"] - p["education.senior_continue_cost_slope"]
                     * cost_burden(model.school_cost("senior"), income), 0.0, 1.0)
    to_senior = binomial(_u(model, "senior_continue"), junior_done, cont_p)
    drop_p = np.clip(p["education.compulsory_dropout_base"] + p["education.compulsory_dropout_cost_slope"]
                     * cost_burden(model.school_cost("junior"), income), 0.0, 1.0)
    still_junior = hh.n_junior - junior_done
    dropped = binomial(_u(model, "compulsory_dropout"), still_junior, drop_p)
    back = binomial(_u(model, "dropout_return"), hh.n_dropout_compulsory, p["education.dropout_return"])
    aged_out_c = binomial(_u(model, "compulsory_age_out"), hh.n_dropout_compulsory - back,
                          1 / YEARS_COMPULSORY_OUT)
    senior_done = binomial(_u(model, "senior_finish"), hh.n_senior, 1 / YEARS_SENIOR)
    col_p = np.clip(p["education.college_continue_base"] - p["education.college_continue_cost_slope"]
                    * cost_burden(model.school_cost("college"), income), 0.0, 1.0)
    to_college = binomial(_u(model, "college_continue"), senior_done, col_p)
    vocational = binomial(_u(model, "vocational"), senior_done - to_college, p["education.vocational_share"])
    dropout_adult = binomial(_u(model, "dropout_age_out"), hh.n_dropout, 1 / YEARS_SENIOR)
    graduates = binomial(_u(model, "college_finish"), hh.n_college, 1 / YEARS_COLLEGE)
    to_elderly = binomial(_u(model, "working_to_elderly"), avail, 1 / YEARS_WORKING)
    deaths_w = binomial(_u(model, "death_working"), avail - to_elderly, p["demography.death_rate_working"])
    major_last = hh.illness == Illness.MAJOR
    d_e = p["demography.death_rate_elderly"] * np.where(
        major_last, p["demography.major_illness_death_multiplier"], 1.0)
    deaths_e = binomial(_u(model, "death_elderly"), hh.n_elderly, d_e)

    i8 = np.int8
    hh.n_child += (births - to_primary).astype(i8)
    hh.n_primary += (to_primary - to_junior).astype(i8)
    hh.n_junior += (to_junior - junior_done - dropped + back).astype(i8)
    hh.n_senior += (to_senior - senior_done).astype(i8)
    hh.n_dropout_compulsory += (dropped - back - aged_out_c).astype(i8)
    hh.n_dropout += (junior_done - to_senior + aged_out_c - dropout_adult).astype(i8)
    hh.n_working += (senior_done + dropout_adult - to_elderly - deaths_w).astype(i8)
    hh.n_college += (to_college - graduates).astype(i8)
    hh.n_elderly += (to_elderly - deaths_e).astype(i8)
    hh.n_skilled += (vocational + graduates).astype(i8)
    if graduates.any():  # a graduate's earnings raise the household's ability (share of its labor)
        workers = np.maximum(hh.n_working - hh.n_college, 1)
        boost = 1.0 + (p["economy.college_premium"] - 1.0) * graduates / workers
        hh.ability *= boost.astype(np.float32)

    adults = (hh.n_working + hh.n_elderly).astype(np.int8)
    np.minimum(hh.n_disabled, adults, out=hh.n_disabled)
    np.minimum(hh.n_chronic, adults, out=hh.n_chronic)
    np.minimum(hh.n_skilled, hh.n_working, out=hh.n_skilled)
    hh.size = hh.n_child + hh.n_primary + hh.n_junior + hh.n_senior + hh.n_dropout \
        + hh.n_dropout_compulsory + hh.n_working + hh.n_elderly
    model.flows["births"] = births
    model.flows["deaths"] = (deaths_w + deaths_e).astype(np.int8)


def _per_adult_rate(hh, rate_working, rate_elderly):
    adults = (hh.n_working + hh.n_elderly).astype(np.float64)
    return np.divide(hh.n_working * rate_working + hh.n_elderly * rate_elderly, adults,
                     out=np.zeros_like(adults), where=adults > 0), adults


def health(model) -> None:
    """Disability and chronic illness onset and recovery; major episodes and their costs."""
    hh, p = model.hh, model.p
    rate, adults = _per_adult_rate(hh, p["demography.disability_onset_working"],
                                   p["demography.disability_onset_elderly"])
    able = np.maximum(adults - hh.n_disabled, 0).astype(np.int8)
    hh.n_disabled += binomial(_u(model, "disability_onset"), able, rate)

    rate, adults = _per_adult_rate(hh, p["health.chronic_onset_working"], p["health.chronic_onset_elderly"])
    well = np.maximum(adults - hh.n_chronic, 0).astype(np.int8)
    onset = binomial(_u(model, "chronic_onset"), well, rate)
    recover = binomial(_u(model, "chronic_recovery"), hh.n_chronic, p["health.chronic_recovery"])
    hh.n_chronic += (onset - recover).astype(np.int8)

    major = _u(model, "major_illness") < _admission_risk(hh, p)
    episode = lognormal(model.streams.normal("medical_cost", model.year, hh.n),
                        p["health.admission_cost_median"], p["health.admission_cost_sigma"])
    cost = np.where(major, episode, 0.0) + hh.n_chronic * p["health.chronic_cost"]
    hh.medical_cost = cost * model.price_index
    hh.illness = np.where(major, Illness.MAJOR, np.where(hh.n_chronic > 0, Illness.CHRONIC, Illness.NONE))


def _admission_risk(hh, p) -> np.ndarray:
    """Chance of a major episode in the household this year, by age and poverty status."""
    rate = np.where(registered(hh), p["health.admission_rate_poor"], p["health.admission_rate_other"])
    at_risk = (hh.n_working + p["health.elderly_admission_multiplier"] * hh.n_elderly
               + 0.5 * (hh.size - hh.n_working - hh.n_elderly))
    return any_of(at_risk, rate)


def expected_oop_medical(model) -> np.ndarray:
    """Expected yearly out-of-pocket medical cost under basic insurance (for synthesis)."""
    hh, p = model.hh, model.p
    s = p["health.admission_cost_sigma"]
    mean_episode = p["health.admission_cost_median"] * np.exp(s * s / 2)
    cost = _admission_risk(hh, p) * mean_episode + hh.n_chronic * p["health.chronic_cost"]
    covered = (1.0 - p["medical.noncompliant_share"]) * p["medical.reimbursement"]
    return cost * np.where(hh.insured & model.measures.get("medical_insurance", False), 1.0 - covered, 1.0)


def shocks(model) -> None:
    """Disasters by village, price and wage shocks by county, ability drift, housing."""
    hh, p, v, c = model.hh, model.p, model.villages, model.counties
    hit = model.streams.uniform("disaster", model.year, v.n) < p["economy.disaster_probability"]
    m = p["economy.disaster_loss_mean"]
    conc = 4.0  # assumption: beta concentration; losses spread between none and total
    severity = model.streams.generator("disaster_severity", model.year).beta(
        max(m * conc, 1e-6), max((1 - m) * conc, 1e-6), v.n)
    v.disaster_loss = np.where(hit, severity, 0.0)

    g = model.streams.generator("price_shock", model.year)
    s = p["economy.price_shock_sd"]
    c.price_shock = np.exp(s * g.standard_normal(c.n) - s * s / 2)
    g = model.streams.generator("wage_shock", model.year)
    s = p["economy.wage_shock_sd"]
    c.wage_shock = np.exp(s * g.standard_normal(c.n) - s * s / 2)

    s = p["economy.ability_drift_sd"]
    hh.ability *= np.exp(s * model.streams.normal("ability_drift", model.year, hh.n) - s * s / 2).astype(np.float32)

    damaged = hit[hh.village] & (_u(model, "housing_damage") < p["economy.disaster_housing_damage"])
    can_repair = hh.resources > 2.0 * model.line * np.maximum(hh.size, 1)
    repaired = hh.unsafe_housing & can_repair & (_u(model, "housing_repair") < p["economy.housing_repair"])
    hh.unsafe_housing = (hh.unsafe_housing & ~repaired) | damaged
    model.flows["disaster_hit"] = hit[hh.village]


def live_year(model) -> None:
    """Step 1 of the year: life."""
    age_and_school(model)
    health(model)
    shocks(model)
