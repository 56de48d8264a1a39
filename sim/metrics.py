"""The yearly model-level metrics: one row per year, recorded through Mesa's DataCollector.

Counts are weighted (each row stands for `weight` households); people counts multiply by
household size at the time of the event. Columns are declared once in `COLUMNS` with their
unit and meaning; the README's column table is checked against them.
"""

from __future__ import annotations

import numba
import numpy as np


from .measure import BATCH_NAMES
from .measure_steps import PAYERS
from .registry import MEASURES

from .fields import Cause, Labor, Status
from .register import on_register
from .results import Column
from .sums import BLOCKS, block_rows, block_totals

NEVER, REGISTERED, RETURNED, EXITED = (int(s) for s in (Status.NEVER, Status.REGISTERED, Status.RETURNED,
                                                       Status.EXITED))
FULL = int(Labor.FULL)

COLUMNS: dict[str, Column] = {
    "year": Column("year", "calendar year simulated (flows during it, stocks at its end)"),
    "households": Column("households", "households (weighted; empty households excluded)"),
    "people": Column("people", "people"),
    "births": Column("people/year", "births during the year"),
    "deaths": Column("people/year", "deaths during the year"),
    "registered_poor_households": Column("households", "households on the register at the end of the year"),
    "registered_poor_people": Column("people", "people in registered households at the end of the year"),
    "exits_households": Column("households/year", "registered households that exited this year"),
    "exits_people": Column("people/year", "people in households that exited this year"),
    "returns_households": Column("households/year", "exited households registered again this year"),
    "returns_people": Column("people/year", "people in households that returned this year"),
    "exits_under_pressure_people": Column("people/year", "people in households certified as exited under target "
                                                         "pressure this year"),
    "exits_reversed_people": Column("people/year", "people whose exit third-party verification reversed this year"),
    "new_poor_households": Column("households/year", "never-registered households registered this year"),
    "new_poor_people": Column("people/year", "people in newly registered households"),
    "registered_net_births_people": Column("people/year", "births minus deaths in households registered at the end of "
                                                          "the year"),
    "exited_people": Column("people", "people in households that have exited and not returned (end of year)"),
    "income_poor_people": Column("people", "people whose true per-capita net income (transfers counted) is below the "
                                           "line (end of year)"),
    "registered_above_line_people": Column("people", "registered people whose true per-capita net income is at or "
                                                     "above the line (end of year): the register's inclusion errors"),
    "unregistered_poor_people": Column("people", "people not on the register (never registered, or exited) whose true "
                                                 "per-capita net income is below the line (end of year): the "
                                                 "register's exclusion errors"),
    "start_cohort_registered_people": Column("people", "people in households of the register built in the start year "
                                                       "that are registered at the end of the year"),
    "start_cohort_exits_people": Column("people/year", "people in households of the start-year register that exited "
                                                       "this year"),
    "start_cohort_returns_people": Column("people/year", "people in households of the start-year register that "
                                                         "returned this year"),
    "monitored_people": Column("people", "people in households under return monitoring (end of year)"),
    "exited_below_line_people": Column("people", "people in exited households (not returned) whose per-capita income "
                                                 "cadres measured below the line at the year's assessment: those who "
                                                 "could apply to return at the next adjustment (end of year)"),
    "newly_monitored_people": Column("people/year", "people in households return monitoring took on this year"),
    "planned_exits_people": Column("people/year", "people the counties' exit plans set out to exit this year (0 when "
                                                  "no plan limits exits)"),
    "plan_unfilled_people": Column("people/year",
                                   "planned exits that found no qualifying household this year (people)"),
    "recheck_added_people": Column("people/year", "people added to the register by the re-check (回头看) this year "
                                                  "(also in new_poor_people)"),
    "recheck_removed_people": Column("people/year", "people the re-check removed from the register as wrongly "
                                                    "registered this year (not exits)"),
    "recheck_removed_households": Column("households/year", "households the re-check removed from the register this "
                                                            "year"),
    "mean_income_per_capita": Column("yuan/person/year", "mean income per person, yuan/year"),
    "mean_income_registered": Column("yuan/person/year", "mean income per person in registered households, yuan/year"),
    "poverty_line": Column("yuan/person/year", "the poverty line of the year, yuan/person/year"),
    "dibao_people": Column("people", "people in households receiving dibao"),
    "no_labor_registered_people": Column("people", "registered people in households without full labor capacity"),
    "oop_medical_total": Column("yuan/year", "out-of-pocket medical costs of all households, yuan"),
    "relocated_people": Column("people", "people relocated (cumulative)"),
    "poor_villages": Column("villages", "poor villages not yet exited (weighted)"),
    "villages_exited": Column("villages/year", "poor villages that exited this year (weighted)"),
    "planned_village_exits": Column("villages/year", "poor villages planned to exit this year (weighted; their "
                                                     "households first on the plan)"),
    "poor_counties": Column("counties", "poor counties not yet exited"),
    "counties_exited": Column("counties/year", "poor counties that exited this year"),
    "fiscal_cost_total": Column("yuan/year", "fiscal cost of all measures this year, yuan"),
}
for _name, _spec in MEASURES.items():
    COLUMNS[f"fiscal_cost_{_name}"] = Column("yuan/year", f"fiscal cost of {_spec.description}, yuan")
    COLUMNS[f"reached_people_{_name}"] = Column("people/year", f"people reached by {_name} this year")
for _payer in PAYERS:
    COLUMNS[f"fiscal_cost_payer_{_payer}"] = Column(
        "yuan/year", f"fiscal cost of all measures paid by {_payer.replace('_', ' ')}, yuan")
for _batch in BATCH_NAMES:
    COLUMNS[f"batch_people_{_batch}"] = Column("people/year",
                                               f"people reached by any measure of the '{_batch}' batch this year")
for _name in MEASURES:
    COLUMNS[f"ever_reached_people_{_name}"] = Column(
        "people", f"people in households {_name} has reached in any simulated year so far")
for _name in MEASURES:
    COLUMNS[f"exit_route_people_{_name}"] = Column(
        "people/year", f"people in households that exited this year whom {_name} carried out "
                       "(docs/ODD.md: exit routes)")
for _batch in BATCH_NAMES:
    COLUMNS[f"exit_route_batch_people_{_batch}"] = Column(
        "people/year", f"people in households that exited this year whom a measure of the '{_batch}' batch carried out")
for _batch in BATCH_NAMES:
    COLUMNS[f"batch_ever_people_{_batch}"] = Column(
        "people", f"people in households any measure of the '{_batch}' batch has reached in any simulated year so far")
for _cause in Cause:
    COLUMNS[f"poor_people_cause_{_cause.name.lower()}"] = Column(
        "people", f"registered people whose causes recorded at registration include {_cause.name.lower()}")
for _cause in Cause:
    COLUMNS[f"registered_poor_people_cause_{_cause.name.lower()}"] = Column(
        "people", f"registered people whose main cause recorded at registration is {_cause.name.lower()}")
COLUMNS["registered_poor_people_cause_none"] = Column("people", "registered people with no recorded cause")
COLUMNS.update({
    "mean_income_ever_registered": Column("yuan/person/year", "mean income per person in households ever registered "
                                                              "(registered, exited or returned), yuan/year"),
    "mean_income_relocated": Column("yuan/person/year", "mean income per person in relocated households (0 when there "
                                                        "are none), yuan/year"),
    "ever_registered_people": Column("people", "people in households ever registered: registered, exited or returned "
                                               "(end of year)"),
})
for _spec in MEASURES.values():  # a measure's own results (its module's `RESULTS`)
    for _column in getattr(_spec.module, "RESULTS", {}):
        if _column in COLUMNS:
            raise ValueError(f"{_spec.module_name}: result column '{_column}' is declared twice")
    COLUMNS.update(getattr(_spec.module, "RESULTS", {}))


# The household sums, one accumulator each, in the order the compiled pass fills them.
SUMS = ("households", "people", "births", "deaths", "registered_poor_households", "registered_poor_people",
        "exits_households", "exits_people", "returns_households", "returns_people", "new_poor_households",
        "new_poor_people", "registered_net_births_people", "exited_people", "income_poor_people", "income",
        "income_registered", "dibao_people", "no_labor_registered_people", "oop_medical_total",
        "relocated_people", "ever_registered_people", "income_ever_registered", "income_relocated",
        "registered_poor_people_cause_none",
        "registered_above_line_people", "unregistered_poor_people", "start_cohort_registered_people",
        "start_cohort_exits_people", "start_cohort_returns_people", "monitored_people", "exited_below_line_people")
# The pass writes them by name into a record a block (`SUM_RECORD`), and the people by
# diagnosed cause, then by main cause, into an array a block.
SUM_RECORD = np.dtype([(name, "f8") for name in SUMS])
_CAUSE_BITS = np.array([int(c) for c in Cause], dtype=np.int64)


@numba.njit(cache=True, parallel=True)
def _sum_rows(line, cause_bits, weight, size, status, births, deaths, exited, returned, new_poor, income, dibao,
              labor, oop, relocated, causes, cohort, monitor_year, measured_pc, acc, by_cause):
    """Block c's household sums of `SUMS` into the record acc[c], its people by diagnosed
    cause, then by main cause, into by_cause[c].

    Accumulators are local scalars (kept in registers, one pass over the rows); causes go
    into a histogram of cause combinations, spread over the causes once per block."""
    n = size.shape[0]
    n_causes = cause_bits.shape[0]
    combos = 2 * cause_bits.max() if n_causes else 1
    for c in numba.prange(BLOCKS):
        first, last = block_rows(c, n)
        hist = np.zeros(combos)
        households = income_poor = people = n_births = n_deaths = total_income = total_oop = 0.0
        reg_hh = reg_people = reg_net_births = income_reg = no_labor_reg = 0.0
        ever_people = income_ever = exited_people = 0.0
        exit_hh = exit_people = ret_hh = ret_people = new_hh = new_people = 0.0
        dibao_people = relocated_people = income_relocated = 0.0
        above = unreg_poor = cohort_reg = cohort_exits = cohort_returns = monitored = exited_below = 0.0
        # Membership is multiplied in (x * 1.0 is x, and adding x * 0.0 changes no sum)
        # rather than branched on: who is registered, exited or on dibao is unpredictable
        # row to row, and the mispredicted branches were most of this pass's time.
        for i in range(first, last):
            w = float(weight[i])
            ws = w * size[i]
            inc = w * income[i]
            poor = 0.0
            if size[i] > 0:
                households += w
                poor = (income[i] / size[i] < line) * 1.0
                income_poor += ws * poor
            people += ws
            n_births += w * births[i]
            n_deaths += w * deaths[i]
            total_income += inc
            total_oop += w * oop[i]
            st = status[i]
            reg = on_register(st) * 1.0
            reg_hh += w * reg
            reg_people += ws * reg
            reg_net_births += (w * (births[i] - deaths[i])) * reg
            income_reg += inc * reg
            no_labor_reg += ws * (reg * (labor[i] != FULL))
            hist[causes[i]] += ws * reg  # a row not registered adds 0 to its combination
            ever = (st != NEVER) * 1.0
            ever_people += ws * ever
            income_ever += inc * ever
            exited_people += ws * (st == EXITED)
            exited_below += ws * ((st == EXITED) & (measured_pc[i] < line))
            exit_hh += w * exited[i]
            exit_people += ws * exited[i]
            ret_hh += w * returned[i]
            ret_people += ws * returned[i]
            new_hh += w * new_poor[i]
            new_people += ws * new_poor[i]
            dibao_people += ws * dibao[i]
            moved = relocated[i] * 1.0
            relocated_people += ws * moved
            income_relocated += inc * moved
            above += ws * (reg * (size[i] > 0) * (1.0 - poor))
            unreg_poor += ws * ((st == NEVER) | (st == EXITED)) * poor
            in_cohort = cohort[i] * 1.0
            cohort_reg += ws * reg * in_cohort
            cohort_exits += ws * exited[i] * in_cohort
            cohort_returns += ws * returned[i] * in_cohort
            monitored += ws * (monitor_year[i] > 0)
        a, bc = acc[c], by_cause[c]
        a.households, a.income_poor_people, a.people, a.births, a.deaths = (households, income_poor, people, n_births,
                                                                            n_deaths)
        a.income, a.oop_medical_total, a.registered_poor_households = total_income, total_oop, reg_hh
        a.registered_poor_people, a.registered_net_births_people = reg_people, reg_net_births
        a.income_registered, a.no_labor_registered_people = income_reg, no_labor_reg
        a.ever_registered_people, a.income_ever_registered = ever_people, income_ever
        a.exited_people, a.exits_households, a.exits_people = exited_people, exit_hh, exit_people
        a.returns_households, a.returns_people, a.new_poor_households, a.new_poor_people = (ret_hh, ret_people,
                                                                                            new_hh, new_people)
        a.dibao_people, a.relocated_people, a.income_relocated = dibao_people, relocated_people, income_relocated
        a.registered_above_line_people, a.unregistered_poor_people = above, unreg_poor
        a.start_cohort_registered_people, a.monitored_people = cohort_reg, monitored
        a.start_cohort_exits_people, a.start_cohort_returns_people = cohort_exits, cohort_returns
        a.exited_below_line_people = exited_below
        for combo in range(combos):  # people by diagnosed cause, and by main cause (the first)
            if hist[combo] == 0.0:
                continue
            main = -1
            for k in range(n_causes):
                if combo & cause_bits[k]:
                    bc[k] += hist[combo]
                    if main < 0:
                        main = k
            if main < 0:
                a.registered_poor_people_cause_none += hist[combo]
            else:
                bc[n_causes + main] += hist[combo]


def household_sums(model) -> tuple[dict[str, float], np.ndarray]:
    """({name of `SUMS`: weighted sum}, people by diagnosed cause then by main cause): the
    blocks' sums added in block order (the same totals on any number of threads)."""
    hh, f = model.hh, model.flows
    acc, by_cause = np.zeros(BLOCKS, SUM_RECORD), np.zeros((BLOCKS, 2 * len(Cause)))
    _sum_rows(float(model.line), _CAUSE_BITS, hh.weight, hh.size, hh.status, f["births"], f["deaths"],
              f["exited"], f["returned"], f["new_poor"], hh.income, hh.dibao, hh.labor, hh.oop_medical,
              hh.relocated, hh.causes, hh.cohort, hh.monitor_year, hh.measured_pc, acc, by_cause)
    total = block_totals(acc.view(np.float64).reshape(BLOCKS, len(SUMS)))
    return dict(zip(SUMS, total.tolist())), block_totals(by_cause)


@numba.njit(cache=True)
def _bit_sums(hist, n_bits, out, at, shift):
    """out[at + shift + j] += the weight in `hist` of the combinations holding bit j."""
    for combo in range(hist.shape[0]):
        if hist[combo] != 0.0:
            for j in range(n_bits):
                if (combo >> j) & 1:
                    out[at + shift + j] += hist[combo]


@numba.njit(cache=True)
def _reached_sums(ws, bits, batch_lo, batch_hi, n_measures, n_batches, out, at):
    """Into out[at:]: the people (`ws`, a block of rows) whose `bits` (the same block) hold
    each measure, then those reached by any measure of each batch.

    Histograms, not one pass per measure: the people of each combination of the low and
    the high byte of the measure bits, and of each combination of batches (a row's batches
    are looked up from its two bytes); each measure's and batch's total is then read off
    the few hundred combinations."""
    low, high = np.zeros(256), np.zeros(256)
    batches = np.zeros(1 << n_batches)
    for r in range(ws.shape[0]):
        b = bits[r]
        w = ws[r]  # (a row reached by nothing adds to combination 0, which holds no measure)
        low[b & 255] += w
        high[b >> 8] += w
        batches[batch_lo[b & 255] | batch_hi[b >> 8]] += w
    _bit_sums(low, min(n_measures, 8), out, at, 0)
    _bit_sums(high, max(n_measures - 8, 0), out, at, 8)
    _bit_sums(batches, n_batches, out, at, n_measures)


@numba.njit(cache=True, parallel=True, fastmath={"reassoc"})
def _sum_flags(weight, size, year_bits, ever_bits, batch_lo, batch_hi, n_measures, n_batches, people_flags,
               household_flags):
    """Weighted sums of the year's flags in one pass: people reached by each measure and by
    each batch this year (`year_bits`), people in each of `people_flags`, households in
    each of `household_flags`, then people ever reached by each
    measure and by each batch (`ever_bits`). Block by block (a block held in cache), each
    block's loops over slices indexed from 0 (indexed from a variable start, every access
    is checked for a negative index and the loops do not vectorize)."""
    n = size.shape[0]
    m, nb, npf, nhf = n_measures, n_batches, len(people_flags), len(household_flags)
    ever = m + nb + npf + nhf
    width = ever + m + nb
    acc = np.zeros((BLOCKS, width))
    for c in numba.prange(BLOCKS):
        lo, hi = block_rows(c, n)
        if hi <= lo:
            continue
        a = acc[c]
        w_block, size_block = weight[lo:hi], size[lo:hi]
        ws = np.empty(hi - lo)
        for r in range(hi - lo):
            ws[r] = np.float32(w_block[r]) * np.float32(size_block[r])
        _reached_sums(ws, year_bits[lo:hi], batch_lo, batch_hi, m, nb, a, 0)
        _reached_sums(ws, ever_bits[lo:hi], batch_lo, batch_hi, m, nb, a, ever)
        for j in range(npf):
            mask = people_flags[j][lo:hi]
            total = 0.0
            for r in range(hi - lo):
                total += ws[r] * mask[r]
            a[m + nb + j] = total
        for j in range(nhf):
            mask = household_flags[j][lo:hi]
            total = 0.0
            for r in range(hi - lo):
                total += np.float64(w_block[r]) * mask[r]
            a[m + nb + npf + j] = total
    return block_totals(acc)


_BATCH_INDEX = {b: k for k, b in enumerate(BATCH_NAMES)}
_BATCH_BITS = np.array([(1 << _BATCH_INDEX[spec.batch]) | (1 << _BATCH_INDEX[spec.batch_guangyuan])
                        for spec in MEASURES.values()], dtype=np.int64)


def _batches_of_byte(high: bool) -> np.ndarray:
    """The batches (bit k: the k-th of BATCH_NAMES) of each value of one byte of the measure bits."""
    table = np.zeros(256, np.int64)
    for value in range(256):
        for j in range(8):
            measure = j + (8 if high else 0)
            if value >> j & 1 and measure < len(MEASURES):
                table[value] |= _BATCH_BITS[measure]
    return table


_BATCHES_LOW, _BATCHES_HIGH = _batches_of_byte(False), _batches_of_byte(True)
# The year's flags summed by `_sum_flags`: flow -> the column of its weighted people, and of
# its weighted households (each pair named together, so the layout cannot mislabel them).
PEOPLE_FLAGS = {"exits_under_pressure": "exits_under_pressure_people", "exits_reversed": "exits_reversed_people",
                "newly_monitored": "newly_monitored_people", "recheck_added": "recheck_added_people",
                "recheck_removed": "recheck_removed_people"}
HOUSEHOLD_FLAGS = {"recheck_removed": "recheck_removed_households"}


def compute(model, costs: dict[str, dict[str, float]]) -> dict[str, float]:
    hh, v, c, f = model.hh, model.villages, model.counties, model.flows
    sums, by_cause = household_sums(model)
    people, reg_people = sums["people"], sums["registered_poor_people"]
    m = {"year": model.year}
    for name in ("households", "people", "births", "deaths", "registered_poor_households", "registered_poor_people",
                 "exits_households", "exits_people", "returns_households", "returns_people", "new_poor_households",
                 "new_poor_people", "registered_net_births_people", "exited_people", "income_poor_people",
                 "registered_above_line_people", "unregistered_poor_people", "start_cohort_registered_people",
                 "start_cohort_exits_people", "start_cohort_returns_people", "monitored_people",
                 "exited_below_line_people"):
        m[name] = sums[name]
    m["planned_exits_people"] = float(f.get("planned_exits_people", 0.0))
    m["plan_unfilled_people"] = float(f.get("plan_unfilled_people", 0.0))
    routes = f.get("exit_routes", {})
    for name in MEASURES:
        m[f"exit_route_people_{name}"] = float(routes.get(f"measure:{name}", 0.0))
    for b in BATCH_NAMES:
        m[f"exit_route_batch_people_{b}"] = float(routes.get(f"batch:{b}", 0.0))
    m.update({
        "mean_income_per_capita": sums["income"] / people if people else 0.0,
        "mean_income_registered": sums["income_registered"] / reg_people if reg_people else 0.0,
        "mean_income_ever_registered": _ratio(sums["income_ever_registered"], sums["ever_registered_people"]),
        "mean_income_relocated": _ratio(sums["income_relocated"], sums["relocated_people"]),
        "ever_registered_people": sums["ever_registered_people"],
        "poverty_line": float(model.line),
        "dibao_people": sums["dibao_people"],
        "no_labor_registered_people": sums["no_labor_registered_people"],
        "oop_medical_total": sums["oop_medical_total"],
        "relocated_people": sums["relocated_people"],
        "poor_villages": float(v.weight[v.poor].sum()),
        "villages_exited": float(v.weight[f["villages_exited"]].sum()),
        "planned_village_exits": float(v.weight[f["planned_villages"]].sum()) if "planned_villages" in f else 0.0,
        "poor_counties": float(c.poor.sum()),
        "counties_exited": float(f["counties_exited"].sum()),
    })
    # flags: the measures' reached households, exit practice (absent = none)
    none = np.zeros(hh.n, bool) if any(k not in f for k in (*PEOPLE_FLAGS, *HOUSEHOLD_FLAGS)) else None
    year_bits = f["reached_bits"] if "reached_bits" in f else np.zeros(hh.n, np.uint16)  # set by the measures' step
    flags = _sum_flags(hh.weight, hh.size, year_bits, hh.measures_reached, _BATCHES_LOW, _BATCHES_HIGH,
                       len(MEASURES), len(BATCH_NAMES),
                       tuple(f.get(k, none) for k in PEOPLE_FLAGS), tuple(f.get(k, none) for k in HOUSEHOLD_FLAGS)).tolist()
    n_m, n_b = len(MEASURES), len(BATCH_NAMES)
    at = n_m + n_b  # the layout of `_sum_flags`: reached by measure and batch, people flags, household flags
    for k, column in enumerate(PEOPLE_FLAGS.values()):
        m[column] = flags[at + k]
    at += len(PEOPLE_FLAGS)
    for k, column in enumerate(HOUSEHOLD_FLAGS.values()):
        m[column] = flags[at + k]
    ever = at + len(HOUSEHOLD_FLAGS)
    for j, name in enumerate(MEASURES):
        m[f"ever_reached_people_{name}"] = flags[ever + j]
    for k, b in enumerate(BATCH_NAMES):
        m[f"batch_ever_people_{b}"] = flags[ever + n_m + k]
    total = 0.0
    payers = dict.fromkeys(PAYERS, 0.0)
    for j, name in enumerate(MEASURES):
        cost = costs.get(name, {})
        m[f"fiscal_cost_{name}"] = sum(cost.values())
        total += m[f"fiscal_cost_{name}"]
        for payer, yuan in cost.items():
            payers[payer] += yuan
        m[f"reached_people_{name}"] = flags[j]
    m["fiscal_cost_total"] = total
    for payer, yuan in payers.items():
        m[f"fiscal_cost_payer_{payer}"] = yuan
    for k, b in enumerate(BATCH_NAMES):
        m[f"batch_people_{b}"] = flags[n_m + k]
    for k, cause in enumerate(Cause):
        m[f"poor_people_cause_{cause.name.lower()}"] = float(by_cause[k])
    for k, cause in enumerate(Cause):
        m[f"registered_poor_people_cause_{cause.name.lower()}"] = float(by_cause[len(Cause) + k])
    m["registered_poor_people_cause_none"] = sums["registered_poor_people_cause_none"]
    for spec in MEASURES.values():  # the measures' own results
        if hasattr(spec.module, "results"):
            m.update(spec.module.results(model))
    return m


def _ratio(num: float, den: float) -> float:
    """A per-person mean; 0 when the group is empty (as `mean_income_registered`): read it
    with the group's size (`relocated_people`, `ever_registered_people`)."""
    return num / den if den > 0 else 0.0
