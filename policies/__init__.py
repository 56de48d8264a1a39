"""Policy measures, one module each, and their dated parameter files (`parameters/*.toml`).

Every module here with a `MEASURE` (`sim/measure.py`) is a measure a scenario can switch
on or off; the engine finds them (`sim/registry.py: MEASURES`), in the order they act
within a year, derived from what each declares. A spec names the batch the measure is
reported under in each of the two five-batches taxonomies of the seeds (the national one
of 004 ch.1 §1 and Guangyuan's of 003 §二(四)). Each module has `act(model, on) -> {payer
kind: yuan}`: it changes household rows, marks the households it reached in
`model.flows["reached_<name>"]`, and returns what it cost.
Payer kinds: "fiscal" (split between levels of government by the `finance.*` shares),
"insurance_fund" (basic and critical-illness insurance) and "county" (county funds such as
the microcredit risk-compensation fund).
"""
