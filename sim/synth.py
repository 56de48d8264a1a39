"""Population synthesis: a seeded, weighted sample of a region's rural households whose
registered-poor count, poor-village count and income distribution match its profile.

Per-capita income is log-normal with the profile's mean; its dispersion is solved so that
the share of rural people below the start year's line equals the registered share. The
population is cut into three strata by income quantile: registered poor (below the line),
near-poor (up to `near_upper` times the line: where new poverty comes from) and the rest.
Each stratum is sampled at the profile's rate (scaled to the requested number of rows) with
stratified quantiles, and each row carries the weight of the households it stands for.
Villages are sampled too when there are fewer than `MIN_ROWS_PER_VILLAGE` rows a village.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

from .fields import COUNTY, HOUSEHOLD, VILLAGE, Location, Status
from .streams import Streams
from .table import Table

MIN_ROWS_PER_VILLAGE = 8  # assumption: enough rows for a village's incidence to mean something
MAX_SIZE = 12


@dataclass
class Population:
    households: Table
    villages: Table
    counties: Table
    income_sigma: float
    strata: dict
    target_income_pc: np.ndarray  # per-capita income each row was drawn to have


def income_sigma(mean: float, line: float, share_below: float) -> float:
    """Log-normal sigma with the given mean and share of people below the line."""
    a = np.log(line / mean)

    def gap(s):
        return stats.norm.cdf((a + s * s / 2) / s) - share_below

    if gap(3.0) < 0:
        raise ValueError("the registered share is too high for the profile's mean income")
    return float(optimize.brentq(gap, 1e-3, 3.0))


def _stratified_quantiles(rng, lo: float, hi: float, n: int) -> np.ndarray:
    """n quantiles spread evenly over [lo, hi), jittered and shuffled."""
    u = lo + (hi - lo) * (np.arange(n) + rng.random(n)) / n
    rng.shuffle(u)
    return np.clip(u, 1e-9, 1 - 1e-9)


def _members(rng, n: int, mean_size: float, elderly_share: float, p) -> dict[str, np.ndarray]:
    size = np.clip(1 + rng.poisson(max(mean_size - 1.0, 0.0), n), 1, MAX_SIZE)
    # Nudge sizes by one member in random rows so the stratum's mean size is exact: then
    # both its households and its people match the profile.
    diff = int(round(n * mean_size)) - int(size.sum())
    while diff:
        room = np.flatnonzero(size < MAX_SIZE) if diff > 0 else np.flatnonzero(size > 1)
        if room.size == 0:
            break
        take = rng.choice(room, min(abs(diff), room.size), replace=False)
        size[take] += 1 if diff > 0 else -1
        diff -= int(np.sign(diff)) * take.size
    child, school = p["synth.child_share"], p["synth.school_age_share"]
    n_elderly = rng.binomial(size, elderly_share)
    rest = size - n_elderly
    n_child = rng.binomial(rest, child / (1 - elderly_share))
    rest -= n_child
    n_school = rng.binomial(rest, school / max(1 - elderly_share - child, 1e-9))
    n_working = rest - n_school
    # Every household has at least one adult: a child-only draw makes the eldest an adult.
    no_adult = (n_working + n_elderly) == 0
    from_school = no_adult & (n_school > 0)
    n_school -= from_school
    n_child -= no_adult & ~from_school
    n_working += no_adult
    n_primary = rng.binomial(n_school, 0.5)
    rest = n_school - n_primary
    n_junior = rng.binomial(rest, 0.5)
    senior_age = rest - n_junior
    n_senior = rng.binomial(senior_age, p["education.senior_continue_base"])
    return dict(n_child=n_child, n_primary=n_primary, n_junior=n_junior, n_senior=n_senior,
                n_dropout=senior_age - n_senior, n_working=n_working, n_elderly=n_elderly, size=size)


def synthesize(profile, params, households: int | None, seed) -> Population:
    start = profile.data["start_year"]
    p = params.year(start)
    streams = Streams(seed)
    gen = lambda name: streams.generator(name, 0)  # noqa: E731  synthesis happens once, "year 0"

    reg_people = profile.value("register.people")
    reg_hh = profile.value("register.households")
    rural = profile.value("population.rural_people")
    size_other = profile.value("population.household_size_other")
    mean_income = profile.value("population.income_mean")
    line = params.at("poverty.line", start)
    share_reg = reg_people / rural
    sigma = income_sigma(mean_income, line, share_reg)
    mu = np.log(mean_income) - sigma * sigma / 2
    near_q = float(stats.norm.cdf((np.log(profile.value("population.near_poor_upper") * line) - mu) / sigma))
    near_q = max(near_q, share_reg)

    # Full-size households per stratum and the rows that stand for them.
    full = {
        "registered": (reg_hh, 0.0, share_reg, reg_people / reg_hh),
        "near_poor": (rural * (near_q - share_reg) / size_other, share_reg, near_q, size_other),
        "other": (rural * (1 - near_q) / size_other, near_q, 1.0, size_other),
    }
    rates = {k: profile.value(f"sampling.{k}") for k in full}
    full_rows = sum(full[k][0] * rates[k] for k in full)
    scale = 1.0 if households is None else households / full_rows
    rows = {k: max(1, int(round(full[k][0] * rates[k] * scale))) for k in full}
    n = sum(rows.values())

    cols: dict[str, np.ndarray] = {k: [] for k in ("weight", "income_pc", "stratum")}
    members: dict[str, list] = {}
    r_inc, r_mem = gen("synth.income"), gen("synth.members")
    for i, (k, (count, lo, hi, mean_size)) in enumerate(full.items()):
        m = rows[k]
        u = _stratified_quantiles(r_inc, lo, hi, m)
        cols["income_pc"].append(np.exp(mu + sigma * stats.norm.ppf(u)))
        cols["stratum"].append(np.full(m, i, dtype=np.int8))
        elderly = p["synth.elderly_share_poor"] if k == "registered" else p["synth.elderly_share_other"]
        drawn = _members(r_mem, m, mean_size, elderly, p)
        for name, arr in drawn.items():
            members.setdefault(name, []).append(arr)
        cols["weight"].append(np.full(m, count / m))
    cols = {k: np.concatenate(v) for k, v in cols.items()}
    members = {k: np.concatenate(v) for k, v in members.items()}
    is_reg = cols["stratum"] == 0

    villages, counties, village_of = _places(profile, n, is_reg, gen("synth.villages"), share_reg)

    hh = Table(HOUSEHOLD, n)
    hh.weight = cols["weight"]
    for name, arr in members.items():
        hh[name] = arr
    hh.village = village_of
    hh.county = villages.county[village_of]
    hh.location_risk = villages.location_risk[village_of]

    g = gen("synth.health")
    reg_or = lambda a, b: np.where(is_reg, a, b)  # noqa: E731
    adults = hh.n_working + hh.n_elderly
    hh.n_disabled = np.minimum(g.random(n) < reg_or(p["synth.disabled_share_poor"], p["synth.disabled_share_other"]), adults)
    hh.n_chronic = np.minimum(g.random(n) < reg_or(p["synth.chronic_share_poor"], p["synth.chronic_share_other"]), adults)
    hh.illness = np.where(hh.n_chronic > 0, 1, 0)
    hh.insured = g.random(n) < p["medical.enrolment"]
    hh.unsafe_housing = g.random(n) < reg_or(p["synth.unsafe_housing_poor"], p["synth.unsafe_housing_other"])

    g = gen("synth.traits")
    hh.head_schooling = np.clip(np.rint(g.normal(reg_or(p["synth.head_schooling_poor"],
                                                         p["synth.head_schooling_other"]), 2.5, n)), 0, 16)
    hh.n_skilled = np.minimum(g.random(n) < reg_or(p["synth.skilled_share_poor"], p["synth.skilled_share_other"]),
                              hh.n_working)
    # assumption: traits spread over 0..1, centred at 0.5 (Beta(2, 2)), independent of income
    hh.risk_aversion = g.beta(2.0, 2.0, n)
    hh.motivation = g.beta(2.0, 2.0, n)
    hh.willingness_to_move = g.beta(2.0, 2.0, n)

    hh.status = np.where(is_reg, Status.REGISTERED, Status.NEVER)
    hh.reg_year = np.where(is_reg, start - 1, 0)
    strata = {k: dict(full_households=full[k][0], rows=rows[k], weight=full[k][0] / rows[k],
                      quantiles=(full[k][1], full[k][2])) for k in full}
    return Population(hh, villages, counties, sigma, strata, cols["income_pc"])


def _places(profile, n_rows: int, is_reg: np.ndarray, rng, share_reg: float):
    """Villages (sampled when rows are few) and counties; each household's village."""
    n_v = int(profile.value("population.villages"))
    n_pv = int(profile.value("register.poor_villages"))
    n_c = int(profile.value("register.counties"))
    n_pc = int(profile.value("register.poor_counties"))
    kept = min(n_v, max(1, n_rows // MIN_ROWS_PER_VILLAGE))
    kept_poor = min(n_pv, int(round(kept * n_pv / n_v))) if n_pv else 0
    if n_pv and kept_poor == 0:
        kept_poor = 1
    kept_other = max(kept - kept_poor, 1 if n_v > n_pv else 0)
    v = Table(VILLAGE, kept_poor + kept_other)
    v.poor = np.arange(v.n) < kept_poor
    v.was_poor = v.poor
    v.weight = np.where(v.poor, n_pv / max(kept_poor, 1), (n_v - n_pv) / max(kept_other, 1))

    # Poor villages lie in poor counties (when there are any); the rest anywhere.
    county = rng.integers(0, n_c, v.n)
    if n_pc:
        county = np.where(v.poor, rng.integers(0, n_pc, v.n), county)
    v.county = county
    c = Table(COUNTY, n_c)
    c.poor = np.arange(n_c) < n_pc
    c.was_poor = c.poor

    risk = np.zeros(v.n, dtype=np.uint8)
    for flag, key in ((Location.REMOTE_MOUNTAIN, "remote_mountain"), (Location.GEO_HAZARD, "geo_hazard"),
                      (Location.ECO_FRAGILE, "eco_fragile"), (Location.TINY_HAMLET, "tiny_hamlet")):
        share = np.where(v.poor, profile.value(f"location.poor_villages.{key}"),
                         profile.value(f"location.other_villages.{key}"))
        risk |= np.where(rng.random(v.n) < share, np.uint8(flag), np.uint8(0))
    v.location_risk = risk

    # Registered rows go to poor villages with the profile's share; other rows go there in
    # proportion to the non-registered people poor villages hold (villages of equal size).
    s_pv = profile.value("population.share_of_poor_in_poor_villages") if kept_poor else 0.0
    pv_people = n_pv / n_v
    other_share = max(pv_people - s_pv * share_reg, 0.0) / max(1 - share_reg, 1e-12)
    to_poor = rng.random(n_rows) < np.where(is_reg, s_pv, other_share)
    if kept_other == 0:
        to_poor[:] = True
    village = np.where(to_poor, rng.integers(0, max(kept_poor, 1), n_rows),
                       kept_poor + rng.integers(0, max(kept_other, 1), n_rows))
    return v, c, village
