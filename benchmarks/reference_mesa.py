"""The core yearly rules written the plain Mesa way: one `mesa.Agent` per household.

This is the peer the vectorized engine is measured against (`benchmarks/speed.py`) and a
second, independent statement of its rules (`tests/test_reference.py`). Each household is
a `HouseholdAgent` holding its state as Python scalars; villages and counties are agents
too. A year is two passes of `model.agents_by_type[HouseholdAgent].shuffle_do(...)` with the
population-level steps a Mesa user would write in `ReferenceModel.step()` around them, in
the engine's order (`sim/plan.py: year_plan`):

    village and county shocks       (model: disasters by village, price and wage shocks by county)
    pass 1, HouseholdAgent.live_and_work:
        life                        ageing, schooling, births, deaths, disability, illness and
                                    its cost, ability drift, housing damage and repair
        work                        labor capacity; migrant and local wage work as two-state
                                    chains per worker (last year's workers stop, others start);
                                    earnings by source; insurance enrolment
    exit plans                      (model: each county's plan, the region's schedule or what is
                                    left spread to the deadline, split by registered people)
    pass 2, HouseholdAgent.govern_and_settle:
        supported                   registered, exited within the support years and the
                                    campaign, or under return monitoring
        medical insurance           basic (by level of care) and critical-illness insurance
        medical assistance          premiums paid, assistance with costs left, out-of-pocket cap
        microcredit                 take-up, project gain or loss (reinvested, insured disaster
                                    losses), interest, repayment from savings then income, sale
                                    at maturity, extension, renewal, default
        dibao                       the floor, centralized support, targeting errors (the
                                    household's own draw), two lines in one (supported households
                                    without full labor or with an ill or disabled member covered)
        account                     income, resources after rigid costs, savings and debt
        assess                      measured per-capita net income (last year's kept), the exit
                                    standard and the pressure margin
    loan standing                   (model: each village's share of loans in good standing)
    start causes                    (model, in the start year: the start register's causes
                                    recorded against that year's costs)
    exits                           (model: each county exits qualifying households up to its
                                    plan, highest measured income first, a lottery
                                    for a row that partly fits; target pressure certifies those
                                    just under for a share of the planned exits no qualifying
                                    household could fill; verification reverses false exits)
    exit routes                     (model: the core measures that carried the exits out: dibao
                                    and microcredit by their income, medical assistance by the
                                    illness cause it removed)
    adjustment                      (model: applicants measured below the line, from the year
                                    after monitoring began only those monitored before, appraised
                                    by the village, admitted within county quotas: new entries,
                                    returns)
    re-check                        (model, in its year: errors corrected both ways, causes of
                                    those left on the register recorded again)
    monitoring                      (model, from its start year: exited and never-registered
                                    households at risk taken on within each county's scale)
    places                          (model: village and county people, migration network,
                                    village and county exit)
    metrics                         (model: the yearly core metrics)

Selection within a county up to a limit (exit plans, pressure, quotas, monitoring) is
written out plainly in `ReferenceModel.take_within`: the county's candidates sorted by
their float32 key, ties in row order, gone through by the rounding rule, as the engine's
`sim/groups.py` states it.

The core configuration is the measures the benchmark issue names: basic and
critical-illness medical insurance, medical assistance, dibao and microcredit
(`CORE_MEASURES`); every other measure is off in both engines. The whole life pass is
mirrored (schooling, disasters, price and wage shocks, housing), not switched off: it is
what makes a household poor or not. Rules that only act through measures that are off
here are left out: education support (so schooling costs are gross), relocation (no one
is ever relocated, so the relocated branches of the work pass never run), disaster relief
(so the measurement leaves out no one-off payment), the targeted measures and their cadre
capacity.

Random draws are shared exactly. Every draw of the engine is a pure function of (seed,
stream, year, row, slot) (`sim/streams.py`); each agent knows its row and calls the same
compiled draw functions (`u01`, `normal01`, `binomial_members`) one scalar at a time, so
the order in which `shuffle_do` visits agents changes nothing. Village and county shocks
are drawn per village and county row from the same streams, as the engine does; the
lotteries of the selections use the "quota" stream, one slot per selection.

To agree bit for bit, the agents store a value wherever the engine stores one in a
float32 column, rounded to float32 (`f32`), and do float arithmetic in the engine's order
and precision: where a compiled pass computes in float32 (numba keeps `float(x)` of a
float32 element in float32, so the income sums of the dibao, microcredit and accounting
passes and some products of the metric and village sums are float32), the agents round
each step too; where numpy compares a float32 column with a Python number, it compares in
float32. Exponentials and logarithms use `math` (the C library, as compiled code does).
Sums that set a limit (registered people by county, which sets the exit plans) are added
in the engine's order: row blocks summed apart, then added in block order.
The f32 rounding is the only thing here a Mesa user would not write; at about 50
roundings of ~0.1 µs per household-year it costs well under a tenth of the reference's time.
The starting population (synthesis, the start year's calibration of earning ability and
the register built by quota and village appraisal) is the engine's set-up, converted row
by row into agents: it happens once per run and is not what the benchmark times.
"""

from __future__ import annotations

import math
from array import array
from types import SimpleNamespace

import mesa
import numpy as np

from sim.measure import BATCH_NAMES
from sim.registry import MEASURES
from policies.dibao import dibao_line
from sim.fields import Cause, Illness, Labor, Location, Status
from sim.model import PovertyModel
from sim.sums import BLOCKS, PLACE_PARTS, block_rows, part_rows
from sim.streams import binomial_members, normal01, u01

CORE = ("medical_insurance", "medical_assistance", "microcredit", "dibao")
CORE_MEASURES = {name: name in CORE for name in MEASURES}
BIT = {name: 1 << k for k, name in enumerate(MEASURES)}  # bit of each measure in `measures_reached`

NEVER, REGISTERED, EXITED, RETURNED = (int(s) for s in Status)
MAJOR, CHRONIC, NO_ILLNESS = int(Illness.MAJOR), int(Illness.CHRONIC), int(Illness.NONE)
FULL, PARTIAL, NO_LABOR = int(Labor.FULL), int(Labor.PARTIAL), int(Labor.NONE)
TRANSPORT_PLACES = int(Location.REMOTE_MOUNTAIN | Location.TINY_HAMLET)
C_ILLNESS, C_DISABILITY, C_SCHOOLING, C_DISASTER = 1, 2, 4, 8
C_LAND, C_SKILLS, C_CAPITAL, C_LABOR, C_TRANSPORT, C_MOTIVATION = 32, 128, 256, 512, 1024, 2048
CAUSES = [(c.name.lower(), int(c)) for c in Cause]
MEDIAN_SAMPLE = 20_000  # rows the engine's systematic sample uses for the median ability
NEAREST, FILL = "nearest", "fill"  # rounding rules of a selection (sim/groups.py)
SLOT_ADJUSTMENT, SLOT_EXIT, SLOT_PRESSURE, SLOT_MONITORING = 1, 2, 3, 4  # lottery slots of the "quota" stream
PAID_UP = 1.0  # less than a yuan left unpaid on a loan is rounding

_F32 = array("f", [0.0])  # a one-item float32 buffer: storing into it rounds, as a float32 column does


def priority(value: float, first: bool) -> float:
    """The selection key of a household with a priority: those first before the others,
    each part by value (squashed into (-1, 1), so that float32 keeps the order)."""
    return value / (1.0 + abs(value)) - 3.0 * first


def f32(x: float) -> float:
    """x rounded to float32, as the engine stores it in a float32 column."""
    _F32[0] = x
    return _F32[0]


def _order(key: float, position: int) -> tuple:
    """A candidate's place in a selection: by key, ties in row order, NaN keys last (as numpy sorts)."""
    return (True, 0.0, position) if key != key else (False, key, position)


# The household state the core rules read and write: every household field of the engine
# except those only measures switched off here use (their values stay at the defaults).
STATE = (
    "weight", "size", "n_child", "n_primary", "n_junior", "n_senior", "n_dropout", "n_dropout_compulsory",
    "n_working", "n_college", "n_elderly", "n_disabled", "n_chronic", "illness", "medical_cost", "oop_medical",
    "insured", "labor", "labor_units", "head_schooling", "n_skilled", "school_cost", "n_migrants", "n_local",
    "ability", "income_farm", "income_local_wage", "income_migrant", "income_transfers", "income_property",
    "income", "transfer_dibao", "resources", "measured_pc", "measured_pc_last", "savings", "debt", "location_risk",
    "unsafe_housing", "obligations", "loan_principal", "loan_term_left", "loan_arrears", "loan_capital",
    "loan_year", "loan_defaulted", "loan_extensions", "measures_reached", "status", "reg_year", "exit_year",
    "return_year", "n_returns", "causes", "main_cause", "cohort", "monitor_year", "dibao", "risk_aversion",
    "motivation", "willingness_to_move",
)


class VillageAgent(mesa.Agent):
    """A village: disasters, migration network, microcredit peer effect, poor-village exit."""

    def __init__(self, model, row: int, state: dict, county: "CountyAgent"):
        super().__init__(model)
        self.row = row
        self.county = county
        for name in ("weight", "poor", "exit_year", "migration_share", "disaster_loss", "people", "poor_people",
                     "income_pc", "loan_good_share"):
            setattr(self, name, state[name])
        self.hit = False
        self.planned = False  # planned to exit this year


class CountyAgent(mesa.Agent):
    """A county: price and wage shocks, its register's start size, its exit plan, poor-county exit."""

    def __init__(self, model, row: int, state: dict, start_register_people: float):
        super().__init__(model)
        self.row = row
        for name in ("poor", "exit_year", "price_shock", "wage_shock", "people", "poor_people"):
            setattr(self, name, state[name])
        self.start_register_people = start_register_people  # people registered at the start (quotas, scale)
        self.plan = math.inf  # people the county plans to exit this year


class HouseholdAgent(mesa.Agent):
    """One rural household: its members by age band, health, work, income, loan and register status."""

    def __init__(self, model, row: int, state: dict, village: VillageAgent, county: CountyAgent):
        super().__init__(model)
        self.row = row
        self.village = village
        self.county = county
        for name in STATE:
            setattr(self, name, state[name])
        self.births = self.deaths = 0
        self.clear_flows()
        self.supported = self.qualifies = self.near = False
        self.row_threshold = 0.0
        self.compliant_left = 0.0
        self.project_gain = None

    def clear_flows(self) -> None:
        """The year's events, recorded for the metrics."""
        self.new_poor = self.returned = self.exited = self.pressured = self.reversed = False
        self.newly_monitored = self.recheck_added = self.recheck_removed = False
        self.reached_insurance = self.reached_assistance = self.reached_microcredit = False
        self.loan_made = self.loan_default = self.loan_extended = self.loan_renewed = self.loan_open = False

    def live_and_work(self) -> None:
        self.clear_flows()
        self.live()
        self.work()

    def govern_and_settle(self) -> None:
        y = self.model.y
        s = self.status
        after_exit = s == EXITED and y.year - self.exit_year < y.support_years and y.year <= y.support_end_year
        self.supported = s == REGISTERED or s == RETURNED or after_exit or self.monitor_year > 0
        self.obligations = 0.0
        self.insure()
        self.assist()
        self.borrow_and_repay()
        self.claim_dibao()
        self.measures_reached |= ((BIT["medical_insurance"] if self.reached_insurance else 0)
                                  | (BIT["medical_assistance"] if self.reached_assistance else 0)
                                  | (BIT["microcredit"] if self.reached_microcredit else 0)
                                  | (BIT["dibao"] if self.dibao else 0))
        self.account()
        self.assess()

    # --- life (agents/life.py) ----------------------------------------------------------
    def live(self) -> None:
        y, k, i = self.model.y, self.model.k, self.row
        avail = self.n_working - self.n_college
        inc = max(self.income, 1.0)
        births = binomial_members(k.birth, i, avail, y.birth_rate)
        to_primary = binomial_members(k.child_to_school, i, self.n_child, 1.0 / 6)
        to_junior = binomial_members(k.primary_to_junior, i, self.n_primary, 1.0 / 6)
        junior_done = binomial_members(k.junior_to_senior, i, self.n_junior, 1.0 / 3)
        cont_p = min(max(y.senior_base - y.senior_slope * y.cost_senior / inc, 0.0), 1.0)
        to_senior = binomial_members(k.senior_continue, i, junior_done, cont_p)
        drop_p = min(max(y.drop_base + y.drop_slope * y.cost_junior / inc, 0.0), 1.0)
        dropped = binomial_members(k.compulsory_dropout, i, self.n_junior - junior_done, drop_p)
        back = binomial_members(k.dropout_return, i, self.n_dropout_compulsory, y.drop_return)
        aged_out_c = binomial_members(k.compulsory_age_out, i, self.n_dropout_compulsory - back, 1.0 / 2)
        senior_done = binomial_members(k.senior_finish, i, self.n_senior, 1.0 / 3)
        col_p = min(max(y.college_base - y.college_slope * y.cost_college / inc, 0.0), 1.0)
        to_college = binomial_members(k.college_continue, i, senior_done, col_p)
        vocational = binomial_members(k.vocational, i, senior_done - to_college, y.vocational_share)
        dropout_adult = binomial_members(k.dropout_age_out, i, self.n_dropout, 1.0 / 3)
        graduates = binomial_members(k.college_finish, i, self.n_college, 1.0 / 4)
        to_elderly = binomial_members(k.working_to_elderly, i, avail, 1.0 / 47)
        deaths_w = binomial_members(k.death_working, i, avail - to_elderly, y.death_working)
        d_e = y.death_elderly * (y.death_major if self.illness == MAJOR else 1.0)
        deaths_e = binomial_members(k.death_elderly, i, self.n_elderly, d_e)

        self.n_child += births - to_primary
        self.n_primary += to_primary - to_junior
        self.n_junior += to_junior - junior_done - dropped + back
        self.n_senior += to_senior - senior_done
        self.n_dropout_compulsory += dropped - back - aged_out_c
        self.n_dropout += junior_done - to_senior + aged_out_c - dropout_adult
        self.n_working += senior_done + dropout_adult - to_elderly - deaths_w
        self.n_college += to_college - graduates
        self.n_elderly += to_elderly - deaths_e
        self.n_skilled += vocational + graduates
        if graduates > 0:  # a graduate's earnings raise the household's ability
            workers = max(self.n_working - self.n_college, 1)
            self.ability = f32(self.ability * (1.0 + (y.college_premium - 1.0) * graduates / workers))
        adults = self.n_working + self.n_elderly
        self.n_disabled = min(self.n_disabled, adults)
        self.n_chronic = min(self.n_chronic, adults)
        self.n_skilled = min(self.n_skilled, self.n_working)
        self.size = size = (self.n_child + self.n_primary + self.n_junior + self.n_senior + self.n_dropout
                            + self.n_dropout_compulsory + self.n_working + self.n_elderly)
        self.births = births
        self.deaths = deaths_w + deaths_e

        if adults > 0:  # disability and chronic illness, by age
            rate = (self.n_working * y.disability_working + self.n_elderly * y.disability_elderly) / adults
            self.n_disabled += binomial_members(k.disability_onset, i, max(adults - self.n_disabled, 0), rate)
            rate = (self.n_working * y.chronic_working + self.n_elderly * y.chronic_elderly) / adults
            onset = binomial_members(k.chronic_onset, i, max(adults - self.n_chronic, 0), rate)
            recover = binomial_members(k.chronic_recovery, i, self.n_chronic, y.chronic_recovery)
            self.n_chronic += onset - recover

        # a major episode this year, by poverty status and age; its cost
        at_risk = (self.n_working + y.elderly_admission * self.n_elderly
                   + 0.5 * (size - self.n_working - self.n_elderly))
        registered = self.status == REGISTERED or self.status == RETURNED
        log_q = y.log_no_admission_poor if registered else y.log_no_admission_other
        major = u01(k.major_illness, i, 0) < 1.0 - math.exp(log_q * at_risk)
        cost = self.n_chronic * y.chronic_cost
        if major:
            cost += y.cost_median * math.exp(y.cost_sigma * normal01(k.medical_cost, i, 0))
        self.medical_cost = f32(cost * y.price_index)
        self.illness = MAJOR if major else (CHRONIC if self.n_chronic > 0 else NO_ILLNESS)

        # earning ability drifts; disasters damage houses; those who can, repair
        s = y.drift_sd
        self.ability = f32(self.ability * math.exp(s * normal01(k.ability_drift, i, 0) - s * s / 2))
        damaged = self.village.hit and u01(k.housing_damage, i, 0) < y.housing_damage
        if self.unsafe_housing and self.resources > 2.0 * y.line * max(size, 1):
            if u01(k.housing_repair, i, 0) < y.housing_repair:
                self.unsafe_housing = False
        if damaged:
            self.unsafe_housing = True

    # --- work (agents/behaviour.py) -----------------------------------------------------
    def work(self) -> None:
        y, k, i = self.model.y, self.model.k, self.row
        avail = float(self.n_working - self.n_college)
        adults = avail + self.n_elderly
        impaired = min(1.0, (self.n_disabled + self.n_chronic) / adults) if adults > 0 else 0.0
        able = avail * (1.0 - impaired)
        units = able + avail * impaired * y.partial_units + self.n_elderly * (1.0 - impaired) * y.elderly_farm_units
        if self.illness == MAJOR:
            units -= y.major_labor_loss
        units = max(units, 0.0)
        self.labor_units = f32(units)
        self.labor = FULL if able >= 1.0 - 1e-6 else (PARTIAL if units > 0 else NO_LABOR)

        # the desired shares: away (of the able workers), and in local wage work (of those at home)
        dependants = self.n_child + self.n_elderly + self.n_chronic + self.n_disabled
        share = (y.migration_base + y.migration_network * self.village.migration_share
                 + y.migration_skill * (1.0 if self.n_skilled > 0 else 0.0)
                 - y.migration_care * dependants + y.migration_willingness * (self.willingness_to_move - 0.5))
        share = min(max(share, 0.0), 0.9)
        # each worker's state persists: last year's workers stop with chance `rate`, the others
        # of the pool start with the chance that keeps the desired share as the long-run share
        pool = float(math.floor(able))
        migrants = self.persist(pool, self.n_migrants, share, y.migrant_exit_rate, k.migrate_return, k.migrate)
        pool = max(pool - migrants, 0.0)
        local = self.persist(pool, self.n_local, y.local_share, y.local_exit_rate, k.local_work_end, k.local_work)
        self.n_migrants = int(migrants)
        self.n_local = int(local)

        workers = max(self.n_working - self.n_college, 1)
        skill_mult = 1.0 + (y.skill_premium - 1.0) * min(self.n_skilled / workers, 1.0)
        level = self.ability * y.growth_index
        farm = level * (max(units - migrants - local, 0.0) + y.land_units)
        wage = level * y.local_wage_ratio * skill_mult * local
        s = y.income_shock_sd
        farm *= (self.county.price_shock * (1.0 - self.village.disaster_loss)
                 * math.exp(s * normal01(k.income_shock, i, 0) - s * s / 2))
        wage *= self.county.wage_shock
        self.income_farm = f32(farm)
        self.income_local_wage = f32(wage)
        self.income_migrant = f32(level * y.migrant_wage_ratio * skill_mult * migrants)
        self.income_transfers = f32(self.n_elderly * y.pension)
        self.income_property = 0.0
        self.transfer_dibao = 0.0
        self.dibao = False
        if not self.insured and u01(k.insurance_enrol, i, 0) < y.enrolment_rate:
            self.insured = True

    def persist(self, pool: float, last_year: int, share: float, rate: float, key_stop, key_start) -> float:
        """This year's workers in a state (a two-state chain per worker of `pool`)."""
        current = min(float(last_year), pool)
        stop = binomial_members(key_stop, self.row, int(current), rate)
        start = binomial_members(key_start, self.row, int(pool - current),
                                 min(rate * share / max(1.0 - share, 1e-12), 1.0))
        return current - stop + start

    # --- the register (sim/register.py, sim/appraisal.py) ---------------------------------
    def register(self, status: int) -> None:
        """Put this household on the register this year (a new entry or a return) and record its causes."""
        year = self.model.y.year
        self.status = status
        self.reg_year = year
        if status == RETURNED:
            self.return_year = year
            self.n_returns += 1
        self.monitor_year = 0
        self.record_causes()

    def record_causes(self) -> None:
        """The causes of poverty recorded at registration, and the main cause (the first)."""
        y = self.model.y
        inc = max(self.income, 1.0)
        c = 0
        if self.oop_medical > y.illness_cause * inc or (self.n_chronic > 0 and self.labor != FULL):
            c |= C_ILLNESS
        if self.n_disabled > 0:
            c |= C_DISABILITY
        if self.school_cost > y.schooling_cause * inc:
            c |= C_SCHOOLING
        if self.village.hit:
            c |= C_DISASTER
        if self.ability < self.model.land_cause_ability():
            c |= C_LAND
        if self.n_skilled == 0 and self.head_schooling < 9:
            c |= C_SKILLS
        if self.savings < y.capital_cause * max(self.size, 1):
            c |= C_CAPITAL
        if self.labor != FULL:
            c |= C_LABOR
        if self.location_risk & TRANSPORT_PLACES:
            c |= C_TRANSPORT
        if self.motivation < y.motivation_cause:
            c |= C_MOTIVATION
        self.causes = c
        self.main_cause = (c & -c).bit_length() - 1  # the lowest bit set; -1 for none

    def appraisal(self) -> float:
        """How poor the household looks to the village: measured income and what neighbours see."""
        y = self.model.y
        lacking = 1.0 if self.labor == NO_LABOR else (0.5 if self.labor == PARTIAL else 0.0)
        return (math.log(max(self.measured_pc, 1.0) / y.line)
                - y.appraisal_housing * self.unsafe_housing - y.appraisal_illness * (self.n_chronic > 0)
                - y.appraisal_disability * (self.n_disabled > 0) - y.appraisal_labor * lacking
                + y.appraisal_noise * normal01(self.model.k.appraisal, self.row, 0))

    # --- medical insurance (policies/medical.py) and assistance (medical_assistance.py) ---
    def cover(self, cost: float) -> tuple[float, float]:
        """(reimbursed, compliant cost left) under basic and critical-illness insurance."""
        y = self.model.y
        chronic = min(self.n_chronic * y.chronic_cost_now, cost)
        major = cost - chronic
        basic = chronic * y.compliant_share * y.chronic_rate
        if major > 0:
            u = u01(self.model.k.care_level, self.row, 0)
            factor = y.factor_township if u < y.share_township else (1.0 if u < 1.0 - y.share_city else y.factor_city)
            basic += major * y.compliant_share * min(y.reimbursement * factor, 1.0)
        rest = cost * y.compliant_share - basic
        critical = max(rest - y.critical_deductible, 0.0) * y.critical_share
        return basic + critical, rest - critical

    def insure(self) -> None:
        m, cost = self.model, self.medical_cost
        reimbursed = 0.0
        if self.insured:
            reimbursed, self.compliant_left = self.cover(cost)
        else:
            self.compliant_left = cost * (1.0 - m.y.noncompliant)
        self.oop_medical = f32(cost - reimbursed)
        self.reached_insurance = self.insured and reimbursed > 0
        m.cost_insurance += self.weight * reimbursed

    def assist(self) -> None:
        m, y = self.model, self.model.y
        served = self.supported and self.size > 0
        self.reached_assistance = False
        if not served:
            return
        newly = not self.insured
        self.insured = True
        m.cost_premiums += self.weight * (self.size * y.premium)
        if newly:
            reimbursed, self.compliant_left = self.cover(self.medical_cost)
            self.oop_medical = f32(self.medical_cost - reimbursed)
            m.cost_insurance_assisted += self.weight * reimbursed
        assist = y.assistance_share * self.compliant_left
        oop = self.oop_medical - assist
        if y.oop_cap > 0:
            over = max(oop - y.oop_cap, 0.0)
            assist = assist + over
            oop = oop - over
        self.oop_medical = f32(oop)
        self.reached_assistance = assist > 0 or newly
        m.cost_assistance += self.weight * assist

    # --- microcredit (policies/microcredit.py) --------------------------------------------
    def may_borrow(self) -> bool:
        return self.supported and self.labor != NO_LABOR and self.size > 0

    def borrow_and_repay(self) -> None:
        m, y, i = self.model, self.model.y, self.row
        # 1. a new loan: its amount becomes project capital
        made = False
        if self.may_borrow() and self.loan_principal <= 0 and self.loan_arrears <= 0 and not self.loan_defaulted:
            chance = (y.takeup_base + y.takeup_skill * (1.0 if self.n_skilled > 0 else 0.0)
                      + y.takeup_motivation * (self.motivation - 0.5) - y.takeup_risk * (self.risk_aversion - 0.5)
                      - y.takeup_peer * (1.0 - self.village.loan_good_share))
            made = u01(m.k.loan_takeup, i, 0) < min(max(chance, 0.0), 1.0)
            if made:
                self.loan_principal = f32(y.loan_amount)
                self.loan_capital = f32(self.loan_capital + y.loan_amount)
                self.loan_term_left = y.loan_term
                self.loan_year = y.year
                self.loan_extensions = 0
        self.loan_made = made
        self.project_gain = None
        capital, principal, arrears = self.loan_capital, self.loan_principal, self.loan_arrears
        if capital <= 0 and principal <= 0 and arrears <= 0:
            self.reached_microcredit = made
            return
        open_loan = principal > 0 or arrears > 0

        # 2. the project's gain or loss is the year's business income; gains partly reinvested
        if capital > 0:
            r = ((1.0 + y.return_mean + y.return_sd * normal01(m.k.project_return, i, 0)) * self.county.price_shock
                 * (1.0 - self.village.disaster_loss) - 1.0)
            if r < 0.0:
                r *= 1.0 - y.insured_loss
            g = r * capital
            self.income_farm = f32(self.income_farm + g)
            kept = y.reinvest * g if g > 0 else g
            self.obligations = f32(self.obligations + kept)
            capital += kept
            if not open_loan:
                capital *= 1.0 - y.depreciation
            capital = capital if capital > 1.0 else 0.0
            self.project_gain = g

        if open_loan:
            # 3. what falls due; 4. paid from savings, income above the line, then capital at maturity
            years_left = max(self.loan_term_left, 1)
            mature = years_left == 1
            billed = principal / years_left if (y.equal_repayment or mature) else 0.0
            interest = y.interest_rate * principal
            subsidy = interest * y.interest_subsidy
            owed = arrears + (interest - subsidy) + billed
            from_savings = min(owed, max(self.savings, 0.0))
            spare = f32(f32(self.income_sum() - self.obligations) - self.oop_medical) - y.line * self.size
            from_income = min(owed - from_savings, max(spare, 0.0))
            rest = owed - from_savings - from_income
            sell = mature and (capital >= rest - PAID_UP or self.loan_extensions >= y.max_extensions)
            from_capital = min(rest, capital) if sell else 0.0
            self.savings = f32(self.savings - from_savings)
            self.obligations = f32(self.obligations + from_income)
            capital -= from_capital
            unpaid = owed - from_savings - from_income - from_capital
            principal -= billed
            term_left = years_left - 1
            if not mature:
                arrears = unpaid  # carried to maturity
            elif unpaid <= PAID_UP:  # repaid; 6. renewed at once with some chance
                principal, arrears = 0.0, 0.0
                if self.may_borrow() and u01(m.k.loan_renewal, i, 0) < y.renewal_share:
                    principal = y.loan_amount
                    capital += y.loan_amount
                    term_left = y.loan_term
                    self.loan_year = y.year
                    self.loan_extensions = 0
                    self.loan_made = self.loan_renewed = True
            elif self.loan_extensions < y.max_extensions:  # 5. extended
                principal = min(unpaid, billed)
                arrears = unpaid - principal
                term_left = max(y.extension_years, 1)
                self.loan_extensions += 1
                self.loan_extended = True
            else:  # default: written off
                m.loan_losses += self.weight * unpaid
                principal, arrears = 0.0, 0.0
                self.loan_defaulted = self.loan_default = True
            self.loan_principal = f32(max(principal, 0.0))
            self.loan_arrears = f32(max(arrears, 0.0))
            self.loan_term_left = term_left
            m.loan_subsidy += self.weight * subsidy
        self.loan_capital = f32(capital if capital > 1.0 else 0.0)
        self.loan_open = self.loan_principal > 0 or self.loan_arrears > 0
        self.reached_microcredit = self.loan_made or self.loan_open or self.loan_default

    # --- dibao (policies/dibao.py) --------------------------------------------------------
    def claim_dibao(self) -> None:
        y = self.model.y
        benefit = 0.0
        covered = False
        if self.size > 0:
            pc = f32(self.income_sum() / self.size)
            u = u01(self.model.k_dibao, self.row, 0)  # the household's draw for the whole run
            sure = y.two_lines and self.supported  # two lines in one: supported households covered
            frail = self.n_disabled + self.n_chronic > 0  # an ill or disabled member
            eligible = (self.labor != FULL or (sure and frail)) and pc < y.dibao_line
            if eligible:
                if u >= y.exclusion_error or sure:
                    covered = True
                    floor = y.dibao_line
                    if self.labor == NO_LABOR and self.n_working - self.n_college <= 0:
                        floor = y.tekun_multiple * y.dibao_line  # 特困: no labor, no working-age support
                    extras = (self.n_elderly * y.share_70 + self.n_child + self.n_primary + self.n_junior
                              + self.n_disabled + self.n_senior + self.n_college)
                    benefit = max(floor - pc, 0.0) * self.size + y.extra_share * y.dibao_line * extras
            elif pc < 2.0 * y.dibao_line and u < y.inclusion_error:
                covered = True
                benefit = y.inclusion_share * y.dibao_line * self.size
        self.transfer_dibao = f32(benefit)
        self.income_transfers = f32(self.income_transfers + benefit)
        self.dibao = covered
        self.model.cost_dibao += f32(self.weight * self.transfer_dibao)

    # --- accounting (sim/accounting.py) ---------------------------------------------------
    def income_sum(self) -> float:
        """Income from the five sources, added in float32 as the engine's compiled passes do."""
        return f32(f32(f32(f32(self.income_farm + self.income_local_wage) + self.income_migrant)
                       + self.income_transfers) + self.income_property)

    def account(self) -> None:
        y = self.model.y
        self.income = inc = self.income_sum()
        school = (self.n_primary * y.school_primary + self.n_junior * y.school_junior
                  + self.n_senior * y.school_senior + self.n_college * y.school_college)
        self.school_cost = f32(school)
        res = f32(inc - self.oop_medical) - school - self.obligations
        self.resources = f32(res)
        cash = f32(self.savings - self.debt) + y.saved_share * max(res - y.line * self.size, 0.0) + min(res, 0.0)
        self.savings = f32(max(cash, 0.0))
        self.debt = f32(max(-cash, 0.0))

    # --- assessment (sim/register.py, sim/exits.py) ---------------------------------------
    def assess(self) -> None:
        """Cadres measure per-capita net income with error (last year's measurement kept);
        the exit standard and the pressure margin below it."""
        y = self.model.y
        self.measured_pc_last = self.measured_pc
        if self.size <= 0:
            self.measured_pc = math.inf
        else:
            sd = y.measurement_sd
            self.measured_pc = f32(f32(self.income / self.size)
                                   * math.exp(sd * normal01(self.model.k.measurement, self.row, 0) - sd * sd / 2))
        no_labor_rule = y.relative and self.labor != FULL  # under the relative rule, through dibao at the line
        t = y.line if no_labor_rule else y.exit_threshold
        t_last = y.last_line if no_labor_rule else y.last_threshold
        self.row_threshold = t
        eligible = ((self.status == REGISTERED or self.status == RETURNED) and y.year - self.reg_year >= y.min_years
                    and self.size > 0)
        guaranteed = self.n_dropout_compulsory == 0 and self.insured and not self.unsafe_housing
        above = (self.measured_pc >= t and (y.stability < 2 or self.measured_pc_last >= t_last)
                 and (self.dibao or not no_labor_rule))
        self.qualifies = eligible and guaranteed and above
        self.near = (eligible and guaranteed and not self.qualifies and self.measured_pc < t
                     and self.measured_pc >= (1.0 - y.pressure_margin) * t)

    def verify(self) -> None:
        """A third-party check of this exit (if sampled) reverses it when income is below the threshold."""
        if u01(self.model.k.verification, self.row, 0) >= self.model.y.verification_rate:
            return
        if f32(self.income / max(self.size, 1)) < self.row_threshold:
            self.reversed = True
            self.exited = self.pressured = False

    def at_risk(self) -> bool:
        """Return monitoring: off the register, measured below the range or hit by rigid spending."""
        y = self.model.y
        rigid = (self.oop_medical + self.school_cost) / max(self.size, 1)
        return ((self.status == NEVER or self.status == EXITED) and self.size > 0
                and (self.measured_pc < y.monitor_range or rigid > y.rigid_share * self.measured_pc_last))

class ReferenceModel(mesa.Model):
    """The core rules, one `HouseholdAgent` per household, stepped one calendar year at a time.

    Takes the same arguments as `PovertyModel` (without `measures`: always `CORE_MEASURES`)
    and starts from the same population and register; `from_engine` converts a
    `PovertyModel` that has not stepped yet.
    """

    def __init__(self, profile="shangluo", households: int | None = 2000, start_year: int | None = None,
                 end_year: int = 2020, params=None, overrides: dict | None = None, rng=None, engine=None):
        if engine is None:
            engine = PovertyModel(profile, households=households, start_year=start_year, end_year=end_year,
                                  measures=CORE_MEASURES, params=params, overrides=overrides, rng=rng)
        if engine.year != engine.start_year:
            raise ValueError("the reference starts from a model that has not stepped yet")
        if {k for k, on in engine.measures.items() if on} != set(CORE):
            raise ValueError(f"the reference implements only the core measures {CORE}")
        super().__init__(rng=engine.seed)
        self.profile, self.params, self.streams, self.seed = engine.profile, engine.params, engine.streams, engine.seed
        self.start_year, self.end_year = engine.start_year, engine.end_year
        self.year = engine.year
        self.line = float(engine.line)
        self.growth_index = 1.0
        cols = engine.counties.columns()
        start_register = engine.start_register_people.tolist()
        self.counties = [CountyAgent(self, c, {k: v[c].item() for k, v in cols.items()}, start_register[c])
                         for c in range(engine.counties.n)]
        cols = engine.villages.columns()
        self.villages = [VillageAgent(self, v, {k: a[v].item() for k, a in cols.items()},
                                      self.counties[int(cols["county"][v])]) for v in range(engine.villages.n)]
        lists = {name: engine.hh[name].tolist() for name in STATE}
        village, county = engine.hh.village.tolist(), engine.hh.county.tolist()
        self.household_list = [
            HouseholdAgent(self, i, {name: lists[name][i] for name in STATE}, self.villages[village[i]],
                           self.counties[county[i]]) for i in range(engine.hh.n)]
        self.households = self.agents_by_type[HouseholdAgent]
        self.records: list[dict] = []
        self.running = True

    @classmethod
    def from_engine(cls, engine: PovertyModel) -> "ReferenceModel":
        return cls(engine=engine)

    # --- the year -------------------------------------------------------------------------
    def exit_threshold(self, year: int) -> float:
        """Per-capita income a labor-capable household must reach to exit in `year`."""
        ex = self.profile.data["exit"]
        if ex["rule"] == "absolute":
            return float(self.params.at("poverty.line", year))
        return float(ex["relative_share"]["value"] * self.profile.dated("exit.reference_income", year))

    def _year_constants(self) -> None:
        """The year's parameters and stream keys, read once as attributes."""
        p, year = self.params.year(self.year), self.year
        self.line = float(p["poverty.line"])
        self.k = SimpleNamespace(**{name: self.streams.key(name, year) for name in self.streams.names})
        self.k_dibao = self.streams.key("dibao_targeting", 0)  # targeting errors are the household's own
        pi = self.growth_index
        relative = self.profile.data["exit"]["rule"] == "relative"
        self.y = SimpleNamespace(
            year=year, line=self.line, price_index=pi, growth_index=pi,
            birth_rate=p["demography.birth_rate"], senior_base=p["education.senior_continue_base"],
            senior_slope=p["education.senior_continue_cost_slope"], drop_base=p["education.compulsory_dropout_base"],
            drop_slope=p["education.compulsory_dropout_cost_slope"], drop_return=p["education.dropout_return"],
            college_base=p["education.college_continue_base"], college_slope=p["education.college_continue_cost_slope"],
            vocational_share=p["education.vocational_share"], death_working=p["demography.death_rate_working"],
            death_elderly=p["demography.death_rate_elderly"], death_major=p["demography.major_illness_death_multiplier"],
            college_premium=p["economy.college_premium"], disability_working=p["demography.disability_onset_working"],
            disability_elderly=p["demography.disability_onset_elderly"], chronic_working=p["health.chronic_onset_working"],
            chronic_elderly=p["health.chronic_onset_elderly"], chronic_recovery=p["health.chronic_recovery"],
            elderly_admission=p["health.elderly_admission_multiplier"], cost_median=p["health.admission_cost_median"],
            cost_sigma=p["health.admission_cost_sigma"], chronic_cost=p["health.chronic_cost"],
            drift_sd=p["economy.ability_drift_sd"], housing_damage=p["economy.disaster_housing_damage"],
            housing_repair=p["economy.housing_repair"],
            log_no_admission_poor=float(np.log1p(-p["health.admission_rate_poor"])),
            log_no_admission_other=float(np.log1p(-p["health.admission_rate_other"])),
            cost_junior=p["education.cost_junior"] * pi, cost_senior=p["education.cost_senior"] * pi,
            cost_college=p["education.cost_college"] * pi,
            school_primary=p["education.cost_primary"] * pi, school_junior=p["education.cost_junior"] * pi,
            school_senior=p["education.cost_senior"] * pi, school_college=p["education.cost_college"] * pi,
            # work
            partial_units=p["economy.partial_labor_units"], elderly_farm_units=p["economy.elderly_farm_units"],
            major_labor_loss=p["health.major_labor_loss"], migration_base=p["economy.migration_base"],
            migration_network=p["economy.migration_network_effect"], migration_skill=p["economy.migration_skill_effect"],
            migration_care=p["economy.migration_care_penalty"],
            migration_willingness=p["economy.migration_willingness_effect"], local_share=p["economy.local_work_share"],
            migrant_exit_rate=p["economy.migrant_exit_rate"], local_exit_rate=p["economy.local_work_exit_rate"],
            skill_premium=p["economy.skill_premium"], land_units=p["economy.land_income_units"],
            local_wage_ratio=p["economy.local_wage_ratio"], migrant_wage_ratio=p["economy.migrant_wage_ratio"],
            income_shock_sd=p["economy.income_shock_sd"], pension=p["economy.pension"],
            enrolment_rate=p["medical.enrolment_rate"],
            # the register: causes, appraisal, measurement, exits, adjustment, re-check, monitoring
            illness_cause=p["register.illness_cause_share"], schooling_cause=p["register.schooling_cause_share"],
            capital_cause=p["register.capital_cause_months"] / 12.0 * self.line,
            motivation_cause=p["register.motivation_cause_below"],
            appraisal_noise=p["register.appraisal_noise"], appraisal_housing=p["register.appraisal_weight_housing"],
            appraisal_illness=p["register.appraisal_weight_illness"],
            appraisal_disability=p["register.appraisal_weight_disability"],
            appraisal_labor=p["register.appraisal_weight_labor"],
            measurement_sd=float(p["register.measurement_error_sd"]), min_years=p["register.min_years_before_exit"],
            stability=int(p["exit.stability_assessments"]), relative=relative,
            exit_threshold=self.exit_threshold(year), last_line=float(self.params.at("poverty.line", year - 1)),
            last_threshold=self.exit_threshold(year - 1), pressure_margin=p["exit.pressure_margin"],
            target_pressure=p["exit.target_pressure"], verification_rate=p["exit.verification_rate"],
            plan_rule=p["exit.plan_rule"], support_years=p["exit.support_years_after_exit"],
            support_end_year=p["exit.support_end_year"],
            application_chance=p["register.application_chance"], adjustment_quota=p["register.adjustment_quota"],
            quota_on_start_register=p["register.adjustment_quota_base"] == "start",
            recheck_year=p["register.recheck_year"], recheck_correction=p["register.recheck_correction"],
            monitoring=year >= p["monitoring.start_year"], helped_first=year > p["monitoring.start_year"],
            monitor_range=p["monitoring.range_multiple"] * self.line,
            rigid_share=p["monitoring.rigid_share"], monitoring_scale=p["monitoring.scale"],
            # medical insurance and assistance
            share_township=p["medical.share_township"], share_city=p["medical.share_city"],
            factor_township=p["medical.factor_township"], factor_city=p["medical.factor_city"],
            reimbursement=p["medical.reimbursement"], noncompliant=p["medical.noncompliant_share"],
            compliant_share=1.0 - p["medical.noncompliant_share"],
            chronic_rate=min(p["medical.reimbursement"] * p["medical.factor_township"], 1.0),
            chronic_cost_now=p["health.chronic_cost"] * pi, critical_deductible=p["medical.critical_deductible"],
            critical_share=p["medical.critical_share"], premium=p["medical.premium"],
            assistance_share=p["medical.assistance_share"], oop_cap=p["medical.oop_cap"],
            # microcredit
            takeup_base=p["microcredit.takeup_base"], takeup_skill=p["microcredit.takeup_skill_effect"],
            takeup_motivation=p["microcredit.takeup_motivation_effect"], takeup_risk=p["microcredit.takeup_risk_effect"],
            takeup_peer=p["microcredit.takeup_peer_effect"], return_mean=p["microcredit.project_return_mean"],
            return_sd=p["microcredit.project_return_sd"], depreciation=p["microcredit.capital_depreciation"],
            reinvest=p["microcredit.reinvest_share"], insured_loss=p["microcredit.insured_loss_share"],
            interest_rate=p["microcredit.interest_rate"], interest_subsidy=p["microcredit.interest_subsidy_share"],
            loan_term=int(p["microcredit.term"]), max_extensions=p["microcredit.max_extensions"],
            extension_years=int(p["microcredit.extension_years"]), renewal_share=p["microcredit.renewal_share"],
            loan_amount=float(min(p["microcredit.amount"], p["microcredit.max_amount"])),
            equal_repayment=p["microcredit.repayment"] == "equal",
            # dibao
            dibao_line=dibao_line(p), two_lines=bool(p["dibao.two_lines_in_one"]),
            exclusion_error=p["dibao.exclusion_error"],
            inclusion_error=p["dibao.inclusion_error"], inclusion_share=p["dibao.inclusion_benefit_share"],
            extra_share=p["dibao.extra_share"], share_70=p["dibao.share_of_elderly_over_70"],
            tekun_multiple=p["dibao.tekun_multiple"],
            # accounting
            saved_share=1.0 - p["economy.consumption_share"],
        )
        self.p = p
        self._land_cause_ability = None

    def shocks(self) -> None:
        """Disasters by village, price and wage shocks by county (agents/life.py)."""
        p, year, s = self.p, self.year, self.streams
        n = len(self.villages)
        hit = s.uniform("disaster", year, n) < p["economy.disaster_probability"]
        mean = p["economy.disaster_loss_mean"]
        conc = 4.0  # the engine's beta concentration
        severity = s.generator("disaster_severity", year).beta(max(mean * conc, 1e-6), max((1 - mean) * conc, 1e-6), n)
        for v in self.villages:
            v.hit = bool(hit[v.row])
            v.disaster_loss = f32(severity[v.row]) if v.hit else 0.0
        for field, name, sd in (("price_shock", "price_shock", "economy.price_shock_sd"),
                                ("wage_shock", "wage_shock", "economy.wage_shock_sd")):
            sd = p[sd]
            shock = np.exp(sd * s.normal(name, year, len(self.counties)) - sd * sd / 2)
            for c in self.counties:
                setattr(c, field, f32(shock[c.row]))

    def land_cause_ability(self) -> float:
        """Ability below which 'land' is recorded as a cause: a share of the median ability
        (from the engine's systematic sample of rows), found once a year when first needed."""
        if self._land_cause_ability is None:
            rows = self.household_list[::max(len(self.household_list) // MEDIAN_SAMPLE, 1)]
            median = float(np.median(np.array([h.ability for h in rows], dtype=np.float32)))
            self._land_cause_ability = float(self.p["register.land_cause_ability_share"] * median)
        return self._land_cause_ability

    def step(self) -> None:
        if self.year > self.end_year:
            self.running = False
            return
        if self.year > self.start_year:
            self.growth_index *= 1.0 + self.params.at("economy.income_growth", self.year)
        self._year_constants()
        self.cost_insurance = self.cost_insurance_assisted = self.cost_premiums = self.cost_assistance = 0.0
        self.cost_dibao = self.loan_subsidy = self.loan_losses = 0.0

        self.shocks()
        self.households.shuffle_do("live_and_work")
        self.plan_year()
        self.households.shuffle_do("govern_and_settle")
        self.loan_standing()
        self.start_causes()
        self.exits()
        self.exit_routes()
        self.adjust()
        self.recheck()
        self.monitor()
        self.places()
        self.records.append(self.metrics())
        self.year += 1
        if self.year > self.end_year:
            self.running = False

    def run(self) -> list[dict]:
        while self.running:
            self.step()
        return self.records

    # --- selection within counties (sim/groups.py) ----------------------------------------
    def take_within(self, candidates: list, keys: list, limits: list, rule: str, slot: int | None = None) -> list:
        """The candidates (households in row order, with their keys) each county takes up to
        its limit (weighted people): all of them if they fit; otherwise in ascending order of
        the float32 key, ties in row order, while they fit. At the first that does not fit,
        NEAREST takes it when that leaves the total nearer the limit and stops; FILL passes
        over it when not one of the households the row stands for fits, and when k of its w
        fit takes it with chance k / w (one "quota" draw in `slot`) and stops."""
        groups: dict[int, list] = {}
        for h, key in zip(candidates, keys):
            groups.setdefault(h.county.row, []).append((f32(key), h))
        taken = []
        for c, members in groups.items():
            cap = limits[c]
            amounts = [h.weight * h.size for _, h in members]
            total = 0.0
            for a in amounts:
                total += a
            if total <= cap:
                taken.extend(h for _, h in members)
                continue
            ranked = sorted(range(len(members)), key=lambda j: _order(members[j][0], j))
            total = 0.0
            for j in ranked:
                h, a = members[j][1], amounts[j]
                if total + a <= cap:
                    taken.append(h)
                    total += a
                    continue
                if rule == NEAREST:
                    if total + a - cap < cap - total:
                        taken.append(h)
                    break
                unit = float(h.size)
                fit = math.floor((cap - total) / unit)  # households of this row that fit
                if fit >= 1:
                    if u01(self.k.quota, h.row, slot) < fit * unit / a:
                        taken.append(h)
                    break
        return taken

    # --- population-level steps -----------------------------------------------------------
    def registered_people_by_county(self) -> list[float]:
        """Registered people of each county, summed as the engine does: each block of rows
        in row order, then the blocks in order."""
        totals = [0.0] * len(self.counties)
        rows = self.household_list
        for block in range(BLOCKS):
            first, last = block_rows(block, len(rows))
            sums = [0.0] * len(self.counties)
            for h in rows[int(first):int(last)]:
                if h.status == REGISTERED or h.status == RETURNED:
                    sums[h.county.row] += h.weight * h.size
            for c in range(len(totals)):
                totals[c] += sums[c]
        return totals

    def _this_year(self, path: str):
        if not self.profile.has(path):
            return None
        values = self.profile.value(path)
        return values.get(self.year) if isinstance(values, dict) else None

    def plan_year(self) -> None:
        """Each county's exit plan: the region's plan (the profile's schedule, or what is left
        spread evenly to the deadline, at least the floor; everyone left from the deadline on)
        split by registered people. (The households expected to exit on it matter only to
        targeted measures, none of which is among the core measures.)"""
        y = self.y
        if y.plan_rule == "qualifying":
            for c in self.counties:
                c.plan = math.inf
            return
        people = self.registered_people_by_county()
        total = float(np.sum(people))
        deadline = self.profile.value("exit.deadline") if self.profile.has("exit.deadline") else None
        plan = self._this_year("exit.schedule_people")
        if plan is None and deadline is not None and self.year < deadline:
            plan = total / (deadline - self.year + 1)
        floor = self._this_year("exit.floor_people")
        if floor is not None:
            plan = max(plan or 0.0, floor)
        if deadline is not None and self.year >= deadline:
            plan = total
        plan = math.inf if plan is None else float(plan)
        for c in self.counties:
            c.plan = math.inf if math.isinf(plan) else (plan * people[c.row] / total if total > 0 else 0.0)
        self.plan_villages(deadline)

    def plan_villages(self, deadline) -> None:
        """The poor villages planned to exit this year, whose households come first on the
        plan: the village schedule, or the poor villages left spread evenly to the deadline,
        the smallest share registered first, as many as come nearest the plan; every poor
        village from the deadline on (sim/exits.py: planned_villages)."""
        poor = [v for v in self.villages if v.poor]
        for v in self.villages:
            v.planned = False
        if deadline is not None and self.year >= deadline:
            for v in poor:
                v.planned = True
            return
        plan = self._this_year("exit.schedule_villages")
        if plan is None and deadline is not None:
            plan = float(np.sum(np.array([v.weight for v in poor], dtype=np.float32))) / (deadline - self.year + 1)
        if plan is None:
            return
        amounts = [float(v.weight) for v in poor]
        total = 0.0
        for a in amounts:
            total += a
        if total <= plan:
            for v in poor:
                v.planned = True
            return
        keys = [f32(v.poor_people / v.people) if v.people > 0 else f32(0.0) for v in poor]
        total = 0.0
        for j in sorted(range(len(poor)), key=lambda j: _order(keys[j], j)):
            if total + amounts[j] <= plan:
                poor[j].planned = True
                total += amounts[j]
                continue
            if total + amounts[j] - plan < plan - total:
                poor[j].planned = True
            break

    def threshold_of(self, h: HouseholdAgent) -> float:
        """The threshold a household must reach (the line under the relative rule without full labor)."""
        y = self.y
        return y.line if (y.relative and h.labor != FULL) else y.exit_threshold

    def loan_standing(self) -> None:
        """Each village's share of loans in good standing (open loans not in arrears nor
        extended, over open and defaulted loans): next year's microcredit peer effect."""
        nv = len(self.villages)
        loans, bad = [0.0] * nv, [0.0] * nv
        rows = self.household_list
        for part in range(PLACE_PARTS):  # as the engine: row ranges summed apart, in row order, then added
            p_loans, p_bad = [0.0] * nv, [0.0] * nv
            first, last = part_rows(part, len(rows))
            for h in rows[int(first):int(last)]:
                if h.loan_open or h.loan_default:
                    v = h.village.row
                    p_loans[v] += h.weight
                    if h.loan_default or h.loan_arrears > 0 or h.loan_extensions > 0:
                        p_bad[v] += h.weight
            for v in range(nv):
                loans[v] += p_loans[v]
                bad[v] += p_bad[v]
        for v in self.villages:
            if loans[v.row] > 0:
                v.loan_good_share = f32(1.0 - bad[v.row] / max(loans[v.row], 1e-12))

    def start_causes(self) -> None:
        """In the start year, the causes of the register built at set-up are recorded against
        that year's illnesses and costs (sim/register_build.py: record_start_causes)."""
        if self.year != self.start_year:
            return
        for h in self.household_list:
            if h.cohort and (h.status == REGISTERED or h.status == RETURNED):
                h.record_causes()

    @staticmethod
    def exit_key(h: HouseholdAgent) -> float:
        """Closest to the threshold first, households of villages planned to exit before the
        others (sim/groups.py: priority_key)."""
        value = -(h.measured_pc / h.row_threshold)
        return value / (1.0 + abs(value)) - 3.0 * h.village.planned

    def exits(self) -> None:
        """Each county exits qualifying households up to its plan (those of villages planned to
        exit first, then the highest measured incomes first); under target pressure cadres
        certify households just under the threshold, for a share of the planned exits that
        found no qualifying household; third-party verification reverses false exits (sim/exits.py)."""
        y = self.y
        qualify = [h for h in self.household_list if h.qualifies]
        keys = [self.exit_key(h) for h in qualify]
        plans = [c.plan for c in self.counties]
        for h in self.take_within(qualify, keys, plans, FILL, SLOT_EXIT):
            h.exited = True
        # planned exits that found no qualifying household, county by county
        qualifying = [0.0] * len(self.counties)
        for h in qualify:
            qualifying[h.county.row] += h.weight * h.size
        unfilled = [max(plan - q, 0.0) if math.isfinite(plan) else 0.0 for plan, q in zip(plans, qualifying)]
        shortfall = [u * y.target_pressure for u in unfilled]
        if y.target_pressure > 0 and any(s > 0 for s in shortfall):
            near = [h for h in self.household_list if h.near]
            keys = [self.exit_key(h) for h in near]
            for h in self.take_within(near, keys, shortfall, FILL, SLOT_PRESSURE):
                h.exited = h.pressured = True
        if y.verification_rate > 0:
            self.households.select(lambda h: h.exited).shuffle_do("verify")
        for h in self.household_list:
            if h.exited:
                h.status, h.exit_year = EXITED, y.year
        self.planned_exits_people = float(np.sum([plan for plan in plans if math.isfinite(plan)]))
        self.plan_unfilled_people = float(np.sum(unfilled))

    def exit_routes(self) -> None:
        """The core measures that carried each exiting household out: without what the measure
        paid it this year (dibao, the microcredit project's gain) its per-capita income would
        be below the threshold (or only all together, then the one that paid most); medical
        assistance also when illness is a recorded cause and this year's assistance brought its
        out-of-pocket costs from above the illness threshold to within it (sim/exit_routes.py)."""
        self.route_people = dict.fromkeys(MEASURES, 0.0)
        self.route_batch_people = dict.fromkeys(BATCH_NAMES, 0.0)
        batch_of = {name: (spec.batch, spec.batch_guangyuan) for name, spec in MEASURES.items()}
        for h in self.household_list:
            if not h.exited:
                continue
            paid = {"microcredit": h.project_gain or 0.0, "dibao": float(h.transfer_dibao)}
            size, income, t = float(max(h.size, 1)), float(h.income), h.row_threshold
            credited = {name for name, x in paid.items() if x > 0 and (income - x) / size < t}
            total = paid["microcredit"] + paid["dibao"]
            if not credited and total > 0 and (income - total) / size < t:
                # the one that paid most (the first measure in order among equals)
                values = [paid.get(name, 0.0) for name in MEASURES]
                credited.add(list(MEASURES)[values.index(max(values))])
            if h.causes & C_ILLNESS:  # the cause removed: costs within the threshold only with assistance
                threshold, oop = self.y.illness_cause * max(income, 1.0), float(h.oop_medical)
                if oop + self.y.assistance_share * h.compliant_left > threshold and oop <= threshold:
                    credited.add("medical_assistance")
            people = h.weight * h.size
            for name in credited:
                self.route_people[name] += people
            for b in {b for name in credited for b in batch_of[name]}:
                self.route_batch_people[b] += people

    def adjust(self) -> None:
        """The yearly adjustment: households off the register measured below the line apply
        (from the year after monitoring began, only after being helped under it); the village
        appraises them and each county admits the poorest-looking up to its quota (sim/adjustment.py)."""
        y = self.y
        if y.adjustment_quota <= 0:
            return
        applicants = [h for h in self.household_list
                      if (h.status == NEVER or (h.status == EXITED and h.exit_year < y.year)) and h.size > 0
                      and h.measured_pc < y.line
                      and (not y.helped_first or 0 < h.monitor_year < y.year)
                      and u01(self.k.application, h.row, 0) < y.application_chance]
        # a share of the county's register at the start of the year (summed at last year's
        # assessment), or of the register it built in the start year
        quotas = [y.adjustment_quota * (c.start_register_people if y.quota_on_start_register else float(c.poor_people))
                  for c in self.counties]
        admitted = self.take_within(applicants, [h.appraisal() for h in applicants], quotas, FILL, SLOT_ADJUSTMENT)
        for h in admitted:
            if h.status == NEVER:
                h.new_poor = True
                h.register(REGISTERED)
            else:
                h.returned = True
                h.register(RETURNED)

    def recheck(self) -> None:
        """In the re-check year a share of the register's errors is corrected each way, by true
        income: registered households above the line removed, never-registered below it added;
        then the causes of every household left on the register are recorded again."""
        y = self.y
        if self.year != y.recheck_year or y.recheck_correction <= 0:
            return
        line32 = f32(y.line)  # numpy compares the float32 incomes with the line in float32
        for h in self.household_list:
            pc = f32(h.income / max(h.size, 1))
            registered = h.status == REGISTERED or h.status == RETURNED
            wrong_in = registered and not h.new_poor and not h.returned and pc >= line32
            wrong_out = h.status == NEVER and h.size > 0 and pc < line32
            if not (wrong_in or wrong_out) or u01(self.k.recheck, h.row, 0) >= y.recheck_correction:
                continue
            if wrong_in:
                h.recheck_removed = True
                h.status, h.reg_year, h.causes, h.main_cause = NEVER, 0, 0, -1
            else:
                h.recheck_added = h.new_poor = True
                h.register(REGISTERED)
        for h in self.household_list:
            if h.status == REGISTERED or h.status == RETURNED:
                h.record_causes()

    def monitor(self) -> None:
        """Return monitoring: households at risk taken on within each county's scale, those
        already monitored first, the others by income left after rigid spending, lowest first;
        those no longer at risk released (sim/monitoring.py)."""
        y = self.y
        if not y.monitoring:
            return
        at_risk = [h for h in self.household_list if h.at_risk()]
        keys = []
        for h in at_risk:
            left = (h.measured_pc - (h.oop_medical + h.school_cost) / max(h.size, 1)) / y.line
            keys.append(priority(left, h.monitor_year > 0))
        limits = [y.monitoring_scale * c.start_register_people for c in self.counties]
        kept = set(self.take_within(at_risk, keys, limits, FILL, SLOT_MONITORING))
        for h in self.household_list:
            if h in kept:
                if h.monitor_year == 0:
                    h.monitor_year = y.year
                    h.newly_monitored = True
            elif h.monitor_year > 0:
                h.monitor_year = 0

    def places(self) -> None:
        """Village and county people and poor people, migration network, then poor villages
        and counties exit (sim/register.py)."""
        nv = len(self.villages)
        people, poor, income, workers, migrants = [0.0] * nv, [0.0] * nv, [0.0] * nv, [0.0] * nv, [0.0] * nv
        rows = self.household_list
        for part in range(PLACE_PARTS):  # as the engine: row ranges summed apart, in row order, then added
            sums = [[0.0] * nv for _ in range(5)]
            p_people, p_poor, p_income, p_workers, p_migrants = sums
            first, last = part_rows(part, len(rows))  # the engine's own row ranges
            for h in rows[int(first):int(last)]:
                v = h.village.row
                w = h.weight
                hp = f32(w * h.size)
                p_people[v] += hp
                if h.status == REGISTERED or h.status == RETURNED:
                    p_poor[v] += hp
                p_income[v] += f32(w * h.income)
                p_workers[v] += w * max(h.n_working - h.n_college, 0)
                p_migrants[v] += f32(w * h.n_migrants)
            for total, part_sums in zip((people, poor, income, workers, migrants), sums):
                for v in range(nv):
                    total[v] += part_sums[v]
        ex = self.profile.data["exit"]
        for v in self.villages:
            r = v.row
            v.people, v.poor_people = f32(people[r]), f32(poor[r])
            v.income_pc = f32(income[r] / people[r]) if people[r] > 0 else 0.0
            v.migration_share = f32(migrants[r] / workers[r]) if workers[r] > 0 else 0.0
        for c in self.counties:
            c.people = c.poor_people = 0.0
        for v in self.villages:  # float64 sums of the float32 village figures, in village order
            v.county.people += v.people
            v.county.poor_people += v.poor_people
        for c in self.counties:
            c.people, c.poor_people = f32(c.people), f32(c.poor_people)

        village_line = ex["village_incidence"]["value"]  # incidence is a float32 ratio, compared in float64
        self.exited_village_weights = []
        for v in self.villages:
            if ex["village_rule"] == "incidence":
                out = (f32(v.poor_people / v.people) if v.people > 0 else 0.0) < village_line
            else:  # numpy compares the float32 incomes with the reference in float32
                ref = self.profile.dated("exit.reference_income", self.year)
                out = v.income_pc >= f32(ex["village_income_share"]["value"] * ref)
            if v.poor and out:
                v.poor = False
                v.exit_year = self.year
                self.exited_village_weights.append(v.weight)
        county_line = ex["county_incidence"]["value"]
        self.counties_exited = 0
        for c in self.counties:
            out = (f32(c.poor_people / c.people) if c.people > 0 else 0.0) < county_line
            if c.poor and out:
                c.poor = False
                c.exit_year = self.year
                self.counties_exited += 1

    def metrics(self) -> dict[str, float]:
        """The yearly core metrics, named as the engine's columns (sim/metrics.py)."""
        m = dict.fromkeys(METRICS, 0.0)
        m["year"] = self.year
        income = income_reg = 0.0
        for h in self.household_list:
            w = h.weight
            ws = f32(w * h.size)  # float32 products, as the engine's metric pass forms them
            registered = h.status == REGISTERED or h.status == RETURNED
            poor = False
            if h.size > 0:
                m["households"] += w
                poor = f32(h.income / h.size) < self.line
                if poor:
                    m["income_poor_people"] += ws
            m["people"] += ws
            m["births"] += f32(w * h.births)
            m["deaths"] += f32(w * h.deaths)
            income += f32(w * h.income)
            m["oop_medical_total"] += f32(w * h.oop_medical)
            if registered:
                m["registered_poor_households"] += w
                m["registered_poor_people"] += ws
                m["registered_net_births_people"] += w * (h.births - h.deaths)
                income_reg += f32(w * h.income)
                if h.labor != FULL:
                    m["no_labor_registered_people"] += ws
                if h.size > 0 and not poor:
                    m["registered_above_line_people"] += ws
                if h.cohort:
                    m["start_cohort_registered_people"] += ws
                main = None
                for name, bit in CAUSES:  # causes recorded at registration; the main cause is the first
                    if h.causes & bit:
                        m[f"poor_people_cause_{name}"] += ws
                        main = main or name
                m[f"registered_poor_people_cause_{main or 'none'}"] += ws
            elif poor:
                m["unregistered_poor_people"] += ws
            if h.status == EXITED:
                m["exited_people"] += ws
                if h.measured_pc < self.line:
                    m["exited_below_line_people"] += ws
            if h.exited:
                m["exits_households"] += w
                m["exits_people"] += ws
                if h.cohort:
                    m["start_cohort_exits_people"] += ws
            if h.returned:
                m["returns_households"] += w
                m["returns_people"] += ws
                if h.cohort:
                    m["start_cohort_returns_people"] += ws
            if h.new_poor:
                m["new_poor_households"] += w
                m["new_poor_people"] += ws
            if h.pressured:
                m["exits_under_pressure_people"] += ws
            if h.reversed:
                m["exits_reversed_people"] += ws
            if h.monitor_year > 0:
                m["monitored_people"] += ws
            if h.newly_monitored:
                m["newly_monitored_people"] += ws
            if h.recheck_added:
                m["recheck_added_people"] += ws
            if h.recheck_removed:
                m["recheck_removed_people"] += ws
                m["recheck_removed_households"] += w
            if h.dibao:
                m["dibao_people"] += ws
                m["reached_people_dibao"] += ws
            if h.reached_insurance:
                m["reached_people_medical_insurance"] += ws
            if h.reached_assistance:
                m["reached_people_medical_assistance"] += ws
            if h.reached_microcredit:
                m["reached_people_microcredit"] += ws
            for name in CORE:
                if h.measures_reached & BIT[name]:
                    m[f"ever_reached_people_{name}"] += ws
            m["microcredit_active_loans"] += w * h.loan_open
            m["microcredit_defaults"] += w * h.loan_default
            m["microcredit_loans_made"] += w * h.loan_made
            m["microcredit_extensions"] += w * h.loan_extended
            m["microcredit_renewals"] += w * h.loan_renewed
            m["microcredit_outstanding"] += w * (h.loan_principal + h.loan_arrears)
        m["mean_income_per_capita"] = income / m["people"] if m["people"] else 0.0
        m["mean_income_registered"] = income_reg / m["registered_poor_people"] if m["registered_poor_people"] else 0.0
        m["poverty_line"] = self.line
        m["planned_exits_people"] = self.planned_exits_people
        m["plan_unfilled_people"] = self.plan_unfilled_people
        for name in CORE:
            m[f"exit_route_people_{name}"] = self.route_people[name]
        for b in BATCH_NAMES:
            m[f"exit_route_batch_people_{b}"] = self.route_batch_people[b]
        m["microcredit_interest_subsidy"] = self.loan_subsidy
        compensation = self.loan_losses * self.p["microcredit.risk_compensation_share"]
        m["microcredit_risk_compensation"] = compensation
        # float32 sums of the village weights, as numpy forms them in the engine
        m["poor_villages"] = float(np.array([v.weight for v in self.villages if v.poor], np.float32).sum())
        m["villages_exited"] = float(np.array(self.exited_village_weights, np.float32).sum())
        m["planned_village_exits"] = float(np.array([v.weight for v in self.villages if v.planned], np.float32).sum())
        m["poor_counties"] = float(sum(c.poor for c in self.counties))
        m["counties_exited"] = float(self.counties_exited)
        m["fiscal_cost_medical_insurance"] = self.cost_insurance
        m["fiscal_cost_medical_assistance"] = self.cost_premiums + self.cost_assistance + self.cost_insurance_assisted
        m["fiscal_cost_microcredit"] = self.loan_subsidy + compensation
        m["fiscal_cost_dibao"] = self.cost_dibao
        m["fiscal_cost_total"] = sum(m[f"fiscal_cost_{name}"] for name in CORE)
        return m

    def state(self) -> dict[str, np.ndarray]:
        """Every household's state as arrays in row order, for comparison with the engine's table."""
        return {name: np.array([getattr(h, name) for h in self.household_list]) for name in STATE}


# The engine's metric columns the reference computes.
METRICS = (
    "year", "households", "people", "births", "deaths", "registered_poor_households", "registered_poor_people",
    "exits_households", "exits_people", "returns_households", "returns_people", "exits_under_pressure_people",
    "exits_reversed_people", "new_poor_households", "new_poor_people", "registered_net_births_people",
    "exited_people", "income_poor_people", "registered_above_line_people", "unregistered_poor_people",
    "start_cohort_registered_people", "start_cohort_exits_people", "start_cohort_returns_people",
    "monitored_people", "newly_monitored_people", "exited_below_line_people", "planned_exits_people",
    "plan_unfilled_people",
    "recheck_added_people", "recheck_removed_people", "recheck_removed_households",
    "mean_income_per_capita", "mean_income_registered", "poverty_line", "dibao_people",
    "no_labor_registered_people", "oop_medical_total", "microcredit_active_loans", "microcredit_defaults",
    "microcredit_loans_made", "microcredit_outstanding", "microcredit_interest_subsidy",
    "microcredit_risk_compensation", "microcredit_extensions", "microcredit_renewals",
    "poor_villages", "villages_exited", "planned_village_exits", "poor_counties", "counties_exited",
    "fiscal_cost_total", *(f"fiscal_cost_{name}" for name in CORE), *(f"reached_people_{name}" for name in CORE),
    *(f"ever_reached_people_{name}" for name in CORE), *(f"exit_route_people_{name}" for name in CORE),
    *(f"exit_route_batch_people_{b}" for b in BATCH_NAMES),
    *(f"poor_people_cause_{name}" for name, _ in CAUSES),
    *(f"registered_poor_people_cause_{name}" for name, _ in CAUSES),
    "registered_poor_people_cause_none",
)
