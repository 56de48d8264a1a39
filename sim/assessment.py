"""Step 6 of the year, the register's assessment: its steps in order, in one place."""

from __future__ import annotations

from . import adjustment, exit_routes, exits, monitoring, register, register_build


def _places(model) -> None:
    register.aggregate_places(model)
    register.assess_places(model)


# The order of the assessment at the end of each year (docs/ODD.md §3).
ASSESSMENT = (
    ("measurement", register.measure_income),    # cadres measure per-capita net income, with error
    ("start causes", register_build.record_start_causes),  # in the start year: the start cohort's causes
    ("exit", exits.assess_exits),                # on the county's plan: stable, guarantees; pressure, checks
    ("exit routes", exit_routes.attribute_exits),  # which measures carried the exits out
    ("adjustment", adjustment.adjust),           # applications, appraisal, county quotas: entries, returns
    ("re-check", adjustment.recheck),            # in the re-check year: errors corrected both ways
    ("monitoring", monitoring.monitor),          # exited and near-poor households at risk taken on
    ("places", _places),                         # village and county aggregates and exits
)


def assess(model) -> None:
    for _, step in ASSESSMENT:
        step(model)
