"""Runs per minute of a sweep with the serial, process and Dask executors, and the driver's
peak memory.

    python benchmarks/sweep_speed.py [--runs 200] [--households 50000] [--workers 2]
                                     [--executors serial,process,dask]

The sweep is `experiments/sweeps/shangluo_mixes.toml` (four scenarios) with as many
replications as make `--runs` runs. Each executor writes into its own temporary store.
The driver's peak resident memory is read after each executor (it is a high-water mark of
this process only: workers are other processes) and should stay flat in the number of runs
because workers write their own results and return only a status.
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from experiments.executors import make_executor, run_sweep  # noqa: E402
from experiments.sweep import load_sweep  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--households", type=int, default=50000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--executors", default="serial,process,dask")
    args = ap.parse_args(argv)

    sweep_file = ROOT / "experiments" / "sweeps" / "shangluo_mixes.toml"
    first = load_sweep(sweep_file, households=args.households, replications=1)
    per_seed = len(list(first.runs()))
    reps = max(1, math.ceil(args.runs / per_seed))
    sweep = load_sweep(sweep_file, households=args.households, replications=reps)
    runs = len(list(sweep.runs()))
    print(f"sweep: {sweep.name}  runs: {runs}  households per run: {args.households}  workers: {args.workers}")
    rates = {}
    for kind in args.executors.split(","):
        with tempfile.TemporaryDirectory() as out:
            executor = make_executor(kind, workers=None if kind == "serial" else args.workers)
            t0 = time.perf_counter()
            with executor:
                done, failed, _ = run_sweep(sweep, out, executor, fresh=True, progress=False)
            wall = time.perf_counter() - t0
        rates[kind] = done / wall * 60
        print(f"{kind}: runs_per_min: {rates[kind]:.1f}  done: {done}  failed: {failed}  wall_s: {wall:.1f}  "
              f"driver_peak_rss_mb: {peak_rss_mb():.0f}")
    if "serial" in rates:
        for kind in rates:
            if kind != "serial":
                print(f"speedup_{kind}_vs_serial: {rates[kind] / rates['serial']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
