"""The engine's steps around the measures (`sim/plan.py`): before they act, each measure's
step with its costs split by payer, and whom they reached."""

from __future__ import annotations

import numba
import numpy as np

from .registry import MEASURES
from .support import supported

PAYERS = ("central", "province", "city", "county", "insurance_fund")
LEVELS = ("central", "province", "city", "county")  # who shares "fiscal" costs


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


def acts(name: str, measures: dict[str, bool], entitlements_only: bool = False) -> bool:
    """Whether a measure acts: switched on, and at set-up only if an entitlement (which
    shaped the incomes the profile describes; measures that create state, such as loans,
    start with the first simulated year)."""
    return bool(measures.get(name, False)) and (MEASURES[name].entitlement or not entitlements_only)


def act(model, name: str, entitlements_only: bool = False) -> dict[str, float]:
    """One measure's step (its module's `act`, told whether it `acts`); {payer: cost}."""
    return split_payers(model, MEASURES[name].module.act(model, acts(name, model.measures, entitlements_only)))


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
