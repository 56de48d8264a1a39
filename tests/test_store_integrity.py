"""A store that verifies what it trusts, inputs that cannot hang or swamp a command, sweeps
within a run limit, messages that say which side of a bound a value is on, a damaged
manifest that is never silently ignored, and Ctrl-C that keeps what finished.

- Store: a run file counts as stored only when it reads back whole (its record's size and
  SHA-256, its Parquet footer and rows, its place); a damaged or foreign file is named
  once, moved to damaged/ and its run done again; reading a damaged store is exit 2 with
  the file named. Hypothesis damages a precomputed store in random ways and checks that
  the resumed sweep ends with exactly the undamaged results.
- Inputs: /dev/zero, a FIFO, a directory, a symlink to a device or a file over 1 MB is
  refused (exit 2, one line naming it) by check, run, sweep and the analysis commands,
  also when it is a scenario's profile or a sweep's scenario file.
- Ctrl-C (SIGINT to a child process): run, sweep and calibrate stop with exit 130 and one
  line saying what was kept; a rerun loads it instead of running it again.

Tiny runs (300 households, two years) so the file takes well under a minute.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from experiments import cli, provenance, runner, store
from experiments.executors import SerialExecutor, run_sweep
from sim.inputs import MAX_INPUT_BYTES
from experiments.sweep import MAX_RUNS, load_sweep
from killed_sweeps import sweep_env
from scenario_copies import sweep_file
from sim.errors import InputError

REPO = Path(__file__).resolve().parent.parent
HOUSEHOLDS = 300
SMALL = f'name = "small"\nprofile = "shangluo"\nend_year = 2017\nhouseholds = {HOUSEHOLDS}\nseed = 3\n'


# The commands interrupted below run this many households: their runs take long enough that
# the test, starved of CPU by the command's two threads, still sees the first run stored
# before the last one ends (at 300 households six runs took 0.3 s, and a loaded test missed them).
INTERRUPTED_HOUSEHOLDS = 20000
SLOW = SMALL.replace(f"households = {HOUSEHOLDS}", f"households = {INTERRUPTED_HOUSEHOLDS}")


def tiny_sweep(folder: Path, replications: int = 2, households: int = HOUSEHOLDS, body: str = "") -> Path:
    """Two shipped scenarios cut to 2016-2017, over `replications` common seeds."""
    return sweep_file(folder, name="tiny", seed=5, replications=replications, households=households, body=body)


def main(argv, capsys) -> tuple[int, str, list[str]]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err.strip().splitlines()


def run_files(out: Path) -> list[Path]:
    return sorted(p for p in (out / "runs").glob("scenario=*/seed=*/*.parquet"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An undamaged, finished tiny sweep (serial): (sweep file, store, its results)."""
    tmp = tmp_path_factory.mktemp("reference")
    path = tiny_sweep(tmp)
    sweep = load_sweep(path)
    out = tmp / "out"
    assert run_sweep(sweep, out, SerialExecutor(), progress=False) == (4, 0, 0)
    store.write_json(out / store.MANIFEST, store.sweep_manifest(sweep, provenance.utc_now(), provenance.utc_now()))
    return path, out, store.load_results(out)


# ---------------------------------------------------------------------------------------
# the store verifies what it trusts


def test_every_run_file_has_a_record_of_what_was_written(reference):
    _, out, _ = reference
    for f in run_files(out):
        record = json.loads(store.record_path(f).read_text())
        assert record["bytes"] == f.stat().st_size and record["config_hash"] == f.stem
        assert record["seed"] == int(f.parent.name.partition("=")[2]) and record["rows"] == 2
        assert store.check_run_file(f) is None


def test_a_store_from_before_records_is_listed_in_one_file_not_one_line_a_run(tmp_path):
    """Six run files without records (as an older povsim wrote them): one line naming a
    list of all six, each moved aside with its path kept, and every run done again."""
    path = tiny_sweep(tmp_path, replications=3)
    out = tmp_path / "out"
    assert run_sweep(load_sweep(path), out, SerialExecutor(), progress=False) == (6, 0, 0)
    expected = store.load_results(out)
    files = run_files(out)
    for f in files:
        store.record_path(f).unlink()
    lines: list[str] = []
    assert run_sweep(load_sweep(path), out, SerialExecutor(), progress=False, warn=lines.append) == (6, 0, 0)
    assert len(lines) == 1 and "6 run files without a checksum record" in lines[0], lines
    listing = Path(lines[0].split("listed in ")[1].partition(";")[0])
    listed = [line.split("\t") for line in listing.read_text(encoding="utf-8").splitlines()]
    assert sorted(p for p, _ in listed) == sorted(str(f) for f in files)
    assert all(Path(dest).is_file() and store.DAMAGED in Path(dest).parts for _, dest in listed)
    pd.testing.assert_frame_equal(store.load_results(out), expected, check_exact=True)


def test_a_truncated_run_file_is_named_moved_aside_and_run_again(reference, tmp_path, capsys):
    """The issue's reproduction: `truncate -s 100` a stored run; the rerun said "already
    stored". Now it names the file once, keeps it in damaged/ and runs it again."""
    path, ref, expected = reference
    out = shutil.copytree(ref, tmp_path / "out")
    victim = run_files(out)[1]
    os.truncate(victim, 100)
    code, stdout, err = main(["report", out], capsys)  # reading: refused, the file named
    assert code == 2 and len(err) == 1 and err[0].startswith(f"povsim: error: {victim}: damaged run file, ")
    assert "Traceback" not in "".join(err) and "ArrowInvalid" not in "".join(err)
    with pytest.raises(InputError, match="100 bytes where"):
        store.load_results(out)

    code, stdout, err = main(["sweep", path, "--executor", "serial", "--out", out], capsys)
    assert code == 0 and "1 done, 0 failed, 3 already stored" in stdout
    assert len(err) == 1 and err[0].startswith(f"povsim: warning: {victim}: damaged run file, 100 bytes where ")
    assert err[0].endswith("; its run is done again")
    moved = list((out / store.DAMAGED).rglob("*.parquet"))
    assert len(moved) == 1 and moved[0].stat().st_size == 100  # kept, not deleted
    assert moved[0].parent == out / store.DAMAGED / victim.parent.relative_to(out)
    assert list((out / store.DAMAGED).rglob(f"*{store.RECORD_SUFFIX}"))  # its record beside it
    pd.testing.assert_frame_equal(store.load_results(out), expected, check_exact=True)
    code, stdout, err = main(["sweep", path, "--executor", "serial", "--out", out], capsys)
    assert code == 0 and "0 done, 0 failed, 4 already stored" in stdout and err == []  # named once


def test_a_zero_byte_parquet_in_a_partition_is_foreign_and_moved_aside(reference, tmp_path, capsys):
    path, ref, expected = reference
    out = shutil.copytree(ref, tmp_path / "out")
    stray = run_files(out)[0].parent / "notes.parquet"
    stray.touch()
    code, _, err = main(["report", out], capsys)
    assert code == 2 and len(err) == 1 and f"{stray}: damaged run file, no checksum record" in err[0]
    code, stdout, err = main(["sweep", path, "--executor", "serial", "--out", out, "--fresh"], capsys)
    assert code == 0 and "4 done" in stdout  # --fresh removes the store's files, not a stray one
    assert len(err) == 1 and err[0].startswith(f"povsim: warning: {stray}: damaged run file, no checksum record")
    assert "done again" not in err[0]  # no run of the sweep is stored there
    assert not stray.exists() and len(list((out / store.DAMAGED).rglob("notes.*.parquet"))) == 1
    pd.testing.assert_frame_equal(store.load_results(out), expected, check_exact=True)


def test_a_damaged_timeseries_of_a_run_is_named_by_report_and_compare(tmp_path, capsys):
    scenario = tmp_path / "small.toml"
    scenario.write_text(SMALL)
    out = tmp_path / "run"
    assert main(["run", scenario, "--seeds", "2", "--out", out], capsys)[0] == 0
    os.truncate(out / "timeseries.parquet", 50)
    for argv in (["report", out], ["compare", out, out, "--out", tmp_path / "cmp"]):
        code, _, err = main(argv, capsys)
        assert code == 2 and len(err) == 1, err
        assert err[0].startswith(f"povsim: error: {out / 'timeseries.parquet'}: cannot be read as Parquet")


DAMAGE = st.one_of(
    st.tuples(st.just("truncate"), st.integers(0, 3), st.floats(0.0, 0.999)),
    st.tuples(st.just("zero"), st.integers(0, 3)),
    st.tuples(st.just("flip"), st.integers(0, 3), st.floats(0.0, 0.999), st.integers(1, 255)),
    st.tuples(st.just("append"), st.integers(0, 3), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("swap"), st.integers(0, 3), st.integers(0, 3)),
    st.tuples(st.just("swap with records"), st.integers(0, 3), st.integers(0, 3)),
    st.tuples(st.just("stray"), st.integers(0, 3), st.sampled_from(["x", "0000000000000000"]),
              st.sampled_from(["empty", "noise", "another run"])),
)


def _damage(files: list[Path], how: tuple) -> list[Path]:
    """Apply one damage; returns the stray files it made."""
    kind, i = how[0], how[1]
    f = files[i]
    if kind == "truncate":
        os.truncate(f, int(how[2] * f.stat().st_size))
    elif kind == "zero":
        os.truncate(f, 0)
    elif kind == "flip":
        data = bytearray(f.read_bytes())
        if data:
            data[int(how[2] * len(data))] ^= how[3]
            f.write_bytes(bytes(data))
    elif kind == "append":
        with open(f, "ab") as fh:
            fh.write(how[2])
    elif kind.startswith("swap") and how[2] != i:
        pairs = [(f, files[how[2]])]
        if kind == "swap with records":
            pairs.append((store.record_path(f), store.record_path(files[how[2]])))
        for a, b in pairs:
            a_bytes, b_bytes = a.read_bytes(), b.read_bytes()
            a.write_bytes(b_bytes)
            b.write_bytes(a_bytes)
    elif kind == "stray":
        stray = f.parent / f"{how[2]}.parquet"
        if stray.exists():
            return []
        content = {"empty": b"", "noise": b"PAR1 not a parquet file PAR1",
                   "another run": files[(i + 1) % len(files)].read_bytes()}[how[3]]
        stray.write_bytes(content)
        return [stray]
    return []


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(damages=st.lists(DAMAGE, min_size=1, max_size=4))
def test_any_damage_is_named_once_and_the_resumed_sweep_equals_the_undamaged(reference, damages):
    path, ref, expected = reference
    work = Path(tempfile.mkdtemp(prefix="damaged-"))
    try:
        out = shutil.copytree(ref, work / "out")
        files = run_files(out)
        def state(f):  # what the store checks: the file's bytes and its record's
            return f.read_bytes(), store.record_path(f).read_bytes()

        original = {f: state(f) for f in files}
        strays = [s for how in damages for s in _damage(files, how)]
        damaged = {f for f in files if state(f) != original[f]} | set(strays)
        lines: list[str] = []
        done, failed, skipped = run_sweep(load_sweep(path), out, SerialExecutor(), progress=False,
                                          warn=lines.append)
        named = Counter(line.partition(": damaged run file")[0] for line in lines)
        assert set(named) == {str(p) for p in damaged} and set(named.values()) <= {1}, (damages, lines)
        redone = len(damaged & set(files))
        assert (done, failed, skipped) == (redone, 0, 4 - redone)
        assert len(list((out / store.DAMAGED).rglob("*.parquet"))) == len(damaged)
        assert store.verify(out)[1] == []
        pd.testing.assert_frame_equal(store.load_results(out), expected, check_exact=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------------------------------
# inputs only from regular files, within a size limit


@pytest.fixture
def hostile(tmp_path):
    """Paths that must be refused without hanging: kind -> (path, words of the message)."""
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    link = tmp_path / "zero.toml"
    link.symlink_to("/dev/zero")
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    big = tmp_path / "big.toml"
    big.write_text(SMALL + "#" * MAX_INPUT_BYTES + "\n")
    old = signal.signal(signal.SIGALRM, lambda *a: (_ for _ in ()).throw(TimeoutError("input read hung")))
    signal.alarm(60)  # a read of /dev/zero or a pipe would hang: fail instead
    yield {"/dev/zero": (Path("/dev/zero"), "not a regular file (a character device"),
           "fifo": (fifo, "not a regular file (a named pipe)"),
           "symlink to /dev/zero": (link, "not a regular file (a character device"),
           "directory": (folder, "is a directory, not a file"),
           "over 1 MB": (big, "bytes is larger than the limit of 1 MB (1,000,000 bytes)")}
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


KINDS = ["/dev/zero", "fifo", "symlink to /dev/zero", "directory", "over 1 MB"]


@pytest.mark.parametrize("kind", KINDS)
def test_input_files_must_be_regular_and_small(hostile, kind, tmp_path, capsys):
    bad, words = hostile[kind]
    out = tmp_path / "out"
    targets = REPO / "experiments" / "targets" / "shangluo.toml"
    for argv in (["check", bad], ["run", bad, "--out", out], ["sweep", bad, "--out", out],
                 ["sensitivity", bad, "--out", out], ["calibrate", bad, "--out", out],
                 ["calibrate", targets, "--calibratable", bad, "--out", out]):
        code, _, err = main(argv, capsys)
        assert code == 2 and len(err) == 1, (argv, err)
        assert err[0].startswith(f"povsim: error: {bad}: ") and words in err[0], (argv, err)
    assert not out.exists()


@pytest.mark.parametrize("kind", KINDS)
def test_files_named_by_other_files_are_checked_too(hostile, kind, tmp_path, capsys):
    """A scenario's profile (read by sim.profiles, checked first), a sweep's scenario
    file and a target file's scenario: refused naming the file, field and path."""
    bad, words = hostile[kind]
    scenario = tmp_path / "s.toml"
    scenario.write_text(SMALL.replace('profile = "shangluo"', f'profile = "{bad}"'))
    sweep = tmp_path / "w.toml"
    sweep.write_text(f'name = "w"\nseed = 1\nreplications = 1\n[[scenarios]]\nname = "a"\nfile = "{bad}"\n')
    targets = tmp_path / "t.toml"
    targets.write_text(f'profile = "shangluo"\nscenario = "{bad}"\n[series.exits_people]\n'
                       'values = { 2016 = 1000 }\nsource = "x"\n')
    for file, field in ((scenario, "profile"), (sweep, "scenarios[0].file"), (targets, "scenario")):
        code, _, err = main(["check", file], capsys)
        assert code == 2 and len(err) == 1, (file, err)
        assert err[0].startswith(f"povsim: error: {file}: {field}: {bad}: ") and words in err[0], err
    from experiments.validation import read_calibration
    with pytest.raises(InputError, match=re.escape(words)):
        read_calibration(str(bad))


# ---------------------------------------------------------------------------------------
# grids and samples within a limit, counted without expanding them


def test_a_1000_by_1000_grid_is_refused_at_once_without_expanding_it(tmp_path, capsys):
    import tracemalloc

    axis = lambda lo: ", ".join(f"{lo + i * 1e-4:.4f}" for i in range(1000))  # noqa: E731
    path = tiny_sweep(tmp_path, body=f'[grid]\n"medical.assistance_share" = [{axis(0.5)}]\n'
                                     f'"health.admission_rate_poor" = [{axis(0.1)}]\n')
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        for command in ("check", "sweep"):
            code, _, err = main([command, path, "--out", tmp_path / "out"] if command == "sweep"
                                else [command, path], capsys)
            assert code == 2 and len(err) == 1
            assert err[0] == (f"povsim: error: {path}: grid: 2 scenarios x a grid of 1,000 x 1,000 = 1,000,000 "
                              f"points x 2 replications = 4,000,000 runs, more than the limit of {MAX_RUNS:,} "
                              "runs a sweep (split it into several sweeps, or use a [sample] of fewer points)")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - t0 < 10 and peak < 50e6, (time.perf_counter() - t0, peak)
    assert not (tmp_path / "out").exists()


def test_samples_and_replications_count_against_the_same_limit(tmp_path, capsys):
    ranges = '[sample]\nmethod = "lhs"\nn = 30000\n[sample.ranges]\n"medical.assistance_share" = [0.5, 0.9]\n'
    path = tiny_sweep(tmp_path, body=ranges)
    code, _, err = main(["check", path], capsys)
    assert code == 2 and "sample.n: 2 scenarios x a sample of 30,000 points x 2 replications = 120,000 runs" in err[0]
    many = tiny_sweep(tmp_path / "r", replications=60_000)
    code, _, err = main(["check", many], capsys)
    assert code == 2 and f"{many}: replications: 2 scenarios x 60,000 replications = 120,000 runs" in err[0]
    code, _, err = main(["sweep", tiny_sweep(tmp_path / "s"), "--seeds", "60000", "--out", tmp_path / "o"], capsys)
    assert code == 2 and "= 120,000 runs, more than the limit" in err[0]
    shipped = REPO / "experiments" / "sweeps" / "shangluo_mixes.toml"
    assert main(["check", shipped], capsys)[0] == 0


# ---------------------------------------------------------------------------------------
# bounds: which side, and non-finite values by name


@pytest.mark.parametrize("value, words", [
    ("1e308", "is too high for the profile's mean income"),
    ("100000", "is too high for the profile's mean income"),
    ("1", "is too low for the profile's mean income"),
    ("inf", "poverty.line: expected a finite number, found inf"),
    ("nan", "poverty.line: expected a finite number, found nan"),
    ("-1", "poverty.line: -1 is below the minimum 0"),
])
def test_a_poverty_line_out_of_bounds_says_which_side(tmp_path, capsys, value, words):
    path = tmp_path / "line.toml"
    path.write_text(SMALL + f'[overrides]\n"poverty.line" = {value}\n')
    code, _, err = main(["check", path], capsys)
    errors = [line for line in err if line.startswith("povsim: error:")]
    assert code == 2 and len(errors) == 1 and words in errors[0], err


def test_non_finite_range_bounds_are_named(tmp_path, capsys):
    path = tiny_sweep(tmp_path, body='[sample]\nmethod = "lhs"\nn = 4\n[sample.ranges]\n'
                                     '"medical.assistance_share" = [0.5, inf]\n')
    code, _, err = main(["check", path], capsys)
    assert code == 2 and "sample.ranges.medical.assistance_share: inf is not a finite number" in err[0]
    calib = tmp_path / "calibratable.toml"
    calib.write_text('["microcredit.takeup_base"]\nrange = [nan, 0.5]\nreason = "x"\n')
    code, _, err = main(["calibrate", REPO / "experiments" / "targets" / "shangluo.toml",
                         "--calibratable", calib, "--out", tmp_path / "o"], capsys)
    assert code == 2 and "microcredit.takeup_base.range: nan is not a finite number" in err[0], err


# ---------------------------------------------------------------------------------------
# a damaged manifest is never silently ignored


NOT_JSON = '{"sweep": "tiny", "baseline": "baseline", "scen'


@pytest.mark.parametrize("text, words", [
    (NOT_JSON, "manifest.json: not JSON ("),
    ('{"sweep": "tiny", "scenarios": [{"name": 3}]}', "manifest.json: scenarios[0].name: expected text, found 3"),
    ('{"baseline": ["baseline"], "scenarios": []}', "manifest.json: baseline: expected text"),
    ('[1, 2]', "manifest.json: expected a JSON object, found list"),
])
def test_a_damaged_manifest_is_an_error_naming_it_where_it_is_needed(reference, tmp_path, text, words):
    _, ref, expected = reference
    out = shutil.copytree(ref, tmp_path / "out")
    (out / store.MANIFEST).write_text(text)
    with pytest.raises(InputError, match=re.escape(words)):  # which scenarios are current: needs it
        store.load_results(out)
    assert words in store.manifest_problem(out) and store.read_manifest_quietly(out) is None
    pd.testing.assert_frame_equal(store.load_results(out, current_only=False), expected, check_exact=True)


def test_report_and_compare_say_what_a_damaged_manifest_leaves_out(reference, tmp_path, capsys):
    _, ref, _ = reference
    out = shutil.copytree(ref, tmp_path / "out")
    (out / store.MANIFEST).write_text(NOT_JSON)
    code, _, err = main(["report", out], capsys)
    assert code == 0 and len(err) == 1, err
    assert err[0].startswith(f"povsim: warning: {out / store.MANIFEST}: not JSON (")
    assert "left out: the baseline comparison (give --baseline NAME)" in err[0]
    assert "exits_diff_mean" not in (out / "report.csv").read_text()
    assert "## Provenance warnings" in (out / "report.md").read_text()
    code, _, err = main(["report", out, "--baseline", "baseline"], capsys)
    assert code == 0 and len(err) == 1 and "baseline comparison" not in err[0]
    assert "exits_diff_mean" in (out / "report.csv").read_text()
    code, _, err = main(["compare", "baseline", "shangluo", "--in", out, "--out", tmp_path / "cmp"], capsys)
    assert code == 0 and len(err) == 1 and "left out: the region and households in the titles" in err[0]


# ---------------------------------------------------------------------------------------
# Ctrl-C keeps what finished; a rerun loads it


def _interrupt_when(cmd, ready, *, group: bool = False, timeout: float = 120) -> tuple[int, str]:
    """Start `cmd`, send SIGINT (to its process group with `group`, as Ctrl-C in a terminal
    does) once `ready()` holds; (exit code, stderr)."""
    proc = subprocess.Popen(cmd, cwd=REPO, env=sweep_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=group)
    try:
        deadline = time.monotonic() + timeout
        while proc.poll() is None and not ready():
            assert time.monotonic() < deadline, "the command did not get going"
            time.sleep(0.002)
        if group:
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, err.decode()


def last_line(err: str) -> str:
    """The interrupt's line (it may follow a progress line the signal cut short)."""
    line = err.strip().splitlines()[-1]
    return line[line.find("povsim: interrupted"):]


def _stamps(files) -> dict:
    return {f: (f.stat().st_ino, f.stat().st_mtime_ns) for f in files}


def test_ctrl_c_during_run_keeps_finished_runs_and_a_rerun_loads_them(tmp_path, capsys, monkeypatch):
    scenario = tmp_path / "small.toml"
    scenario.write_text(SLOW)
    out = tmp_path / "run"
    args = ["run", str(scenario), "--seeds", "6", "--out", str(out)]
    keep = runner.resume_dir(out)
    code, err = _interrupt_when([sys.executable, "-m", "experiments.cli", *args],
                                lambda: any(keep.glob("runs/*/*/*.parquet")))
    assert code == 130 and last_line(err).startswith("povsim: interrupted: ") and "Traceback" not in err, err
    from experiments.scenario import load_scenario
    sc = load_scenario(scenario)
    seeds = runner.replication_seeds(sc.seed, 6)
    kept = runner.kept_runs(keep, sc, seeds)
    assert 1 <= len(kept) < 6, "the run finished before it was interrupted"
    assert last_line(err) == (f"povsim: interrupted: {len(kept)} of 6 runs finished, kept in {keep}{os.sep}; "
                         "run the same command again to resume (they are loaded, not run again)")
    assert not out.exists()  # nothing half-written in the output directory

    real, calls = runner.run_one, []
    monkeypatch.setattr(runner, "run_one", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    code, _, err = main(args, capsys)
    assert code == 0 and sorted(calls) == sorted(set(seeds) - set(kept))  # the kept ones loaded
    assert sum("kept from an interrupted run, loaded" in line for line in err) == len(kept)
    assert not keep.exists()  # removed once the results are written
    monkeypatch.setattr(runner, "run_one", real)
    whole = tmp_path / "whole"
    assert main([*args[:-1], whole], capsys)[0] == 0
    pd.testing.assert_frame_equal(pd.read_parquet(out / "timeseries.parquet"),
                                  pd.read_parquet(whole / "timeseries.parquet"), check_exact=True)


def test_ctrl_c_during_a_process_pool_sweep_keeps_stored_runs(tmp_path, capsys):
    """Ctrl-C in a terminal signals the whole process group, workers too."""
    path = tiny_sweep(tmp_path, replications=6, households=INTERRUPTED_HOUSEHOLDS)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "experiments.cli", "sweep", str(path), "--executor", "process",
           "--workers", "2", "--out", str(out)]
    code, err = _interrupt_when(cmd, lambda: len(store.completed(out)) >= 1, group=True)
    stored = store.completed(out)
    assert code == 130 and "Traceback" not in err, err
    assert 1 <= len(stored) < 12, "the sweep finished before it was interrupted"
    assert last_line(err) == (f"povsim: interrupted: {len(stored)} of 12 runs of the sweep stored in {out / 'runs'}"
                         f"{os.sep} and kept; run the same command again to resume (they are not run again)")
    assert json.loads((out / "manifest.json").read_text())["status"] == "interrupted"
    before = _stamps(run_files(out))
    code, stdout, err = main(["sweep", path, "--executor", "serial", "--out", out], capsys)
    assert code == 0 and f"{12 - len(stored)} done, 0 failed, {len(stored)} already stored" in stdout
    assert err == []  # nothing the interrupt left was damaged
    assert {f: s for f, s in _stamps(run_files(out)).items() if f in before} == before


def test_ctrl_c_during_calibrate_keeps_evaluated_points(tmp_path, capsys):
    (tmp_path / "small.toml").write_text(SLOW)
    targets = tmp_path / "targets.toml"  # two years of the small scenario: cheap points
    targets.write_text('profile = "shangluo"\nscenario = "small.toml"\n[series.exits_people]\n'
                       'values = { 2016 = 100000, 2017 = 120000 }\nsource = "assumption: a test target"\n')
    args = ["calibrate", str(targets), "--params", "register.application_chance", "--budget", "10",
            "--seeds", "1", "--executor", "serial"]
    out = tmp_path / "cal"
    code, err = _interrupt_when([sys.executable, "-m", "experiments.cli", *args, "--out", str(out)],
                                lambda: len(store.completed(out)) >= 2)
    n = len(store.completed(out))
    assert code == 130 and "Traceback" not in err, err
    assert 2 <= n < 10, "the calibration finished before it was interrupted"
    assert last_line(err) == (f"povsim: interrupted: {n} runs stored in {out / 'runs'}{os.sep} and kept; run the same "
                         "command again to resume (the points already run are loaded, not run again; "
                         "--fresh would delete them)")
    before = _stamps(run_files(out))
    assert main([*args, "--out", out], capsys)[0] == 0
    assert {f: s for f, s in _stamps(run_files(out)).items() if f in before} == before  # loaded, not redone
    whole = tmp_path / "whole"
    assert main([*args, "--out", whole], capsys)[0] == 0
    resumed, once = (json.loads((d / "calibration.json").read_text()) for d in (out, whole))
    assert (resumed["best"], resumed["loss"]) == (once["best"], once["loss"])
    pd.testing.assert_frame_equal(pd.read_csv(out / "history.csv"), pd.read_csv(whole / "history.csv"))
