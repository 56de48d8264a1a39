"""Every household, village and county attribute, declared once: dtype, default, unit, meaning
(a measure's own household columns in its module, `FIELDS`).

Codes used in the tables (enumerations and bitmasks) are declared here too, so the rules,
the register and the docs all read the same numbers.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

from .table import Field, Registry


class Labor(IntEnum):
    """Household labor capacity (from age, disability and illness of its members)."""

    NONE = 0
    PARTIAL = 1
    FULL = 2


class Illness(IntEnum):
    NONE = 0
    CHRONIC = 1
    MAJOR = 2  # a major episode (inpatient admission) this year


class Status(IntEnum):
    """Registration status on the poverty register (建档立卡)."""

    NEVER = 0
    REGISTERED = 1
    EXITED = 2
    RETURNED = 3  # exited earlier, fell back and was registered again


class Cause(IntFlag):
    """The 12 official causes of poverty (facts.md: Causes), as a bitmask."""

    ILLNESS = 1 << 0
    DISABILITY = 1 << 1
    SCHOOLING = 1 << 2
    DISASTER = 1 << 3
    MARRIAGE = 1 << 4
    LAND = 1 << 5
    WATER = 1 << 6
    SKILLS = 1 << 7
    CAPITAL = 1 << 8
    LABOR = 1 << 9
    TRANSPORT = 1 << 10
    MOTIVATION = 1 << 11


class Location(IntFlag):
    """Relocation criteria of 000 §三(三)4(1), as a bitmask."""

    REMOTE_MOUNTAIN = 1 << 0  # stone or deep mountains, poor transport
    GEO_HAZARD = 1 << 1  # geological-hazard area
    ECO_FRAGILE = 1 << 2  # ecological protection or fragile area
    TINY_HAMLET = 1 << 3  # hamlet of fewer than 10 scattered households


F = Field

# The household columns of the engine. A measure declares the columns only it keeps in its
# own module (`FIELDS`); `sim/registry.py: HOUSEHOLD` is the registry of both.
HOUSEHOLD_FIELDS = [
    F("weight", "float32", 1.0, "households", "how many households of the region this row stands for"),
    F("village", "int32", 0, "index", "row of the household's village in the village table"),
    F("county", "int16", 0, "index", "row of the household's county in the county table"),
    # members by age band
    F("size", "int8", 0, "people", "household members (sum of the age bands)"),
    F("n_child", "int8", 0, "people", "children aged 0-5 (pre-school)"),
    F("n_primary", "int8", 0, "people", "children in primary school (6-11)"),
    F("n_junior", "int8", 0, "people", "children in junior secondary school (12-14)"),
    F("n_senior", "int8", 0, "people", "children in senior high or vocational school (15-17)"),
    F("n_dropout", "int8", 0, "people", "school-age children out of school after compulsory school"),
    F("n_dropout_compulsory", "int8", 0, "people",
      "school-age children who left compulsory school because of its cost"),
    F("n_working", "int8", 0, "people", "members aged 18-64 (college students included)"),
    F("n_college", "int8", 0, "people", "members in college (among working age, not working)"),
    F("n_elderly", "int8", 0, "people", "members aged 65 and over"),
    # health and capacity
    F("n_disabled", "int8", 0, "people", "members with a disability (working age or elderly)"),
    F("n_chronic", "int8", 0, "people", "members with a chronic illness"),
    F("illness", "int8", 0, "Illness", "none, chronic, or a major episode this year"),
    F("medical_cost", "float32", 0.0, "yuan/year", "medical costs this year before insurance"),
    F("oop_medical", "float32", 0.0, "yuan/year", "out-of-pocket medical costs this year"),
    F("insured", "bool", True, "flag", "enrolled in basic medical insurance (NCMS)"),
    F("labor", "int8", 0, "Labor", "labor capacity: none, partial, full"),
    F("labor_units", "float32", 0.0, "adult equivalents", "effective labor available for work"),
    # education and skills
    F("head_schooling", "int8", 6, "years", "years of schooling of the household head"),
    F("n_skilled", "int8", 0, "people", "members with a vocational skill or training"),
    F("school_cost", "float32", 0.0, "yuan/year", "schooling costs this year, net of support"),
    # work and income by source
    F("n_migrants", "int8", 0, "people", "members working away from home this year"),
    F("n_local", "int8", 0, "people", "members in local wage work this year"),
    F("ability", "float32", 0.0, "yuan/labor unit/year", "earning ability in farming at start-year prices"),
    F("income_farm", "float32", 0.0, "yuan/year", "farming and household business income"),
    F("income_local_wage", "float32", 0.0, "yuan/year", "local wage income"),
    F("income_migrant", "float32", 0.0, "yuan/year", "migrant wage income (remitted)"),
    F("income_transfers", "float32", 0.0, "yuan/year", "transfers: pension, dibao, subsidies"),
    F("income_property", "float32", 0.0, "yuan/year", "property income: rents, dividends"),
    F("income", "float32", 0.0, "yuan/year", "total income, the sum of the five sources"),
    F("resources", "float32", 0.0, "yuan/year",
      "income less out-of-pocket medical and schooling costs and money committed to loans and projects (what the household can spend or save)"),
    F("measured_pc", "float32", 0.0, "yuan/person/year",
      "per-capita net income (transfers counted) as cadres measured it at the latest assessment"),
    F("measured_pc_last", "float32", 0.0, "yuan/person/year", "the same, measured at the assessment before"),
    F("savings", "float32", 0.0, "yuan", "liquid savings"),
    F("debt", "float32", 0.0, "yuan", "informal debt (from shortfalls)"),
    # place and housing
    F("location_risk", "uint8", 0, "Location", "relocation criteria met by the household's place"),
    F("unsafe_housing", "bool", False, "flag", "lives in an unsafe (dangerous) house"),
    F("relocated", "bool", False, "flag", "has been relocated"),
    # measures
    F("obligations", "float32", 0.0, "yuan/year",
      "money committed this year out of income: repayments on formal loans, relocation contributions, project reinvestment"),
    F("school_support", "float32", 0.0, "yuan/year", "education support received this year"),
    F("measures_reached", "uint16", 0, "bitmask",
      "measures (bit k: the k-th of `sim.registry.MEASURES`) that have reached the household in a simulated year"),
    # the register
    F("status", "int8", 0, "Status", "never registered, registered, exited, returned"),
    F("reg_year", "int16", 0, "year", "year of the latest registration (0 = never)"),
    F("exit_year", "int16", 0, "year", "year of the latest exit (0 = never)"),
    F("return_year", "int16", 0, "year", "year of the latest return (0 = never)"),
    F("n_returns", "int8", 0, "count", "times the household returned to poverty"),
    F("causes", "uint16", 0, "Cause", "causes of poverty recorded at registration (or at a re-check)"),
    F("main_cause", "int8", -1, "index", "main cause recorded at registration: bit index of `Cause` (-1: none)"),
    F("cohort", "bool", False, "flag", "on the register built in the start year"),
    F("monitor_year", "int16", 0, "year", "year return monitoring took the household on (0 = not monitored now)"),
    F("dibao", "bool", False, "flag", "receives dibao this year"),
    # behavioural traits
    F("risk_aversion", "float32", 0.5, "0..1", "aversion to risk (borrowing, investing)"),
    F("motivation", "float32", 0.5, "0..1", "self-motivation (内生动力)"),
    F("willingness_to_move", "float32", 0.5, "0..1", "willingness to migrate or relocate"),
]

VILLAGE = Registry(
    "village",
    [
        F("weight", "float32", 1.0, "villages", "how many villages of the region this row stands for"),
        F("county", "int16", 0, "index", "row of the village's county"),
        F("poor", "bool", False, "flag", "a registered poor village (not yet exited)"),
        F("was_poor", "bool", False, "flag", "a poor village at the start of the run"),
        F("exit_year", "int16", 0, "year", "year the village exited (0 = not)"),
        F("location_risk", "uint8", 0, "Location", "relocation criteria met by the village's place"),
        F("income_effect", "float32", 1.0, "multiplier", "village-level income level (land, market access)"),
        F("migration_share", "float32", 0.0, "share", "share of working-age people working away last year"),
        F("disaster_loss", "float32", 0.0, "share", "share of farm income lost to a disaster this year"),
        F("people", "float32", 0.0, "people", "weighted people living in the village's sampled rows"),
        F("poor_people", "float32", 0.0, "people", "weighted registered poor people"),
        F("income_pc", "float32", 0.0, "yuan/person/year", "village per-capita income"),
        F("loan_good_share", "float32", 1.0, "share",
          "share of the village's microcredit loans in good standing last year (peer effect)"),
        F("relocated", "bool", False, "flag", "the hamlet has been relocated as a whole"),
    ],
)

COUNTY = Registry(
    "county",
    [
        F("poor", "bool", False, "flag", "a poor county (not yet exited)"),
        F("was_poor", "bool", False, "flag", "a poor county at the start of the run"),
        F("exit_year", "int16", 0, "year", "year the county exited (0 = not)"),
        F("price_shock", "float32", 1.0, "multiplier", "farm-price shock this year"),
        F("wage_shock", "float32", 1.0, "multiplier", "local wage shock this year"),
        F("people", "float32", 0.0, "people", "weighted people"),
        F("poor_people", "float32", 0.0, "people", "weighted registered poor people"),
    ],
)
