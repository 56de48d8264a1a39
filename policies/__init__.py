"""Policy measures, one module each, and their dated parameter files (`parameters/*.toml`).

`MEASURES` lists every measure a scenario can switch on or off, in the order they act
within a year, with the five-batches batch it is reported under. Each module has
`act(model, on) -> {payer: yuan}`: it changes household rows and returns its fiscal cost.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class MeasureSpec:
    name: str
    default_on: bool
    batch: str  # batch in the national taxonomy (004 ch.1 §1)
    description: str
    module_name: str  # the module in policies/ that implements it

    @property
    def module(self):
        return importlib.import_module(f"policies.{self.module_name}")


MEASURES: dict[str, MeasureSpec] = {
    m.name: m
    for m in (
        MeasureSpec("medical_insurance", True, "social_security",
                    "basic medical insurance (NCMS) reimbursement of compliant costs", "medical"),
        MeasureSpec("dibao", True, "social_security",
                    "dibao floor: top-up to the dibao line for households without enough labor", "dibao"),
    )
}


def apply_measures(model) -> dict[str, dict[str, float]]:
    """Step 4 of the year: every measure acts in order; returns {measure: {payer: cost}}."""
    return {name: spec.module.act(model, model.measures.get(name, False)) for name, spec in MEASURES.items()}
