"""PovertyModel: every rural household of a region (or a weighted sample) as an agent.

One step is one calendar year, in the order of `YEAR` below. Households live as rows of a
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

from agents import behaviour, life
from agents.government import govern
from agents.places import County, Household, PlaceAgents, Village
from policies import MEASURES, apply_measures, flow_registry

from . import accounting, metrics, register, register_build
from .assessment import assess
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


# The order of one year, in one place (the assessment's own steps are
# `sim/assessment.py: ASSESSMENT`).
YEAR = (
    ("life", life.live_year),              # ageing, school, illness, disability, disasters, shocks
    ("behaviour", behaviour.decide),       # work (persistent states), earnings, insurance enrolment
    ("government", govern),                # the counties' exit plans; targeted measures assigned
    ("measures", apply_measures),          # policies/ act; returns fiscal costs
    ("accounting", accounting.account),    # income by source, resources, savings
    ("assessment", assess),                # measurement, exits, adjustment, re-check, monitoring, places
)


@numba.njit(cache=True, parallel=True)
def _ability_rows(growth, floor_per_person, target_pc, size, income_farm, income_local_wage, income_migrant,
                  income_transfers, ability):
    """Earning ability backed out from the earnings per unit of ability the work pass gave.
    A household with nothing to earn from (no labor and no land income) has no ability to
    back out: it lives on its pension and transfers."""
    for i in numba.prange(size.shape[0]):
        units = (np.float64(income_farm[i]) + income_local_wage[i] + income_migrant[i]) / growth
        earned = max(target_pc[i] * size[i] - np.float64(income_transfers[i]), floor_per_person * size[i])
        ability[i] = earned / units if units > 0 else 0.0


@numba.njit(cache=True, parallel=True)
def _start_rows(months_poor, months_other, poor, income, savings, debt):
    """Savings of some months of income, more for households outside the poor stratum."""
    for i in numba.prange(income.shape[0]):
        savings[i] = (months_poor if poor[i] else months_other) / 12.0 * max(np.float64(income[i]), 0.0)
        debt[i] = 0.0


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
        self.streams = Streams(self.seed)

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
        with threads_for(self.hh.n):
            self._initial_state(pop.target_income_pc)
        self.initial = metrics.compute(self, {})
        self.initial_poor_villages = float(self.villages.weight[self.villages.poor].sum())

        self.datacollector = mesa.DataCollector(
            model_reporters={name: (lambda m, k=name: m.current[k]) for name in metrics.COLUMNS})
        self.current: dict[str, float] = {}
        self.running = True

    # --- set-up -----------------------------------------------------------------------
    def _initial_state(self, target_pc: np.ndarray) -> None:
        """Earning ability backed out so that start-year income matches the drawn income,
        then the register built from those incomes."""
        hh, p = self.hh, self.p
        # Earnings are linear in ability and work does not depend on it: one pass with unit
        # ability gives each household's earnings per unit of ability (and its pension);
        # ability is backed out, then the same pass (same draws) gives the start year's
        # earnings. The earnings rules live only in the behaviour pass. A first pass sets
        # the villages' migration networks, which the allocation of work reads.
        keys = (self.streams.key("synth.households", 0), self.streams.key("synth.households", 1))
        # The drawn incomes are those of the registration year (the year before the start):
        # realized incomes, that year's transitory farm shock among them, so that the
        # first simulated year's fresh shocks leave the spread of incomes as it was.
        shocks = dict(shocks=True, enrol=False, shock_year=self.start_year - 1)
        hh.ability = 1.0
        behaviour.work(self, *keys, **shocks)
        register.aggregate_places(self)  # the villages' migration networks, which the allocation reads
        behaviour.work(self, *keys, **shocks)
        # The drawn per-capita income is net income before dibao (earnings and pension):
        # what the register measures, with no costs added back. Dibao then tops up the
        # households it covers, as it did before the register was built.
        _ability_rows(float(self.growth_index), 0.05 * self.line, target_pc, hh.size, hh.income_farm,  # assumption: a small floor
                      hh.income_local_wage, hh.income_migrant, hh.income_transfers, hh.ability)
        behaviour.work(self, *keys, **shocks)
        self.flows.update(births=np.zeros(hh.n, np.int8), deaths=np.zeros(hh.n, np.int8))
        apply_measures(self, entitlements_only=True)  # transfers and insurance shape starting incomes
        hh.oop_medical = 0.0  # the synthesized income already reflects last year's costs
        hh.medical_cost = 0.0
        accounting.account(self)
        _start_rows(float(p["synth.savings_months_poor"]), float(p["synth.savings_months_other"]),
                    self.population.poor, hh.income, hh.savings, hh.debt)
        register_build.build(self)
        register.aggregate_places(self)
        empty = np.zeros(hh.n, bool)
        self.flows.update(exited=empty, returned=empty, new_poor=empty,
                          villages_exited=np.zeros(self.villages.n, bool),
                          counties_exited=np.zeros(self.counties.n, bool))

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
        costs = {}
        for name, rule in YEAR:
            out = rule(self)
            if name == "measures":
                costs = out
        self.current = metrics.compute(self, costs)
        self.costs = costs
        self.datacollector.collect(self)
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
