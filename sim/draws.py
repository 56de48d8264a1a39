"""Transformations of one uniform draw per row into the events the rules need.

Every stochastic decision takes exactly one uniform per household row (common random
numbers), so counts of events among a household's members come from the inverse CDF of
the binomial rather than from numpy's binomial sampler (which consumes a varying number
of bits and would shift every later draw when one household changes).
"""

from __future__ import annotations

import numpy as np


def binomial(u: np.ndarray, n: np.ndarray, p) -> np.ndarray:
    """Inverse-CDF binomial: the k with CDF(k-1) <= u < CDF(k), one uniform per row.

    `n` small non-negative integers (household members), `p` a scalar or per-row array.
    Most rows draw k = 0 (u below P(0) = (1-p)^n); only the others enter the loop, which
    runs to the largest k drawn.
    """
    n = np.asarray(n)
    out = np.zeros(n.shape, dtype=np.int8)
    if np.ndim(p) == 0:
        p = float(p)
        if p <= 0.0:
            return out
        if p >= 1.0:
            return np.maximum(n, 0).astype(np.int8)
        p0 = ((1.0 - p) ** np.arange(np.iinfo(np.int8).max + 1))[np.maximum(n, 0)]
        idx = np.flatnonzero(u >= p0)
        pp = np.full(idx.size, p)
    else:
        p_all = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
        p0 = np.where(n > 0, (1.0 - p_all) ** np.maximum(n, 0), 1.0)
        idx = np.flatnonzero((u >= p0) & (n > 0) & (p_all > 0))
        pp = p_all[idx]
    if idx.size == 0:
        return out
    nn = n[idx].astype(np.float64)
    uu = u[idx]
    q = 1.0 - pp
    certain = q <= 0.0
    ratio = np.divide(pp, q, out=np.zeros_like(pp), where=~certain)
    pmf = q ** nn
    cdf = pmf.copy()
    k = np.zeros(idx.size, dtype=np.int8)
    active = (uu >= cdf) & (k < nn)
    step = 0
    while active.any():
        step += 1
        k[active] += 1
        pmf = pmf * (nn - step + 1) / step * ratio
        cdf = cdf + pmf
        active &= (uu >= cdf) & (k < nn)
    k[certain] = nn[certain].astype(np.int8)
    out[idx] = k
    return out


def bernoulli(u: np.ndarray, p) -> np.ndarray:
    return u < p


def any_of(n: np.ndarray, p) -> np.ndarray:
    """Probability that at least one of n members meets an event of per-member chance p."""
    return 1.0 - (1.0 - np.asarray(p)) ** np.asarray(n, dtype=np.float64)


def lognormal(z: np.ndarray, median, sigma) -> np.ndarray:
    """A lognormal value from one standard-normal draw per row."""
    return np.asarray(median) * np.exp(np.asarray(sigma) * z)


def stochastic_round(x: np.ndarray, u: np.ndarray) -> np.ndarray:
    """floor(x) plus one with probability frac(x): unbiased integer counts from one uniform."""
    base = np.floor(x)
    return (base + (u < (x - base))).astype(np.int8)
