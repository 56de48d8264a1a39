"""Who the poverty measures serve this year: the registered, exited households while support
continues after exit, and households under return monitoring. The measures and the
government's assignment read it (`model.flows["supported"]`)."""

from __future__ import annotations

import numba
import numpy as np

from .fields import Status
from .sums import BLOCKS, block_rows


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
