"""Policy measures, one module each, and their dated parameter files (`parameters/*.toml`).

`MEASURES` holds every measure a scenario can switch on or off: each module of this package
with a `MEASURE` (`sim/measure.py`), in the order they act within a year, derived from what
each declares. A spec names the batch the measure is reported under in each of the two
five-batches taxonomies of the seeds (the national one of 004 ch.1 §1 and Guangyuan's of
003 §二(四)). Each module has `act(model, on) -> {payer kind: yuan}`: it changes household
rows, marks the households it reached in `model.flows["reached_<name>"]`, and returns what
it cost.
Payer kinds: "fiscal" (split between levels of government by the `finance.*` shares),
"insurance_fund" (basic and critical-illness insurance) and "county" (county funds such as
the microcredit risk-compensation fund).
"""

from __future__ import annotations

import functools

import numba
import numpy as np

from sim.fields import HOUSEHOLD_FIELDS, Status
from sim.flows import Flow, declare
from sim.measure import MeasureSpec, discover
from sim.streams import ENGINE_STREAMS
from sim.sums import BLOCKS, block_rows
from sim.table import Registry

NATIONAL_BATCHES = ("industry_employment", "relocation", "education", "ecological", "social_security")
GUANGYUAN_BATCHES = ("production_employment", "relocation", "dibao", "medical", "disaster_reconstruction")
PAYERS = ("central", "province", "city", "county", "insurance_fund")
LEVELS = ("central", "province", "city", "county")  # who shares "fiscal" costs


BATCH_NAMES = tuple(dict.fromkeys(NATIONAL_BATCHES + GUANGYUAN_BATCHES))


@functools.cache
def flow_registry() -> dict[str, Flow]:
    """Every flow a year may hold (`sim/flows.py`), the measures' own included."""
    return declare({name: spec.module for name, spec in MEASURES.items()})


def supported(model) -> np.ndarray:
    """Households the poverty measures serve: the registered; exited households while
    support continues after exit (摘帽不摘帮扶: fewer than `exit.support_years_after_exit`
    years since exit, and not after `exit.support_end_year`); and households under return
    monitoring, which are helped before they can be registered again."""
    hh, p = model.hh, model.p
    out = np.empty(hh.n, bool)
    _supported_rows(int(model.year), float(p["exit.support_years_after_exit"]), int(p["exit.support_end_year"]),
                    hh.status, hh.exit_year, hh.monitor_year, out)
    return out


_REGISTERED, _RETURNED, _EXITED = int(Status.REGISTERED), int(Status.RETURNED), int(Status.EXITED)


@numba.njit(cache=True, parallel=True)
def _supported_rows(year, years, end_year, status, exit_year, monitor_year, out):
    """Block by block, in a branch-free loop the compiler vectorizes."""
    for block in numba.prange(BLOCKS):
        a, b = block_rows(block, status.shape[0])
        _supported_block(year, years, end_year, status[a:b], exit_year[a:b], monitor_year[a:b], out[a:b])


@numba.njit(cache=True)
def _supported_block(year, years, end_year, status, exit_year, monitor_year, out):
    for j in range(np.uint64(out.shape[0])):
        s = status[j]
        after_exit = (s == _EXITED) & (year - exit_year[j] < years) & (year <= end_year)
        out[j] = (s == _REGISTERED) | (s == _RETURNED) | after_exit | (monitor_year[j] > 0)


def split_payers(model, costs: dict[str, float]) -> dict[str, float]:
    """{payer: yuan} from {payer kind: yuan}: fiscal costs shared by the finance shares."""
    out = dict.fromkeys(PAYERS, 0.0)
    for kind, yuan in costs.items():
        if kind == "fiscal":
            for level in LEVELS:
                out[level] += yuan * model.p[f"finance.share_{level}"]
        else:
            out[kind] += yuan
    return out


def start_measures(model) -> None:
    """Before the measures act: who they serve (set by the government step each year; at
    set-up, here) and no repayments yet (set by the measures that lend)."""
    if "supported" not in model.flows:
        model.flows["supported"] = supported(model)
    model.hh.obligations = 0.0


def act(model, name: str, entitlements_only: bool = False) -> dict[str, float]:
    """One measure's step: it acts if switched on (at set-up only the entitlements, which
    shaped the incomes the profile describes; measures that create state, such as loans,
    start with the first simulated year); {payer: cost}."""
    spec = MEASURES[name]
    on = model.measures.get(name, False) and (spec.entitlement or not entitlements_only)
    return split_payers(model, spec.module.act(model, on))


def record_reach(model, entitlements_only: bool = False) -> None:
    """This year's measures by household (bit k: the k-th of MEASURES), for the metrics;
    and who has been reached over the run (plans count people, not person-years)."""
    none = np.zeros(model.hh.n, bool) if any(f"reached_{name}" not in model.flows for name in MEASURES) else None
    bits = np.empty(model.hh.n, np.uint16)
    _reached_bits(tuple(model.flows.get(f"reached_{name}", none) for name in MEASURES), bits)
    model.flows["reached_bits"] = bits
    if not entitlements_only:
        model.hh.measures_reached |= bits


# assumption: rows whose bits are gathered measure by measure while they stay in cache (16 flags x 4 KB)
BITS_BLOCK = 4096


@numba.njit(cache=True, parallel=True)
def _reached_bits(reached, out):
    """out[i] bit k = reached[k][i]: block by block, one measure at a time."""
    n = out.shape[0]
    for block in numba.prange((n + BITS_BLOCK - 1) // BITS_BLOCK):
        lo, hi = block * BITS_BLOCK, min(n, (block + 1) * BITS_BLOCK)
        _block_bits(reached, out[lo:hi], lo)


@numba.njit(cache=True)
def _block_bits(reached, out, lo):
    # Loops over slices indexed from 0, without branches: the compiler vectorizes them
    # (indexed from a variable start, every access checked for a negative index: 10x slower).
    out[:] = 0
    for k in range(len(reached)):
        flags = reached[k][lo:lo + out.shape[0]]
        for i in range(out.shape[0]):
            out[i] |= np.uint16(flags[i]) << np.uint16(k)


# Found last: the measures' modules use the helpers above (`supported`).
MEASURES: dict[str, MeasureSpec] = discover(__name__)
assert len(MEASURES) <= 16  # one bit each in the households' `measures_reached`

# The household table's columns: the engine's, then each measure's own.
HOUSEHOLD = Registry("household", HOUSEHOLD_FIELDS + [f for spec in MEASURES.values()
                                                      for f in getattr(spec.module, "FIELDS", ())])
# The random streams a run draws from: the engine's, then each measure's own.
STREAM_NAMES = ENGINE_STREAMS + tuple(name for spec in MEASURES.values()
                                      for name in getattr(spec.module, "STREAMS", ()))
