"""Memory reuse for very large runs.

A year of a national run allocates and frees full-length temporary arrays (hundreds of
megabytes each at 36 M rows). glibc hands allocations above 32 MB straight to the kernel
(mmap) and gives them back on free (munmap), so each new temporary is fresh memory whose
every page faults on first touch: in a full national run a third of the CPU time went to
the kernel. Told to serve every allocation from its heap and to keep what is freed
(`mallopt`), the allocator reuses the same memory year after year.

The setting is per process and only ever applied for large models; it changes no result.
Peak memory stays about the same (the freed blocks are what the next year needs).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

LARGE_ROWS = 2_000_000  # assumption: below this the temporaries are small and the default is fine

_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # glibc malloc.h
_applied = False


def keep_freed_memory(rows: int) -> bool:
    """For a model of `rows` households (on glibc), serve large allocations from the heap
    and keep freed memory for reuse. Returns whether the setting is in force."""
    global _applied
    if _applied:
        return True
    if rows < LARGE_ROWS or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl, ...): nothing to do
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    if mallopt(_M_MMAP_MAX, 0) != 1 or mallopt(_M_TRIM_THRESHOLD, 2**31 - 1) != 1:
        return False
    _applied = True
    return True
