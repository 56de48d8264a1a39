"""Named random streams for common random numbers.

Each stochastic decision has its own generator, seeded from the run's root seed, the
decision's name and the year, and it draws one number per row whether or not the row
uses it. A scenario that changes a policy then changes no other draw: two scenarios with
the same seed meet the same illnesses, disasters and price shocks (Starsim's design).
"""

from __future__ import annotations

import zlib

import numpy as np

# Every stream the model uses, declared once so a typo is an error, not a new stream.
STREAMS = (
    # synthesis
    "synth.villages", "synth.households", "synth.income", "synth.members", "synth.traits",
    "synth.health", "synth.place", "synth.sample",
    # life
    "birth", "child_to_school", "primary_to_junior", "junior_to_senior", "senior_continue",
    "senior_finish", "vocational", "college_continue", "college_finish", "dropout_age_out",
    "dropout_return", "compulsory_dropout", "compulsory_age_out", "working_to_elderly", "death_working",
    "death_elderly", "disability_onset", "chronic_onset", "chronic_recovery",
    "major_illness", "medical_cost", "disaster", "disaster_severity", "price_shock",
    "wage_shock", "income_shock", "ability_drift", "housing_damage", "housing_repair",
    "insurance_enrol",
    # behaviour
    "migrate", "local_work",
    # government and measures
    "measurement", "dibao_targeting",
)

_KEYS = {name: zlib.crc32(name.encode()) for name in STREAMS}


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


class Streams:
    """Hands out the generator of one decision in one year, re-positioned each year."""

    def __init__(self, seed):
        self.root = root_entropy(seed)

    def generator(self, name: str, year: int) -> np.random.Generator:
        try:
            key = _KEYS[name]
        except KeyError:
            raise KeyError(f"undeclared random stream '{name}'; add it to sim/streams.py") from None
        seq = np.random.SeedSequence(self.root, spawn_key=(key, int(year)))
        return np.random.Generator(np.random.PCG64(seq))

    def uniform(self, name: str, year: int, n: int) -> np.ndarray:
        """One U(0,1) draw per row, as float64 for exact comparisons across dtypes."""
        return self.generator(name, year).random(n)

    def normal(self, name: str, year: int, n: int) -> np.ndarray:
        return self.generator(name, year).standard_normal(n)
