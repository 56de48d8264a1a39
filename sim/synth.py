"""Population synthesis: a seeded, weighted sample of a region's rural households whose
poor-people count, poor-village count and income distribution match its profile.

Per-capita income is log-normal with the profile's mean; its dispersion is solved so that
the share of rural people below the start year's line equals the registered share (the
register's size stands for the region's poor). The population is cut into three strata by
income quantile: the poor (below the line, with the make-up of registered households:
size, age, health, housing), near-poor (up to `near_upper` times the line: where new poverty comes from) and the rest.
Each stratum is sampled at the profile's rate (scaled to the requested number of rows) with
stratified quantiles, and each row carries the weight of the households it stands for.
Villages are sampled too when there are fewer than `MIN_ROWS_PER_VILLAGE` rows a village.
Nobody is registered here: the register is built from every row by quota and village
appraisal once the start year's incomes are known (`sim/register_build.py`).

Every household draw is a counter-based draw by (stream, row, slot) taken in compiled
passes over the rows (`sim/streams.py`), so a national register of tens of millions of
rows is synthesized in seconds, and the same seed gives the same population on any
number of threads. Villages and counties (thousands of rows) use numpy generators.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from scipy import optimize
from scipy.special import ndtr  # the normal CDF: what scipy.stats.norm.cdf computes, without its 0.5 s import

from .fields import COUNTY, VILLAGE, Location
from .memory import keep_freed_memory
from .registry import HOUSEHOLD
from .streams import Streams, binomial_draw, inverse_normal, normal01, u01
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
    poor: np.ndarray  # rows of the stratum below the line (the register is built from all rows, sim/register_build.py)


def income_sigma(mean: float, line: float, share_below: float) -> float:
    """Log-normal sigma with the given mean and share of people below the line."""
    a = np.log(line / mean)

    def gap(s):
        return ndtr((a + s * s / 2) / s) - share_below

    if gap(3.0) < 0:
        raise ValueError("the registered share is too high for the profile's mean income")
    return float(optimize.brentq(gap, 1e-3, 3.0))


def _coprime_multiplier(m: int) -> int:
    """A multiplier that makes i -> (i * a + b) mod m a permutation of 0..m-1."""
    for a in (2654435761, 2246822519, 3266489917, 668265263, 374761393):
        if np.gcd(a, m) == 1:
            return a % max(m, 1) or 1
    return 1


@numba.njit(cache=True, parallel=True)
def _income_rows(key, start, m, lo, hi, mu, sigma, mult, offset, income):
    """Per-capita incomes of a stratum: m quantiles spread evenly over [lo, hi), jittered,
    and spread over the rows by an affine permutation (so income does not follow the row)."""
    for r in numba.prange(m):
        j = (r * mult + offset) % m
        u = lo + (hi - lo) * (j + u01(key, start + r, 0)) / m
        u = min(max(u, 1e-9), 1.0 - 1e-9)
        income[start + r] = np.exp(mu + sigma * inverse_normal(u))


@numba.njit(cache=True)
def _poisson_draw(u, lam):
    """Inverse-CDF Poisson(lam) from one uniform."""
    pmf = np.exp(-lam)
    cdf = pmf
    k = 0
    while u >= cdf and k < 100:
        k += 1
        pmf *= lam / k
        cdf += pmf
    return k


@numba.njit(cache=True, parallel=True)
def _size_rows(key, start, m, lam, max_size, size):
    for r in numba.prange(m):
        size[start + r] = min(1 + _poisson_draw(u01(key, start + r, 0), lam), max_size)


@numba.njit(cache=True)
def _nudge_sizes(start, m, target, mult, offset, max_size, size):
    """Add or remove one member in rows taken in a scrambled order until the stratum has
    exactly `target` people: then both its households and its people match the profile."""
    diff = target
    for r in range(m):
        diff -= size[start + r]
    while diff != 0:
        moved = False
        for r in range(m):
            if diff == 0:
                break
            i = start + (r * mult + offset) % m
            if diff > 0 and size[i] < max_size:
                size[i] += 1
                diff -= 1
                moved = True
            elif diff < 0 and size[i] > 1:
                size[i] -= 1
                diff += 1
                moved = True
        if not moved:
            break


@numba.njit(cache=True, parallel=True)
def _member_rows(key, start, m, elderly_share, child, school, senior_continue, size, n_child, n_primary,
                 n_junior, n_senior, n_dropout, n_working, n_elderly):
    """Members by age band and school stage, one binomial (one draw) per split."""
    for r in numba.prange(m):
        i = start + r
        n = size[i]
        elderly = binomial_draw(u01(key, i, 1), n, elderly_share)
        rest = n - elderly
        kids = binomial_draw(u01(key, i, 2), rest, child / (1.0 - elderly_share))
        rest -= kids
        pupils = binomial_draw(u01(key, i, 3), rest, school / max(1.0 - elderly_share - child, 1e-9))
        working = rest - pupils
        # Every household has at least one adult: a child-only draw makes the eldest an adult.
        if working + elderly == 0:
            if pupils > 0:
                pupils -= 1
            else:
                kids -= 1
            working += 1
        primary = binomial_draw(u01(key, i, 4), pupils, 0.5)
        rest = pupils - primary
        junior = binomial_draw(u01(key, i, 5), rest, 0.5)
        senior_age = rest - junior
        senior = binomial_draw(u01(key, i, 6), senior_age, senior_continue)
        n_child[i] = kids
        n_primary[i] = primary
        n_junior[i] = junior
        n_senior[i] = senior
        n_dropout[i] = senior_age - senior
        n_working[i] = working
        n_elderly[i] = elderly


@numba.njit(cache=True)
def _beta22(key, row, slot):
    """A Beta(2, 2) draw: the median of three uniforms (density 6x(1-x)), three slots from `slot`."""
    a, b, c = u01(key, row, slot), u01(key, row, slot + 1), u01(key, row, slot + 2)
    return max(min(a, b), min(max(a, b), c))


@numba.njit(cache=True, parallel=True)
def _trait_rows(key_health, key_traits, q, is_reg, n_working, n_elderly, n_disabled, n_chronic, illness,
                insured, unsafe_housing, head_schooling, n_skilled, risk_aversion, motivation, willingness):
    """Health, housing, schooling, skills and traits; `q` holds (poor, other) pairs of
    disabled, chronic, unsafe-housing, head-schooling and skilled shares, then enrolment."""
    for i in numba.prange(n_working.shape[0]):
        k = 0 if is_reg[i] else 1
        adults = n_working[i] + n_elderly[i]
        n_disabled[i] = min(1 if u01(key_health, i, 0) < q[0 + k] else 0, adults)
        n_chronic[i] = min(1 if u01(key_health, i, 1) < q[2 + k] else 0, adults)
        illness[i] = 1 if n_chronic[i] > 0 else 0
        insured[i] = u01(key_health, i, 2) < q[10]
        unsafe_housing[i] = u01(key_health, i, 3) < q[4 + k]
        head_schooling[i] = min(max(np.rint(q[6 + k] + 2.5 * normal01(key_traits, i, 0)), 0.0), 16.0)
        n_skilled[i] = min(1 if u01(key_traits, i, 1) < q[8 + k] else 0, n_working[i])
        # assumption: traits spread over 0..1, centred at 0.5 (Beta(2, 2)), independent of income
        risk_aversion[i] = _beta22(key_traits, i, 2)
        motivation[i] = _beta22(key_traits, i, 5)
        willingness[i] = _beta22(key_traits, i, 8)


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
    near_q = float(ndtr((np.log(profile.value("population.near_poor_upper") * line) - mu) / sigma))
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

    keep_freed_memory(n)  # before the table's gigabytes are allocated (no result changes)
    hh = Table(HOUSEHOLD, n)
    income_pc = np.empty(n)
    stratum = np.empty(n, np.int8)
    size, weight = hh.size, hh.weight  # the passes write the table's own columns
    key_income, key_members = streams.key("synth.income", 0), streams.key("synth.members", 0)
    start_row = 0
    for i, (k, (count, lo, hi, mean_size)) in enumerate(full.items()):
        m = rows[k]
        mult = _coprime_multiplier(m)
        offset = int(u01(key_income, n + i, 0) * m)  # rows past the end: draws no row uses
        _income_rows(key_income, start_row, m, lo, hi, mu, sigma, mult, offset, income_pc)
        stratum[start_row:start_row + m] = i
        weight[start_row:start_row + m] = count / m
        _size_rows(key_members, start_row, m, max(mean_size - 1.0, 0.0), MAX_SIZE, size)
        _nudge_sizes(start_row, m, int(round(m * mean_size)), mult, offset, MAX_SIZE, size)
        elderly = p["synth.elderly_share_poor"] if k == "registered" else p["synth.elderly_share_other"]
        _member_rows(key_members, start_row, m, elderly, p["synth.child_share"], p["synth.school_age_share"],
                     p["education.senior_continue_base"], hh.size, hh.n_child, hh.n_primary, hh.n_junior,
                     hh.n_senior, hh.n_dropout, hh.n_working, hh.n_elderly)
        start_row += m
    is_reg = stratum == 0

    villages, counties, village_of = _places(profile, n, is_reg, gen("synth.villages"),
                                             streams.key("synth.place", 0), share_reg)
    hh.village = village_of
    hh.county = villages.county[village_of]
    hh.location_risk = villages.location_risk[village_of]

    q = np.array([p["synth.disabled_share_poor"], p["synth.disabled_share_other"],
                  p["synth.chronic_share_poor"], p["synth.chronic_share_other"],
                  p["synth.unsafe_housing_poor"], p["synth.unsafe_housing_other"],
                  p["synth.head_schooling_poor"], p["synth.head_schooling_other"],
                  p["synth.skilled_share_poor"], p["synth.skilled_share_other"], p["medical.enrolment"]],
                 dtype=np.float64)
    _trait_rows(streams.key("synth.health", 0), streams.key("synth.traits", 0), q, is_reg, hh.n_working,
                hh.n_elderly, hh.n_disabled, hh.n_chronic, hh.illness, hh.insured, hh.unsafe_housing,
                hh.head_schooling, hh.n_skilled, hh.risk_aversion, hh.motivation, hh.willingness_to_move)

    strata = {k: dict(full_households=full[k][0], rows=rows[k], weight=full[k][0] / rows[k],
                      quantiles=(full[k][1], full[k][2])) for k in full}
    return Population(hh, villages, counties, sigma, strata, income_pc, is_reg)


def _places(profile, n_rows: int, is_reg: np.ndarray, rng, key_place, share_reg: float):
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
    village = np.empty(n_rows, np.int32)
    _village_rows(key_place, is_reg, s_pv, other_share, kept_poor, kept_other, village)
    return v, c, village


@numba.njit(cache=True, parallel=True)
def _village_rows(key, is_reg, share_reg_poor, share_other_poor, kept_poor, kept_other, village):
    """Each row's village: a poor one with its stratum's chance (any one equally likely)."""
    for i in numba.prange(is_reg.shape[0]):
        to_poor = u01(key, i, 0) < (share_reg_poor if is_reg[i] else share_other_poor) or kept_other == 0
        u = u01(key, i, 1)
        if to_poor:
            village[i] = min(int(u * max(kept_poor, 1)), max(kept_poor, 1) - 1)
        else:
            village[i] = kept_poor + min(int(u * kept_other), kept_other - 1)
