"""Sweeps: validation, grid and sample expansion, the result store, executors, resuming."""

from __future__ import annotations

import gc
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from experiments import cli, runner, store
from experiments.executors import SerialExecutor, execute_run, make_executor, run_sweep
from experiments.runner import replication_seeds
from experiments.sweep import load_sweep
from killed_sweeps import kill_when, sweep_env
from scenario_copies import END_YEAR, short_copy

REPO = Path(__file__).resolve().parent.parent
HOUSEHOLDS = 300


def write_sweep(tmp_path: Path, body: str = "", *, name: str = "mini", replications: int = 2,
                households: int = HOUSEHOLDS, scenarios=("baseline", "shangluo"),
                extra_entries: str = "", top: str = "") -> Path:
    """A sweep file over short copies of `scenarios`; `top` holds extra top-level keys,
    `extra_entries` extra [[scenarios]] tables, `body` tables such as [grid]."""
    for stem in scenarios:
        short_copy(tmp_path, stem)
    entries = "".join(f'\n[[scenarios]]\nname = "{s}"\nfile = "scenarios/{s}.toml"\n' for s in scenarios)
    text = (f'name = "{name}"\nseed = 7\nreplications = {replications}\n'
            f"households = {households}\nbaseline = \"{scenarios[0]}\"\n{top}{entries}{extra_entries}\n{body}")
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def run_cli(argv, capsys) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------------------------
# validation: exit 2, one line naming the file and the dotted path, nothing written


ENTRY = '[[scenarios]]\nname = "x"\nfile = "scenarios/shangluo.toml"\n'
SAMPLE = '[sample]\nmethod = "{method}"\nn = 4\n[sample.ranges]\n"medical.assistance_share" = [{low}, {high}]\n'


@pytest.mark.parametrize("entries, body, expect", [
    ("", "replication = 3\n",
     r"replication: unknown key 'replication' \(did you mean 'replications'\?\)"),
    ("", "REPLICATIONS_0", r"replications: 0 is below the minimum 1"),
    (ENTRY.replace("shangluo.toml", "shangluo_nope.toml"), "", r"scenarios\[2\]\.file: no scenario file"),
    (ENTRY + '[scenarios.overrides]\n"medical.asistance_share" = 0.9\n', "",
     r"scenarios\[2\]\.overrides\.medical\.asistance_share: unknown key .*did you mean 'medical\.assistance_share'"),
    (ENTRY + '[scenarios.overrides]\n"medical.assistance_share" = 1.5\n', "",
     r"scenarios\[2\]\.overrides\.medical\.assistance_share: 1\.5 is above the maximum"),
    (ENTRY.replace('"x"', '"shangluo"'), "",
     r"scenarios\[2\]\.name: 'shangluo' is already the name of scenarios\[1\]"),
    ("", '[grid]\n"medical.assistance_shar" = [0.5, 0.9]\n', r"grid\.medical\.assistance_shar: unknown key"),
    ("", '[grid]\n"medical.assistance_share" = []\n', r"grid\.medical\.assistance_share: expected a non-empty list"),
    ("", SAMPLE.format(method="lhs", low=0.9, high=0.5),
     r"sample\.ranges\.medical\.assistance_share: low 0\.9 is not below high 0\.5"),
    ("", SAMPLE.format(method="lhs", low=0.5, high=1.5),
     r"sample\.ranges\.medical\.assistance_share\.\d+: 1\.5 is above the maximum|"
     r"sample\.ranges\.medical\.assistance_share: .*above the maximum"),
    ("", SAMPLE.format(method="lhc", low=0.5, high=0.9),
     r"sample\.method: expected one of \['lhs', 'sobol'\], found 'lhc' \(did you mean 'lhs'\?\)"),
])
def test_bad_sweep_is_exit_2_naming_file_and_path(tmp_path, capsys, entries, body, expect):
    top = body if body.startswith("replication ") else ""
    body = "" if top or body == "REPLICATIONS_0" else body
    path = write_sweep(tmp_path, body, extra_entries=entries, top=top)
    if expect.startswith("replications: 0"):
        path.write_text(path.read_text().replace("replications = 2", "replications = 0"))
    out = tmp_path / "out"
    code, stdout, err = run_cli(["sweep", path, "--executor", "serial", "--out", out], capsys)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("povsim: error: ") and "Traceback" not in err
    assert str(path) in lines[0]
    assert re.search(expect, lines[0]), lines[0]
    assert not out.exists()
    # `check` says the same
    code, _, err2 = run_cli(["check", path], capsys)
    assert code == 2 and err2 == err


def test_bad_baseline_and_arguments(tmp_path, capsys):
    path = write_sweep(tmp_path)
    path.write_text(path.read_text().replace('baseline = "baseline"', 'baseline = "basline"'))
    code, _, err = run_cli(["sweep", path, "--out", tmp_path / "o"], capsys)
    assert code == 2 and "baseline: no scenario named 'basline'" in err and "did you mean 'baseline'" in err
    good = write_sweep(tmp_path, name="good")
    for args, text in ((["--executor", "threads"], "invalid choice"),
                       (["--workers", "0"], "--workers: expected a positive whole number"),
                       (["--seeds", "x"], "--seeds: expected a whole number"),
                       (["--executor", "process", "--scheduler", "tcp://x:1"], "--scheduler: only used with")):
        code, _, err = run_cli(["sweep", good, "--out", tmp_path / "o", *args], capsys)
        assert code == 2 and text in err, (args, err)
    assert not (tmp_path / "o").exists()


def test_check_accepts_sweep_files(capsys):
    code, out, err = run_cli(["check", REPO / "experiments" / "sweeps" / "shangluo_mixes.toml"], capsys)
    assert code == 0, err
    assert "sweep shangluo_mixes, 4 scenarios x 10 seeds = 40 runs" in out
    sweep = load_sweep(REPO / "experiments" / "sweeps" / "shangluo_mixes.toml")
    assert {"baseline", "shangluo", "shangluo_no_microcredit", "shangluo_medical_90"} <= set(sweep.names())
    assert sweep.baseline == "baseline" and sweep.replications >= 10
    assert all(sc.households == 5000 for _, sc in sweep.scenarios)


def test_report_command_calls_experiments_report(tmp_path, capsys, monkeypatch):
    import experiments.report

    calls = []
    monkeypatch.setattr(experiments.report, "report", lambda d, b: calls.append((d, b)) or 0)
    code, _, err = run_cli(["report", tmp_path, "--baseline", "baseline"], capsys)
    assert code == 0, err
    assert calls == [(tmp_path, "baseline")]


# ---------------------------------------------------------------------------------------
# expansion


def test_grid_expands_every_scenario_with_unique_names(tmp_path):
    path = write_sweep(tmp_path, '[grid]\n"medical.assistance_share" = [0.5, 0.9]\n'
                                 '"exit.verification_rate" = [0.0, 0.1]\n')
    sweep = load_sweep(path)
    names = sweep.names()
    assert len(names) == 2 * 2 * 2 == len(set(names))
    assert "shangluo[medical.assistance_share=0.9,exit.verification_rate=0.1]" in names
    by_name = dict(sweep.scenarios)
    sc = by_name["baseline[medical.assistance_share=0.5,exit.verification_rate=0]"]
    assert sc.name == "baseline[medical.assistance_share=0.5,exit.verification_rate=0]"
    assert sc.params.at("medical.assistance_share", 2016) == 0.5
    assert sc.params.at("exit.verification_rate", 2017) == 0.0
    # the scenario's own overrides stay in force under the grid's
    assert by_name["shangluo[medical.assistance_share=0.5,exit.verification_rate=0]"].params.at(
        "dibao.two_lines_in_one", 2016) is True
    assert len({sc.config_hash() for _, sc in sweep.scenarios}) == 8
    assert len(sweep.runs()) == 8 * 2


def test_sampled_points_far_from_the_default_are_not_warned_about_but_a_grid_value_is(tmp_path):
    """A range asked for values a hundredth of the default: each sampled point is what it
    asked for, not a probable mistake; the same value written in a grid still warns."""
    import warnings

    from sim.schema import SuspiciousValue
    sample = write_sweep(tmp_path, '[sample]\nmethod = "lhs"\nn = 4\nseed = 3\n[sample.ranges]\n'
                                   '"microcredit.project_return_mean" = [0.0001, 0.002]\n', scenarios=("shangluo",))
    with warnings.catch_warnings():
        warnings.simplefilter("error", SuspiciousValue)
        assert len(load_sweep(sample).scenarios) == 4
    grid = write_sweep(tmp_path, '[grid]\n"microcredit.project_return_mean" = [0.001]\n', name="g",
                       scenarios=("shangluo",))
    with pytest.warns(SuspiciousValue, match="1/150 of the default"):
        load_sweep(grid)


@pytest.mark.parametrize("method", ["lhs", "sobol"])
def test_sample_expands_to_points_within_ranges(tmp_path, method):
    path = write_sweep(tmp_path, f'[sample]\nmethod = "{method}"\nn = 4\nseed = 3\n[sample.ranges]\n'
                                 '"medical.assistance_share" = [0.5, 0.9]\n'
                                 '"exit.verification_rate" = [0.0, 0.2]\n', scenarios=("shangluo",))
    sweep = load_sweep(path)
    assert sweep.names() == [f"shangluo[{method}={j}]" for j in range(4)]
    values = [sc.params.at("medical.assistance_share", 2016) for _, sc in sweep.scenarios]
    assert all(0.5 <= v <= 0.9 for v in values) and len(set(values)) == 4
    # stratified: one point in each quarter of the range
    assert sorted(int((v - 0.5) / 0.1) for v in values) == [0, 1, 2, 3]
    assert sweep.design["sample"]["points"][0]["medical.assistance_share"] == values[0]
    assert load_sweep(path).design == sweep.design  # the sample is seeded


def test_common_seeds_for_every_scenario(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, replications=3))
    seeds = replication_seeds(7, 3)
    assert sweep.seeds() == seeds
    runs = sweep.runs()
    for name in sweep.names():
        assert [s for n, _, s in runs if n == name] == seeds
    grown = load_sweep(tmp_path / "mini.toml", replications=5, households=400)
    assert grown.seeds()[:3] == seeds and all(sc.households == 400 for _, sc in grown.scenarios)


# ---------------------------------------------------------------------------------------
# running: the same results on every executor


def test_serial_process_and_dask_store_identical_results(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path))
    frames = {}
    for kind in ("serial", "process", "dask"):
        out = tmp_path / f"out_{kind}"
        executor = make_executor(kind, workers=2)
        try:
            done, failed, skipped = run_sweep(sweep, out, executor, progress=False)
        finally:
            executor.shutdown(wait=True)
        assert (done, failed, skipped) == (4, 0, 0), kind
        frames[kind] = store.load_results(out)
    df = frames["serial"]
    assert list(df.columns[:3]) == ["scenario", "seed", "year"] and "config_hash" in df.columns
    assert len(df) == 2 * 2 * (END_YEAR - 2016 + 1)
    assert set(df["scenario"]) == {"baseline", "shangluo"}
    assert sorted(set(df["seed"])) == sorted(replication_seeds(7, 2))
    assert df.groupby(["scenario", "seed", "year"]).size().max() == 1
    for kind in ("process", "dask"):
        pd.testing.assert_frame_equal(frames[kind], df, check_exact=True)
    # one file per run, Hive-partitioned, named by the config hash; equal to a direct run
    by_name = dict(sweep.scenarios)
    seed = sweep.seeds()[0]
    h = by_name["shangluo"].config_hash()
    path = tmp_path / "out_serial" / "runs" / "scenario=shangluo" / f"seed={seed}" / f"{h}.parquet"
    assert path.is_file()
    assert store.completed(tmp_path / "out_serial") == {
        (n, s, sc.config_hash()) for n, sc, s in sweep.runs()}
    direct = runner.run_one(by_name["shangluo"], seed)
    mine = df[(df["scenario"] == "shangluo") & (df["seed"] == seed)].reset_index(drop=True)
    pd.testing.assert_frame_equal(mine[direct.columns].astype(direct.dtypes.to_dict()), direct,
                                  check_exact=True)


def test_a_run_leaves_the_collector_as_it_was_and_its_model_collected(tmp_path):
    """Runs pause automatic collection (full passes over a Dask worker's heap cost a tenth
    of a run) and collect their own garbage after: no model outlives its run."""
    from sim.model import PovertyModel

    _, scenario, seed = next(iter(load_sweep(write_sweep(tmp_path)).runs()))
    gc.collect()  # models earlier tests left to the collector
    try:
        for enabled in (True, False):
            (gc.enable if enabled else gc.disable)()
            status = execute_run(scenario, seed, str(tmp_path / "out"), scenario.config_hash())
            assert status["status"] == "done" and gc.isenabled() is enabled
            if enabled:  # by type: isinstance would look through a dead weak proxy (a browser test's) and fail
                assert not [o for o in gc.get_objects() if issubclass(type(o), PovertyModel)]
    finally:
        gc.enable()


def _worker_settings():
    import dask

    return os.environ.get("MALLOC_TRIM_THRESHOLD_"), dask.config.get("distributed.worker.profile.enabled")


@pytest.fixture(scope="module")
def local_dask():
    """A local Dask cluster of one worker, shared by the tests of this module that need one."""
    executor = make_executor("dask", workers=1)
    yield executor
    executor.shutdown(wait=True)


def test_local_dask_workers_run_like_plain_processes(local_dask):
    """The local cluster's workers keep glibc's adaptive allocation (Dask's trim setting made
    every run fault its temporaries afresh) and do not sample their stacks."""
    (settings,) = local_dask.client.run(_worker_settings).values()
    assert settings == (None, False)


def _share_and_seed(shared, seed):
    return len(shared["rows"]), seed


def _refuse(seed):
    raise ValueError(f"refused {seed}")


def test_dask_submits_a_sweep_at_once_and_follows_every_task(local_dask):
    """`submit_all` (one `client.map`, shared arguments sent once) gives one future per
    call, in order, carrying its result or its task's own exception."""
    shared = {"rows": list(range(1000))}
    futures = local_dask.submit_all(_share_and_seed, [(shared, 1), (shared, 2), (shared, 3)])
    assert [f.result(timeout=60) for f in futures] == [(1000, 1), (1000, 2), (1000, 3)]
    (failed,) = local_dask.submit_all(_refuse, [(4,)])
    with pytest.raises(ValueError, match="refused 4"):
        failed.result(timeout=60)
    assert local_dask.submit_all(_refuse, []) == []


def test_names_with_brackets_and_equals_round_trip(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, '[grid]\n"medical.assistance_share" = [0.9]\n',
                                   scenarios=("shangluo",), replications=1))
    run_sweep(sweep, tmp_path / "out", SerialExecutor(), progress=False)
    df = store.load_results(tmp_path / "out")
    assert set(df["scenario"]) == {"shangluo[medical.assistance_share=0.9]"}
    assert {c[0] for c in store.completed(tmp_path / "out")} == {"shangluo[medical.assistance_share=0.9]"}


# ---------------------------------------------------------------------------------------
# failures and resuming


def test_failed_run_is_recorded_the_rest_finish_and_rerun_skips(tmp_path, capsys, monkeypatch):
    path = write_sweep(tmp_path)
    out = tmp_path / "out"
    real = runner.run_one

    def flaky(scenario, seed):
        if scenario.name == "shangluo" and seed == replication_seeds(7, 2)[1]:
            raise ZeroDivisionError("a measure divided by zero")
        return real(scenario, seed)

    monkeypatch.setattr(runner, "run_one", flaky)
    code, stdout, err = run_cli(["sweep", path, "--executor", "serial", "--out", out], capsys)
    assert code == 1, err
    assert "3 done, 1 failed, 0 already stored" in stdout
    assert "ZeroDivisionError: a measure divided by zero" in err
    bad_seed = replication_seeds(7, 2)[1]
    record = json.loads((out / "failures" / f"shangluo__{bad_seed}.json").read_text())
    assert record["error"] == "ZeroDivisionError: a measure divided by zero"
    assert "Traceback" in record["traceback"] and "flaky" in record["traceback"]
    assert len(store.completed(out)) == 3
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "finished" and manifest["runs"]["failed"] == 1
    assert manifest["seeds"] == replication_seeds(7, 2)
    assert {s["name"] for s in manifest["scenarios"]} == {"baseline", "shangluo"}
    assert all(len(s["config_hash"]) == 16 and s["config"]["end_year"] == END_YEAR
               for s in manifest["scenarios"])
    for key in ("versions", "git", "host", "started_utc", "finished_utc", "cli_overrides", "command"):
        assert key in manifest

    # rerun without the fault: the stored runs are skipped, the failed one is done
    monkeypatch.setattr(runner, "run_one", real)
    code, stdout, err = run_cli(["sweep", path, "--executor", "serial", "--out", out,
                                 "--households", HOUSEHOLDS], capsys)
    assert code == 0, err
    assert "1 done, 0 failed, 3 already stored" in stdout
    assert not any((out / "failures").glob("*.json"))
    assert json.loads((out / "manifest.json").read_text())["cli_overrides"] == {"households": HOUSEHOLDS}
    assert len(store.load_results(out)) == 4 * (END_YEAR - 2016 + 1)

    # another household count is another configuration: everything runs again, old files go
    code, stdout, _ = run_cli(["sweep", path, "--executor", "serial", "--out", out,
                               "--households", 350], capsys)
    assert code == 0 and "4 done, 0 failed, 0 already stored" in stdout
    assert len(list((out / "runs").rglob("*.parquet"))) == 4
    # --fresh starts over, removing only what the store wrote: a user's files stay
    (out / "runs" / "notes.txt").write_text("mine")
    (out / "failures").mkdir(exist_ok=True)
    (out / "failures" / "keep.txt").write_text("mine too")
    (out / "runs" / "scenario=shangluo" / "readme.md").write_text("and this")
    code, stdout, _ = run_cli(["sweep", path, "--executor", "serial", "--out", out, "--fresh",
                               "--households", 350], capsys)
    assert code == 0 and "4 done, 0 failed, 0 already stored" in stdout
    assert (out / "runs" / "notes.txt").read_text() == "mine"
    assert (out / "failures" / "keep.txt").read_text() == "mine too"
    assert (out / "runs" / "scenario=shangluo" / "readme.md").read_text() == "and this"


def test_killed_sweep_resumes_to_the_uninterrupted_result(tmp_path):
    seeds = 12
    path = write_sweep(tmp_path, replications=seeds, households=3000)
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "experiments.cli", "sweep", str(path), "--executor", "serial",
           "--out", str(out)]
    proc = subprocess.Popen(cmd, cwd=REPO, env=sweep_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = kill_when(proc, lambda: bool(list((out / "runs").glob("*/*/*.parquet"))), timeout=60,
                    what="no run file appeared")
    assert proc.returncode == -signal.SIGKILL, err  # killed, not ended before a run file appeared
    stored = store.completed(out)
    total = 2 * seeds
    assert 1 <= len(stored) < total, "the sweep finished before it could be killed"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "running" and manifest["finished_utc"] is None

    rerun = subprocess.run(cmd, cwd=REPO, env=sweep_env(), capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{total - len(stored)} done, 0 failed, {len(stored)} already stored" in rerun.stdout
    assert json.loads((out / "manifest.json").read_text())["status"] == "finished"

    files = [p for p in (out / "runs").rglob("*.parquet") if not p.name.startswith(".")]
    assert len(files) == total  # every run exactly once
    resumed = store.load_results(out)
    assert resumed.groupby(["scenario", "seed", "year"]).size().max() == 1

    whole = tmp_path / "whole"  # the same sweep, uninterrupted
    once = subprocess.run(cmd[:-1] + [str(whole)], cwd=REPO, env=sweep_env(), capture_output=True,
                          text=True, timeout=120)
    assert once.returncode == 0, once.stderr
    assert f"{total} done, 0 failed, 0 already stored" in once.stdout
    pd.testing.assert_frame_equal(resumed, store.load_results(whole), check_exact=True)


def test_run_sweep_called_directly_removes_what_a_killed_sweep_left(tmp_path):
    """From a notebook, as from the command line: leftover temporary files go first."""
    sweep = load_sweep(write_sweep(tmp_path, replications=1, scenarios=("baseline",)))
    out = tmp_path / "out"
    stray = out / "runs" / "scenario=baseline" / "seed=1" / ".abc.parquet.x1y2z3.tmp"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"half a file")
    done, failed, skipped = run_sweep(sweep, out, SerialExecutor(), progress=False)
    assert (done, failed, skipped) == (1, 0, 0)
    assert not stray.exists()
    assert len(store.completed(out)) == 1


def test_an_interrupted_sweep_says_so_in_its_manifest(tmp_path, capsys, monkeypatch):
    """Ctrl-C: exit 130, the manifest's status "interrupted" (not "running"), and a rerun
    resumes from the runs stored before it."""
    from experiments import executors

    path = write_sweep(tmp_path)
    out = tmp_path / "out"
    real = executors.execute_run
    calls = []

    def interrupt_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(executors, "execute_run", interrupt_second)
    code, _, err = run_cli(["sweep", path, "--executor", "serial", "--out", out], capsys)
    assert code == 130 and "interrupted" in err
    assert json.loads((out / "manifest.json").read_text())["status"] == "interrupted"
    monkeypatch.setattr(executors, "execute_run", real)
    code, stdout, _ = run_cli(["sweep", path, "--executor", "serial", "--out", out], capsys)
    assert code == 0 and "1 already stored" in stdout
    assert json.loads((out / "manifest.json").read_text())["status"] == "finished"
