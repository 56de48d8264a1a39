"""The inlined exponential and the block normal draws give the numbers the library calls
and the one-at-a-time draws give: switching to them changed no result."""

import math
import platform
from pathlib import Path

import numba
import numpy as np
import pytest

from sim.exp import exp, exp_block
from sim.streams import (Streams, fill_mean_one_lognormals, fill_normals, fill_uniforms, mean_one_lognormal,
                         normal01, u01)


@numba.njit
def _inlined(x):
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = exp(x[i])
    return out


@numba.njit
def _library(x):
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = np.exp(x[i])  # a call to the C library's exp
    return out


def _glibc_with_fma() -> bool:
    """glibc >= 2.28 on an x86-64 processor with FMA: the library exp this one reproduces."""
    name, version = platform.libc_ver()
    if name != "glibc" or tuple(int(v) for v in version.split(".")[:2]) < (2, 28):
        return False
    if platform.machine() != "x86_64":
        return False
    cpuinfo = Path("/proc/cpuinfo")
    return cpuinfo.exists() and " fma " in cpuinfo.read_text()


def _arguments():
    rng = np.random.default_rng(2024)
    x = np.concatenate([rng.normal(size=400_000) * scale for scale in (1e-3, 0.3, 1.0, 4.0, 60.0, 250.0)])
    edges = [0.0, -0.0, 2.0 ** -60, -(2.0 ** -54), 2.0 ** -54, 511.9999, -511.9999, 512.0, -512.0,
             700.0, 709.8, 710.0, -745.2, -746.0, -800.0, np.inf, -np.inf, np.nan, 1e-310]
    return np.concatenate([x, edges])


def test_exp_is_within_an_ulp_of_the_library_everywhere():
    x = _arguments()
    ours, lib = _inlined(x), _library(x)
    finite = np.isfinite(lib) & (lib > 0)
    assert np.all(np.abs(ours[finite] - lib[finite]) <= np.spacing(lib[finite]))
    np.testing.assert_array_equal(ours[~finite], lib[~finite])  # inf, nan, 0 underflow as the library
    assert _inlined(np.array([0.0, 1.0]))[1] == math.e


@pytest.mark.skipif(not _glibc_with_fma(), reason="reproduces glibc's exp on x86-64 with FMA")
def test_exp_has_glibcs_bits():
    x = _arguments()
    np.testing.assert_array_equal(_inlined(x), _library(x))


@numba.njit
def _block_and_single(key, first, n):
    block = np.empty(n)
    fill_normals(key, np.uint64(first), block)
    single = np.empty(n)
    for j in range(n):
        single[j] = normal01(key, first + j, 0)
    return block, single


def test_block_normals_are_the_one_at_a_time_draws_tails_included():
    key = Streams(11).key("income_shock", 2019)
    for first, n in ((0, 100_000), (12_345, 777), (5, 0)):
        block, single = _block_and_single(key, first, n)
        np.testing.assert_array_equal(block, single)
    block, _ = _block_and_single(key, 0, 100_000)
    assert (np.abs(block) > 1.97).mean() == pytest.approx(0.0485, abs=0.003)  # the tails were taken


@numba.njit
def _exp_block(x):
    out = np.empty_like(x)
    exp_block(x, out)
    return out


def test_block_exponentials_are_the_inlined_ones_out_of_range_arguments_included():
    x = _arguments()  # zeros, tiny, beyond 512, inf and nan: the arguments sent to the library
    np.testing.assert_array_equal(_exp_block(x), _inlined(x))
    np.testing.assert_array_equal(_exp_block(x[:0]), x[:0])


@numba.njit
def _block_draws(key, first, n, s):
    uniforms, factors = np.empty(n), np.empty(n)
    fill_uniforms(key, np.uint64(first), uniforms)
    fill_mean_one_lognormals(key, np.uint64(first), s, factors)
    single_u, single_f = np.empty(n), np.empty(n)
    for j in range(n):
        single_u[j] = u01(key, first + j, 0)
        single_f[j] = mean_one_lognormal(s, normal01(key, first + j, 0))
    return uniforms, factors, single_u, single_f


def test_block_uniforms_and_log_normal_factors_are_the_one_at_a_time_draws():
    key = Streams(5).key("ability_drift", 2016)
    for first, n, s in ((0, 50_000, 0.1), (98_765, 333, 0.6), (3, 0, 0.1), (0, 1000, 0.0)):
        uniforms, factors, single_u, single_f = _block_draws(key, first, n, s)
        np.testing.assert_array_equal(uniforms, single_u)
        np.testing.assert_array_equal(factors, single_f)
    _, factors, _, _ = _block_draws(key, 0, 200_000, 0.3)
    assert factors.mean() == pytest.approx(1.0, abs=0.005)  # mean one
