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

import numpy as np

NAME = "microcredit"


def _project_returns(model, has_capital: np.ndarray) -> np.ndarray:
    """This year's return on each household's project capital, after shocks."""
    hh, p = model.hh, model.p
    z = model.streams.normal("project_return", model.year, hh.n)
    r = p["microcredit.project_return_mean"] + p["microcredit.project_return_sd"] * z
    shock = model.counties.price_shock[hh.county] * (1.0 - model.villages.disaster_loss[hh.village])
    return np.where(has_capital, (1.0 + r) * shock - 1.0, 0.0)


def _take_up(model) -> np.ndarray:
    hh, p = model.hh, model.p
    registered = (hh.status == 1) | (hh.status == 3)
    eligible = (registered & (hh.labor != 0) & (hh.loan_principal <= 0) & (hh.loan_arrears <= 0)
                & ~hh.loan_defaulted & (hh.size > 0))
    good = model.villages.loan_good_share[hh.village]
    chance = (p["microcredit.takeup_base"] + p["microcredit.takeup_skill_effect"] * (hh.n_skilled > 0)
              + p["microcredit.takeup_motivation_effect"] * (hh.motivation - 0.5)
              - p["microcredit.takeup_risk_effect"] * (hh.risk_aversion - 0.5)
              - p["microcredit.takeup_peer_effect"] * (1.0 - good))
    u = model.streams.uniform("loan_takeup", model.year, hh.n)
    return eligible & (u < np.clip(chance, 0.0, 1.0))


def act(model, on: bool) -> dict[str, float]:
    hh, p, f = model.hh, model.p, model.flows
    w = hh.weight.astype(np.float64)
    if not on and not (hh.loan_capital > 0).any() and not (hh.loan_principal > 0).any():
        none = np.zeros(hh.n, bool)
        f.update(microcredit_made=none, microcredit_defaults=none, microcredit_open=none,
                 microcredit_subsidy=0.0, microcredit_compensation=0.0)
        return {}
    made = _take_up(model) if on else np.zeros(hh.n, bool)
    amount = min(p["microcredit.amount"], p["microcredit.max_amount"])
    hh.loan_principal = np.where(made, amount, hh.loan_principal)
    hh.loan_capital = np.where(made, hh.loan_capital + amount, hh.loan_capital)
    hh.loan_term_left = np.where(made, int(p["microcredit.term"]), hh.loan_term_left)
    hh.loan_year = np.where(made, model.year, hh.loan_year)

    # Projects yield (or lose) whether or not new lending is on: loans already made run on.
    capital = hh.loan_capital.astype(np.float64)
    r = _project_returns(model, capital > 0)
    hh.income_farm += (np.maximum(r, 0.0) * capital).astype(np.float32)
    # While a loan runs, the return is net of upkeep; once repaid, the capital wears out.
    wear = np.where(hh.loan_principal > 0, 0.0, p["microcredit.capital_depreciation"])
    capital = capital * (1.0 + np.minimum(r, 0.0)) * (1.0 - wear)
    hh.loan_capital = np.where(capital > 1.0, capital, 0.0)

    # Repayment: the unsubsidized interest every year; the principal either at maturity
    # (the common practice) or in equal yearly shares. The household pays from income
    # above the poverty line, then savings, then (at maturity) by selling project capital.
    principal = hh.loan_principal.astype(np.float64)
    active = (principal > 0) & (hh.loan_term_left > 0)
    term_left = np.where(active, hh.loan_term_left - 1, hh.loan_term_left)
    if p["microcredit.repayment"] == "equal":
        billed = np.where(active, principal / np.maximum(hh.loan_term_left, 1), 0.0)
    else:
        billed = np.where(active & (term_left <= 0), principal, 0.0)
    interest = p["microcredit.interest_rate"] * principal * active
    subsidy = interest * p["microcredit.interest_subsidy_share"]
    due = billed + interest - subsidy
    owed = due + hh.loan_arrears
    income = (hh.income_farm.astype(np.float64) + hh.income_local_wage + hh.income_migrant
              + hh.income_transfers + hh.income_property)
    from_income = np.minimum(owed, np.maximum(income - hh.oop_medical - model.line * hh.size, 0.0))
    from_savings = np.minimum(owed - from_income, hh.savings)
    from_capital = np.where(term_left <= 0, np.minimum(owed - from_income - from_savings, hh.loan_capital), 0.0)
    hh.savings -= from_savings.astype(np.float32)
    hh.loan_capital -= from_capital.astype(np.float32)
    hh.obligations += from_income.astype(np.float32)
    arrears = owed - from_income - from_savings - from_capital
    principal = principal - billed

    # At first maturity a small shortfall is rolled over for one more year (展期); otherwise
    # anything unpaid at maturity, or more than a year's dues overdue before it, defaults.
    first_maturity = model.year - hh.loan_year < p["microcredit.term"]
    rollover = ((arrears > 1e-6) & (term_left <= 0) & first_maturity
                & (arrears <= p["microcredit.rollover_share"] * p["microcredit.amount"]))
    principal = np.where(rollover, arrears, principal)
    term_left = np.where(rollover, 1, term_left)
    arrears = np.where(rollover, 0.0, arrears)
    defaults = (arrears > 1e-6) & ((term_left <= 0) | (arrears > due + 1e-6))
    loss = np.where(defaults, principal + arrears, 0.0)
    compensation = float(np.dot(w, loss)) * p["microcredit.risk_compensation_share"]
    principal = np.where(defaults, 0.0, principal)
    arrears = np.where(defaults, 0.0, arrears)
    hh.loan_defaulted |= defaults
    hh.loan_principal = np.maximum(principal, 0.0)
    hh.loan_arrears = arrears
    hh.loan_term_left = np.where(defaults, 0, term_left)

    # Peer effect for next year: the share of each village's loans in good standing.
    open_loans = (hh.loan_principal > 0) | (hh.loan_arrears > 0)
    in_trouble = (hh.loan_arrears > 0) | defaults
    v = model.villages
    loans = np.bincount(hh.village, w * (open_loans | defaults), minlength=v.n)
    bad = np.bincount(hh.village, w * in_trouble, minlength=v.n)
    v.loan_good_share = np.where(loans > 0, 1.0 - bad / np.maximum(loans, 1e-12), v.loan_good_share)

    f["reached_microcredit"] = made | active
    f["microcredit_made"] = made
    f["microcredit_defaults"] = defaults
    f["microcredit_open"] = open_loans
    f["microcredit_subsidy"] = float(np.dot(w, subsidy))
    f["microcredit_compensation"] = compensation
    out = {}
    if subsidy.any():
        out["fiscal"] = f["microcredit_subsidy"]
    if compensation:
        out["county"] = compensation
    return out
