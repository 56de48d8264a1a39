"""Household choices of the year: who works where (farm, local wages, migration), the
earnings that follow, and enrolment in medical insurance.

The desired share of able workers away rises with skills, willingness to move and the
village's migration network (the share of its working-age people who worked away last
year) and falls with care needs at home; a share `economy.local_work_share` of those at
home want local wage work. Work is a persistent state (`persistent=True`, every simulated
year): each of last year's migrants comes home with chance `economy.migrant_exit_rate`
(λ), each able worker at home leaves with chance min(λ s / (1 - s), 1), s the desired
share, so s is the long-run share; local wage work among those at home likewise
(`economy.local_work_exit_rate` and the desired local share). The counts that change are
binomial, one uniform per row and decision ("migrate_return", "migrate", "local_work_end",
"local_work"). The start year (`persistent=False`) draws the stationary allocation: able
workers x share, rounded stochastically ("migrate", "local_work" keys of the caller).
A member placed by employment services (`policies/employment.py`) is one of next year's
migrants or local workers, and stays or leaves at their rates.
One compiled pass (`_work_rows`) does it all, a block of rows at a time.

Relocated households (from the year after their move, `policies/relocation.py`) live near
towns and industrial parks: they migrate more (`relocation.migration_bonus`), find local
wage work more often (`relocation.local_work_bonus`) and farm less
(`relocation.farm_loss_share` of their farm labor; their land is leased out, so its own
yield, `economy.land_income_units`, comes to them as rent instead).
"""

from __future__ import annotations

from collections import namedtuple

import numba
import numpy as np

from sim.fields import Illness, Labor
from sim.params import pass_params, read_pass_params
from sim.streams import binomial_draw, binomial_none, fill_mean_one_lognormals, fill_uniforms
from sim.sums import BLOCKS, block_rows, gather
from sim.table import column_tuple

WORK_PARAMS = (
    "economy.partial_labor_units", "economy.elderly_farm_units", "health.major_labor_loss",
    "economy.migration_base", "economy.migration_network_effect", "economy.migration_skill_effect",
    "economy.migration_care_penalty", "economy.migration_willingness_effect", "economy.local_work_share",
    "economy.skill_premium", "economy.land_income_units", "economy.local_wage_ratio",
    "economy.migrant_wage_ratio", "economy.income_shock_sd", "economy.pension", "medical.enrolment_rate",
    "relocation.farm_loss_share", "relocation.migration_bonus", "relocation.local_work_bonus",
    "economy.migrant_exit_rate", "economy.local_work_exit_rate",
)
WorkParams = pass_params("WorkParams", WORK_PARAMS, __name__)
# The household columns the pass reads and writes, by name (`h.n_working[a:b]`).
WorkColumns = column_tuple("WorkColumns", (
    "village", "county", "n_working", "n_college", "n_elderly", "n_disabled", "n_chronic", "n_child", "n_skilled",
    "illness", "willingness_to_move", "ability", "insured", "relocated",
    "labor", "labor_units", "n_migrants", "n_local",
    "income_farm", "income_local_wage", "income_migrant", "income_transfers", "income_property"), __name__)
# The stream keys it draws from: workers who start migrant and local work (or, in the
# start year, the draws rounding the stationary allocation), who stop, income shocks,
# insurance enrolment.
WorkKeys = namedtuple("WorkKeys", ("start_migrant", "start_local", "stop_migrant", "stop_local", "shock", "enrol"),
                      module=__name__)
# What rows read from their village and county.
WorkPlaces = namedtuple("WorkPlaces", ("migration_share", "disaster_loss", "price_shock", "wage_shock"),
                        module=__name__)
MAJOR = int(Illness.MAJOR)
FULL, PARTIAL, NONE = int(Labor.FULL), int(Labor.PARTIAL), int(Labor.NONE)


@numba.njit(cache=True, parallel=True, error_model="numpy")
def _work_rows(q, growth_index, keys, shocks, enrol, persistent, places, h):
    """Block by block, in branch-free loops that each store one array (the compiler
    vectorizes them; one loop storing a dozen columns it ran a row at a time). `q`: the
    `WORK_PARAMS` as a named tuple, read by name (a tuple, not an array: read from an array
    in a loop, they could be the array the loop writes, and the compiler would not
    vectorize it); `keys` (`WorkKeys`), `places` (`WorkPlaces`) and the household columns
    `h` (`WorkColumns`) likewise."""
    for block in numba.prange(BLOCKS):
        a, b = block_rows(block, h.n_working.shape[0])
        n = b - a
        # the block's draws: income shocks' log-normal factors; the uniforms that round
        # expected migrants and local workers to whole people (start year) or draw the
        # workers who start and stop; insurance enrolment
        shock, u_migrate, u_local = np.ones(n), np.empty(n), np.empty(n)
        if shocks:
            fill_mean_one_lognormals(keys.shock, a, q.income_shock_sd, shock)
        fill_uniforms(keys.start_migrant, a, u_migrate)
        fill_uniforms(keys.start_local, a, u_local)
        # --- labor capacity from age, disability, chronic and major illness
        able, units = np.empty(n), np.empty(n)
        members = (h.n_working[a:b], h.n_college[a:b], h.n_elderly[a:b], h.n_disabled[a:b], h.n_chronic[a:b],
                   h.illness[a:b])
        _capacity_block(q, members, 0, able)
        _capacity_block(q, members, 1, units)
        _copy(units, h.labor_units[a:b])
        _labor_block(able, units, h.labor[a:b])
        # --- migration and local work: persistent states (or the stationary allocation)
        migrants, local = np.empty(n), np.empty(n)
        # (what rows read from their village or county is gathered first: `gather`)
        network = np.empty(n, places.migration_share.dtype)
        gather(places.migration_share, h.village[a:b], network)
        home = (able, u_migrate, u_local, network, h.n_child[a:b], h.n_elderly[a:b], h.n_chronic[a:b],
                h.n_disabled[a:b], h.n_skilled[a:b], h.willingness_to_move[a:b], h.relocated[a:b])
        if persistent:
            u_return, u_end = np.empty(n), np.empty(n)
            fill_uniforms(keys.stop_migrant, a, u_return)
            fill_uniforms(keys.stop_local, a, u_end)
            _persist_block(q, home, u_return, u_end, h.n_migrants[a:b], h.n_local[a:b], migrants, local)
        else:
            _split_block(q, home, 0, migrants)
            _split_block(q, home, 1, local)
        _whole(migrants, h.n_migrants[a:b])
        _whole(local, h.n_local[a:b])
        # --- earnings by source
        level, skill_mult = np.empty(n), np.empty(n)
        _level_block(growth_index, h.ability[a:b], level)
        _skill_block(q, h.n_working[a:b], h.n_college[a:b], h.n_skilled[a:b], skill_mult)
        farm_shock, wage_shock = np.empty(n), np.empty(n, places.wage_shock.dtype)
        if shocks:
            _farm_shock(places.price_shock, places.disaster_loss, h.county[a:b], h.village[a:b], shock, farm_shock)
            gather(places.wage_shock, h.county[a:b], wage_shock)
        _farm_block(q, shocks, level, units, migrants, local, h.relocated[a:b], farm_shock, h.income_farm[a:b])
        _wage_block(q.local_wage_ratio, shocks, level, skill_mult, local, wage_shock, h.income_local_wage[a:b])
        _migrant_wage_block(q.migrant_wage_ratio, level, skill_mult, migrants, h.income_migrant[a:b])
        _pension_block(q.pension, h.n_elderly[a:b], h.income_transfers[a:b])
        _zero(h.income_property[a:b])  # through a call: see `sim/table.py: column_tuple`
        if enrol:
            u_enrol = np.empty(n)
            fill_uniforms(keys.enrol, a, u_enrol)
            _enrol_block(q.enrolment_rate, u_enrol, h.insured[a:b])


@numba.njit(cache=True, inline="always")
def _capacity(q, n_working, n_college, n_elderly, n_disabled, n_chronic, illness):
    """(able-bodied working-age members, labor units) of one household."""
    avail = float(n_working - n_college)
    adults = avail + n_elderly
    impaired = min(1.0, (n_disabled + n_chronic) / adults) if adults > 0 else 0.0
    able = avail * (1.0 - impaired)
    units = able + avail * impaired * q.partial_labor_units + n_elderly * (1.0 - impaired) * q.elderly_farm_units
    if illness == MAJOR:
        units -= q.major_labor_loss
    return able, max(units, 0.0)


@numba.njit(cache=True, error_model="numpy")
def _capacity_block(q, members, which, out):
    """Able-bodied working-age members (which = 0) or labor units (1) of each row of a block."""
    n_working, n_college, n_elderly, n_disabled, n_chronic, illness = members
    for j in range(np.uint64(out.shape[0])):
        out[j] = _capacity(q, n_working[j], n_college[j], n_elderly[j], n_disabled[j], n_chronic[j], illness[j])[which]


@numba.njit(cache=True)
def _labor_block(able, units, out):
    for j in range(np.uint64(out.shape[0])):
        out[j] = FULL if able[j] >= 1.0 - 1e-6 else (PARTIAL if units[j] > 0 else NONE)


@numba.njit(cache=True, inline="always")
def _shares(q, network, n_child, n_elderly, n_chronic, n_disabled, n_skilled, willingness, relocated):
    """(desired share of able workers away, desired share of those at home in local wage
    work) of one household: the stationary levels of the work states."""
    dependants = n_child + n_elderly + n_chronic + n_disabled
    share = (q.migration_base + q.migration_network_effect * network
             + q.migration_skill_effect * (1.0 if n_skilled > 0 else 0.0)
             - q.migration_care_penalty * dependants + q.migration_willingness_effect * (willingness - 0.5))
    local_share = q.local_work_share
    if relocated:  # near towns and parks: more work away and nearby
        share += q.migration_bonus
        local_share = min(local_share + q.local_work_bonus, 1.0)
    return min(max(share, 0.0), 0.9), local_share


@numba.njit(cache=True, inline="always")
def _work_split(q, able, u_migrate, u_local, network, n_child, n_elderly, n_chronic, n_disabled, n_skilled,
                willingness, relocated):
    """(migrants, local wage workers) of one household at the stationary allocation: the
    expected counts rounded stochastically."""
    share, local_share = _shares(q, network, n_child, n_elderly, n_chronic, n_disabled, n_skilled, willingness,
                                 relocated)
    whole = np.floor(able)
    expect = able * share
    migrants = np.floor(expect) + (1.0 if u_migrate < expect - np.floor(expect) else 0.0)
    migrants = min(migrants, whole)
    stay = max(whole - migrants, 0.0) * local_share
    local = np.floor(stay) + (1.0 if u_local < stay - np.floor(stay) else 0.0)
    return migrants, local


@numba.njit(cache=True, error_model="numpy")
def _split_block(q, home, which, out):
    """Migrants (which = 0) or local wage workers (1) of each row of a block."""
    able, u_m, u_l, network, n_child, n_elderly, n_chronic, n_disabled, n_skilled, will, moved = home
    for j in range(np.uint64(out.shape[0])):
        out[j] = _work_split(q, able[j], u_m[j], u_l[j], network[j], n_child[j], n_elderly[j],
                             n_chronic[j], n_disabled[j], n_skilled[j], will[j], moved[j])[which]


@numba.njit(cache=True, error_model="numpy")
def _persist_block(q, home, u_return, u_end, prev_migrants, prev_local, migrants, local):
    """This year's migrants and local wage workers (`migrants`, `local`: whole numbers in
    floats) of each row of a block from last year's (`prev_*`, the table's columns, which
    `_whole` overwrites afterwards): a two-state chain per worker for each (`_chain`),
    migration among the able workers first, then local wage work among those at home."""
    able, u_m, u_l = home[0], home[1], home[2]
    n = able.shape[0]
    pool, share, stop, start = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    # migration: able workers (whole people), the desired share away
    _floor(able, pool)
    _share_block(q, home, 0, share)
    _chain(q.migrant_exit_rate, pool, prev_migrants, share, u_return, u_m, stop, start, migrants)
    # local wage work: those at home, the desired local share
    _at_home(pool, migrants, pool)
    _share_block(q, home, 1, share)
    _chain(q.local_work_exit_rate, pool, prev_local, share, u_end, u_l, stop, start, local)


@numba.njit(cache=True, error_model="numpy")
def _chain(rate, pool, prev, share, u_stop, u_start, stop, start, out):
    """One two-state chain per worker of the `pool`: last year's workers in the state
    (`prev`, at most the pool) stop with chance `rate`; the others start with chance
    min(rate s / (1 - s), 1), so the long-run share is s. Each count is `binomial_from`'s:
    the common answer (none) found in vector loops, the others drawn one by one."""
    _count_none(rate, pool, prev, share, u_stop, 0, stop)
    _count_none(rate, pool, prev, share, u_start, 1, start)
    for j in range(np.uint64(out.shape[0])):
        if stop[j] < 0:
            n, p = _at_risk(rate, pool[j], prev[j], share[j], 0)
            stop[j] = binomial_draw(u_stop[j], int(n), p)
        if start[j] < 0:
            n, p = _at_risk(rate, pool[j], prev[j], share[j], 1)
            start[j] = binomial_draw(u_start[j], int(n), p)
    _next_state(pool, prev, stop, start, out)


@numba.njit(cache=True, inline="always")
def _at_risk(rate, pool, prev, share, which):
    """(workers at risk, chance for each) of stopping (which = 0: last year's workers in
    the state, at most the pool) or starting (1: the others of the pool). The count is a
    whole number held in a float (the vector loops have no float-to-integer conversion)."""
    current = min(float(prev), pool)
    if which == 0:
        return current, rate
    return pool - current, min(rate * share / max(1.0 - share, 1e-12), 1.0)


@numba.njit(cache=True, error_model="numpy")
def _count_none(rate, pool, prev, share, u, which, out):
    """0 where the count of `_at_risk(..., which)` is 0 by `binomial_none`'s shortcut, -1
    where it needs the inverse CDF."""
    for j in range(np.uint64(out.shape[0])):
        n, p = _at_risk(rate, pool[j], prev[j], share[j], which)
        out[j] = 0.0 if binomial_none(u[j], n, p) else -1.0


@numba.njit(cache=True)
def _next_state(pool, prev, stop, start, out):
    for j in range(np.uint64(out.shape[0])):
        out[j] = min(float(prev[j]), pool[j]) - stop[j] + start[j]


@numba.njit(cache=True, error_model="numpy")
def _share_block(q, home, which, out):
    """Desired share away (which = 0) or in local wage work at home (1) of each row of a block."""
    able, u_m, u_l, network, n_child, n_elderly, n_chronic, n_disabled, n_skilled, will, moved = home
    for j in range(np.uint64(out.shape[0])):
        out[j] = _shares(q, network[j], n_child[j], n_elderly[j], n_chronic[j], n_disabled[j], n_skilled[j],
                         will[j], moved[j])[which]


@numba.njit(cache=True)
def _floor(values, out):
    for j in range(np.uint64(out.shape[0])):
        out[j] = np.floor(values[j])


@numba.njit(cache=True)
def _at_home(pool, migrants, out):
    for j in range(np.uint64(out.shape[0])):
        out[j] = max(pool[j] - migrants[j], 0.0)


@numba.njit(cache=True)
def _whole(counts, out):
    for j in range(np.uint64(out.shape[0])):
        out[j] = int(counts[j])


@numba.njit(cache=True)
def _copy(values, out):
    for j in range(np.uint64(out.shape[0])):
        out[j] = values[j]


@numba.njit(cache=True)
def _zero(out):
    for j in range(np.uint64(out.shape[0])):
        out[j] = 0.0


@numba.njit(cache=True)
def _level_block(growth_index, ability, out):
    for j in range(np.uint64(out.shape[0])):
        out[j] = ability[j] * growth_index


@numba.njit(cache=True, error_model="numpy")
def _skill_block(q, n_working, n_college, n_skilled, out):
    for j in range(np.uint64(out.shape[0])):
        workers = max(n_working[j] - n_college[j], 1)
        out[j] = 1.0 + (q.skill_premium - 1.0) * min(n_skilled[j] / workers, 1.0)


@numba.njit(cache=True)
def _farm_shock(price_c, disaster_v, county, village, shock, out):
    """The farm-income multiplier: the county's price shock, the village's disaster loss,
    the household's own shock."""
    for j in range(np.uint64(out.shape[0])):
        out[j] = price_c[county[j]] * (1.0 - disaster_v[village[j]]) * shock[j]


@numba.njit(cache=True, error_model="numpy")
def _farm_block(q, shocks, level, units, migrants, local, relocated, farm_shock, out):
    for j in range(np.uint64(out.shape[0])):
        if relocated[j]:  # farms less; the land is leased out (its rent is property income)
            farm = level[j] * max(units[j] - migrants[j] - local[j], 0.0) * (1.0 - q.farm_loss_share)
        else:
            farm = level[j] * (max(units[j] - migrants[j] - local[j], 0.0) + q.land_income_units)
        if shocks:
            farm *= farm_shock[j]
        out[j] = farm


@numba.njit(cache=True, error_model="numpy")
def _wage_block(local_ratio, shocks, level, skill_mult, local, wage_shock, out):
    for j in range(np.uint64(out.shape[0])):
        wage = level[j] * local_ratio * skill_mult[j] * local[j]
        if shocks:
            wage *= wage_shock[j]
        out[j] = wage


@numba.njit(cache=True, error_model="numpy")
def _migrant_wage_block(migrant_ratio, level, skill_mult, migrants, out):
    for j in range(np.uint64(out.shape[0])):
        out[j] = level[j] * migrant_ratio * skill_mult[j] * migrants[j]


@numba.njit(cache=True)
def _pension_block(pension, n_elderly, out):
    for j in range(np.uint64(out.shape[0])):
        out[j] = n_elderly[j] * pension


@numba.njit(cache=True)
def _enrol_block(rate, u, insured):
    for j in range(np.uint64(u.shape[0])):
        insured[j] = insured[j] | (u[j] < rate)


def work(model, key_migrate, key_local, shocks: bool, enrol: bool, persistent: bool = False,
         shock_year: int | None = None) -> None:
    """Labor capacity, work and earnings of every row. `key_migrate`, `key_local`: the keys
    of the start year's rounding draws, or (`persistent`) of the draws of workers who start
    migrant or local wage work; `persistent`: this year's work from last year's (every
    simulated year), else the stationary allocation (the start year); `shocks`: farm, wage
    and household income shocks, the household's drawn for `shock_year` (default the
    model's year); `enrol`: insurance enrolment."""
    hh, p, v, c = model.hh, model.p, model.villages, model.counties
    params = read_pass_params(WorkParams, p)
    s, year = model.streams, model.year
    key_shock = s.key("income_shock", year if shock_year is None else shock_year)
    key_enrol = s.key("insurance_enrol", year)
    key_return = s.key("migrate_return", year) if persistent else key_shock  # (unused if not)
    key_end = s.key("local_work_end", year) if persistent else key_shock
    keys = WorkKeys(key_migrate, key_local, key_return, key_end, key_shock, key_enrol)
    places = WorkPlaces(v.migration_share, v.disaster_loss, c.price_shock, c.wage_shock)
    _work_rows(params, float(model.growth_index), keys, shocks, enrol, persistent, places, hh.pick(WorkColumns))


def decide(model) -> None:
    """Step 2 of the year: behaviour."""
    s, year = model.streams, model.year
    work(model, s.key("migrate", year), s.key("local_work", year), shocks=True, enrol=True, persistent=True)
