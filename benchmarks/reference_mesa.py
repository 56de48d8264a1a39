"""The core yearly rules written the plain Mesa way: one `mesa.Agent` per household.

This is the peer the vectorized engine is measured against (`benchmarks/speed.py`) and a
second, independent statement of its rules (`tests/test_reference.py`). Each household is
a `HouseholdAgent` holding its state as Python scalars; villages and counties are agents
too. A year is two passes of `model.agents_by_type[HouseholdAgent].shuffle_do(...)` with the
population-level steps a Mesa user would write in `ReferenceModel.step()` between them:

    village and county shocks       (model: disasters by village, price and wage shocks by county)
    pass 1, HouseholdAgent.live_and_work:
        life                        ageing, schooling, births, deaths, disability, illness and
                                    its cost, ability drift, housing damage and repair
        work                        labor capacity, migration and local work, earnings by
                                    source, insurance enrolment
        identify                    registration of those measured below last year's line
    median ability                  (model: threshold of the 'land' cause)
    pass 2, HouseholdAgent.govern_and_settle:
        diagnose                    the 12-cause bitmask
        medical insurance           basic (by level of care) and critical-illness insurance
        medical assistance          premiums paid, assistance with costs left, out-of-pocket cap
        microcredit                 take-up, project return, repayment, arrears and default
        dibao                       the floor, centralized support, targeting errors
        account                     income, resources after rigid costs, savings and debt
        assess                      measured income and the exit test
    target pressure                 (model: certify those just under the threshold, if set)
    verification                    (the exited agents: third-party checks reverse false exits)
    places                          (model: village and county people, migration network,
                                    microcredit peer effect, village and county exit)
    metrics                         (model: the yearly core metrics)

The core configuration is the measures the benchmark issue names: basic and
critical-illness medical insurance, medical assistance, dibao and microcredit
(`CORE_MEASURES`); every other measure is off in both engines. The whole life pass is
mirrored (schooling, disasters, price and wage shocks, housing), not switched off: it is
what makes a household poor or not. Rules that only act through measures that are off
here are left out: education support (so schooling costs are gross), relocation (no one
is ever relocated, so the relocated branches of the work pass never run), the targeted
measures and their cadre capacity.

Random draws are shared exactly. Every draw of the engine is a pure function of (seed,
stream, year, row, slot) (`sim/streams.py`); each agent knows its row and calls the same
compiled draw functions (`u01`, `normal01`, `binomial_members`) one scalar at a time, so
the order in which `shuffle_do` visits agents changes nothing. Village and county shocks
are drawn per village and county row from the same streams, as the engine does.

To agree bit for bit, the agents store a value wherever the engine stores one in a
float32 column, rounded to float32 (`f32`), and do float arithmetic in the engine's order
and precision: where a compiled pass computes in float32 (numba keeps `float(x)` of a
float32 element in float32, so the income sums of the dibao, microcredit and accounting
passes and some products of the metric and village sums are float32), the agents round
each step too. Exponentials and logarithms use `math` (the C library, as compiled code does).
The f32 rounding is the only thing here a Mesa user would not write; at about 50
roundings of ~0.1 µs per household-year it costs well under a tenth of the reference's time.
The starting population (synthesis and the start year's calibration of earning ability)
is the engine's set-up, converted row by row into agents: it happens once per run and is
not what the benchmark times.
"""

from __future__ import annotations

import math
from array import array
from types import SimpleNamespace

import mesa
import numpy as np

from policies import MEASURES
from policies.dibao import dibao_line
from sim.fields import Illness, Labor, Location, Status
from sim.model import PovertyModel
from sim.sums import PLACE_PARTS, part_rows
from sim.streams import STREAM_INDEX, binomial_members, normal01, u01

CORE = ("medical_insurance", "medical_assistance", "microcredit", "dibao")
CORE_MEASURES = {name: name in CORE for name in MEASURES}

NEVER, REGISTERED, EXITED, RETURNED = (int(s) for s in Status)
MAJOR, CHRONIC, NO_ILLNESS = int(Illness.MAJOR), int(Illness.CHRONIC), int(Illness.NONE)
FULL, PARTIAL, NO_LABOR = int(Labor.FULL), int(Labor.PARTIAL), int(Labor.NONE)
TRANSPORT_PLACES = int(Location.REMOTE_MOUNTAIN | Location.TINY_HAMLET)
C_ILLNESS, C_DISABILITY, C_SCHOOLING, C_DISASTER = 1, 2, 4, 8
C_LAND, C_SKILLS, C_CAPITAL, C_LABOR, C_TRANSPORT, C_MOTIVATION = 32, 128, 256, 512, 1024, 2048
MEDIAN_SAMPLE = 20_000  # rows the engine's systematic sample uses for the median ability

_F32 = array("f", [0.0])  # a one-item float32 buffer: storing into it rounds, as a float32 column does


def f32(x: float) -> float:
    """x rounded to float32, as the engine stores it in a float32 column."""
    _F32[0] = x
    return _F32[0]


# The household state the core rules read and write: every household field of the engine
# except those only measures switched off here use (their values stay at the defaults).
STATE = (
    "weight", "size", "n_child", "n_primary", "n_junior", "n_senior", "n_dropout", "n_dropout_compulsory",
    "n_working", "n_college", "n_elderly", "n_disabled", "n_chronic", "illness", "medical_cost", "oop_medical",
    "insured", "labor", "labor_units", "head_schooling", "n_skilled", "school_cost", "n_migrants", "n_local",
    "ability", "income_farm", "income_local_wage", "income_migrant", "income_transfers", "income_property",
    "income", "transfer_dibao", "resources", "measured_pc", "savings", "debt", "location_risk",
    "unsafe_housing", "obligations", "loan_principal", "loan_term_left", "loan_arrears", "loan_capital",
    "loan_year", "loan_defaulted", "status", "reg_year", "exit_year", "return_year", "n_returns", "causes",
    "dibao", "risk_aversion", "motivation", "willingness_to_move",
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


class CountyAgent(mesa.Agent):
    """A county: price and wage shocks, poor-county exit."""

    def __init__(self, model, row: int, state: dict):
        super().__init__(model)
        self.row = row
        for name in ("poor", "exit_year", "price_shock", "wage_shock", "people", "poor_people"):
            setattr(self, name, state[name])


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
        self.new_poor = self.returned = self.exited = self.pressured = self.reversed = False
        self.before_status = self.before_exit_year = 0
        self.compliant_left = 0.0
        self.reached_insurance = self.reached_assistance = False
        self.loan_made = self.loan_default = False

    def live_and_work(self) -> None:
        self.live()
        self.work()
        self.identify()

    def govern_and_settle(self) -> None:
        self.diagnose()
        y = self.model.y
        self.supported = (self.status == REGISTERED or self.status == RETURNED
                          or (self.status == EXITED and y.year - self.exit_year < y.support_years))
        self.obligations = 0.0
        self.insure()
        self.assist()
        self.borrow_and_repay()
        self.claim_dibao()
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

        dependants = self.n_child + self.n_elderly + self.n_chronic + self.n_disabled
        share = (y.migration_base + y.migration_network * self.village.migration_share
                 + y.migration_skill * (1.0 if self.n_skilled > 0 else 0.0)
                 - y.migration_care * dependants + y.migration_willingness * (self.willingness_to_move - 0.5))
        share = min(max(share, 0.0), 0.9)
        whole = float(math.floor(able))
        expect = able * share
        fl = float(math.floor(expect))
        migrants = fl + (1.0 if u01(k.migrate, i, 0) < expect - fl else 0.0)
        migrants = min(migrants, whole)
        stay = max(whole - migrants, 0.0) * y.local_share
        fl = float(math.floor(stay))
        local = fl + (1.0 if u01(k.local_work, i, 0) < stay - fl else 0.0)
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

    # --- the register (sim/register.py) ---------------------------------------------------
    def identify(self) -> None:
        self.new_poor = self.returned = False
        if not self.model.y.identify_new:
            return
        below = self.measured_pc < self.model.last_line and self.size > 0
        if below and self.status == NEVER:
            self.new_poor = True
            self.status = REGISTERED
            self.reg_year = self.model.y.year
        elif below and self.status == EXITED:
            self.returned = True
            self.status = RETURNED
            self.reg_year = self.return_year = self.model.y.year
            self.n_returns += 1

    def diagnose(self) -> None:
        if self.status != REGISTERED and self.status != RETURNED:
            self.causes = 0
            return
        y = self.model.y
        c = 0
        if self.n_chronic > 0 or self.illness != 0:
            c |= C_ILLNESS
        if self.n_disabled > 0:
            c |= C_DISABILITY
        if self.school_cost > y.schooling_cause * max(self.income, 1.0):
            c |= C_SCHOOLING
        if self.village.hit:
            c |= C_DISASTER
        if self.ability < y.land_cause_ability:
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
    def borrow_and_repay(self) -> None:
        m, y, i = self.model, self.model.y, self.row
        made = False
        if ((self.status == REGISTERED or self.status == RETURNED) and self.labor != 0 and self.loan_principal <= 0
                and self.loan_arrears <= 0 and not self.loan_defaulted and self.size > 0):
            chance = (y.takeup_base + y.takeup_skill * (1.0 if self.n_skilled > 0 else 0.0)
                      + y.takeup_motivation * (self.motivation - 0.5) - y.takeup_risk * (self.risk_aversion - 0.5)
                      - y.takeup_peer * (1.0 - self.village.loan_good_share))
            made = u01(m.k.loan_takeup, i, 0) < min(max(chance, 0.0), 1.0)
        self.loan_made = made
        if made:
            self.loan_principal = f32(y.loan_amount)
            self.loan_capital = f32(self.loan_capital + y.loan_amount)
            self.loan_term_left = y.loan_term
            self.loan_year = y.year

        capital = self.loan_capital
        if capital > 0:  # the project yields or loses; while a loan runs, net of upkeep
            r = ((1.0 + y.return_mean + y.return_sd * normal01(m.k.project_return, i, 0)) * self.county.price_shock
                 * (1.0 - self.village.disaster_loss) - 1.0)
            self.income_farm = f32(self.income_farm + max(r, 0.0) * capital)
            wear = 0.0 if self.loan_principal > 0 else y.depreciation
            capital = capital * (1.0 + min(r, 0.0)) * (1.0 - wear)
            self.loan_capital = f32(capital if capital > 1.0 else 0.0)

        principal = self.loan_principal
        term_left = self.loan_term_left
        active = principal > 0 and term_left > 0
        if active:
            term_left -= 1
        billed = 0.0
        if active:
            if y.equal_repayment:
                billed = principal / max(self.loan_term_left, 1)
            elif term_left <= 0:
                billed = principal
        interest = y.interest_rate * principal if active else 0.0
        subsidy = interest * y.interest_subsidy
        due = billed + interest - subsidy
        owed = due + self.loan_arrears
        from_income = min(owed, max(f32(self.income_sum() - self.oop_medical) - y.line * self.size, 0.0))
        from_savings = min(owed - from_income, self.savings)
        from_capital = min(owed - from_income - from_savings, self.loan_capital) if term_left <= 0 else 0.0
        self.savings = f32(self.savings - from_savings)
        self.loan_capital = f32(self.loan_capital - from_capital)
        self.obligations = f32(self.obligations + from_income)
        arrears = owed - from_income - from_savings - from_capital
        principal -= billed

        # a small shortfall at first maturity rolls over once; otherwise default
        if (arrears > 1e-6 and term_left <= 0 and y.year - self.loan_year < y.loan_term
                and arrears <= y.rollover_share * y.loan_amount):
            principal, term_left, arrears = arrears, 1, 0.0
        default = arrears > 1e-6 and (term_left <= 0 or arrears > due + 1e-6)
        if default:
            m.loan_losses += self.weight * (principal + arrears)
            principal, arrears, term_left = 0.0, 0.0, 0
            self.loan_defaulted = True
        self.loan_default = default
        self.loan_principal = f32(max(principal, 0.0))
        self.loan_arrears = f32(arrears)
        self.loan_term_left = term_left
        m.loan_subsidy += self.weight * subsidy

    # --- dibao (policies/dibao.py) --------------------------------------------------------
    def claim_dibao(self) -> None:
        y = self.model.y
        benefit = 0.0
        covered = False
        if self.size > 0:
            pc = f32(self.income_sum() / self.size)
            u = u01(self.model.k.dibao_targeting, self.row, 0)
            if self.labor != FULL and pc < y.dibao_line:
                if u >= y.exclusion_error:
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

    # --- assessment (sim/register.py) -----------------------------------------------------
    def assess(self) -> None:
        """Cadres measure per-capita resources with error; the exit test."""
        y = self.model.y
        if self.size <= 0:
            self.measured_pc = math.inf
        else:
            sd = y.measurement_sd
            self.measured_pc = f32(f32(self.resources / self.size)
                                   * math.exp(sd * normal01(self.model.k.measurement, self.row, 0) - sd * sd / 2))
        self.before_status, self.before_exit_year = self.status, self.exit_year
        self.pressured = self.reversed = False
        self.row_threshold = y.line if (y.relative and self.labor != FULL) else y.exit_threshold
        ok = ((self.status == REGISTERED or self.status == RETURNED) and y.year - self.reg_year >= y.min_years
              and self.n_dropout_compulsory == 0 and self.insured and not self.unsafe_housing and self.size > 0)
        if ok:
            if y.relative and self.labor != FULL:
                ok = self.dibao and self.measured_pc >= y.line
            else:
                ok = self.measured_pc >= y.exit_threshold
        self.exited = ok
        if ok:
            self.status = EXITED
            self.exit_year = y.year

    def verify(self) -> None:
        """A third-party check of this exit (if sampled) reverses it when resources are below the threshold."""
        if u01(self.model.k.verification, self.row, 0) >= self.model.y.verification_rate:
            return
        if f32(self.resources / max(self.size, 1)) < self.row_threshold:
            self.reversed = True
            self.exited = self.pressured = False
            self.status, self.exit_year = self.before_status, self.before_exit_year


class ReferenceModel(mesa.Model):
    """The core rules, one `HouseholdAgent` per household, stepped one calendar year at a time.

    Takes the same arguments as `PovertyModel` (without `measures`: always `CORE_MEASURES`)
    and starts from the same population; `from_engine` converts a `PovertyModel` that has
    not stepped yet.
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
        self.line = self.last_line = float(engine.line)
        self.growth_index = 1.0
        cols = engine.counties.columns()
        self.counties = [CountyAgent(self, c, {k: v[c].item() for k, v in cols.items()})
                         for c in range(engine.counties.n)]
        cols = engine.villages.columns()
        self.villages = [VillageAgent(self, v, {k: a[v].item() for k, a in cols.items()},
                                      self.counties[int(cols["county"][v])]) for v in range(engine.villages.n)]
        cols = {name: engine.hh[name] for name in STATE}
        lists = {name: a.tolist() for name, a in cols.items()}
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
    def _year_constants(self) -> None:
        """The year's parameters and stream keys, read once as attributes."""
        p, year = self.params.year(self.year), self.year
        self.line = float(p["poverty.line"])
        keys = self.streams.keys(year)
        self.k = SimpleNamespace(**{name: keys[idx] for name, idx in STREAM_INDEX.items()})
        pi = self.growth_index
        ex = self.profile.data["exit"]
        relative = ex["rule"] == "relative"
        threshold = self.line if not relative else (
            ex["relative_share"]["value"] * self.profile.dated("exit.reference_income", year))
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
            skill_premium=p["economy.skill_premium"], land_units=p["economy.land_income_units"],
            local_wage_ratio=p["economy.local_wage_ratio"], migrant_wage_ratio=p["economy.migrant_wage_ratio"],
            income_shock_sd=p["economy.income_shock_sd"], pension=p["economy.pension"],
            enrolment_rate=p["medical.enrolment_rate"],
            # register
            identify_new=p["register.identify_new"], schooling_cause=p["register.schooling_cause_share"],
            capital_cause=p["register.capital_cause_months"] / 12.0 * self.line,
            motivation_cause=p["register.motivation_cause_below"], support_years=p["exit.support_years_after_exit"],
            measurement_sd=float(p["register.measurement_error_sd"]), min_years=p["register.min_years_before_exit"],
            relative=relative, exit_threshold=float(threshold), verification_rate=p["exit.verification_rate"],
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
            interest_rate=p["microcredit.interest_rate"], interest_subsidy=p["microcredit.interest_subsidy_share"],
            rollover_share=p["microcredit.rollover_share"], loan_term=int(p["microcredit.term"]),
            loan_amount=min(p["microcredit.amount"], p["microcredit.max_amount"]),
            equal_repayment=p["microcredit.repayment"] == "equal",
            # dibao
            dibao_line=dibao_line(p), exclusion_error=p["dibao.exclusion_error"],
            inclusion_error=p["dibao.inclusion_error"], inclusion_share=p["dibao.inclusion_benefit_share"],
            extra_share=p["dibao.extra_share"], share_70=p["dibao.share_of_elderly_over_70"],
            tekun_multiple=p["dibao.tekun_multiple"],
            # accounting
            saved_share=1.0 - p["economy.consumption_share"],
        )
        self.p = p

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

    def median_ability(self) -> float:
        """Median earning ability from the engine's systematic sample of rows."""
        rows = self.household_list[::max(len(self.household_list) // MEDIAN_SAMPLE, 1)]
        return float(np.median(np.array([h.ability for h in rows], dtype=np.float32)))

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
        self.y.land_cause_ability = self.p["register.land_cause_ability_share"] * self.median_ability()
        self.households.shuffle_do("govern_and_settle")
        self.certify_under_pressure()
        if self.y.verification_rate > 0:
            self.households.select(lambda h: h.exited).shuffle_do("verify")
        self.last_line = self.line
        self.places()
        self.records.append(self.metrics())
        self.year += 1
        if self.year > self.end_year:
            self.running = False

    def run(self) -> list[dict]:
        while self.running:
            self.step()
        return self.records

    # --- population-level steps ---------------------------------------------------------
    def exit_target(self) -> float | None:
        if not self.profile.has("targets.exits_people"):
            return None
        targets = self.profile.value("targets.exits_people")
        return targets.get(self.year) if isinstance(targets, dict) else None

    def certify_under_pressure(self) -> None:
        """Cadres under target pressure certify households measured just under the threshold,
        closest first, until exits reach the target's share (sim/register.py)."""
        pressure, target = self.p["exit.target_pressure"], self.exit_target()
        if pressure <= 0 or target is None:
            return
        exited = sum(f32(h.weight * h.size) for h in self.household_list if h.exited)
        shortfall = pressure * target - exited
        if shortfall <= 0:
            return
        y, low = self.y, 1.0 - self.p["exit.pressure_margin"]
        near = [h for h in self.household_list
                if (h.before_status == REGISTERED or h.before_status == RETURNED) and not h.exited and h.size > 0
                and y.year - h.reg_year >= y.min_years and h.measured_pc >= low * h.row_threshold
                and h.measured_pc < h.row_threshold]
        near.sort(key=lambda h: -h.measured_pc / h.row_threshold)  # closest first (a stable sort)
        total = 0.0
        for h in near:
            total = f32(total + f32(h.weight * h.size))
            h.exited = h.pressured = True
            h.status, h.exit_year = EXITED, y.year
            if total >= f32(shortfall):  # numpy compares the float32 running sum in float32
                break

    def places(self) -> None:
        """Village and county people and poor people, migration network, microcredit peer
        effect, then poor villages and counties exit (sim/register.py, policies/microcredit.py)."""
        nv = len(self.villages)
        people, poor, income, workers, migrants = [0.0] * nv, [0.0] * nv, [0.0] * nv, [0.0] * nv, [0.0] * nv
        loans, bad = [0.0] * nv, [0.0] * nv
        rows = self.household_list
        for part in range(PLACE_PARTS):  # as the engine: row ranges summed apart, in row order, then added
            sums = [[0.0] * nv for _ in range(7)]
            p_people, p_poor, p_income, p_workers, p_migrants, p_loans, p_bad = sums
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
                open_loan = h.loan_principal > 0 or h.loan_arrears > 0
                p_loans[v] += w * (open_loan or h.loan_default)
                p_bad[v] += w * (h.loan_arrears > 0 or h.loan_default)
            for total, part_sums in zip((people, poor, income, workers, migrants, loans, bad), sums):
                for v in range(nv):
                    total[v] += part_sums[v]
        ex = self.profile.data["exit"]
        for v in self.villages:
            r = v.row
            if loans[r] > 0:
                v.loan_good_share = f32(1.0 - bad[r] / max(loans[r], 1e-12))
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
            else:
                ref = self.profile.dated("exit.reference_income", self.year)
                out = v.income_pc >= ex["village_income_share"]["value"] * ref
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
            if h.size > 0:
                m["households"] += w
                if f32(h.resources / h.size) < self.line:
                    m["income_poor_people"] += ws
            m["people"] += ws
            m["births"] += f32(w * h.births)
            m["deaths"] += f32(w * h.deaths)
            income += f32(w * h.income)
            m["oop_medical_total"] += f32(w * h.oop_medical)
            if registered:
                m["registered_poor_households"] += w
                m["registered_poor_people"] += ws
                income_reg += f32(w * h.income)
                if h.labor != FULL:
                    m["no_labor_registered_people"] += ws
            if h.status == EXITED:
                m["exited_people"] += ws
            if h.exited:
                m["exits_households"] += w
                m["exits_people"] += ws
            if h.returned:
                m["returns_households"] += w
                m["returns_people"] += ws
            if h.new_poor:
                m["new_poor_households"] += w
                m["new_poor_people"] += ws
            if h.pressured:
                m["exits_under_pressure_people"] += ws
            if h.reversed:
                m["exits_reversed_people"] += ws
            if h.dibao:
                m["dibao_people"] += ws
                m["reached_people_dibao"] += ws
            if h.reached_insurance:
                m["reached_people_medical_insurance"] += ws
            if h.reached_assistance:
                m["reached_people_medical_assistance"] += ws
            open_loan = h.loan_principal > 0 or h.loan_arrears > 0
            if h.loan_made or open_loan or h.loan_default:
                m["reached_people_microcredit"] += ws
            m["microcredit_active_loans"] += w * open_loan
            m["microcredit_defaults"] += w * h.loan_default
            m["microcredit_loans_made"] += w * h.loan_made
            m["microcredit_outstanding"] += w * (h.loan_principal + h.loan_arrears)
        m["mean_income_per_capita"] = income / m["people"] if m["people"] else 0.0
        m["mean_income_registered"] = income_reg / m["registered_poor_people"] if m["registered_poor_people"] else 0.0
        m["poverty_line"] = self.line
        m["microcredit_interest_subsidy"] = self.loan_subsidy
        compensation = self.loan_losses * self.p["microcredit.risk_compensation_share"]
        m["microcredit_risk_compensation"] = compensation
        # float32 sums of the village weights, as numpy forms them in the engine
        m["poor_villages"] = float(np.array([v.weight for v in self.villages if v.poor], np.float32).sum())
        m["villages_exited"] = float(np.array(self.exited_village_weights, np.float32).sum())
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
    "exits_reversed_people", "new_poor_households", "new_poor_people", "exited_people", "income_poor_people",
    "mean_income_per_capita", "mean_income_registered", "poverty_line", "dibao_people",
    "no_labor_registered_people", "oop_medical_total", "microcredit_active_loans", "microcredit_defaults",
    "microcredit_loans_made", "microcredit_outstanding", "microcredit_interest_subsidy",
    "microcredit_risk_compensation", "poor_villages", "villages_exited", "poor_counties", "counties_exited",
    "fiscal_cost_total", *(f"fiscal_cost_{name}" for name in CORE), *(f"reached_people_{name}" for name in CORE),
)
