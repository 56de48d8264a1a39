"""Crash safety: a sweep killed with SIGKILL at random moments, again and again, and then
run to the end, stores every run exactly once, with the numbers of an uninterrupted sweep;
no temporary file survives, and a full disk leaves no partial result files.

The kill points are random (their seed is in the failure message, and POVSIM_CRASH_SEED
repeats a sequence); the runs are tiny so the whole file takes a few tens of seconds.
"""

from __future__ import annotations

import errno
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from experiments import cli, store
from experiments.executors import SerialExecutor, run_sweep
from experiments.sweep import load_sweep
from killed_sweeps import kill_when, sweep_env

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = REPO / "experiments" / "scenarios"
KILLS = 3


def tiny_sweep(tmp_path: Path, replications: int = 6, households: int = 1500) -> Path:
    """Two shipped scenarios cut to two years, over `replications` common seeds."""
    entries = []
    for stem in ("baseline", "shangluo"):
        text = (SCENARIOS / f"{stem}.toml").read_text(encoding="utf-8")
        text = re.sub(r"^end_year\s*=.*$", "end_year = 2017", text, flags=re.M)
        (tmp_path / "scenarios").mkdir(exist_ok=True)
        (tmp_path / "scenarios" / f"{stem}.toml").write_text(text, encoding="utf-8")
        entries.append(f'[[scenarios]]\nname = "{stem}"\nfile = "scenarios/{stem}.toml"\n')
    path = tmp_path / "crash.toml"
    path.write_text(f'name = "crash"\nseed = 11\nreplications = {replications}\n'
                    f'households = {households}\nbaseline = "baseline"\n\n' + "\n".join(entries),
                    encoding="utf-8")
    return path


def _temporary_files(out: Path) -> list[Path]:
    return [p for p in out.rglob("*") if p.name.startswith(".") and p.name.endswith(".tmp")]


def test_sigkill_at_random_points_then_rerun_equals_an_uninterrupted_sweep(tmp_path):
    seed = int(os.environ.get("POVSIM_CRASH_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    path = tiny_sweep(tmp_path)
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "experiments.cli", "sweep", str(path), "--executor", "serial",
           "--out", str(out)]
    total = 2 * 6
    interrupted = 0
    for attempt in range(KILLS):
        already = len(store.completed(out))
        if already >= total - 2:
            break
        # kill once a random number of further runs is stored, a random moment later (a run
        # takes a tenth of a second or more: the kill lands inside a run or its writing)
        target = rng.randint(already, total - 3)
        pause = rng.uniform(0.0, 0.04)
        proc = subprocess.Popen(cmd, cwd=REPO, env=sweep_env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        err = kill_when(proc, lambda: (out / "manifest.json").exists() and len(store.completed(out)) >= target,
                        timeout=120, what="the sweep did not get going", pause=pause)
        assert proc.returncode in (0, -signal.SIGKILL), f"seed {seed}, attempt {attempt}: {err}"
        stored = store.completed(out)
        if proc.returncode == -signal.SIGKILL and len(stored) < total:
            interrupted += 1
            if stored:  # what a kill leaves is readable: every stored file is whole
                assert len(store.load_results(out)) == 2 * len(stored), f"seed {seed}"
            manifest = json.loads((out / "manifest.json").read_text())
            assert manifest["status"] == "running"
    assert interrupted >= 1, f"seed {seed}: no kill landed before the sweep finished"

    rerun = subprocess.run(cmd, cwd=REPO, env=sweep_env(), capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert re.search(r"(\d+) done, 0 failed, (\d+) already stored", rerun.stdout)
    assert json.loads((out / "manifest.json").read_text())["status"] == "finished"
    assert not _temporary_files(out), f"seed {seed}: temporary files left: {_temporary_files(out)}"
    files = [p for p in (out / "runs").rglob("*.parquet") if not p.name.startswith(".")]
    assert len(files) == total, f"seed {seed}: {len(files)} run files for {total} runs"
    resumed = store.load_results(out)
    assert resumed.groupby(["scenario", "seed", "year"]).size().max() == 1

    # the same sweep uninterrupted (in this process: the same code, serially)
    whole = tmp_path / "whole"
    done, failed, skipped = run_sweep(load_sweep(path), whole, SerialExecutor(), progress=False)
    assert (done, failed, skipped) == (total, 0, 0)
    pd.testing.assert_frame_equal(resumed, store.load_results(whole), check_exact=True)


def test_temporary_files_of_a_killed_writer_are_removed_by_the_next_sweep(tmp_path, capsys):
    path = tiny_sweep(tmp_path, replications=1, households=300)
    out = tmp_path / "out"
    assert cli.main(["sweep", str(path), "--executor", "serial", "--out", str(out)]) == 0
    run_file = next((out / "runs").rglob("*.parquet"))
    # what atomic_write leaves when its process dies between creating and renaming
    leftovers = [run_file.parent / f".{run_file.name}.k2j4x9.tmp",
                 out / "failures" / ".shangluo__1.json.a8f3.tmp",
                 out / ".manifest.json.zz81.tmp"]
    for p in leftovers:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"PAR1 half a file")
    keep = out / "notes.tmp"  # not ours: left alone
    keep.write_text("mine")
    assert store.load_results(out).shape[0] == 4  # ignored while they are there
    capsys.readouterr()
    assert cli.main(["sweep", str(path), "--executor", "serial", "--out", str(out)]) == 0
    assert "0 done, 0 failed, 2 already stored" in capsys.readouterr().out
    assert not any(p.exists() for p in leftovers)
    assert keep.read_text() == "mine"


def test_a_full_disk_during_a_sweep_leaves_no_partial_files(tmp_path, capsys, monkeypatch):
    """The disk fills up while run files are written: the runs fail (exit 1), and neither
    a partial run file nor a temporary file is left; with space again, a rerun finishes."""
    path = tiny_sweep(tmp_path, replications=1, households=300)
    out = tmp_path / "out"
    real = store.pq.write_table

    def full_disk(table, where, *args, **kwargs):
        Path(where).write_bytes(b"PAR1" + b"\0" * 100)  # part of the file got out
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store.pq, "write_table", full_disk)
    code = cli.main(["sweep", str(path), "--executor", "serial", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and "No space left on device" in err
    assert not list(out.rglob("*.parquet"))
    assert not _temporary_files(out)
    assert json.loads((out / "manifest.json").read_text())["runs"]["failed"] == 2

    monkeypatch.setattr(store.pq, "write_table", real)
    assert cli.main(["sweep", str(path), "--executor", "serial", "--out", str(out)]) == 0
    assert "2 done, 0 failed, 0 already stored" in capsys.readouterr().out
    assert not list((out / "failures").glob("*.json"))


def test_too_little_free_space_is_refused_before_anything_is_written(tmp_path, capsys, monkeypatch):
    import shutil
    from collections import namedtuple

    path = tiny_sweep(tmp_path, replications=2, households=300)
    out = tmp_path / "out"
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10**9, 10**9 - 200_000, 200_000))
    assert cli.main(["sweep", str(path), "--executor", "serial", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"povsim: error: {out}: not enough free space")
    assert not out.exists()
    scenario = tmp_path / "scenarios" / "baseline.toml"
    assert cli.main(["run", str(scenario), "--households", "300", "--out", str(out)]) == 2
    assert "not enough free space" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only directories")
def test_unwritable_output_directory_is_refused_before_the_sweep(tmp_path, capsys):
    path = tiny_sweep(tmp_path, replications=1, households=300)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        assert cli.main(["sweep", str(path), "--out", str(locked / "out")]) == 2
        assert "cannot write in" in capsys.readouterr().err
        assert not (locked / "out").exists()
    finally:
        locked.chmod(0o755)


def test_a_disk_that_is_full_for_every_file_leaves_nothing_behind(tmp_path, capsys, monkeypatch):
    """Every write fails at the last moment (the data written, the rename not done): the
    sweep stops with one line and exit code 1, and not a single file is left."""
    path = tiny_sweep(tmp_path, replications=1, households=300)
    out = tmp_path / "out"

    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store, "_umask", full)  # called after the data, before the rename
    code = cli.main(["sweep", str(path), "--executor", "serial", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "No space left on device" in err[0], err
    assert not out.exists() or [p for p in out.rglob("*") if p.is_file()] == []
