"""Running a sweep in a child process and killing it with SIGKILL at a chosen moment, for
the tests that check a killed sweep resumes to the uninterrupted result."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def sweep_env() -> dict:
    """The child's environment: the checkout importable, one compiled thread (threads only
    slow small runs, see executors.execute_run)."""
    return {**os.environ, "NUMBA_NUM_THREADS": "1",
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}


def kill_when(proc: subprocess.Popen, ready, *, timeout: float, what: str, pause: float = 0.0) -> str:
    """SIGKILL `proc` `pause` seconds after `ready()` holds (unless it has ended first);
    fails if neither happens within `timeout` seconds. Returns its standard error."""
    try:
        deadline = time.monotonic() + timeout
        while proc.poll() is None and not ready():
            assert time.monotonic() < deadline, what
            time.sleep(0.002)
        time.sleep(pause)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        err = proc.stderr.read().decode()
        proc.stderr.close()
    return err
