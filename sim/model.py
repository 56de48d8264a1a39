"""PovertyModel: every rural household of a region (or a weighted sample) as an agent.

One step is one calendar year, in the order of `sim/plan.py: year_plan`. Households live as rows of a
struct-of-arrays table (`sim/fields.py`); villages and counties are Mesa agents viewing
rows of their own tables; `household(i)` gives a Mesa agent viewing one household row.
All randomness comes from the `rng` seed through named streams (`sim/streams.py`).
"""

from __future__ import annotations

from contextlib import contextmanager

import mesa
import numba
import numpy as np
import pandas as pd

from agents.places import County, Household, PlaceAgents, Village
from .registry import MEASURES, STREAM_NAMES, flow_registry

from . import metrics, plan
from .flows import Flows
from .params import Parameters
from .profiles import Profile, load_profile
from .streams import Streams, root_entropy
from .synth import synthesize

PARALLEL_MIN_ROWS = 100_000  # assumption: measured on 2 cores, one thread is faster below this

@contextmanager
def threads_for(rows: int):
    """One thread for the compiled passes below `PARALLEL_MIN_ROWS` rows, all above."""
    threads = numba.get_num_threads()
    if rows < PARALLEL_MIN_ROWS:
        numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(threads)


class PovertyModel(mesa.Model):
    """A region's rural households under a measure mix, stepped one calendar year at a time.

    Args:
        profile: a `Profile` or the name of one (`shangluo`, `national`, ...).
        households: rows to simulate (a weighted sample); None for the profile's full size.
        start_year, end_year: the first and last simulated years.
        measures: {measure name: on?}; missing measures take their defaults.
        params: parameters (defaults from `policies/parameters` plus the profile's overrides).
        overrides: extra parameter overrides by dotted path (as in a scenario file).
        scenario: a name recorded with the results.
        rng: the run's seed (an int, a SeedSequence or a Generator); the only randomness.
    """

    def __init__(self, profile: Profile | str = "shangluo", households: int | None = 2000,
                 start_year: int | None = None, end_year: int = 2020,
                 measures: dict | None = None, params: Parameters | None = None,
                 overrides: dict | None = None, scenario: str = "", rng=None):
        super().__init__(rng=rng)
        self.profile = profile if isinstance(profile, Profile) else load_profile(profile)
        if params is None:
            params = Parameters.load().override(self.profile.parameter_overrides, self.profile.file,
                                                section="parameters")
        if overrides:
            params = params.override(overrides, "overrides", section="overrides")
        self.params = params
        self.start_year = int(start_year if start_year is not None else self.profile.data["start_year"])
        self.end_year = int(end_year)
        if self.end_year < self.start_year:
            raise ValueError(f"end_year {end_year} is before start_year {self.start_year}")
        self.measures = {name: spec.default_on for name, spec in MEASURES.items()}
        self.measures.update(measures or {})
        self.scenario_name = scenario or self.profile.name
        self.seed = root_entropy(rng if rng is not None else self.rng)
        self.streams = Streams(self.seed, STREAM_NAMES)

        profile_data = dict(self.profile.data, start_year=self.start_year)
        synth_profile = Profile(self.profile.name, self.profile.file, profile_data,
                                self.profile.parameter_overrides)
        pop = synthesize(synth_profile, self.params, households, self.seed)
        self.population = pop
        self.hh, self.villages, self.counties = pop.households, pop.villages, pop.counties
        self.village_agents = PlaceAgents(self, Village, self.villages.n)
        self.county_agents = PlaceAgents(self, County, self.counties.n)
        self._household_views: dict[int, Household] = {}

        self.year = self.start_year
        self.p = self.params.year(self.year)
        self.line = self.p["poverty.line"]
        self.growth_index = 1.0
        self.price_index = 1.0
        self.flows = Flows(flow_registry())
        self.setup_plan = plan.setup_plan(self.measures)
        self.year_plan = plan.year_plan(self.measures)
        plan.check(self.setup_plan)
        plan.check(self.year_plan)
        with threads_for(self.hh.n):
            self._initial_state()
        self.initial = metrics.compute(self, {})
        self.initial_poor_villages = float(self.villages.weight[self.villages.poor].sum())

        self.datacollector = mesa.DataCollector(
            model_reporters={name: (lambda m, k=name: m.current[k]) for name in metrics.COLUMNS})
        self.current: dict[str, float] = {}
        self.running = True

    # --- set-up -----------------------------------------------------------------------
    def _initial_state(self) -> None:
        """The set-up before the first year (`sim/plan.py: setup_plan`): earning ability
        backed out so that start-year income matches the drawn income, then the register
        built from those incomes."""
        plan.run(self, self.setup_plan)

    # --- the year -----------------------------------------------------------------------
    def school_cost(self, stage: str) -> float:
        """Household cost of one pupil at a stage this year (price-indexed)."""
        return self.p[f"education.cost_{stage}"] * self.price_index

    def step(self) -> None:
        """One calendar year. Small populations run the compiled passes on one thread:
        below `PARALLEL_MIN_ROWS` rows, starting and synchronizing threads costs more than
        it saves, and busy threads slow down badly when the cores are shared (notebooks,
        process pools). Results are the same on any number of threads."""
        with threads_for(self.hh.n):
            self._step_year()

    def _step_year(self) -> None:
        if self.year > self.end_year:
            self.running = False
            return
        if self.year > self.start_year:
            self.growth_index *= 1.0 + self.params.at("economy.income_growth", self.year)
            self.price_index = self.growth_index
        self.p = self.params.year(self.year)
        self.line = self.p["poverty.line"]
        self.flows.clear_year()
        plan.run(self, self.year_plan)  # the record, its last step, sets `current` and collects it
        self.year += 1
        if self.year > self.end_year:
            self.running = False

    def run(self) -> pd.DataFrame:
        """Step through the horizon and return the tidy yearly timeseries."""
        while self.running:
            self.step()
        return self.timeseries()

    def timeseries(self) -> pd.DataFrame:
        df = self.datacollector.get_model_vars_dataframe().reset_index(drop=True)
        df["year"] = df["year"].astype("int64")
        df.insert(0, "seed", np.int64(self.seed) if self.seed < 2**63 else self.seed)
        df.insert(0, "scenario", self.scenario_name)
        return df

    # --- inspection ---------------------------------------------------------------------
    def household(self, row: int) -> Household:
        """A Mesa agent viewing one household row (created on first use, then reused)."""
        if not 0 <= row < self.hh.n:
            raise IndexError(f"household row {row} outside 0..{self.hh.n - 1}")
        if row not in self._household_views:
            self._household_views[row] = Household(self, row)
        return self._household_views[row]
