"""Poverty-alleviation microcredit (扶贫小额信贷) as it was run.

Sources: 002 §14; 003 §三(十一); 004 ch.2 §1.7; facts.md: Microcredit; 国开办发〔2014〕78号,
银监发〔2017〕42号, 银保监发〔2019〕24号 and the 2020 notices (docs/register_sources.md §6).
The 2014 guidance (国开办发〔2014〕78号): 5万元以下、3年期以内、免担保免抵押、
基准利率放贷、财政贴息、县建风险补偿金.
Parameters are `microcredit.*` (policies/parameters/measures.toml); the rules, in the order
they act on a row each year:

1. Who may borrow. A household the measures serve (`model.flows["supported"]`: registered;
   exited while support continues, as 银监发〔2017〕42号 keeps the policy for exited households
   during the campaign; under return monitoring, as edge households became eligible in 2020)
   with labor capacity, members, no open loan and no earlier default. Its yearly chance of
   taking a loan (stream "loan_takeup") is `takeup_base` + `takeup_skill_effect` [a skilled
   member] + `takeup_motivation_effect` x (motivation - 0.5) - `takeup_risk_effect` x (risk
   aversion - 0.5) - `takeup_peer_effect` x (share of the village's loans not in good standing
   last year). A loan of `amount` (at most `max_amount`) for `term` years (at most
   `max_term`) becomes project capital; it is charged from the year it is made.
2. The project. Each year a project with capital returns r = (1 + `project_return_mean` +
   `project_return_sd` z) x county price shock x (1 - village disaster loss) - 1 (stream
   "project_return"); when r is below zero, agricultural and industry insurance, its premiums
   subsidized for the poor, pays `insured_loss_share` of the loss, whatever its cause (project
   risk, prices, disaster), so r becomes r x (1 - `insured_loss_share`). Its gain g = r x
   capital, gains and losses alike, is the household's
   net business income of the year (added to `income_farm`). `reinvest_share` of a gain is
   reinvested: added to the capital and to `obligations` (money the household cannot spend or
   save). A loss is borne by the capital, which falls by |g|; g (negative) is added to
   `obligations` too, so the loss lowers income but not the cash that goes to savings. Once
   the loan is closed the capital wears out by `capital_depreciation` a year; capital under
   one yuan is gone.
3. What falls due. Each year the loan is open, interest of `interest_rate` x principal
   outstanding: `interest_subsidy_share` of it is paid by poverty funds (fiscal cost), the
   rest is due from the household. The principal falls due at maturity (`repayment` =
   "at_maturity") or in equal yearly instalments ("equal": the principal outstanding over the
   years left, so all of it in the last year).
4. Paying. What is due, with any arrears, is paid from savings, then from income above the
   poverty line x size (income less what is already committed this year and out-of-pocket
   medical costs; this part is added to `obligations`, so it counts against the resources
   the register assesses), then, at maturity only, by selling
   project capital: as much as settles the loan when the capital is enough, all of it at the
   last maturity (when no extension is left). What is unpaid before maturity is arrears,
   carried to maturity: not a default during the term.
5. Maturity. If anything is unpaid at the end of the term and the loan has been extended
   fewer than `max_extensions` times, it is extended (展期) by `extension_years`: what is
   unpaid stays owed (the unpaid principal bearing interest, subsidized as before; the rest
   as arrears), the project is kept running rather than sold (assumption: a bank extends a
   loan so that the project can still repay it; selling part of it first would leave the
   household nothing to repay the rest from), and `loan_extensions` counts the extension. The
   Feb 2020 notice let loans due in 2020, extended ones included, be extended again (the
   dated values of `max_extensions`). Only a shortfall left at the end of the last extension
   is a default: the project is sold, the bank writes off what is still unpaid, the county
   risk-compensation fund pays `risk_compensation_share` of it (county payer), and the
   household may never borrow again.
6. Renewal (续贷). A household that repays in full at maturity and is still eligible (rule 1)
   borrows again at once with chance `renewal_share` (stream "loan_renewal"): a loan made
   this year, its term counted from next year.
7. Peer effect. Each village's share of loans in good standing (open loans neither in
   arrears nor extended, over open and defaulted loans) sets next year's take-up.

Flows: `microcredit_made` (new and renewed loans), `microcredit_renewals`,
`microcredit_extensions`, `microcredit_defaults`, `microcredit_open` (bool per row);
`microcredit_subsidy` and `microcredit_compensation` (weighted yuan); `reached_microcredit`;
and the year's project gains, sparsely: `microcredit_gain_rows` (rows with a project, in
order) and `microcredit_gains` (their g), read by `income_contribution`.

The passes run on the `BLOCKS` row blocks in parallel; weighted sums are summed per block
and added in block order, so totals are the same on any thread count. Every draw is a pure
function of (stream key, row, slot 0), so drawing only where a draw is used gives the same
numbers as one draw per row whether or not used (common random numbers).
"""

from __future__ import annotations

from collections import namedtuple

import numba
import numpy as np

from sim.flows import Flow
from sim.measure import MeasureSpec
from sim.results import Column
from sim.sparse import values_at
from sim.streams import normal01, u01
from sim.sums import BLOCKS, PLACE_PARTS, block_rows, block_totals, part_rows
from sim.table import Field as F, column_tuple


FLOWS = (
    Flow("microcredit_made", "bool per row", "policies/microcredit.py", "loans made this year, new and renewed"),
    Flow("microcredit_renewals", "bool per row", "policies/microcredit.py", "loans renewed (续贷) this year"),
    Flow("microcredit_extensions", "bool per row", "policies/microcredit.py", "loans extended (展期) this year"),
    Flow("microcredit_defaults", "bool per row", "policies/microcredit.py", "loans defaulted this year"),
    Flow("microcredit_open", "bool per row", "policies/microcredit.py", "loans open at the end of the year"),
    Flow("microcredit_subsidy", "yuan", "policies/microcredit.py", "interest paid by poverty funds (weighted)"),
    Flow("microcredit_compensation", "yuan", "policies/microcredit.py",
         "losses on defaulted loans paid by county risk funds (weighted)"),
    Flow("microcredit_gain_rows", "rows", "policies/microcredit.py", "rows with a project this year, ascending"),
    Flow("microcredit_gains", "yuan per listed row", "policies/microcredit.py",
         "the project's gain g of each of microcredit_gain_rows (a loss is negative)"),
)

MEASURE = MeasureSpec(
    "microcredit", "credit", False, "industry_employment", "production_employment",
    "poverty-alleviation microcredit: up to 50,000 yuan, up to 3 years, no collateral")
# Dues are paid from savings and from income after every other measure but dibao, whose
# means test in turn counts the project's income: dibao acts after it.
# What a planner sets for it (`povsim app`).
PLANNER_PARAMETERS = ("microcredit.amount", "microcredit.interest_subsidy_share")
STREAMS = ("loan_takeup", "project_return", "loan_renewal")  # random streams of its own (`sim/streams.py`)
FIELDS = (  # household columns of its own (`sim/table.py: Field`)
    F("loan_principal", "float32", 0.0, "yuan", "microcredit principal outstanding"),
    F("loan_term_left", "int8", 0, "years", "years left on the microcredit loan"),
    F("loan_arrears", "float32", 0.0, "yuan", "microcredit repayments overdue"),
    F("loan_capital", "float32", 0.0, "yuan", "capital of the project the loan financed, still producing"),
    F("loan_year", "int16", 0, "year", "year the current or last loan was made (0 = never)"),
    F("loan_defaulted", "bool", False, "flag", "has defaulted on a microcredit loan"),
    F("loan_extensions", "int8", 0, "count", "times the current microcredit loan has been extended (展期)"),
)
FIELDS_READ = ("income_farm", "income_local_wage", "income_migrant", "income_transfers", "income_property",
               "oop_medical", "obligations", "savings")
ACTS_BEFORE = ("dibao",)
FIELDS_WRITTEN = ("income_farm", "loan_arrears", "loan_capital", "loan_defaulted", "loan_extensions",
                  "loan_principal", "loan_term_left", "loan_year", "obligations", "savings")

# Parameters the passes read, by name: `microcredit.<field>`; then the loan amount (capped at
# the legal maximum) and the schedule (1.0 for equal instalments).
LOAN_PARAMS = ("microcredit.takeup_base", "microcredit.takeup_skill_effect", "microcredit.takeup_motivation_effect",
               "microcredit.takeup_risk_effect", "microcredit.takeup_peer_effect", "microcredit.project_return_mean",
               "microcredit.project_return_sd", "microcredit.capital_depreciation", "microcredit.reinvest_share",
               "microcredit.interest_rate", "microcredit.interest_subsidy_share", "microcredit.term",
               "microcredit.max_extensions", "microcredit.extension_years", "microcredit.renewal_share",
               "microcredit.insured_loss_share")
LoanParams = namedtuple("LoanParams", [name.split(".", 1)[1] for name in LOAN_PARAMS] + ["amount", "equal"])

# The household columns the loan passes read and write, by name (`h.loan_principal[i]`);
# the stream keys, village and county values and the year's flags likewise.
LoanColumns = column_tuple("LoanColumns", (
    "county", "village", "labor", "size", "weight", "n_skilled", "motivation", "risk_aversion", "income_farm",
    "income_local_wage", "income_migrant", "income_transfers", "income_property", "oop_medical", "savings",
    "obligations", "loan_principal", "loan_capital", "loan_term_left", "loan_arrears", "loan_year", "loan_defaulted",
    "loan_extensions"), __name__)
LoanKeys = namedtuple("LoanKeys", ("project_return", "loan_renewal"))
LoanPlaces = namedtuple("LoanPlaces", ("price_shock", "disaster_loss"))
LoanFlags = namedtuple("LoanFlags", ("made", "defaults", "extended", "renewed"))

# assumption: less than a yuan left unpaid is rounding (float32 balances), not a debt
PAID_UP = 1.0


def loan_params(p) -> LoanParams:
    """The passes' parameters, as floats, from a year's parameter lookup."""
    return LoanParams(*(float(p[name]) for name in LOAN_PARAMS),
                      amount=float(min(p["microcredit.amount"], p["microcredit.max_amount"])),
                      equal=1.0 if p["microcredit.repayment"] == "equal" else 0.0)


@numba.njit(cache=True, parallel=True)
def _takeup_rows(year, on, q, key_takeup, good_v, supported, h, made_out, projects):
    """Rule 1 on every row: new loans. `projects[block]`: the block's rows with project
    capital once the new loans are made (the rows whose gains the loan pass stores)."""
    for block in numba.prange(BLOCKS):
        first, last = block_rows(block, h.size.shape[0])
        projects[block] = _takeup_block(first, last, year, on, q, key_takeup, good_v, supported, h, made_out)


@numba.njit(cache=True)
def _takeup_block(lo, hi, year, on, q, key_takeup, good_v, supported, h, made_out):
    """Rule 1 on rows lo..hi (`LoanColumns` by name); returns the rows with project capital."""
    amount, term = q.amount, int(q.term)
    count = 0
    for i in range(lo, hi):  # unsigned rows (`block_rows`)
        made = False
        if (on and supported[i] and h.labor[i] != 0 and h.loan_principal[i] <= 0 and h.loan_arrears[i] <= 0
                and not h.loan_defaulted[i] and h.size[i] > 0):
            chance = (q.takeup_base + q.takeup_skill_effect * (1.0 if h.n_skilled[i] > 0 else 0.0)
                      + q.takeup_motivation_effect * (h.motivation[i] - 0.5)
                      - q.takeup_risk_effect * (h.risk_aversion[i] - 0.5)
                      - q.takeup_peer_effect * (1.0 - good_v[h.village[i]]))
            made = u01(key_takeup, i, 0) < min(max(chance, 0.0), 1.0)
            if made:
                h.loan_principal[i] = amount
                h.loan_capital[i] += amount
                h.loan_term_left[i] = term
                h.loan_year[i] = year
                h.loan_extensions[i] = 0
        made_out[i] = made
        if h.loan_capital[i] > 0:
            count += 1
    return count


@numba.njit(cache=True, parallel=True)
def _loan_rows(year, on, q, keys, places, line, supported, h, offsets, flags, gain_rows, gains):
    """Rules 2-6 on every row; returns the weighted interest subsidy and the defaulted losses.
    The block's project rows and their gains go to `gain_rows`, `gains` from `offsets[block]`."""
    sums = np.zeros((BLOCKS, 2))
    for block in numba.prange(BLOCKS):
        first, last = block_rows(block, h.size.shape[0])
        subsidy_c, loss_c = _loan_block(first, last, offsets[block], year, on, q, keys, places, line, supported, h,
                                        flags, gain_rows, gains)
        sums[block, 0] = subsidy_c
        sums[block, 1] = loss_c
    totals = block_totals(sums)
    return totals[0], totals[1]


@numba.njit(cache=True)
def _loan_block(lo, hi, k, year, on, q, keys, places, line, supported, h, flags, gain_rows, gains):
    """Rules 2-6 on rows lo..hi: `keys` (`LoanKeys`), `places` (`LoanPlaces`), the household
    columns `h` (`LoanColumns`) and the year's flags (`LoanFlags`) by name."""
    subsidy_sum, loss_sum = 0.0, 0.0
    for i in range(lo, hi):  # unsigned rows (`block_rows`)
        capital, principal = float(h.loan_capital[i]), float(h.loan_principal[i])
        arrears = float(h.loan_arrears[i])
        flags.defaults[i] = False
        flags.extended[i] = False
        flags.renewed[i] = False
        if capital <= 0 and principal <= 0 and arrears <= 0:
            continue  # no loan and no project: nothing is earned, owed or paid (most households)
        open_loan = principal > 0 or arrears > 0

        # Rule 2: the project's gain or loss is this year's business income
        if capital > 0:
            r = ((1.0 + q.project_return_mean + q.project_return_sd * normal01(keys.project_return, i, 0))
                 * places.price_shock[h.county[i]] * (1.0 - places.disaster_loss[h.village[i]]) - 1.0)
            if r < 0.0:
                r *= 1.0 - q.insured_loss_share  # insurance pays its share of the loss
            g = r * capital
            h.income_farm[i] += g
            kept = q.reinvest_share * g if g > 0 else g  # reinvested, or borne by the capital
            h.obligations[i] += kept
            capital += kept
            if not open_loan:
                capital *= 1.0 - q.capital_depreciation
            capital = capital if capital > 1.0 else 0.0
            gain_rows[k] = i
            gains[k] = g
            k += 1

        if open_loan:
            # Rule 3: what falls due this year
            years_left = max(int(h.loan_term_left[i]), 1)  # a loan past its term falls due now
            mature = years_left == 1
            billed = principal / years_left if (q.equal > 0 or mature) else 0.0
            interest = q.interest_rate * principal
            subsidy = interest * q.interest_subsidy_share
            owed = arrears + (interest - subsidy) + billed
            # Rule 4: savings, then income above the line, then (at maturity) capital
            from_savings = min(owed, max(float(h.savings[i]), 0.0))
            income = (float(h.income_farm[i]) + h.income_local_wage[i] + h.income_migrant[i]
                      + h.income_transfers[i] + h.income_property[i])
            spare = income - h.obligations[i] - h.oop_medical[i] - line * h.size[i]
            from_income = min(owed - from_savings, max(spare, 0.0))
            rest = owed - from_savings - from_income
            # at maturity the project is sold if that settles the loan, or at the last maturity;
            # otherwise it is kept through an extension
            sell = mature and (capital >= rest - PAID_UP or h.loan_extensions[i] >= q.max_extensions)
            from_capital = min(rest, capital) if sell else 0.0
            h.savings[i] -= from_savings
            h.obligations[i] += from_income
            capital -= from_capital
            unpaid = owed - from_savings - from_income - from_capital
            principal -= billed
            term_left = years_left - 1
            if not mature:
                arrears = unpaid  # carried to maturity, not a default
            elif unpaid <= PAID_UP:
                # repaid in full; Rule 6: renewal at once for a household still eligible
                principal, arrears = 0.0, 0.0
                if (on and supported[i] and h.labor[i] != 0 and h.size[i] > 0
                        and u01(keys.loan_renewal, i, 0) < q.renewal_share):
                    principal = q.amount
                    capital += q.amount
                    term_left = int(q.term)
                    h.loan_year[i] = year
                    h.loan_extensions[i] = 0
                    flags.made[i] = True
                    flags.renewed[i] = True
            elif h.loan_extensions[i] < q.max_extensions:
                # Rule 5: extended; payments went to arrears and interest before principal
                principal = min(unpaid, billed)
                arrears = unpaid - principal
                term_left = max(int(q.extension_years), 1)
                h.loan_extensions[i] += 1
                flags.extended[i] = True
            else:
                loss_sum += h.weight[i] * unpaid  # written off; the risk fund pays its share
                principal, arrears = 0.0, 0.0
                h.loan_defaulted[i] = True
                flags.defaults[i] = True
            h.loan_principal[i] = max(principal, 0.0)
            h.loan_arrears[i] = max(arrears, 0.0)
            h.loan_term_left[i] = term_left
            subsidy_sum += h.weight[i] * subsidy
        h.loan_capital[i] = capital if capital > 1.0 else 0.0
    return subsidy_sum, loss_sum


@numba.njit(cache=True, parallel=True)
def _village_loans(village, weight, principal, arrears, extensions, defaults, open_out, loans_v, bad_v):
    """Open loans, and per village the weighted loans and loans not in good standing (in
    arrears, extended or defaulted): each of `PLACE_PARTS` row ranges summed in row order into
    its own copy, the copies added in order (as the register's village sums)."""
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
                if defaults[i] or arrears[i] > 0 or extensions[i] > 0:
                    bad[village[i]] += w
    for part in range(PLACE_PARTS):
        loans_v += loans_parts[part]
        bad_v += bad_parts[part]


def act(model, on: bool) -> dict[str, float]:
    hh, p, f = model.hh, model.p, model.flows
    if not on and not (hh.loan_capital > 0).any() and not (hh.loan_principal > 0).any() \
            and not (hh.loan_arrears > 0).any():
        none = np.zeros(hh.n, bool)
        f.update(microcredit_made=none, microcredit_defaults=none, microcredit_open=none,
                 microcredit_extensions=none, microcredit_renewals=none, reached_microcredit=none,
                 microcredit_subsidy=0.0, microcredit_compensation=0.0,
                 microcredit_gain_rows=np.zeros(0, np.int64), microcredit_gains=np.zeros(0))
        return {}
    q = loan_params(p)
    s, v, c = model.streams, model.villages, model.counties
    supported = f["supported"]
    made = np.empty(hh.n, bool)  # the passes write every row
    defaults, extended, renewed = np.empty(hh.n, bool), np.empty(hh.n, bool), np.empty(hh.n, bool)
    projects = np.zeros(BLOCKS, np.int64)
    h = hh.pick(LoanColumns)
    _takeup_rows(model.year, on, q, s.key("loan_takeup", model.year), v.loan_good_share, supported, h, made, projects)
    offsets = np.zeros(BLOCKS, np.int64)
    offsets[1:] = np.cumsum(projects)[:-1]
    gain_rows, gains = np.empty(int(projects.sum()), np.int64), np.empty(int(projects.sum()))
    keys = LoanKeys(s.key("project_return", model.year), s.key("loan_renewal", model.year))
    subsidy, loss = _loan_rows(model.year, on, q, keys, LoanPlaces(c.price_shock, v.disaster_loss), float(model.line),
                               supported, h, offsets, LoanFlags(made, defaults, extended, renewed), gain_rows, gains)
    compensation = loss * p["microcredit.risk_compensation_share"]

    # Peer effect for next year: the share of each village's loans in good standing.
    open_loans = np.empty(hh.n, bool)
    loans, bad = np.zeros(v.n), np.zeros(v.n)
    _village_loans(hh.village, hh.weight, hh.loan_principal, hh.loan_arrears, hh.loan_extensions, defaults,
                   open_loans, loans, bad)
    v.loan_good_share = np.where(loans > 0, 1.0 - bad / np.maximum(loans, 1e-12), v.loan_good_share)

    f["reached_microcredit"] = made | open_loans | defaults
    f["microcredit_made"] = made
    f["microcredit_renewals"] = renewed
    f["microcredit_extensions"] = extended
    f["microcredit_defaults"] = defaults
    f["microcredit_open"] = open_loans
    f["microcredit_subsidy"] = subsidy
    f["microcredit_compensation"] = compensation
    f["microcredit_gain_rows"] = gain_rows
    f["microcredit_gains"] = gains
    out = {}
    if subsidy:
        out["fiscal"] = subsidy
    if compensation:
        out["county"] = compensation
    return out


def income_contribution(model, rows: np.ndarray) -> np.ndarray:
    """This year's project gain g (yuan, float64; a loss is negative) of each of `rows`, 0 for
    rows without a project: looked up in the year's sparse gains (rows in ascending order)."""
    gain_rows = model.flows.get("microcredit_gain_rows")
    if gain_rows is None:
        return np.zeros(np.size(rows))
    return values_at(gain_rows, model.flows["microcredit_gains"], rows)


RESULTS = {  # result columns of its own (`sim/results.py`), computed by `results`
    "microcredit_active_loans": Column("households", "households with a microcredit loan outstanding or in arrears "
                                                     "(end of year)"),
    "microcredit_defaults": Column("households/year", "microcredit loans defaulted this year (households)"),
    "microcredit_loans_made": Column("households/year", "microcredit loans made this year (households)"),
    "microcredit_extensions": Column("households/year", "microcredit loans extended (展期) this year (households)"),
    "microcredit_renewals": Column("households/year", "microcredit loans renewed (续贷) this year (households)"),
    "microcredit_outstanding": Column("yuan", "microcredit principal and arrears outstanding at the end of the year, "
                                              "yuan"),
    "microcredit_interest_subsidy": Column("yuan/year", "microcredit interest paid by poverty funds this year, yuan"),
    "microcredit_risk_compensation": Column("yuan/year", "losses on defaulted loans paid by county risk funds this "
                                                         "year, yuan"),
    "mean_income_microcredit": Column("yuan/person/year", "mean income per person in households that ever took a "
                                                          "microcredit loan (0 when there are none), yuan/year"),
    "microcredit_ever_households": Column("households", "households that ever took a microcredit loan (end of year)"),
}
# The year's loan flags whose weighted households are results: flow -> column.
FLAG_RESULTS = {"microcredit_open": "microcredit_active_loans", "microcredit_defaults": "microcredit_defaults",
                "microcredit_made": "microcredit_loans_made", "microcredit_extensions": "microcredit_extensions",
                "microcredit_renewals": "microcredit_renewals"}


def results(model) -> dict[str, float]:
    """This year's values of `RESULTS` (zeros while no loan has been made)."""
    hh, f = model.hh, model.flows
    none = np.zeros(hh.n, bool) if any(k not in f for k in FLAG_RESULTS) else None
    borrowers = _borrower_sums(hh.weight, hh.size, hh.income, hh.loan_year)
    people, households, income = block_totals(borrowers).tolist()
    flags = block_totals(_loan_sums(hh.weight, tuple(f.get(k, none) for k in FLAG_RESULTS), hh.loan_principal,
                                    hh.loan_arrears)).tolist()
    out = {column: flags[k] for k, column in enumerate(FLAG_RESULTS.values())}
    out.update({
        "microcredit_outstanding": flags[len(FLAG_RESULTS)],
        "microcredit_interest_subsidy": float(f.get("microcredit_subsidy", 0.0)),
        "microcredit_risk_compensation": float(f.get("microcredit_compensation", 0.0)),
        "mean_income_microcredit": income / people if people > 0 else 0.0,
        "microcredit_ever_households": households,
    })
    return out


@numba.njit(cache=True, parallel=True)
def _borrower_sums(weight, size, income, loan_year):
    """Per block: people, households and income (weighted) of households that ever borrowed."""
    sums = np.zeros((BLOCKS, 3))
    for c in numba.prange(BLOCKS):
        first, last = block_rows(c, size.shape[0])
        people = households = total = 0.0
        for i in range(first, last):
            w = float(weight[i])
            ever = (loan_year[i] > 0) * 1.0
            people += (w * size[i]) * ever
            households += w * ever
            total += (w * income[i]) * ever
        sums[c, 0], sums[c, 1], sums[c, 2] = people, households, total
    return sums


@numba.njit(cache=True, parallel=True, fastmath={"reassoc"})
def _loan_sums(weight, flags, principal, arrears):
    """Per block: the weighted households of each flag, then principal and arrears outstanding."""
    n = weight.shape[0]
    nf = len(flags)
    sums = np.zeros((BLOCKS, nf + 1))
    for c in numba.prange(BLOCKS):
        lo, hi = block_rows(c, n)
        if hi <= lo:
            continue
        w_block, principal_block, arrears_block = weight[lo:hi], principal[lo:hi], arrears[lo:hi]
        outstanding = 0.0
        for r in range(hi - lo):
            outstanding += np.float64(w_block[r]) * (np.float64(principal_block[r]) + arrears_block[r])
        sums[c, nf] = outstanding
        for j in range(nf):
            mask = flags[j][lo:hi]
            total = 0.0
            for r in range(hi - lo):
                total += np.float64(w_block[r]) * mask[r]
            sums[c, j] = total
    return sums

