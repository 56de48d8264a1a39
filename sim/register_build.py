"""Building the register in the start year (建档立卡): quotas, village appraisal, records.

The region's register size (the profile's registered people) is split into county and
village quotas in proportion to each place's poor people by the synthesized incomes
(规模控制, 分级负责: the scale approved for the province split level by level down to the
administrative villages, 国开办发〔2014〕24号; docs/register_sources.md §1c). Splitting
county quotas by their poor and then village quotas by theirs gives each village the
same share as splitting the region's directly, which is how it is computed. Each village
ranks its households on the appraisal score (`sim/appraisal.py`: measured income and
what neighbours see, 民主评议) and registers them in that order up to its quota, the
household that crosses the quota taken when that leaves the village nearer its quota.
Then the township balances the villages' lists (乡镇平衡, between the two public notices:
Xinhua 2014-12-24, docs/register_sources.md §1d): where a county's villages together fall
short of its quota, the lowest-scored households not yet listed are added as long as they
fit in what is short, and where they overshoot, the highest-scored listed are dropped as
long as they fit in the excess (sample rows stand for many households, so a village's
list rounds by whole rows).
Households in need the appraisal missed (exclusion errors) and households above the line
it took (inclusion errors) follow from the rule; the re-check (`sim/adjustment.py`)
corrects a share of both. The start cohort's causes are recorded during the start year
(`record_start_causes`, a step of the assessment), against that year's costs.

The registration is the assessment of the year before the start year (the incomes
synthesized are that year's), so the start year's assessment is the registered
households' second measurement.
"""

from __future__ import annotations

import numba
import numpy as np

from . import appraisal
from .fields import Status
from .groups import FILL, NEAREST, SLOT_BALANCE, lottery, row_people, take_within
from .register import diagnose, measure_income, registered


@numba.njit(cache=True)
def _village_poor_people(village, weight, size, income, line, n_villages):
    """People in households below the line by income, per village (in row order)."""
    out = np.zeros(n_villages)
    for i in range(village.shape[0]):
        if size[i] > 0 and income[i] < line * size[i]:
            out[village[i]] += np.float64(weight[i]) * size[i]
    return out


def quotas(model) -> np.ndarray:
    """Each village's quota of registered people."""
    hh, v = model.hh, model.villages
    village_poor = _village_poor_people(hh.village, hh.weight, hh.size, hh.income, float(model.line), v.n)
    total = float(village_poor.sum())
    register_people = float(model.profile.value("register.people"))
    if total <= 0:
        return np.zeros(v.n)
    return register_people * village_poor / total


@numba.njit(cache=True)
def _listed_people(county, idx, listed, people, n_counties):
    """People listed per county, in candidate order (as `np.bincount` sums them)."""
    out = np.zeros(n_counties)
    for k in range(idx.shape[0]):
        out[county[idx[k]]] += people[k] if listed[k] else 0.0
    return out


@numba.njit(cache=True, parallel=True)
def _add_and_drop(county, idx, listed, short, over, add, drop):
    """Candidates the balancing may add (unlisted, in a county short of its quota) and
    drop (listed, in a county over it)."""
    for k in numba.prange(idx.shape[0]):
        c = county[idx[k]]
        add[k] = (not listed[k]) and short[c] > 0
        drop[k] = listed[k] and over[c] > 0


def _balance(model, idx, score, people, chosen, village_quota) -> np.ndarray:
    """The township's balancing: each county's list brought nearest its quota."""
    hh, n_c = model.hh, model.counties.n
    county_quota = np.bincount(model.villages.county, village_quota, minlength=n_c)
    listed = chosen[idx]
    have = _listed_people(hh.county, idx, listed, people, n_c)
    short, over = np.maximum(county_quota - have, 0.0), np.maximum(have - county_quota, 0.0)
    year = model.start_year - 1
    # a county with nothing short (or over) takes (or drops) no one: only the others' rows
    add, drop = np.empty(idx.size, bool), np.empty(idx.size, bool)
    _add_and_drop(hh.county, idx, listed, short, over, add, drop)
    out, into = idx[add], idx[drop]
    added = take_within(hh.county, n_c, out, score[add], people[add], short, FILL, unit=hh.size[out],
                        draws=lottery(model, SLOT_BALANCE, year))
    dropped = take_within(hh.county, n_c, into, -score[drop], people[drop], over, FILL, unit=hh.size[into],
                          draws=lottery(model, SLOT_BALANCE, year))
    return (chosen | added) & ~dropped


def build(model) -> None:
    """Measure, appraise and register up to each village's quota."""
    hh = model.hh
    registration_year = model.start_year - 1
    measure_income(model, registration_year)
    hh.measured_pc_last = hh.measured_pc
    idx = np.flatnonzero(hh.size > 0)
    people = row_people(hh, idx)
    score = appraisal.score(model, model.line, registration_year, idx)
    village_quota = quotas(model)
    chosen = take_within(hh.village, model.villages.n, idx, score, people, village_quota, NEAREST)
    chosen = _balance(model, idx, score, people, chosen, village_quota)
    hh.status = np.where(chosen, Status.REGISTERED, Status.NEVER)
    hh.reg_year = np.where(chosen, registration_year, 0)
    hh.cohort = chosen
    reg = np.flatnonzero(chosen)
    model.start_register_people = np.bincount(hh.county[reg], row_people(hh, reg), minlength=model.counties.n)


def record_start_causes(model) -> None:
    """The start cohort's causes, recorded in the start year (the year of its registration
    work: 2014 for the national register, cadres filling in each household's handbook with
    its causes, docs/register_sources.md §1d), against that year's illnesses and costs."""
    if model.year == model.start_year:
        diagnose(model, model.hh.cohort & registered(model.hh))
