"""The exponential for compiled passes, written out in IEEE operations so it inlines.

A compiled pass calling `np.exp` calls the C library's `exp` once per row: about 6 ns,
most of it the call, and a third of a year's run time went there. `exp` below is the
C library's own algorithm (glibc >= 2.28, from Arm's optimized routines: 2^(k/128) from
a table times a degree-5 polynomial) with its multiply-adds written as fused operations,
as glibc's build for processors with FMA does. It gives the same bits as glibc's `exp`
on those processors (`tests/test_exp.py` checks millions of arguments), costs about
2 ns inlined, and, being made of correctly rounded operations only, gives the same bits
on every machine (without FMA hardware LLVM computes `fma` in software, slower, same
result). Arguments outside [2^-54, 512) in magnitude go to the C library.
"""

from __future__ import annotations

from decimal import Decimal, localcontext

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

TABLE_BITS = 7
N = 1 << TABLE_BITS
INV_LN2_N = float.fromhex("0x1.71547652b82fep0") * N
NEG_LN2_HI_N = float.fromhex("-0x1.62e42fefa0000p-8")
NEG_LN2_LO_N = float.fromhex("-0x1.cf79abc9e3b3ap-47")
SHIFT = float.fromhex("0x1.8p52")  # adding it rounds to an integer held in the low bits
C2, C3, C4, C5 = (float.fromhex(h) for h in (
    "0x1.ffffffffffdbdp-2", "0x1.555555555543cp-3", "0x1.55555cf172b91p-5", "0x1.1111167a4d017p-7"))
TINY, LARGE = 2.0 ** -54, 512.0


def _table() -> np.ndarray:
    """2^(k/N) = H[k] (1 + T[k]) for k in [0, N): tab[2k] = bits of T[k], tab[2k+1] = bits
    of H[k] less k/N in the exponent field (added back from the rounded k)."""
    tab = np.empty(2 * N, np.uint64)
    with localcontext() as ctx:
        ctx.prec = 60
        for k in range(N):
            exact = Decimal(2) ** (Decimal(k) / N)
            head = float(exact)
            tab[2 * k] = np.float64((exact - Decimal(head)) / Decimal(head)).view(np.uint64)
            tab[2 * k + 1] = (int(np.float64(head).view(np.uint64)) - (k << (52 - TABLE_BITS))) % 2**64
    return tab


TABLE = _table()


@intrinsic
def fma(typingctx, a, b, c):
    """a * b + c rounded once (LLVM's llvm.fma: a single instruction where there is one)."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        d = ir.DoubleType()
        fn = builder.module.declare_intrinsic("llvm.fma", [d], ir.FunctionType(d, [d, d, d]))
        return builder.call(fn, args)
    return sig, codegen


@intrinsic
def _bits(typingctx, x):
    sig = types.uint64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return sig, codegen


@intrinsic
def _double(typingctx, x):
    sig = types.float64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return sig, codegen


@numba.njit(cache=True, inline="always")
def _exp_core(x):
    """exp(x) for TINY <= |x| < LARGE."""
    kd = fma(x, INV_LN2_N, SHIFT)
    ki = _bits(kd)
    kd -= SHIFT
    r = fma(kd, NEG_LN2_LO_N, fma(kd, NEG_LN2_HI_N, x))  # x - k ln2/N, in two parts
    idx = (ki % np.uint64(N)) * np.uint64(2)
    tail = _double(TABLE[idx])
    scale = _double(TABLE[idx + np.uint64(1)] + (ki << np.uint64(52 - TABLE_BITS)))
    r2 = r * r
    tmp = fma(r2 * r2, fma(r, C5, C4), fma(r2, fma(r, C3, C2), tail + r))
    return fma(scale, tmp, scale)


@numba.njit(cache=True, inline="always")
def exp(x):
    """e**x, the same bits as glibc's exp on FMA machines, inlined."""
    a = abs(x)
    if a >= TINY and a < LARGE:
        return _exp_core(x)
    return np.exp(x)


@numba.njit(cache=True, error_model="numpy")
def _exp_core_block(xs, out):
    """`_exp_core` where the argument is in range; NaN marks the others."""
    for j in range(np.uint64(xs.shape[0])):
        a = abs(xs[j])
        out[j] = _exp_core(xs[j]) if (a >= TINY) & (a < LARGE) else np.nan


@numba.njit(cache=True, error_model="numpy")
def exp_block(xs, out):
    """out[j] = `exp(xs[j])`, the same bits, for a block of rows (`out` another array than
    `xs`): one branch-free loop the compiler runs in vector registers (a loop storing one
    array, in a function of its own: see `sim/streams.py`), then the rare arguments outside
    [TINY, LARGE) again through the C library (`exp` in a row loop keeps the loop scalar)."""
    _exp_core_block(xs, out)
    for j in range(np.uint64(xs.shape[0])):
        if np.isnan(out[j]):
            out[j] = np.exp(xs[j])
