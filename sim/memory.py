"""Memory settings for very large runs.

A year allocates and frees full-length temporary arrays (megabytes each at full
Shangluo size, hundreds of megabytes at 36 M rows). glibc hands large allocations
straight to the kernel (mmap) and gives them back on free (munmap), and trims the top of
its heap when much is free, so new temporaries are fresh memory whose every page faults
on first touch: in a full national run a third of the CPU time went to the kernel; at
full Shangluo size (588,000 rows) 3,000 pages faulted a year, a tenth of a year's time.
Told to serve every allocation from its heap and to keep what is freed (`mallopt`), the
allocator reuses the same memory year after year (no faults after the first year).

numpy also asks the kernel for transparent huge pages for every large array; where the
kernel then compacts memory to find them (THP "madvise" with defrag), a fresh 300 MB
array took 0.8-1.7 s instead of 0.3 s, and building the national population's table
took twice as long. Large models turn that request off.

The settings are per process and only ever applied for large models; they change no
result. Peak memory stays about the same (the freed blocks are what the next year needs).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

LARGE_ROWS = 200_000  # assumption: below this a temporary is under 1.6 MB and faulting it costs little

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
    _no_huge_pages()
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


def _no_huge_pages() -> None:
    """Stop numpy asking for transparent huge pages (a private numpy switch; skipped if absent)."""
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:
        try:
            from numpy.core.multiarray import _set_madvise_hugepage
        except ImportError:
            return
    _set_madvise_hugepage(False)
