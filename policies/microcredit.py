"""Poverty-alleviation microcredit (002 §14; 003 §三(十一); 004 ch.2 §1.7; facts.md: Microcredit).

Registered households with labor capacity and no loan may borrow `microcredit.amount`
(at most 50,000 yuan) for `microcredit.term` years (at most 3), without collateral. Take-up
rises with skills and self-motivation, falls with risk aversion, and falls when loans went
badly for neighbours (the village's share of loans in good standing last year). The loan
is invested in a project whose yearly return is stochastic and meets the county's price
shock and the village's disaster; gains are household-business income, losses eat the
capital. Each year the household owes the part of the interest not subsidized, and the
principal either at maturity (default) or in equal yearly shares (`microcredit.repayment`);
it pays from income above the poverty line, then savings, then at maturity by selling
project capital, and what it cannot pay falls into arrears. A loan more than a year's dues
in arrears, or in arrears at the end of its term, defaults: the bank writes it off and the
county risk-compensation fund pays `risk_compensation_share` of the loss. Repayments count
against the resources the register assesses, so a failed project can push a household
(back) into poverty.
"""

from __future__ import annotations

import numba
import numpy as np

from sim.streams import normal01, u01
from sim.sums import BLOCKS, PLACE_PARTS, block_rows, block_totals, part_rows

NAME = "microcredit"


@numba.njit(cache=True, parallel=True)
def _loan_rows(year, on, q, key_takeup, key_return, price_c, loss_v, good_v, line, county, village,
               status, labor, size, n_skilled, motivation, risk_aversion, weight,
               income_farm, income_local_wage, income_migrant, income_transfers, income_property, oop_medical,
               savings, obligations, principal_a, capital_a, term_left_a, arrears_a, loan_year, defaulted,
               made_out, default_out):
    """Every row's loan year; returns the weighted interest subsidy and defaulted losses."""
    sums = np.zeros((BLOCKS, 2))
    for block in numba.prange(BLOCKS):
        first, last = block_rows(block, size.shape[0])
        subsidy_c, loss_c = _loan_block(first, last, year, on, q, key_takeup, key_return,
                                        price_c, loss_v, good_v, line, county, village, status, labor, size,
                                        n_skilled, motivation, risk_aversion, weight, income_farm,
                                        income_local_wage, income_migrant, income_transfers, income_property,
                                        oop_medical, savings, obligations, principal_a, capital_a, term_left_a,
                                        arrears_a, loan_year, defaulted, made_out, default_out)
        sums[block, 0] = subsidy_c
        sums[block, 1] = loss_c
    totals = block_totals(sums)
    return totals[0], totals[1]


@numba.njit(cache=True)
def _loan_block(lo, hi, year, on, q, key_takeup, key_return, price_c, loss_v, good_v, line, county, village,
                status, labor, size, n_skilled, motivation, risk_aversion, weight,
                income_farm, income_local_wage, income_migrant, income_transfers, income_property, oop_medical,
                savings, obligations, principal_a, capital_a, term_left_a, arrears_a, loan_year, defaulted,
                made_out, default_out):
    amount, term = q[Q_AMOUNT], int(q[Q_TERM])
    subsidy_sum, loss_sum = 0.0, 0.0
    for i in range(lo, hi):  # unsigned rows (`block_rows`)
        made = False
        if (on and (status[i] == 1 or status[i] == 3) and labor[i] != 0 and principal_a[i] <= 0
                and arrears_a[i] <= 0 and not defaulted[i] and size[i] > 0):
            chance = (q[Q_BASE] + q[Q_SKILL] * (1.0 if n_skilled[i] > 0 else 0.0)
                      + q[Q_MOTIVATION] * (motivation[i] - 0.5) - q[Q_RISK] * (risk_aversion[i] - 0.5)
                      - q[Q_PEER] * (1.0 - good_v[village[i]]))
            made = u01(key_takeup, i, 0) < min(max(chance, 0.0), 1.0)
        made_out[i] = made
        if not made and capital_a[i] <= 0 and principal_a[i] <= 0 and arrears_a[i] <= 0:
            # no loan and no project: nothing is owed, paid or lost (most households)
            default_out[i] = False
            continue
        if made:
            principal_a[i] = amount
            capital_a[i] += amount
            term_left_a[i] = term
            loan_year[i] = year

        # the project yields or loses; while a loan runs its return is net of upkeep
        capital = float(capital_a[i])
        if capital > 0:
            r = ((1.0 + q[Q_MEAN] + q[Q_SD] * normal01(key_return, i, 0)) * price_c[county[i]]
                 * (1.0 - loss_v[village[i]]) - 1.0)
            income_farm[i] += max(r, 0.0) * capital
            wear = 0.0 if principal_a[i] > 0 else q[Q_WEAR]
            capital = capital * (1.0 + min(r, 0.0)) * (1.0 - wear)
            capital_a[i] = capital if capital > 1.0 else 0.0

        # dues: unsubsidized interest yearly; principal at maturity or in equal shares
        principal = float(principal_a[i])
        term_left = term_left_a[i]
        active = principal > 0 and term_left > 0
        if active:
            term_left -= 1
        billed = 0.0
        if active:
            if q[Q_EQUAL] > 0:
                billed = principal / max(term_left_a[i], 1)
            elif term_left <= 0:
                billed = principal
        interest = q[Q_RATE] * principal if active else 0.0
        subsidy = interest * q[Q_SUBSIDY]
        due = billed + interest - subsidy
        owed = due + arrears_a[i]
        income = (float(income_farm[i]) + income_local_wage[i] + income_migrant[i] + income_transfers[i]
                  + income_property[i])
        from_income = min(owed, max(income - oop_medical[i] - line * size[i], 0.0))
        from_savings = min(owed - from_income, float(savings[i]))
        from_capital = min(owed - from_income - from_savings, float(capital_a[i])) if term_left <= 0 else 0.0
        savings[i] -= from_savings
        capital_a[i] -= from_capital
        obligations[i] += from_income
        arrears = owed - from_income - from_savings - from_capital
        principal -= billed

        # a small shortfall at first maturity rolls over once; otherwise default
        if (arrears > 1e-6 and term_left <= 0 and year - loan_year[i] < q[Q_TERM]
                and arrears <= q[Q_ROLLOVER] * amount):
            principal, term_left, arrears = arrears, 1, 0.0
        default = arrears > 1e-6 and (term_left <= 0 or arrears > due + 1e-6)
        if default:
            loss_sum += weight[i] * (principal + arrears)
            principal, arrears, term_left = 0.0, 0.0, 0
            defaulted[i] = True
        default_out[i] = default
        principal_a[i] = max(principal, 0.0)
        arrears_a[i] = arrears
        term_left_a[i] = term_left
        subsidy_sum += weight[i] * subsidy
    return subsidy_sum, loss_sum


@numba.njit(cache=True, parallel=True)
def _village_loans(village, weight, principal, arrears, defaults, open_out, loans_v, bad_v):
    """Open loans, and per village the weighted loans and bad loans: each of
    `PLACE_PARTS` row ranges summed in row order into its own copy, the copies added in
    order (as the register's village sums)."""
    n = village.shape[0]
    loans_parts, bad_parts = np.zeros((PLACE_PARTS, loans_v.shape[0])), np.zeros((PLACE_PARTS, bad_v.shape[0]))
    for part in numba.prange(PLACE_PARTS):
        loans, bad = loans_parts[part], bad_parts[part]
        first, last = part_rows(part, n)
        for i in range(first, last):
            open_out[i] = principal[i] > 0 or arrears[i] > 0
            if open_out[i] or defaults[i]:
                w = np.float64(weight[i])
                loans[village[i]] += w
                if arrears[i] > 0 or defaults[i]:
                    bad[village[i]] += w
    for part in range(PLACE_PARTS):
        loans_v += loans_parts[part]
        bad_v += bad_parts[part]


LOAN_PARAMS = ("microcredit.takeup_base", "microcredit.takeup_skill_effect", "microcredit.takeup_motivation_effect",
               "microcredit.takeup_risk_effect", "microcredit.takeup_peer_effect", "microcredit.project_return_mean",
               "microcredit.project_return_sd", "microcredit.capital_depreciation", "microcredit.interest_rate",
               "microcredit.interest_subsidy_share", "microcredit.rollover_share", "microcredit.term")
(Q_BASE, Q_SKILL, Q_MOTIVATION, Q_RISK, Q_PEER, Q_MEAN, Q_SD, Q_WEAR, Q_RATE, Q_SUBSIDY, Q_ROLLOVER, Q_TERM,
 Q_AMOUNT, Q_EQUAL) = range(len(LOAN_PARAMS) + 2)


def act(model, on: bool) -> dict[str, float]:
    hh, p, f = model.hh, model.p, model.flows
    if not on and not (hh.loan_capital > 0).any() and not (hh.loan_principal > 0).any():
        none = np.zeros(hh.n, bool)
        f.update(microcredit_made=none, microcredit_defaults=none, microcredit_open=none,
                 microcredit_subsidy=0.0, microcredit_compensation=0.0)
        return {}
    q = np.array([p[name] for name in LOAN_PARAMS]
                 + [min(p["microcredit.amount"], p["microcredit.max_amount"]),
                    1.0 if p["microcredit.repayment"] == "equal" else 0.0], dtype=np.float64)
    made, defaults = np.empty(hh.n, bool), np.empty(hh.n, bool)  # the pass writes every row
    s, v, c = model.streams, model.villages, model.counties
    subsidy, loss = _loan_rows(model.year, on, q, s.key("loan_takeup", model.year), s.key("project_return", model.year),
               c.price_shock, v.disaster_loss, v.loan_good_share, float(model.line), hh.county, hh.village,
               hh.status, hh.labor, hh.size, hh.n_skilled, hh.motivation, hh.risk_aversion, hh.weight,
               hh.income_farm, hh.income_local_wage, hh.income_migrant, hh.income_transfers, hh.income_property,
               hh.oop_medical, hh.savings, hh.obligations, hh.loan_principal, hh.loan_capital, hh.loan_term_left,
               hh.loan_arrears, hh.loan_year, hh.loan_defaulted, made, defaults)
    compensation = loss * p["microcredit.risk_compensation_share"]

    # Peer effect for next year: the share of each village's loans in good standing.
    open_loans = np.empty(hh.n, bool)
    loans, bad = np.zeros(v.n), np.zeros(v.n)
    _village_loans(hh.village, hh.weight, hh.loan_principal, hh.loan_arrears, defaults, open_loans, loans, bad)
    v.loan_good_share = np.where(loans > 0, 1.0 - bad / np.maximum(loans, 1e-12), v.loan_good_share)

    f["reached_microcredit"] = made | open_loans | defaults
    f["microcredit_made"] = made
    f["microcredit_defaults"] = defaults
    f["microcredit_open"] = open_loans
    f["microcredit_subsidy"] = subsidy
    f["microcredit_compensation"] = compensation
    out = {}
    if f["microcredit_subsidy"]:
        out["fiscal"] = f["microcredit_subsidy"]
    if compensation:
        out["county"] = compensation
    return out
