"""experiments/report.py: summaries over seeds, paired differences, figures, report(), the
notebook, and Mesa's batch_run on PovertyModel."""

from __future__ import annotations

import contextlib
import io
import math
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments import report as rep
from experiments.runner import replication_seeds
from experiments.scenario import load_scenario
from sim.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "experiments" / "scenarios"
NOTEBOOK = ROOT / "notebooks" / "compare_shangluo_mixes.ipynb"
PNG = b"\x89PNG\r\n\x1a\n"
T95_2 = 2.919985580  # t(0.95) with 2 degrees of freedom: 90% two-sided interval of 3 seeds


# ---------------------------------------------------------------------------------------
# a hand-made frame with known answers: 2 scenarios x 3 seeds x 2 years


def _hand_frame() -> pd.DataFrame:
    rows = []
    for s in (1, 2, 3):
        for scenario, extra_exits, extra_returns, extra_cost in (("base", 0, 0, 0), ("plan", 50, 5 * s, 600)):
            rows.append(dict(scenario=scenario, seed=s, year=2016, exits_people=100 * s,
                             returns_people=0, new_poor_people=50, registered_poor_people=1000,
                             fiscal_cost_total=1000 + extra_cost, poor_people_cause_illness=400,
                             poor_people_cause_land=300))
            rows.append(dict(scenario=scenario, seed=s, year=2017, exits_people=100 + extra_exits,
                             returns_people=10 * s + extra_returns, new_poor_people=50,
                             registered_poor_people=900 + s, fiscal_cost_total=1000,
                             poor_people_cause_illness=350, poor_people_cause_land=250))
    return pd.DataFrame(rows).sample(frac=1.0, random_state=0)  # order must not matter


def test_summarize_known_answers():
    t = rep.summarize(_hand_frame(), baseline="base")
    assert list(t.index) == ["base", "plan"]
    assert t.loc["base", "seeds"] == 3 and t.loc["plan", "paired_seeds"] == 3
    base, plan = t.loc["base"], t.loc["plan"]

    # totals over the horizon: base exits 200, 300, 400; returns 10, 20, 30
    assert base["exits_mean"] == pytest.approx(300)
    half = T95_2 * 100 / math.sqrt(3)  # sd of (200, 300, 400) is 100
    assert (base["exits_lo"], base["exits_hi"]) == pytest.approx((300 - half, 300 + half))
    assert base["returns_mean"] == pytest.approx(20)
    assert base["new_poor_mean"] == pytest.approx(100)
    assert base["remaining_poor_mean"] == pytest.approx(902)  # last year: 901, 902, 903
    assert base["fiscal_cost_mean"] == pytest.approx(2000)
    # ratios per seed, then averaged
    assert base["return_rate_mean"] == pytest.approx(np.mean([10 / 200, 20 / 300, 30 / 400]))
    assert base["cost_per_sustained_exit_mean"] == pytest.approx(np.mean([2000 / 190, 2000 / 280, 2000 / 370]))
    assert plan["exits_mean"] == pytest.approx(350)
    assert plan["return_rate_mean"] == pytest.approx(np.mean([15 / 250, 30 / 350, 45 / 450]))
    assert plan["cost_per_sustained_exit_mean"] == pytest.approx(np.mean([2600 / 235, 2600 / 320, 2600 / 405]))

    # paired differences: exits +50 in every seed (no spread), returns +5, +10, +15
    assert (plan["exits_diff_mean"], plan["exits_diff_lo"], plan["exits_diff_hi"]) == pytest.approx((50, 50, 50))
    half = T95_2 * 5 / math.sqrt(3)
    assert (plan["returns_diff_mean"], plan["returns_diff_lo"], plan["returns_diff_hi"]) == pytest.approx(
        (10, 10 - half, 10 + half))
    assert plan["fiscal_cost_diff_mean"] == pytest.approx(600)
    d = np.array([2600 / 235 - 2000 / 190, 2600 / 320 - 2000 / 280, 2600 / 405 - 2000 / 370])
    half = T95_2 * d.std(ddof=1) / math.sqrt(3)
    assert (plan["cost_per_sustained_exit_diff_mean"], plan["cost_per_sustained_exit_diff_lo"],
            plan["cost_per_sustained_exit_diff_hi"]) == pytest.approx((d.mean(), d.mean() - half, d.mean() + half))
    assert base["exits_diff_mean"] == 0 and base["exits_diff_lo"] == 0

    # without a baseline: no difference columns
    assert not any("_diff_" in c for c in rep.summarize(_hand_frame()).columns)
    # the table prints, with the differences
    text = rep.format_table(t)
    assert "cost per sustained exit" in text and "difference from base" in text


def test_summarize_edge_cases():
    df = _hand_frame()
    one = rep.summarize(df[df["seed"] == 1])
    assert one.loc["base", "exits_mean"] == 200 and math.isnan(one.loc["base", "exits_lo"])
    flat = df.copy()
    flat["returns_people"] = flat["exits_people"]  # nobody stays out
    assert math.isnan(rep.summarize(flat).loc["base", "cost_per_sustained_exit_mean"])
    with pytest.raises(InputError, match=r"did you mean 'base'\?"):
        rep.summarize(df, baseline="bsae")
    with pytest.raises(ValueError, match="duplicate"):
        rep.summarize(pd.concat([df, df.head(1)]))
    with pytest.raises(ValueError, match="fiscal_cost_total"):
        rep.summarize(df.drop(columns="fiscal_cost_total"))


# ---------------------------------------------------------------------------------------
# real small runs


@contextlib.contextmanager
def _one_numba_thread():
    """Tiny runs: numba's parallel loops only add thread hand-offs, which become very slow
    when other processes compete for the CPUs, so run them on one thread."""
    import numba
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


def _runs(names, seeds=5, households=400, end_year=None) -> pd.DataFrame:
    from sim.model import PovertyModel
    frames = []
    with _one_numba_thread():
        for name in names:
            s = load_scenario(SCENARIOS / f"{name}.toml", households=households)
            kwargs = s.model_kwargs() if end_year is None else dict(s.model_kwargs(), end_year=end_year)
            for seed in replication_seeds(20160101, seeds):
                frames.append(PovertyModel(rng=seed, **kwargs).run())
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def mixes() -> pd.DataFrame:
    return _runs(["shangluo", "shangluo_no_microcredit"])


# (returns are rare now, a handful of the 400 rows: pairing cannot narrow a count of a few
# events that the policy itself moves, so the register's stock and new entries stand in)
@pytest.mark.parametrize("column", ["exits", "new_poor", "remaining_poor", "fiscal_cost", "cost_per_sustained_exit",
                                    "fiscal_cost_medical_assistance"])
def test_paired_interval_narrower_than_unpaired(mixes, column):
    w = rep.paired_vs_unpaired(mixes, "shangluo", "shangluo_no_microcredit", column)
    assert w.seeds == 5
    assert 0 < w.paired < w.unpaired, w


def test_paired_vs_unpaired_rejects_unknown_names(mixes):
    with pytest.raises(ValueError, match="did you mean 'shangluo'"):
        rep.paired_vs_unpaired(mixes, "shangluoo", "shangluo_no_microcredit", "exits")
    with pytest.raises(ValueError, match="did you mean 'exits'"):
        rep.paired_vs_unpaired(mixes, "shangluo", "shangluo_no_microcredit", "exitss")


def _assert_png(path: Path):
    data = Path(path).read_bytes()
    assert data[:8] == PNG and len(data) > 10_000, path


def test_report_writes_files(mixes, tmp_path, capsys):
    mixes.to_parquet(tmp_path / "timeseries.parquet")
    assert rep.report(tmp_path, "shangluo_no_microcredit") == 0
    out = capsys.readouterr().out
    assert "difference from shangluo_no_microcredit" in out and "return rate" in out
    table = pd.read_csv(tmp_path / "report.csv", index_col="scenario")
    assert list(table.index) == ["shangluo", "shangluo_no_microcredit"]
    assert table.loc["shangluo_no_microcredit", "exits_diff_mean"] == 0
    assert table.loc["shangluo", "exits_mean"] == pytest.approx(rep.summarize(mixes).loc["shangluo", "exits_mean"])
    md = (tmp_path / "report.md").read_text()
    assert "| cost per sustained exit |" in md and "figures/causes.png" in md
    for name in (*rep.FIGURES, "differences.png"):  # with a baseline, the paired differences too
        _assert_png(tmp_path / "figures" / name)
    assert "figures/differences.png" in md
    assert not [p for p in tmp_path.rglob("*.tmp")]  # no temporary files left behind


def test_report_refuses_misspelt_baseline(mixes, tmp_path):
    mixes.to_parquet(tmp_path / "timeseries.parquet")
    with pytest.raises(InputError) as err:
        rep.report(tmp_path, "shangluo_no_microcredt")
    assert err.value.path == "baseline" and err.value.file == str(tmp_path)
    assert "did you mean 'shangluo_no_microcredit'?" in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["timeseries.parquet"]  # wrote nothing
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no results here"):
        rep.report(empty, None)


def test_report_reads_a_sweep_store(monkeypatch, tmp_path):
    """With a runs/ folder, report() reads through experiments.store.load_results."""
    (tmp_path / "runs").mkdir()
    calls = []
    df = _hand_frame()
    df["config_hash"] = "abc"

    def load_results(directory):
        calls.append(Path(directory))
        return df

    monkeypatch.setitem(sys.modules, "experiments.store", types.SimpleNamespace(load_results=load_results))
    assert rep.report(tmp_path, None) == 0
    assert calls == [tmp_path]
    assert "exits_diff_mean" not in pd.read_csv(tmp_path / "report.csv").columns
    # a sweep's manifest names its baseline: used when none is given
    (tmp_path / "manifest.json").write_text('{"sweep": "x", "baseline": "base"}')
    assert rep.report(tmp_path, None) == 0
    table = pd.read_csv(tmp_path / "report.csv", index_col="scenario")
    assert table.loc["plan", "exits_diff_mean"] == pytest.approx(50)


def test_figures_return_a_figure_without_path(mixes):
    from matplotlib.figure import Figure
    assert isinstance(rep.plot_exits_returns(mixes), Figure)
    assert isinstance(rep.plot_causes(mixes), Figure)
    assert isinstance(rep.plot_cost_effectiveness(rep.summarize(mixes)), Figure)
    assert isinstance(rep.plot_differences(mixes, "shangluo"), Figure)


def test_figure_titles_name_the_region_seeds_and_households(mixes, tmp_path):
    (tmp_path / "manifest.json").write_text('{"scenarios": [{"name": "a", "config": {"profile": "shangluo", '
                                            '"households": 20000}}, {"name": "b", "config": {"profile": '
                                            '"shangluo", "households": 20000}}]}')
    about = rep.what_was_run(tmp_path, mixes)
    assert about == f"region shangluo, {mixes['seed'].nunique()} seeds, 20,000 households"
    fig = rep.plot_exits_returns(mixes, about=about)
    assert about in fig.get_suptitle()
    fig = rep.plot_differences(mixes, "shangluo", about=about)
    assert "Difference from shangluo, paired by seed" in fig.get_suptitle()
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["shangluo_no_microcredit"]  # one entry per scenario
    assert [ax.get_ylabel() for ax in fig.axes][:2] == ["difference from shangluo (1000 people)"] * 2


def test_chinese_names_without_a_chinese_font_give_one_warning_line(mixes, capsys, monkeypatch):
    from experiments import fonts

    monkeypatch.setattr(fonts, "_state", {"font": None, "set": True, "warned": False})
    chinese = mixes.assign(scenario=mixes["scenario"].map({"shangluo": "商洛", "shangluo_no_microcredit": "商洛_无贷"}))
    import warnings as w
    with w.catch_warnings(record=True) as caught:
        w.simplefilter("always")
        rep.plot_exits_returns(chinese).savefig(io.BytesIO(), format="png")
        rep.plot_causes(chinese).savefig(io.BytesIO(), format="png")
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no installed font has Chinese characters" in err[0]
    assert not [c for c in caught if "missing from font" in str(c.message)]


# ---------------------------------------------------------------------------------------
# the notebook


def test_notebook_executes(tmp_path):
    """The notebook runs the usual way, `jupyter nbconvert --execute` (nbconvert comes with the
    dev install), with labelled tables and the four figures inline."""
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("nbconvert")
    pytest.importorskip("ipykernel")
    proc = subprocess.run([sys.executable, "-m", "nbconvert", "--to", "notebook", "--execute",
                           "--ExecutePreprocessor.timeout=300", "--output-dir", str(tmp_path), str(NOTEBOOK)],
                          cwd=NOTEBOOK.parent, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    nb = nbformat.read(tmp_path / NOTEBOOK.name, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 4  # levels, causes, cost effectiveness and the paired differences
    tables = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
    assert "registered poor (1000 people)" in tables and "return rate (%), mean" in tables


# ---------------------------------------------------------------------------------------
# Mesa compatibility


@_one_numba_thread()
def test_mesa_batch_run():
    import mesa

    from sim.metrics import COLUMNS
    from sim.model import PovertyModel

    params = {"profile": "shangluo", "households": 300, "end_year": 2017}
    results = mesa.batch_run(PovertyModel, parameters=params, rng=[1, 2], max_steps=10,
                             number_processes=1, data_collection_period=1, display_progress=False)
    df = pd.DataFrame(results)
    # one row per seed and step; the model stops itself after its horizon (2 years)
    assert len(df) == 4
    assert sorted(zip(df["rng"], df["Step"])) == [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert {"RunId", "iteration", "Step", "rng", *params}.issubset(df.columns)
    assert set(COLUMNS).issubset(df.columns)
    assert (df["year"] == 2015 + df["Step"]).all()
    # the same numbers as a direct run with the same seed
    for seed in (1, 2):
        direct = PovertyModel(rng=seed, **params).run()
        got = df[df["rng"] == seed].sort_values("Step").reset_index(drop=True)
        for c in ("registered_poor_people", "exits_people", "returns_people", "fiscal_cost_total"):
            np.testing.assert_allclose(got[c].to_numpy(float), direct[c].to_numpy(float))


def test_panel_titles_are_words_with_units_not_column_names():
    from experiments.figures import column_title

    assert column_title("registered_poor_people").startswith("people in registered households")
    assert column_title("cumulative_exit_route_people_dibao").startswith("summed over the years: people in")
    assert "_" not in column_title("exits_people") and all(len(line) <= 46 for line in
                                                           column_title("exit_route_people_dibao").splitlines())
