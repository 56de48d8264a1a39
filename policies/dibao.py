"""The dibao floor and centralized support (002 §3, §7; 004 ch.2 §五 1-3).

Households without full labor capacity whose per-capita income before dibao is below the
dibao line receive the gap, plus `dibao.extra_share` of the line for each member in the
groups 004 ch.2 §五2 names (aged 70+, children, disabled, students beyond compulsory
school). With "two lines in one" (004 ch.2 §五) the dibao line is at least the poverty
line. Households with no working-age member and no labor (特困) get centralized support up
to `dibao.tekun_multiple` times the line instead. Targeting errors both ways: an eligible
household is missed with `exclusion_error`; an ineligible one below twice the line is
covered with `inclusion_error` and a partial benefit. The errors are a property of the
household, not of the year: its targeting draw comes from the "dibao_targeting" stream
keyed by year 0, so for the same parameters the same households are missed (or covered
in error) year after year.

With "two lines in one" the poverty and dibao lines are merged (004 ch.2 §五) and registered
poor who cannot escape poverty through industry or work are all covered (应保尽保,
003 §三(十二): "因病因残、年老体弱、丧失劳动能力 ... 无法通过产业扶持和就业帮助实现脱贫的建卡
贫困户全部纳入最低生活保障"): a supported household (`sim/support.py: supported`: registered,
exited while support continues, under return monitoring) below the line is eligible when
it lacks full labor or has a chronically ill or disabled member (因病因残; the old and frail
are those without full labor), and it is covered whatever its draw; so households that
work cannot lift exit through dibao.
"""

from __future__ import annotations

import numba
import numpy as np

from sim.fields import Labor
from sim.measure import MeasureSpec
from sim.params import pass_params, read_pass_params
from sim.streams import fill_uniforms
from sim.sums import BLOCKS, block_rows, block_totals
from sim.table import Field as F, column_tuple


MEASURE = MeasureSpec(
    "dibao", "means_test", True, "social_security", "dibao",
    "dibao floor: top-up to the dibao line for households without enough labor",
    entitlement=True)
# the means test sees every income the other measures pay this year
# What a planner sets for it (`povsim app`).
PLANNER_PARAMETERS = ("dibao.extra_share", "dibao.tekun_multiple")
STREAMS = ("dibao_targeting",)  # random streams of its own (`sim/streams.py`)
FIELDS = (  # household columns of its own (`sim/table.py: Field`)
    F("transfer_dibao", "float32", 0.0, "yuan/year", "dibao top-up received this year"),
)
FIELDS_READ = ("income_farm", "income_local_wage", "income_migrant", "income_transfers", "income_property")
FIELDS_WRITTEN = ("dibao", "income_transfers", "transfer_dibao")
FULL, NONE = int(Labor.FULL), int(Labor.NONE)
# The household columns the pass reads and writes, by name (`h.income_farm[a:b]`).
DibaoColumns = column_tuple("DibaoColumns", (
    "size", "labor", "weight", "n_working", "n_college", "n_elderly", "n_child", "n_primary", "n_junior", "n_senior",
    "n_disabled", "n_chronic", "income_farm", "income_local_wage", "income_migrant", "income_transfers",
    "income_property", "transfer_dibao", "dibao"), __name__)
DibaoParams = pass_params("DibaoParams", (
    "dibao.exclusion_error", "dibao.inclusion_error", "dibao.inclusion_benefit_share", "dibao.extra_share",
    "dibao.share_of_elderly_over_70", "dibao.tekun_multiple"), __name__, extra=("line",))


@numba.njit(cache=True, parallel=True)
def _dibao_rows(key, q, cover_supported, supported, h):
    """Every row's dibao this year; returns the weighted benefits paid (summed block by
    block, the blocks in order: the same total on any number of threads). Block by block
    in branch-free loops that each store one array: the compiler vectorizes them.
    `cover_supported` ("two lines in one"): eligible supported households are covered
    whatever their draw. `q`: the `DibaoParams` of the year; `h`: the `DibaoColumns` by name."""
    sums = np.zeros((BLOCKS, 1))
    for block in numba.prange(BLOCKS):
        a, b = block_rows(block, h.size.shape[0])
        u, extras, benefit = np.empty(b - a), np.empty(b - a), np.empty(b - a)
        before = np.empty(b - a, np.float32)  # income before dibao: float32 sums, as the row loop gave
        fill_uniforms(key, a, u)
        _income_before(h.income_farm[a:b], h.income_local_wage[a:b], h.income_migrant[a:b], h.income_transfers[a:b],
                       h.income_property[a:b], before)
        _extras(q.share_of_elderly_over_70, h.n_elderly[a:b], h.n_child[a:b], h.n_primary[a:b], h.n_junior[a:b],
                h.n_disabled[a:b], h.n_senior[a:b], h.n_college[a:b], extras)
        sure = supported[a:b]
        frail = np.empty(b - a, np.bool_)
        _frail_block(h.n_disabled[a:b], h.n_chronic[a:b], frail)
        _benefit_block(q, cover_supported, sure, frail, u, before, extras, h.size[a:b], h.labor[a:b], h.n_working[a:b],
                       h.n_college[a:b], benefit)
        _covered_block(q, cover_supported, sure, frail, u, before, h.size[a:b], h.labor[a:b], h.dibao[a:b])
        _pay_block(benefit, h.transfer_dibao[a:b], h.income_transfers[a:b])
        sums[block, 0] = _paid(h.weight[a:b], benefit)
    return block_totals(sums)[0]


@numba.njit(cache=True)
def _frail_block(n_disabled, n_chronic, out):
    for j in range(np.uint64(out.shape[0])):
        out[j] = (n_disabled[j] + n_chronic[j]) > 0


@numba.njit(cache=True, inline="always")
def _covered(q, sure, frail, u, before, size, labor):
    """(covered as eligible, covered by an inclusion error) of one household; `sure`: a
    supported household under two lines in one, eligible also when frail (an ill or
    disabled member) and covered whatever its draw."""
    pc = before / size
    eligible = (size > 0) & ((labor != FULL) | (sure & frail)) & (pc < q.line)
    return (eligible & ((u >= q.exclusion_error) | sure),
            (size > 0) & ~eligible & (pc < 2.0 * q.line) & (u < q.inclusion_error))


@numba.njit(cache=True, error_model="numpy")
def _income_before(income_farm, income_local_wage, income_migrant, income_transfers, income_property, out):
    for j in range(np.uint64(out.shape[0])):
        out[j] = (float(income_farm[j]) + income_local_wage[j] + income_migrant[j] + income_transfers[j]
                  + income_property[j])


@numba.njit(cache=True, error_model="numpy")
def _extras(share_70, n_elderly, n_child, n_primary, n_junior, n_disabled, n_senior, n_college, out):
    """Members in the groups that get `extra_share` more (004 ch.2 §五2)."""
    for j in range(np.uint64(out.shape[0])):
        out[j] = (n_elderly[j] * share_70 + n_child[j] + n_primary[j] + n_junior[j] + n_disabled[j] + n_senior[j]
                  + n_college[j])


@numba.njit(cache=True, error_model="numpy")
def _benefit_block(q, cover_supported, supported, frail, u, before, extras, size, labor, n_working, n_college, out):
    line, inclusion_share, extra_share, tekun = q.line, q.inclusion_benefit_share, q.extra_share, q.tekun_multiple
    for j in range(np.uint64(out.shape[0])):
        eligible, included = _covered(q, cover_supported & supported[j], frail[j], u[j], before[j], size[j],
                                      labor[j])
        # 特困: no labor, no working-age support: centralized support up to a higher floor
        floor = tekun * line if (labor[j] == NONE) & (n_working[j] - n_college[j] <= 0) else line
        benefit = 0.0
        if eligible:
            benefit = max(floor - before[j] / size[j], 0.0) * size[j] + extra_share * line * extras[j]
        elif included:
            benefit = inclusion_share * line * size[j]
        out[j] = benefit


@numba.njit(cache=True, error_model="numpy")
def _covered_block(q, cover_supported, supported, frail, u, before, size, labor, out):
    for j in range(np.uint64(out.shape[0])):
        eligible, included = _covered(q, cover_supported & supported[j], frail[j], u[j], before[j], size[j],
                                      labor[j])
        out[j] = eligible | included


@numba.njit(cache=True)
def _pay_block(benefit, transfer_dibao, income_transfers):
    for j in range(np.uint64(benefit.shape[0])):
        transfer_dibao[j] = benefit[j]
    for j in range(np.uint64(benefit.shape[0])):
        income_transfers[j] += benefit[j]


@numba.njit(cache=True)
def _paid(weight, benefit):
    paid = 0.0
    for j in range(np.uint64(benefit.shape[0])):
        paid += weight[j] * np.float32(benefit[j])  # a float32 product, as the column arithmetic gave
    return paid


def dibao_line(p) -> float:
    line = float(p["dibao.line"])
    return max(line, float(p["poverty.line"])) if p["dibao.two_lines_in_one"] else line


def act(model, on: bool) -> dict[str, float]:
    hh, p = model.hh, model.p
    if not on:  # nobody on dibao this year (when on, the pass below sets every row)
        hh.transfer_dibao = 0.0
        hh.dibao = False
        return {}
    # the targeting draw is the household's for the whole run (year 0's key), not the year's
    q = read_pass_params(DibaoParams, p, line=dibao_line(p))
    paid = _dibao_rows(model.streams.key("dibao_targeting", 0), q, bool(p["dibao.two_lines_in_one"]),
                       model.flows["supported"], hh.pick(DibaoColumns))
    model.flows["reached_dibao"] = hh.dibao.copy()
    return {"fiscal": float(paid)}


def income_contribution(model, rows: np.ndarray) -> np.ndarray:
    """This year's dibao (yuan) of each of the given rows (0 where none): `transfer_dibao`."""
    return model.hh.transfer_dibao[rows].astype(np.float64)
