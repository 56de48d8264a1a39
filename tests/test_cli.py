"""The `povsim` command line, the runner and its output directory (the public contract)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from experiments import cli, provenance, runner
from experiments.runner import CONTRACT_COLUMNS, replication_seeds

REPO = Path(__file__).resolve().parent.parent
BASELINE = REPO / "experiments" / "scenarios" / "baseline.toml"
N_YEARS = 3  # keep the runs short: the whole file should stay well under 30 s
HOUSEHOLDS = 300


def short_scenario(tmp_path: Path, name: str = "clitest") -> Path:
    """A copy of the baseline scenario cut to N_YEARS years (or a minimal one if missing)."""
    if BASELINE.exists():
        text = BASELINE.read_text(encoding="utf-8")
        start = re.search(r"^start_year\s*=\s*(\d+)", text, re.M)
        start_year = int(start.group(1)) if start else 2016
        text = re.sub(r"^end_year\s*=.*$", f"end_year = {start_year + N_YEARS - 1}", text, flags=re.M)
        text = re.sub(r"^name\s*=.*$", f'name = "{name}"', text, flags=re.M)
        if not re.search(r"^name\s*=", text, re.M):
            text = f'name = "{name}"\n' + text
        # a profile given as a relative path must still resolve from tmp_path
        text = re.sub(r'^profile\s*=\s*"([^"]*(?:/|\.toml)[^"]*)"',
                      lambda m: f'profile = "{(BASELINE.parent / m.group(1)).resolve().as_posix()}"',
                      text, flags=re.M)
    else:
        text = (f'name = "{name}"\nprofile = "shangluo"\nstart_year = 2016\n'
                f"end_year = {2016 + N_YEARS - 1}\nseed = 11\nseeds = 2\n")
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    assert lines[0].startswith("povsim: error: "), lines[0]
    assert "Traceback" not in err
    return lines[0]


# ---------------------------------------------------------------------------------------
# seeds


def test_replication_seeds_are_reproducible_and_shared():
    a = replication_seeds(2016, 5)
    assert a == replication_seeds(2016, 5)
    assert len(set(a)) == 5
    assert all(isinstance(s, int) and 0 <= s < 2**32 for s in a)
    assert replication_seeds(2016, 3) == a[:3]  # more replications keep the earlier ones
    assert replication_seeds(2017, 5) != a
    expected = [int(c.generate_state(1, dtype=np.uint32)[0])
                for c in np.random.SeedSequence(2016).spawn(5)]
    assert a == expected


# ---------------------------------------------------------------------------------------
# bad input: exit 2, one line naming file and path, nothing written


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    missing = tmp_path / "nope.toml"
    malformed = tmp_path / "malformed.toml"
    malformed.write_text('name = "x"\nprofile = \nend_year = 2018\n', encoding="utf-8")
    typo = tmp_path / "typo.toml"
    typo.write_text('name = "x"\nprofile = "shangluo"\nend_yaer = 2018\n', encoding="utf-8")
    override = tmp_path / "override.toml"
    override.write_text('name = "x"\nprofile = "shangluo"\nend_year = 2018\n'
                        '[overrides]\n"health.admission_rate_pooor" = 0.2\n', encoding="utf-8")
    return {
        "missing": (missing, "file not found"),
        "malformed": (malformed, "TOML"),
        "typo": (typo, "end_yaer"),
        "override": (override, "overrides.health.admission_rate_pooor"),
    }


@pytest.mark.parametrize("case", ["missing", "malformed", "typo", "override"])
def test_bad_scenario_exits_2_with_one_line_and_writes_nothing(case, tmp_path, monkeypatch, capsys):
    path, needle = _bad_files(tmp_path)[case]
    monkeypatch.chdir(tmp_path)  # default output dir would be tmp_path/results/x
    out = tmp_path / "out"
    assert cli.main(["run", str(path), "--households", str(HOUSEHOLDS), "--out", str(out)]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert str(path) in line and needle in line
    if case == "typo":
        assert "end_year" in line  # the nearest valid name
    assert not out.exists()
    assert cli.main(["run", str(path)]) == 2  # default output dir
    one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "results").exists()
    assert cli.main(["check", str(path)]) == 2
    assert str(path) in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("args, needle", [
    (["--seeds", "0"], "--seeds"),
    (["--seeds", "two"], "--seeds"),
    (["--households", "-5"], "--households"),
    (["--seed", "-1"], "--seed"),
    (["--seed", "1", "--bogus"], "--bogus"),
])
def test_bad_arguments_exit_2_and_write_nothing(args, needle, tmp_path, capsys):
    scenario = short_scenario(tmp_path)
    out = tmp_path / "out"
    assert cli.main(["run", str(scenario), "--out", str(out), *args]) == 2
    assert needle in one_error_line(capsys.readouterr().err)
    assert not out.exists()


def test_unwritable_output_location_is_bad_input(tmp_path, capsys):
    scenario = short_scenario(tmp_path)
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a directory")
    assert cli.main(["run", str(scenario), "--out", str(blocker / "out")]) == 2
    assert str(blocker / "out") in one_error_line(capsys.readouterr().err)


def test_check_good_scenario_and_profile(tmp_path, capsys):
    scenario = short_scenario(tmp_path)
    assert cli.main(["check", str(scenario)]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith(f"ok: {scenario} (scenario clitest, profile ")
    assert re.search(r"years \d{4}-\d{4}\)$", out)
    profile = REPO / "sim" / "profiles" / "shangluo.toml"
    assert cli.main(["check", str(profile)]) == 0
    assert capsys.readouterr().out.startswith(f"ok: {profile} (profile shangluo")


def test_module_entry_point(tmp_path):
    """`python -m experiments.cli` (what the `povsim` console script calls)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    typo = _bad_files(tmp_path)["typo"][0]
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "experiments.cli", "run", str(typo), "--out", str(out)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "end_yaer" in one_error_line(proc.stderr)
    assert proc.stdout == ""
    assert not out.exists()
    good = short_scenario(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "experiments.cli", "check", str(good)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok: ")


# ---------------------------------------------------------------------------------------
# a real run


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """One `povsim run --seeds 2 --households 300` of the shortened baseline, shared."""
    tmp = tmp_path_factory.mktemp("run")
    scenario = short_scenario(tmp)
    out = tmp / "results" / "small"
    out.mkdir(parents=True)
    (out / "notes.txt").write_text("mine")  # an unrelated file that must survive
    stdout = io.StringIO()  # module scope: no capsys
    with contextlib.redirect_stdout(stdout):
        code = cli.main(["run", str(scenario), "--seeds", "2", "--households", str(HOUSEHOLDS),
                         "--out", str(out)])
    return {"code": code, "scenario": scenario, "out": out, "stdout": stdout.getvalue(), "tmp": tmp}


def test_run_writes_the_output_directory(small_run):
    assert small_run["code"] == 0
    out = small_run["out"]
    assert (out / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in out.parent.iterdir()) == ["small"]  # no temporary dirs left
    df = pd.read_parquet(out / "timeseries.parquet")
    missing = [c for c in CONTRACT_COLUMNS if c not in df.columns]
    assert not missing, f"contract columns missing: {missing}"
    assert [c for c in df.columns if c.startswith("fiscal_cost_") and c != "fiscal_cost_total"]
    assert df["seed"].nunique() == 2 and df["year"].nunique() == N_YEARS
    assert len(df) == 2 * N_YEARS
    assert not df.duplicated(["scenario", "seed", "year"]).any()
    assert set(df["scenario"]) == {"clitest"}

    manifest = json.loads((out / "manifest.json").read_text())
    from experiments.scenario import load_scenario
    scenario = load_scenario(small_run["scenario"], households=HOUSEHOLDS)
    assert manifest["seeds"] == replication_seeds(scenario.seed, 2)
    assert sorted(df["seed"].unique().tolist()) == sorted(manifest["seeds"])
    assert manifest["config_hash"] == scenario.config_hash()
    assert manifest["scenario"] == "clitest"
    assert manifest["config"]["households"] == HOUSEHOLDS
    assert set(manifest["versions"]) >= {"povsim", "mesa", "numpy", "pandas", "pyarrow", "python"}
    assert "git" in manifest and manifest["started_utc"] <= manifest["finished_utc"]
    assert manifest["command"][:2] == ["povsim", "run"]

    png = (out / "figures" / "poverty.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000

    stdout = small_run["stdout"]
    assert "registered poor" in stdout
    assert stdout.strip().splitlines()[-1].startswith(f"results: {out}")


def test_rerun_with_the_same_seeds_is_identical(small_run, capsys):
    out2 = small_run["tmp"] / "again"
    assert cli.main(["run", str(small_run["scenario"]), "--seeds", "2", "--households",
                     str(HOUSEHOLDS), "--out", str(out2)]) == 0
    a = pq.read_table(small_run["out"] / "timeseries.parquet")
    b = pq.read_table(out2 / "timeseries.parquet")
    assert a.equals(b)


def test_single_seed_is_used_exactly(small_run, capsys):
    seed = json.loads((small_run["out"] / "manifest.json").read_text())["seeds"][1]
    out = small_run["tmp"] / "single"
    assert cli.main(["run", str(small_run["scenario"]), "--seed", str(seed), "--households",
                     str(HOUSEHOLDS), "--out", str(out)]) == 0
    single = pd.read_parquet(out / "timeseries.parquet")
    assert single["seed"].unique().tolist() == [seed]
    assert json.loads((out / "manifest.json").read_text())["seeds"] == [seed]
    both = pd.read_parquet(small_run["out"] / "timeseries.parquet")
    same = both[both["seed"] == seed].reset_index(drop=True)
    pd.testing.assert_frame_equal(single, same)  # a replication is a run with its seed


def test_summary_table(small_run):
    df = pd.read_parquet(small_run["out"] / "timeseries.parquet")
    table = runner.summary_table(df)
    assert len(table) == N_YEARS and table.attrs["band"] == "min-max"
    for c in ("registered_poor_people", "exits_people", "returns_people", "new_poor_people",
              "mean_income_per_capita", "fiscal_cost_total"):
        assert (table[f"{c}_lo"] <= table[c] + 1e-9).all() and (table[c] <= table[f"{c}_hi"] + 1e-9).all()
    text = runner.format_summary(table)
    assert "min-max" in text and len(text.splitlines()) == N_YEARS + 3


def test_a_failing_run_exits_1_and_writes_nothing(tmp_path, monkeypatch, capsys):
    def boom(scenario, seed, on_year=None):
        raise RuntimeError("synthetic failure\nsecond line")
    monkeypatch.setattr(runner, "run_one", boom)
    out = tmp_path / "out"
    assert cli.main(["run", str(short_scenario(tmp_path)), "--seed", "1", "--out", str(out)]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert "RuntimeError: synthetic failure second line" in line
    assert not out.exists()


def test_writing_is_atomic(small_run, tmp_path, monkeypatch):
    from experiments import figures
    from experiments.scenario import load_scenario
    df = pd.read_parquet(small_run["out"] / "timeseries.parquet")
    scenario = load_scenario(small_run["scenario"], households=HOUSEHOLDS)

    def broken(df, path, about=None):
        raise OSError("disk full")
    monkeypatch.setattr(figures, "plot_poverty", broken)
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text("old")
    t = provenance.utc_now()
    with pytest.raises(OSError, match="disk full"):
        runner.write_outputs(df, scenario, [1, 2], out, t, t)
    assert (out / "manifest.json").read_text() == "old"  # nothing replaced
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # temporary dir removed


# ---------------------------------------------------------------------------------------
# the README documents every timeseries column


def test_readme_documents_every_timeseries_column():
    metrics = pytest.importorskip("sim.metrics")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\|\s*`([a-z0-9_<>]+)`", readme, re.M))
    patterns = [re.compile("^" + re.sub(r"<[a-z]+>", "[a-z0-9_]+", d) + "$") for d in documented if "<" in d]
    undocumented = [c for c in ["scenario", "seed", *metrics.COLUMNS]
                    if c not in documented and not any(p.match(c) for p in patterns)]
    assert not undocumented, f"README's timeseries table lacks: {undocumented}"


def test_readme_gives_each_timeseries_column_the_unit_it_is_declared_with():
    metrics = pytest.importorskip("sim.metrics")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("### Timeseries columns"):]
    table = table[:table.index("\n## ")]
    units = {c: u.strip() for c, u in re.findall(r"^\|\s*`([a-z0-9_<>]+)`\s*\|.*\|\s*([^|]*)\|\s*$", table, re.M)}
    rows = [(re.compile("^" + re.sub(r"<[a-z]+>", "[a-z0-9_]+", row) + "$"), unit) for row, unit in units.items()]
    wrong = {}
    for name, column in metrics.COLUMNS.items():
        # the column's own row, else the most specific pattern row that stands for it
        given = units.get(name) or max(((p.pattern, u) for p, u in rows if p.match(name)), default=(None, None),
                                       key=lambda pu: len(pu[0] or ""))[1]
        if given != column.unit:
            wrong[name] = (given, column.unit)
    assert not wrong, f"README unit against the declared one: {wrong}"


def test_progress_shows_each_run_and_on_a_terminal_each_year(tmp_path, capsys, monkeypatch):
    from experiments.scenario import load_scenario

    scenario = load_scenario(short_scenario(tmp_path), households=HOUSEHOLDS)
    runner.run_scenario(scenario, [5, 6])
    lines = capsys.readouterr().err.strip().splitlines()  # not a terminal: one line per run
    assert [line.split(":")[0] for line in lines] == [f"[1/2] {scenario.name} seed 5", f"[2/2] {scenario.name} seed 6"]
    monkeypatch.setattr(runner, "_isatty", lambda stream: True)
    runner.run_scenario(scenario, [5])
    err = capsys.readouterr().err
    years = [f"{y} ({y - scenario.start_year}/{N_YEARS} years" for y in range(scenario.start_year, scenario.end_year + 1)]
    assert all(y in err for y in years) and err.count("\r") == N_YEARS + 1 and err.endswith("\n")
