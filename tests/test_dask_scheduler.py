"""`povsim sweep --executor dask --scheduler ADDR`: a sweep sent to a Dask cluster that was
started on its own (a scheduler and a worker, as on a shared machine or a cluster) stores
the same runs as a serial sweep, and leaves the cluster running for its next user."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from experiments import cli, store
from test_sweep import write_sweep

DASK = Path(sys.executable).with_name("dask")


def _wait_for(path: Path, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.is_file():
            try:
                info = json.loads(path.read_text())
                if info.get("address"):
                    return info
            except json.JSONDecodeError:
                pass  # being written
        time.sleep(0.2)
    raise TimeoutError(f"no Dask scheduler address in {path} after {timeout:.0f} s")


@pytest.fixture
def cluster(tmp_path):
    """A Dask scheduler and one worker process (two single-threaded workers), started
    with the `dask` command line on a free port."""
    if not DASK.exists():
        pytest.skip("the dask command line is not installed beside this Python")
    info_file = tmp_path / "scheduler.json"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    procs = [subprocess.Popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(info_file)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)]
    try:
        address = _wait_for(info_file, 60)["address"]
        procs.append(subprocess.Popen([str(DASK), "worker", address, "--nworkers", "2", "--nthreads", "1",
                                       "--no-dashboard", "--local-directory", str(tmp_path / "dask-worker")],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env))
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def test_sweep_on_a_separate_scheduler_matches_serial(tmp_path, cluster, capsys):
    sweep = write_sweep(tmp_path)
    code = cli.main(["sweep", str(sweep), "--executor", "serial", "--out", str(tmp_path / "serial")])
    assert code == 0, capsys.readouterr().err
    code = cli.main(["sweep", str(sweep), "--executor", "dask", "--scheduler", cluster,
                     "--out", str(tmp_path / "dask")])
    assert code == 0, capsys.readouterr().err
    serial = store.load_results(tmp_path / "serial")
    remote = store.load_results(tmp_path / "dask")
    assert len(serial) == 2 * 2 * 2  # scenarios x seeds x years
    pd.testing.assert_frame_equal(remote, serial, check_exact=True)

    # the cluster is the user's: it is still there after the sweep, and serves a rerun
    # (which finds every run stored and does nothing)
    from distributed import Client

    with Client(cluster, timeout=30) as client:
        assert len(client.scheduler_info()["workers"]) == 2
    code = cli.main(["sweep", str(sweep), "--executor", "dask", "--scheduler", cluster,
                     "--out", str(tmp_path / "dask")])
    assert code == 0
    pd.testing.assert_frame_equal(store.load_results(tmp_path / "dask"), serial, check_exact=True)


def test_unreachable_scheduler_is_a_clear_error(tmp_path, capsys):
    sweep = write_sweep(tmp_path, replications=1)
    code = cli.main(["sweep", str(sweep), "--executor", "dask", "--scheduler", "tcp://127.0.0.1:9",
                     "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code != 0
    assert len(err.strip().splitlines()) == 1 and "127.0.0.1:9" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # found out before anything was written
