"""Simulation engine: the Mesa model, the household table, random streams,
parameters, population synthesis, the poverty register and its metrics."""
