"""Named random streams for common random numbers, indexed by row.

Each stochastic decision has its own stream, keyed by the run's root seed, the decision's
name and the year. A draw is a pure function of (key, row, slot): the SplitMix64 output
at counter `row * SLOTS + slot` from the key (Starsim's "random numbers indexed by slot").
So a household's draws never depend on any other household, on how many rows there are,
or on which rules ran before: two scenarios with the same seed meet the same illnesses,
disasters and price shocks, and differ only by the policy. Several draws of one decision
for one row (one per member, say) use slots 0, 1, 2, ... of that row.

The same function runs vectorized in numpy (`Streams.uniform`) and inside compiled
kernels (`u01`), giving identical numbers.
"""

from __future__ import annotations

import zlib

import numba
import numpy as np

from sim.exp import exp, exp_block

# The engine's streams, declared once so a typo is an error, not a new stream. A measure
# declares its own in its module (`STREAMS`); the model's `Streams` knows both.
ENGINE_STREAMS = (
    # synthesis
    "synth.villages", "synth.households", "synth.income", "synth.members", "synth.traits",
    "synth.health", "synth.place", "synth.sample",
    # life
    "birth", "child_to_school", "primary_to_junior", "junior_to_senior", "senior_continue",
    "senior_finish", "vocational", "college_continue", "college_finish", "dropout_age_out",
    "dropout_return", "compulsory_dropout", "compulsory_age_out", "working_to_elderly",
    "death_working", "death_elderly", "disability_onset", "chronic_onset", "chronic_recovery",
    "major_illness", "medical_cost", "disaster", "disaster_severity", "price_shock",
    "wage_shock", "income_shock", "ability_drift", "housing_damage", "housing_repair",
    "insurance_enrol",
    # behaviour
    "migrate", "local_work", "migrate_return", "local_work_end",
    # the register
    "measurement", "verification", "appraisal", "application", "recheck", "quota",
)
SLOTS = 64  # draws a row may take from one stream in one year (members of a band, ...)

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53


def root_entropy(seed) -> int:
    """An integer root from an int seed, a SeedSequence or a Generator (Mesa passes any)."""
    if isinstance(seed, (int, np.integer)):
        return int(seed)
    if isinstance(seed, np.random.SeedSequence):
        return int(seed.generate_state(2, dtype=np.uint64)[0])
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, 2**63 - 1))
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1, dtype=np.uint64)[0])
    raise TypeError(f"cannot seed random streams from {type(seed).__name__}")


@numba.njit(cache=True, inline="always")
def u01(key, row, slot):
    """Uniform on [0, 1) for (stream key, row, slot): SplitMix64 at that counter."""
    z = key + (np.uint64(row) * np.uint64(SLOTS) + np.uint64(slot) + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return np.float64(z >> np.uint64(11)) * _TO_UNIT


# Acklam's inverse normal CDF (relative error below 1.2e-9): polynomials in the centre,
# one log and one square root in the tails only, so a normal costs about one uniform.
_A = (-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
      1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00)
_B = (-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
      6.680131188771972e+01, -1.328068155288572e+01)
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
      -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00)
_P_LOW = 0.02425


@numba.njit(cache=True)
def _tail(q):
    return ((((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5])
            / ((((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1.0))


@numba.njit(cache=True, inline="always")
def _central(u):
    """The quantile for u in [_P_LOW, 1 - _P_LOW]: a rational function, no branch."""
    q = u - 0.5
    r = q * q
    return (((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5]) * q \
        / (((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1.0)


@numba.njit(cache=True)
def inverse_normal(u):
    """Standard-normal quantile of u in (0, 1)."""
    if u < _P_LOW:
        return _tail(np.sqrt(-2.0 * np.log(u)))
    if u > 1.0 - _P_LOW:
        return -_tail(np.sqrt(-2.0 * np.log(1.0 - u)))
    return _central(u)


@numba.njit(cache=True)
def normal01(key, row, slot):
    """Standard normal for (stream key, row, slot): the inverse CDF of one draw."""
    return inverse_normal(u01(key, row, slot) + 0.5 * _TO_UNIT)


# The block draws below are the compiled passes' vector loops. Each loop stores to one
# array only and stands in a function of its own, not inlined: LLVM vectorizes such a loop,
# and gave up on the same loop storing two arrays, or inlined into a pass (a normal draw
# cost 8 ns a row that way, 4.5 ns this way).

@numba.njit(cache=True, error_model="numpy")
def _central_block(key, first, out):
    """The central 95% of `fill_normals`; NaN marks the tails."""
    for j in range(np.uint64(out.shape[0])):
        u = u01(key, first + j, 0) + 0.5 * _TO_UNIT
        out[j] = _central(u) if (u >= _P_LOW) & (u <= 1.0 - _P_LOW) else np.nan


@numba.njit(cache=True, error_model="numpy")
def fill_normals(key, first, out):
    """out[j] = `normal01(key, first + j, 0)`, the same numbers, for a block of rows from
    row `first` (unsigned): the central 95% in vector registers, then the tails one by one."""
    _central_block(key, first, out)
    for j in range(np.uint64(out.shape[0])):
        if np.isnan(out[j]):
            out[j] = inverse_normal(u01(key, first + j, 0) + 0.5 * _TO_UNIT)


@numba.njit(cache=True, inline="always")
def mean_one_lognormal(s, z):
    """exp(s z - s^2 / 2) of a standard normal z: a log-normal factor of mean one."""
    return exp(s * z - s * s / 2)


@numba.njit(cache=True, error_model="numpy")
def _shift_scale(z, s):
    """z -> s z - s^2 / 2 in place, the argument of `mean_one_lognormal`'s exp."""
    for j in range(np.uint64(z.shape[0])):
        z[j] = s * z[j] - s * s / 2


@numba.njit(cache=True, error_model="numpy")
def fill_mean_one_lognormals(key, first, s, out):
    """out[j] = `mean_one_lognormal(s, normal01(key, first + j, 0))`, the same numbers, for
    a block of rows, in vector loops (`fill_normals`, `exp_block`)."""
    z = np.empty(out.shape[0])
    fill_normals(key, first, z)
    _shift_scale(z, s)
    exp_block(z, out)  # (into another array: it reads z again for the rare arguments)


@numba.njit(cache=True, error_model="numpy")
def fill_uniforms(key, first, out):
    """out[j] = `u01(key, first + j, 0)` for a block of rows, in one vector loop."""
    for j in range(np.uint64(out.shape[0])):
        out[j] = u01(key, first + j, 0)


@numba.njit(cache=True)
def binomial_draw(u, n, p):
    """Inverse-CDF binomial(n, p) from one uniform u: one draw per row, whatever n is."""
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    q = 1.0 - p
    pmf = 1.0
    for _ in range(n):
        pmf *= q
    if u < pmf:  # no event: most rows, most decisions
        return 0
    cdf = pmf
    k = 0
    ratio = p / q
    while u >= cdf and k < n:
        k += 1
        pmf *= (n - k + 1) / k * ratio
        cdf += pmf
    return k


@numba.njit(cache=True, inline="always")  # inlined: 20% faster life pass than a call
def binomial_members(key, row, n, p):
    """Members, out of n, for whom the event of chance p happens (one uniform per row)."""
    if n <= 0 or p <= 0.0:
        return 0
    return binomial_from(u01(key, row, 0), n, p)


@numba.njit(cache=True, inline="always")
def binomial_from(u, n, p):
    """`binomial_members` from the row's uniform u, drawn already (`fill_uniforms`)."""
    if binomial_none(u, n, p):
        return 0
    return binomial_draw(u, n, p)


@numba.njit(cache=True, inline="always")
def binomial_none(u, n, p):
    """Whether `binomial_draw(u, n, p)` is 0 by a shortcut, without the power: no one at
    risk, no chance, or u below 1 - n p (P(no event) = (1-p)^n >= 1 - n p; with room for
    rounding). True for most draws. Branch-free, so it also runs in vector loops."""
    return (n <= 0) | (p <= 0.0) | (u < 1.0 - n * p - 1e-12)


@numba.njit(cache=True, parallel=True)
def _uniform_range(key, n, slot):
    out = np.empty(n)
    for i in numba.prange(n):
        out[i] = u01(key, i, slot)
    return out


@numba.njit(cache=True, parallel=True)
def _uniform_list(key, rows, slot):
    out = np.empty(rows.shape[0])
    for i in numba.prange(rows.shape[0]):
        out[i] = u01(key, rows[i], slot)
    return out


def _uniform_rows(key: np.uint64, n: int | np.ndarray, slot: int = 0) -> np.ndarray:
    """`u01` for rows 0..n-1 (or the given rows), compiled: the numpy measures' draws."""
    if np.ndim(n) == 0:
        return _uniform_range(np.uint64(key), int(n), int(slot))
    return _uniform_list(np.uint64(key), np.asarray(n, dtype=np.int64), int(slot))


class Streams:
    """The keys of the run's declared streams, and draws from them by row."""

    def __init__(self, seed, names: tuple[str, ...] = ENGINE_STREAMS):
        if len(set(names)) != len(names):
            raise ValueError(f"random streams declared twice: {sorted({n for n in names if names.count(n) > 1})}")
        self.root = root_entropy(seed)
        self.names = tuple(names)
        self._name_keys = {name: zlib.crc32(name.encode()) for name in names}
        self._keys: dict[tuple[str, int], np.uint64] = {}

    def key(self, name: str, year: int) -> np.uint64:
        try:
            return self._keys[(name, year)]
        except KeyError:
            pass
        try:
            name_key = self._name_keys[name]
        except KeyError:
            raise KeyError(f"undeclared random stream '{name}': declare it in its measure's STREAMS, or in "
                           "sim/streams.py: ENGINE_STREAMS") from None
        seq = np.random.SeedSequence(self.root, spawn_key=(name_key, int(year)))
        key = self._keys[(name, year)] = np.uint64(seq.generate_state(1, dtype=np.uint64)[0])
        return key

    def named_keys(self, kind, year: int):
        """The year's keys of the streams a named tuple type's fields name, for a compiled
        pass to read them by name (`keys.birth`)."""
        return kind(*(self.key(name, year) for name in kind._fields))

    def generator(self, name: str, year: int) -> np.random.Generator:
        """A numpy Generator for draws that are not per row (synthesis, villages, counties)."""
        return np.random.Generator(np.random.PCG64(int(self.key(name, year))))

    def uniform(self, name: str, year: int, n: int, slot: int = 0) -> np.ndarray:
        """One U(0,1) draw per row (rows 0..n-1), the same numbers a kernel's `u01` gives."""
        return _uniform_rows(self.key(name, year), n, slot)

    def uniform_at(self, name: str, year: int, rows: np.ndarray, slot: int = 0) -> np.ndarray:
        """The draws of the given rows only: the same numbers `uniform` gives them."""
        return _uniform_rows(self.key(name, year), rows, slot)

    def normal(self, name: str, year: int, n: int, slot: int = 0) -> np.ndarray:
        """One standard-normal draw per row, the same numbers a kernel's `normal01` gives."""
        return _inverse_normal_rows(self.uniform(name, year, n, slot) + 0.5 * _TO_UNIT)


@numba.njit(cache=True, parallel=True)
def _inverse_normal_rows(u):
    out = np.empty(u.size)
    for i in numba.prange(u.size):
        out[i] = inverse_normal(u[i])
    return out
