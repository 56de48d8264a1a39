"""The yearly model-level metrics: one row per year, recorded through Mesa's DataCollector.

Counts are weighted (each row stands for `weight` households); people counts multiply by
household size at the time of the event. Columns are listed once in `COLUMNS` with their
meaning, for the README and the tests.
"""

from __future__ import annotations

import numpy as np

from policies import MEASURES

from .fields import Cause, Labor
from .register import registered

COLUMNS: dict[str, str] = {
    "year": "calendar year simulated (flows during it, stocks at its end)",
    "households": "households (weighted; empty households excluded)",
    "people": "people",
    "births": "births during the year",
    "deaths": "deaths during the year",
    "registered_poor_households": "households on the register at the end of the year",
    "registered_poor_people": "people in registered households at the end of the year",
    "exits_households": "registered households that exited this year",
    "exits_people": "people in households that exited this year",
    "returns_households": "exited households registered again this year",
    "returns_people": "people in households that returned this year",
    "new_poor_households": "never-registered households registered this year",
    "new_poor_people": "people in newly registered households",
    "registered_net_births_people": "births minus deaths in households registered at the end of the year",
    "exited_people": "people in households that have exited and not returned (end of year)",
    "income_poor_people": "people whose true per-capita resources are below the line",
    "mean_income_per_capita": "mean income per person, yuan/year",
    "mean_income_registered": "mean income per person in registered households, yuan/year",
    "poverty_line": "the poverty line of the year, yuan/person/year",
    "dibao_people": "people in households receiving dibao",
    "no_labor_registered_people": "registered people in households without full labor capacity",
    "oop_medical_total": "out-of-pocket medical costs of all households, yuan",
    "microcredit_active_loans": "microcredit loans outstanding (households)",
    "microcredit_defaults": "microcredit loans defaulted this year",
    "relocated_people": "people relocated (cumulative)",
    "poor_villages": "poor villages not yet exited (weighted)",
    "villages_exited": "poor villages that exited this year (weighted)",
    "poor_counties": "poor counties not yet exited",
    "counties_exited": "poor counties that exited this year",
    "fiscal_cost_total": "fiscal cost of all measures this year, yuan",
}
for _name, _spec in MEASURES.items():
    COLUMNS[f"fiscal_cost_{_name}"] = f"fiscal cost of {_spec.description}, yuan"
    COLUMNS[f"reached_people_{_name}"] = f"people reached by {_name} this year"
for _cause in Cause:
    COLUMNS[f"poor_people_cause_{_cause.name.lower()}"] = (
        f"registered people whose diagnosed causes include {_cause.name.lower()}")


def _people(w_size, mask) -> float:
    return float(w_size.sum(where=mask))


def compute(model, costs: dict[str, dict[str, float]]) -> dict[str, float]:
    hh, v, c, f = model.hh, model.villages, model.counties, model.flows
    w = hh.weight.astype(np.float64)
    size = hh.size.astype(np.float64)
    ws = w * size
    reg = registered(hh)
    people = ws.sum()
    size_pos = np.maximum(size, 1)
    resources_pc = hh.resources / size_pos
    income_reg_people = _people(ws, reg)
    m = {
        "year": model.year,
        "households": float(w[size > 0].sum()),
        "people": float(people),
        "births": float(np.dot(w, f["births"])),
        "deaths": float(np.dot(w, f["deaths"])),
        "registered_poor_households": float(w[reg].sum()),
        "registered_poor_people": income_reg_people,
        "exits_households": float(w[f["exited"]].sum()),
        "exits_people": _people(ws, f["exited"]),
        "returns_households": float(w[f["returned"]].sum()),
        "returns_people": _people(ws, f["returned"]),
        "new_poor_households": float(w[f["new_poor"]].sum()),
        "new_poor_people": _people(ws, f["new_poor"]),
        "registered_net_births_people": float(np.dot(w * reg, f["births"].astype(np.float64) - f["deaths"])),
        "exited_people": _people(ws, hh.status == 2),
        "income_poor_people": _people(ws, (resources_pc < model.line) & (size > 0)),
        "mean_income_per_capita": float(np.dot(w, hh.income) / people) if people else 0.0,
        "mean_income_registered": float(np.dot(w * reg, hh.income) / income_reg_people) if income_reg_people else 0.0,
        "poverty_line": float(model.line),
        "dibao_people": _people(ws, hh.dibao),
        "no_labor_registered_people": _people(ws, reg & (hh.labor != Labor.FULL)),
        "oop_medical_total": float(np.dot(w, hh.oop_medical)),
        "microcredit_active_loans": 0.0,
        "microcredit_defaults": 0.0,
        "relocated_people": _people(ws, hh.relocated),
        "poor_villages": float(v.weight[v.poor].sum()),
        "villages_exited": float(v.weight[f["villages_exited"]].sum()),
        "poor_counties": float(c.poor.sum()),
        "counties_exited": float(f["counties_exited"].sum()),
    }
    reached = {"dibao": hh.dibao, "medical_insurance": hh.insured & (hh.medical_cost > 0)}
    total = 0.0
    for name in MEASURES:
        cost = sum(costs.get(name, {}).values())
        m[f"fiscal_cost_{name}"] = cost
        on = model.measures.get(name, False)
        m[f"reached_people_{name}"] = _people(ws, reached[name]) if on else 0.0
        total += cost
    m["fiscal_cost_total"] = total
    reg_idx = np.flatnonzero(reg)
    ws_reg, causes_reg = ws[reg_idx], hh.causes[reg_idx]
    for cause in Cause:
        m[f"poor_people_cause_{cause.name.lower()}"] = _people(ws_reg, (causes_reg & int(cause)) != 0)
    return m
