"""The model as a whole: reproducibility, common random numbers, accounting identities,
synthesis against its profile, and Mesa's view of households, villages and counties."""

import numpy as np
import pandas as pd
import pytest

from agents.places import County, Household, Village
from sim.model import PovertyModel
from sim.profiles import load_profile

N = 3000


def run(seed, **kw):
    kw.setdefault("households", N)
    kw.setdefault("end_year", 2019)
    return PovertyModel("shangluo", rng=seed, **kw).run()


def test_same_seed_same_timeseries_different_seed_different():
    a, b, c = run(7), run(7), run(8)
    pd.testing.assert_frame_equal(a, b)
    assert not a.drop(columns="seed").equals(c.drop(columns="seed"))
    assert (a["registered_poor_people"] != c["registered_poor_people"]).any()


def test_one_thread_and_two_give_the_same_households_and_metrics(monkeypatch):
    """Parallel passes split rows among threads; sums go by fixed blocks, so the thread
    count changes no number (a notebook on a laptop and a sweep worker agree)."""
    import numba

    import sim.model as model_module
    from sim.registry import MEASURES

    def households_and_metrics(min_rows):
        monkeypatch.setattr(model_module, "PARALLEL_MIN_ROWS", min_rows)
        m = PovertyModel("shangluo", households=N, end_year=2019, rng=5, measures=dict.fromkeys(MEASURES, True))
        return m.run(), m.hh.columns()

    if numba.get_num_threads() < 2:
        pytest.skip("needs two threads")
    one_ts, one_hh = households_and_metrics(10**9)  # one thread
    two_ts, two_hh = households_and_metrics(0)  # every thread
    pd.testing.assert_frame_equal(one_ts, two_ts, check_exact=True)
    for name, col in one_hh.items():
        np.testing.assert_array_equal(col, two_hh[name], err_msg=name)


def _shocks_by_year(model):
    out = []
    while model.running:
        model.step()
        out.append(dict(disaster=model.villages.disaster_loss.copy(), price=model.counties.price_shock.copy(),
                        wage=model.counties.wage_shock.copy(), illness=model.hh.illness.copy(),
                        cost=model.hh.medical_cost.copy(), status=model.hh.status.copy()))
    return out


def test_common_random_numbers_across_a_policy_change():
    """Two scenarios that differ only in a policy parameter meet the same shocks."""
    base = PovertyModel("shangluo", households=N, end_year=2019, rng=3)
    more = PovertyModel("shangluo", households=N, end_year=2019, rng=3,
                        overrides={"exit.target_pressure": 1.0, "medical.reimbursement": 0.9})
    a, b = _shocks_by_year(base), _shocks_by_year(more)
    assert any((x["status"] != y["status"]).any() for x, y in zip(a, b)), "the policy change did nothing"
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x["disaster"], y["disaster"])
        np.testing.assert_array_equal(x["price"], y["price"])
        np.testing.assert_array_equal(x["wage"], y["wage"])
    # In the first year every household starts alike, so illnesses and costs are identical.
    np.testing.assert_array_equal(a[0]["illness"], b[0]["illness"])
    np.testing.assert_array_equal(a[0]["cost"], b[0]["cost"])


def test_changing_one_household_changes_no_one_elses_shocks():
    """Starsim's 'worlds' test: make one household rich; no other household's illness moves."""
    a = PovertyModel("shangluo", households=N, end_year=2016, rng=5)
    b = PovertyModel("shangluo", households=N, end_year=2016, rng=5)
    b.hh.ability[0] *= 50
    a.step(), b.step()
    others = np.arange(N) != 0
    np.testing.assert_array_equal(a.hh.illness[others], b.hh.illness[others])
    np.testing.assert_array_equal(a.hh.medical_cost[others], b.hh.medical_cost[others])
    np.testing.assert_array_equal(a.hh.n_migrants[others], b.hh.n_migrants[others])


def test_people_are_conserved_except_births_and_deaths():
    m = PovertyModel("shangluo", households=N, end_year=2020, rng=11)
    df = m.run()
    before = np.r_[m.initial["people"], df["people"].to_numpy()[:-1]]
    np.testing.assert_allclose(df["people"], before + df["births"] - df["deaths"], rtol=1e-9)
    size = (m.hh.n_child + m.hh.n_primary + m.hh.n_junior + m.hh.n_senior + m.hh.n_dropout
            + m.hh.n_dropout_compulsory + m.hh.n_working + m.hh.n_elderly)
    np.testing.assert_array_equal(m.hh.size, size)
    for band in ("n_child", "n_primary", "n_junior", "n_senior", "n_dropout", "n_working", "n_elderly",
                 "n_college", "n_disabled", "n_chronic"):
        assert m.hh[band].min() >= 0, band
    assert (m.hh.n_college <= m.hh.n_working).all()


def test_income_is_the_sum_of_its_sources_every_year():
    m = PovertyModel("shangluo", households=N, end_year=2018, rng=2)
    while m.running:
        m.step()
        hh = m.hh
        sources = (hh.income_farm.astype(np.float64) + hh.income_local_wage + hh.income_migrant
                   + hh.income_transfers + hh.income_property)
        np.testing.assert_allclose(hh.income, sources, rtol=1e-5, atol=0.01)
        assert (hh.income_farm >= 0).all() and (hh.income_transfers >= 0).all()


def test_register_flows_add_up_in_households():
    m = PovertyModel("shangluo", households=N, end_year=2020, rng=4)
    df = m.run()
    start = np.r_[m.initial["registered_poor_households"], df["registered_poor_households"].to_numpy()[:-1]]
    expected = (start - df["exits_households"] + df["returns_households"] + df["new_poor_households"]
                - df["recheck_removed_households"])
    np.testing.assert_allclose(df["registered_poor_households"], expected, rtol=1e-6)
    assert (df["exits_people"] > 0).all()


def test_synthesis_matches_the_profile():
    prof = load_profile("shangluo")
    m = PovertyModel(prof, households=20000, rng=1)
    init = m.initial
    assert init["registered_poor_people"] == pytest.approx(prof.value("register.people"), rel=0.02)
    assert init["poor_villages"] == pytest.approx(prof.value("register.poor_villages"), rel=1e-4)
    assert init["people"] == pytest.approx(prof.value("population.rural_people"), rel=0.03)
    assert m.hh.n == pytest.approx(20000, rel=0.01)
    # The drawn per-capita incomes have the profile's mean and registered share below the line.
    pc, w = m.population.target_income_pc, m.hh.weight * m.hh.size
    assert np.average(pc, weights=w) == pytest.approx(prof.value("population.income_mean"), rel=0.03)
    below = np.average(pc < m.line, weights=w)
    assert below == pytest.approx(prof.value("register.people") / prof.value("population.rural_people"), rel=0.02)


def test_households_option_scales_to_a_weighted_sample():
    small = PovertyModel("shangluo", households=1000, rng=1)
    large = PovertyModel("shangluo", households=8000, rng=1)
    assert small.hh.n == pytest.approx(1000, rel=0.02) and large.hh.n == pytest.approx(8000, rel=0.01)
    assert small.initial["registered_poor_people"] == pytest.approx(large.initial["registered_poor_people"], rel=0.05)


def test_national_profile_samples_the_rest_with_weights():
    m = PovertyModel("national", households=4000, end_year=2014, rng=1)
    reg = m.hh.status == 1
    assert m.hh.weight[~reg].max() > m.hh.weight[reg].max()  # the non-poor are sampled thinner
    # The register is built by quota in people from whole rows; where a county's poorest
    # rows are taken, what is left are rows of the thinly sampled strata, each too large to
    # fit what the county still lacks: at 4,000 rows a few percent short (at full size, not).
    assert m.initial["registered_poor_people"] == pytest.approx(89.62e6, rel=0.07)
    assert m.initial["registered_poor_households"] == pytest.approx(29.48e6, rel=0.07)


def test_mesa_agents_view_rows():
    m = PovertyModel("shangluo", households=500, end_year=2016, rng=1)
    assert len(m.agents_by_type[Village]) == m.villages.n
    assert len(m.agents_by_type[County]) == 7
    m.step()
    h = m.household(3)
    assert isinstance(h, Household) and h is m.household(3)
    assert h.size == m.hh.size[3] and h.income == pytest.approx(float(m.hh.income[3]))
    assert m.village_agents[0].poor == bool(m.villages.poor[0])
    with pytest.raises(AttributeError):
        h.no_such_field


def test_horizon_to_2030_runs():
    df = run(1, households=500, end_year=2030)
    assert df["year"].tolist() == list(range(2016, 2031))
    assert np.isfinite(df.select_dtypes("number")).all().all()


@pytest.mark.parametrize("name", ["nanning", "guangdong", "guangyuan", "shangluo", "national"])
def test_every_profile_synthesizes_its_register_and_runs(name):
    prof = load_profile(name)
    m = PovertyModel(prof, households=4000, end_year=prof.data["start_year"] + 1, rng=9)
    # (the national register falls a few percent short at 4,000 rows: see the test above)
    tolerance = 0.07 if name == "national" else 0.03
    assert m.initial["registered_poor_people"] == pytest.approx(prof.value("register.people"), rel=tolerance)
    assert m.initial["poor_villages"] == pytest.approx(prof.value("register.poor_villages"), rel=1e-3)
    df = m.run()
    assert len(df) == 2 and (df["exits_people"] > 0).all()
    numbers = df.select_dtypes("number")
    assert np.isfinite(numbers).all().all() and (numbers.drop(columns=["seed", "registered_net_births_people"]) >= 0).all().all()


def test_village_agents_of_a_large_table_are_made_on_first_use(monkeypatch):
    from agents import places

    monkeypatch.setattr(places, "EAGER_MAX", 10)
    m = PovertyModel("shangluo", households=500, end_year=2016, rng=1)
    assert m.village_agents.lazy and len(m.village_agents) == m.villages.n > 10
    assert Village not in m.agents_by_type or len(m.agents_by_type[Village]) == 0
    v = m.village_agents[5]
    assert v is m.village_agents[5] and v.row == 5 and len(m.agents_by_type[Village]) == 1
    assert m.village_agents[-1].row == m.villages.n - 1
    with pytest.raises(IndexError):
        m.village_agents[m.villages.n]
