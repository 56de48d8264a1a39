"""`povsim compare A B`: paired per-seed differences on hand-built runs whose differences
are known."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats

from experiments import cli
from experiments.compare import paired_differences

YEARS = (2016, 2017)


def runs(name: str, seeds, shift: dict[int, float] | None = None, years=YEARS) -> pd.DataFrame:
    """Runs of a scenario: per seed s and year y, exits 1000 s + y - 2016 (plus `shift[s]` in
    B), returns a tenth of exits, fiscal cost 1e6 a year, the register 5000 less the exits."""
    rows = []
    for s in seeds:
        for y in years:
            exits = 1000.0 * s + (y - 2016) + (shift or {}).get(s, 0.0)
            rows.append({"scenario": name, "seed": s, "year": y, "exits_people": exits,
                         "returns_people": exits / 10, "new_poor_people": 50.0,
                         "registered_poor_people": 5000.0 - exits, "fiscal_cost_total": 1e6})
    return pd.DataFrame(rows)


def write_run(tmp_path: Path, name: str, df: pd.DataFrame, households: int = 300) -> Path:
    out = tmp_path / name
    out.mkdir()
    df.to_parquet(out / "timeseries.parquet")
    (out / "manifest.json").write_text(json.dumps({"scenario": name, "config": {"profile": "shangluo",
                                                                                 "households": households}}))
    return out


def test_the_paired_difference_is_the_mean_of_the_per_seed_differences():
    a = runs("plan", [1, 2, 3])
    b = runs("mix", [1, 2, 3, 4], shift={1: 10.0, 2: 20.0, 3: 30.0, 4: 99.0})  # seed 4: A never ran it
    yearly, horizon = paired_differences(a, b, ("plan", "mix"))
    assert yearly.attrs["seeds"] == [1, 2, 3]
    row = yearly[(yearly["measure"] == "exits_people") & (yearly["year"] == 2017)].iloc[0]
    half = stats.t.ppf(0.95, 2) * 10.0 / math.sqrt(3)  # differences 10, 20, 30: sd 10
    assert row["mean"] == pytest.approx(20.0) and row["seeds"] == 3
    assert (row["lo"], row["hi"]) == (pytest.approx(20.0 - half), pytest.approx(20.0 + half))
    reg = yearly[(yearly["measure"] == "registered_poor_people")]
    assert reg["mean"].tolist() == pytest.approx([-20.0, -20.0])
    cost = yearly[yearly["measure"] == "fiscal_cost_total"].iloc[0]
    assert (cost["mean"], cost["lo"], cost["hi"]) == (0.0, 0.0, 0.0)  # the same every seed
    exits = horizon.set_index("measure").loc["exits"]
    assert exits["mean"] == pytest.approx(40.0)  # 20 more exits in each of two years
    assert exits["a_mean"] == pytest.approx(2 * 2000.0 + 1)


def test_one_shared_seed_gives_the_difference_without_an_interval():
    yearly, _ = paired_differences(runs("a", [1]), runs("b", [1], shift={1: 5.0}))
    row = yearly[yearly["measure"] == "exits_people"].iloc[0]
    assert row["mean"] == 5.0 and math.isnan(row["lo"]) and row["seeds"] == 1


def test_compare_writes_tables_and_a_figure_and_names_both_sides(tmp_path, capsys):
    a = write_run(tmp_path, "plan", runs("plan", [1, 2, 3]))
    b = write_run(tmp_path, "mix", runs("mix", [1, 2, 3], shift={1: 10.0, 2: 20.0, 3: 30.0}))
    out = tmp_path / "cmp"
    assert cli.main(["compare", str(a), str(b), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "A: plan" in printed and "B: mix" in printed and "+0.0 [+0.0, +0.0]" in printed
    table = pd.read_csv(out / "compare.csv")
    exits = table[(table["measure"] == "exits_people") & (table["year"] == "2016")].iloc[0]
    assert exits["mean"] == pytest.approx(20.0)
    md = (out / "compare.md").read_text()
    assert "plan (region shangluo, 300 households)" in md and "3 shared seeds" in md
    assert (out / "figures" / "differences.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_two_scenarios_of_a_sweep_store(tmp_path, capsys):
    from experiments import store

    out = tmp_path / "sweep"
    for name, df in (("plan", runs("plan", [1, 2])), ("mix", runs("mix", [1, 2], shift={1: 1.0, 2: 3.0}))):
        for seed, part in df.groupby("seed"):
            store.write_run(out, name, int(seed), "h" + name, part.drop(columns=["scenario"]))
    assert cli.main(["compare", "plan", "mix", "--in", str(out), "--out", str(tmp_path / "c")]) == 0
    table = pd.read_csv(tmp_path / "c" / "compare.csv")
    assert table[(table["measure"] == "exits") & (table["year"] == "horizon")]["mean"].iloc[0] == pytest.approx(4.0)
    assert cli.main(["compare", "plan", "mixx", "--in", str(out)]) == 2
    line = capsys.readouterr().err.strip()
    assert "no scenario named 'mixx' (did you mean 'mix'?)" in line and "\n" not in line


@pytest.mark.parametrize("b_seeds, b_years, needle", [
    ([7, 8], YEARS, "shares no seed with"),
    ([1, 2], (2016, 2017, 2018), "differ from"),
])
def test_runs_that_cannot_be_paired_are_refused_with_one_line(tmp_path, capsys, b_seeds, b_years, needle):
    a = write_run(tmp_path, "plan", runs("plan", [1, 2]))
    b = write_run(tmp_path, "mix", runs("mix", b_seeds, years=b_years))
    out = tmp_path / "cmp"
    assert cli.main(["compare", str(a), str(b), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0] and str(b) in err[0]
    assert not out.exists()


def test_a_directory_without_results_is_refused(tmp_path, capsys):
    a = write_run(tmp_path, "plan", runs("plan", [1]))
    assert cli.main(["compare", str(a), str(tmp_path / "nothing")]) == 2
    assert "no such directory" in capsys.readouterr().err
