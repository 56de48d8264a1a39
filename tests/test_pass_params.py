"""Compiled passes read their parameters by name: a misspelt or missing parameter is an
error before a pass runs, and the order of the list does not matter."""

import numba
import pytest
from numba.core.errors import TypingError

from agents.life import LIFE_PARAMS, LifeParams
from sim.params import Parameters, pass_params, read_pass_params

YEAR = 2016


def test_a_misspelt_parameter_is_refused_before_any_pass_runs():
    Misspelt = pass_params("Misspelt", ("demography.birth_rat", "health.chronic_cost"), __name__)
    with pytest.raises(KeyError, match="unknown parameter 'demography.birth_rat'.*demography.birth_rate"):
        read_pass_params(Misspelt, Parameters.load().year(YEAR))


def test_a_pass_reading_a_field_its_tuple_lacks_does_not_compile():
    @numba.njit
    def births(p):
        return p.birth_rat * 2.0

    year_values = dict.fromkeys(LifeParams._fields[len(LIFE_PARAMS):], 0.0)
    p = read_pass_params(LifeParams, Parameters.load().year(YEAR), **year_values)
    with pytest.raises(TypingError, match="birth_rat"):
        births(p)


def test_the_order_of_the_list_does_not_matter():
    params = Parameters.load().year(YEAR)
    forward = pass_params("Forward", ("demography.birth_rate", "health.chronic_cost"), __name__)
    backward = pass_params("Backward", ("health.chronic_cost", "demography.birth_rate"), __name__)

    @numba.njit
    def read(p):
        return p.birth_rate, p.chronic_cost

    assert read(read_pass_params(forward, params)) == read(read_pass_params(backward, params)) == (
        params["demography.birth_rate"], params["health.chronic_cost"])


def test_two_parameters_with_the_same_short_name_are_refused():
    with pytest.raises(ValueError, match=r"fields named twice: \['chronic_cost'\]"):
        pass_params("Twice", ("health.chronic_cost", "medical.chronic_cost"), __name__)
