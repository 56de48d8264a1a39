"""The engine's building blocks: the locked table, random streams, draws, parameters,
and scenario validation."""

import numpy as np
import pytest

import numba
from sim.errors import InputError
from sim.registry import HOUSEHOLD
from sim.params import PARAMETER_DIR, Parameters
from sim.streams import Streams, binomial_draw, binomial_members, u01
from sim.sums import BLOCKS, block_rows, block_totals, weighted_people, weighted_sum
from sim import table as table_module
from sim.streams import _inverse_normal_rows as s_inverse_normal
from sim.table import Table

from experiments.scenario import load_scenario


def test_table_refuses_undeclared_fields_and_keeps_dtypes():
    t = Table(HOUSEHOLD, 4)
    with pytest.raises(AttributeError, match="declare it"):
        t.incme = np.zeros(4)
    t.size = [1, 2, 3, 4]
    assert t.size.dtype == np.int8 and t.size.tolist() == [1, 2, 3, 4]
    assert HOUSEHOLD.bytes_per_row() < 200


def test_streams_are_named_and_repeatable_per_year():
    s = Streams(42)
    a = s.uniform("major_illness", 2017, 5)
    np.testing.assert_array_equal(a, Streams(42).uniform("major_illness", 2017, 5))
    assert not np.array_equal(a, s.uniform("major_illness", 2018, 5))
    assert not np.array_equal(a, s.uniform("disaster", 2017, 5))
    # drawing more rows does not change the first rows' draws
    np.testing.assert_array_equal(a, s.uniform("major_illness", 2017, 50)[:5])
    with pytest.raises(KeyError, match="undeclared"):
        s.uniform("no_such_stream", 2017, 5)


@numba.njit
def _kernel_draws(key, n, slot):
    out = np.empty(n)
    for i in range(n):
        out[i] = u01(key, i, slot)
    return out


@numba.njit
def _binomials(us, n, p):
    out = np.empty(us.size, np.int64)
    for i in range(us.size):
        out[i] = binomial_draw(us[i], n, p)
    return out


def test_kernels_and_numpy_draw_the_same_numbers():
    s = Streams(9)
    key = s.key("major_illness", 2018)
    np.testing.assert_array_equal(_kernel_draws(key, 1000, 0), s.uniform("major_illness", 2018, 1000))
    np.testing.assert_array_equal(_kernel_draws(key, 1000, 3), s.uniform("major_illness", 2018, 1000, slot=3))
    u = s.uniform("major_illness", 2018, 200_000)
    assert u.min() >= 0 and u.max() < 1 and u.mean() == pytest.approx(0.5, abs=0.003)
    z = s.normal("medical_cost", 2018, 200_000)
    assert z.mean() == pytest.approx(0, abs=0.01) and z.std() == pytest.approx(1, abs=0.01)
    from scipy import stats
    grid = np.array([1e-12, 1e-6, 0.001, 0.02, 0.02425, 0.3, 0.5, 0.77, 0.975, 0.999999])
    np.testing.assert_allclose(s_inverse_normal(grid), stats.norm.ppf(grid), rtol=2e-9, atol=1e-12)


def test_inverse_cdf_binomial_has_the_binomial_distribution():
    u = np.random.default_rng(0).random(200_000)
    k = _binomials(u, 5, 0.3)
    assert k.mean() == pytest.approx(1.5, abs=0.01)
    assert k.var() == pytest.approx(5 * 0.3 * 0.7, rel=0.02)
    assert k.min() == 0 and k.max() <= 5
    assert (_binomials(u[:10], 0, 0.5) == 0).all() and (_binomials(u[:10], 3, 1.0) == 3).all()


@numba.njit
def _members_both_ways(key, rows, n, p):
    fast, full = np.empty(rows, np.int64), np.empty(rows, np.int64)
    for i in range(rows):
        fast[i] = binomial_members(key, i, n, p)
        full[i] = binomial_draw(u01(key, i, 0), n, p)
    return fast, full


def test_binomial_shortcut_gives_the_full_inverse_cdf_answer():
    key = Streams(5).key("death_working", 2016)
    for n, p in ((1, 1e-9), (2, 1e-9), (3, 0.004), (6, 0.15), (4, 0.999), (2, 1.0)):
        fast, full = _members_both_ways(key, 100_000, n, p)
        np.testing.assert_array_equal(fast, full)


def test_weighted_sums_match_exact_sums_for_any_length():
    rng = np.random.default_rng(1)
    for n in (0, 1, 3, 4, 5, 1001):
        w = rng.random(n).astype(np.float32)
        v = rng.random(n)
        mask = rng.random(n) < 0.4
        size = rng.integers(0, 9, n).astype(np.int8)
        assert weighted_sum(w, v) == pytest.approx(float(np.sum(w.astype(float) * v)), rel=1e-12, abs=1e-12)
        assert weighted_sum(w, mask) == pytest.approx(float(w[mask].astype(float).sum()), rel=1e-12, abs=1e-12)
        assert weighted_people(w, size, mask) == pytest.approx(float((w.astype(float) * size)[mask].sum()),
                                                               rel=1e-12, abs=1e-12)
    # the same total however the rows are later split among threads: a fixed order
    w, v = rng.random(10_007).astype(np.float32), rng.random(10_007)
    assert weighted_sum(w, v) == weighted_sum(w.copy(), v.copy())


def test_row_blocks_cover_every_row_once_and_add_up_in_block_order():
    for n in (0, 1, 63, 64, 65, 1000, 100_003):
        rows = [r for block in range(BLOCKS) for r in range(*(int(x) for x in block_rows(block, n)))]
        assert rows == list(range(n))
    sums = np.arange(2 * BLOCKS, dtype=float).reshape(BLOCKS, 2)
    np.testing.assert_array_equal(block_totals(sums), sums.sum(axis=0))


def test_large_tables_hold_their_defaults_in_written_memory(monkeypatch):
    monkeypatch.setattr(table_module, "PREFAULT_BYTES", 1)  # every column takes the large-table path
    t = Table(HOUSEHOLD, 1000)
    for field in HOUSEHOLD:
        col = t[field.name]
        assert col.dtype == np.dtype(field.dtype) and (col == field.default).all(), field.name


def test_dated_parameters_hold_until_the_next_year():
    p = Parameters.load()
    assert p.at("poverty.line", 2014) == 2800
    assert p.at("poverty.line", 2017) == 2952
    assert p.at("poverty.line", 2025) == 4000  # holds after the last year given
    q = p.override({"poverty.line": {2018: 3500}}, "s.toml")
    assert q.at("poverty.line", 2017) == 2952 and q.at("poverty.line", 2019) == 3500
    assert "s.toml" in q.spec("poverty.line").source


def test_unquoted_dotted_override_paths_work(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text('profile = "shangluo"\nend_year = 2018\n[overrides]\nmedical.reimbursement = 0.8\n'
                 '[overrides.poverty.line]\n2017 = 3100\n')
    s = load_scenario(f)
    assert s.params.at("medical.reimbursement", 2016) == 0.8
    assert s.params.at("poverty.line", 2017) == 3100 and s.params.at("poverty.line", 2016) == 2952


def test_every_parameter_cites_a_source():
    p = Parameters.load(PARAMETER_DIR)
    for name in p.names():
        spec = p.spec(name)
        assert spec.source.strip(), name
        if spec.source.lower().startswith("assumption"):
            assert len(spec.source) > len("assumption: ") + 10, f"{name}: an assumption must say why"


@pytest.mark.parametrize("override, path, message", [
    ({"medical.reimbursment": 0.7}, "overrides.medical.reimbursment", "did you mean 'medical.reimbursement'"),
    ({"medical.reimbursement": 70}, "overrides.medical.reimbursement", "above the maximum 1"),
    ({"health.chronic_cost": -5}, "overrides.health.chronic_cost", "below the minimum 0"),
    ({"dibao.two_lines_in_one": 1}, "overrides.dibao.two_lines_in_one", "expected true or false"),
    ({"exit.plan_rule": "deadline"}, "overrides.exit.plan_rule", "expected one of"),
    ({"poverty.line": {"soon": 1}}, "overrides.poverty.line.soon", "expected a year"),
])
def test_bad_overrides_name_the_path(override, path, message):
    with pytest.raises(InputError) as err:
        Parameters.load().override(override, "s.toml")
    assert err.value.path == path and message in err.value.message
    assert err.value.one_line().startswith("s.toml: ")


def _scenario(tmp_path, text):
    f = tmp_path / "s.toml"
    f.write_text(text)
    return f


def test_scenario_errors_name_file_and_path(tmp_path):
    good = 'profile = "shangluo"\nend_year = 2018\n'
    assert load_scenario(_scenario(tmp_path, good)).end_year == 2018
    cases = [
        ('profile = "shangluo"\nend_yaer = 2018\n', "end_yaer", "did you mean 'end_year'"),
        ('profile = "shangluo"\n', "end_year", "required key is missing"),
        ('profile = "shanglou"\nend_year = 2018\n', "profile", "did you mean 'shangluo'"),
        ('profile = "shangluo"\nend_year = 2014\n', "end_year", "before start_year"),
        ('profile = "shangluo"\nend_year = "2018"\n', "end_year", "expected a whole number"),
        ('profile = "shangluo"\nend_year = 2018\n[measures]\ndibao = "yes"\n', "measures.dibao", "true or false"),
        ('profile = "shangluo"\nend_year = 2018\n[measures]\nmicrocredt = true\n', "measures.microcredt", "unknown key"),
        ('profile = "shangluo"\nend_year = 2018\n[overrides."medical.reimbursement"]\n2017 = 1.5\n',
         "overrides.medical.reimbursement.2017", "above the maximum"),
        ('profile = "shangluo\nend_year = 2018\n', "", "malformed TOML"),
    ]
    for text, path, message in cases:
        with pytest.raises(InputError) as err:
            load_scenario(_scenario(tmp_path, text))
        assert err.value.path == path, text
        assert message in err.value.message, (text, err.value.message)
        assert "s.toml" in err.value.file


def test_missing_and_non_utf8_files(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        load_scenario(tmp_path / "nope.toml")
    f = tmp_path / "latin.toml"
    f.write_bytes('profile = "shangluo"\nend_year = 2018\n# caf\xe9\n'.encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        load_scenario(f)


def test_suggestions_compare_the_last_part_of_dotted_names():
    from sim.errors import nearest
    names = ["health.chronic_onset_working", "health.chronic_cost", "medical.reimbursement"]
    assert nearest("health.nonexistent_thing", names) == ""
    assert "health.chronic_cost" in nearest("health.chronic_cots", names)
    assert "medical.reimbursement" in nearest("medical.reimbursment", names)
    assert "medical.reimbursement" in nearest("medicl.reimbursement", names)


def test_traits_are_beta_2_2_and_independent():
    """Risk aversion, motivation and willingness to move: Beta(2, 2) (mean 1/2, variance
    1/20, P(x < 0.2) = 0.104), drawn independently of each other."""
    from sim.model import PovertyModel

    hh = PovertyModel("shangluo", households=20000, end_year=2016, rng=4).hh
    for name in ("risk_aversion", "motivation", "willingness_to_move"):
        x = hh[name].astype(float)
        assert abs(x.mean() - 0.5) < 0.006 and abs(x.var() - 0.05) < 0.002
        assert abs((x < 0.2).mean() - 0.104) < 0.008
    assert abs(np.corrcoef(hh.risk_aversion, hh.motivation)[0, 1]) < 0.03
