"""Simulation engine: the Mesa model, the household table, random streams,
parameters, population synthesis, the poverty register and its metrics."""

from .kernel_cache import clear_stale_kernels

clear_stale_kernels()
