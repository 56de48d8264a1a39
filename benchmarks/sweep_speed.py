"""Runs per minute of a sweep with the serial, process and Dask executors, and the driver's
peak memory.

    python benchmarks/sweep_speed.py [--runs 200] [--households 50000] [--workers 2]
                                     [--executors serial,process,dask] [--repeat 1]

The sweep is `experiments/sweeps/shangluo_mixes.toml` (four scenarios) with as many
replications as make `--runs` runs. Each executor writes into its own temporary store.
The driver's peak resident memory is read after each executor (it is a high-water mark of
this process only: workers are other processes) and should stay flat in the number of runs
because workers write their own results and return only a status.

On a shared or virtual machine the speed of the host drifts by tens of percent from minute
to minute; `--repeat N` runs the executors N times, interleaved (serial, process, dask,
serial, ...), and compares the medians, so that a slow minute does not decide a ratio.
"""

from __future__ import annotations

import argparse
import math
import statistics
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
    ap.add_argument("--repeat", type=int, default=1, help="interleaved repetitions; medians are compared")
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")

    sweep_file = ROOT / "experiments" / "sweeps" / "shangluo_mixes.toml"
    first = load_sweep(sweep_file, households=args.households, replications=1)
    per_seed = len(list(first.runs()))
    reps = max(1, math.ceil(args.runs / per_seed))
    sweep = load_sweep(sweep_file, households=args.households, replications=reps)
    runs = len(list(sweep.runs()))
    print(f"sweep: {sweep.name}  runs: {runs}  households per run: {args.households}  workers: {args.workers}")
    kinds = args.executors.split(",")
    rates: dict[str, list[float]] = {kind: [] for kind in kinds}
    for _ in range(args.repeat):
        for kind in kinds:
            with tempfile.TemporaryDirectory() as out:
                executor = make_executor(kind, workers=None if kind == "serial" else args.workers)
                t0 = time.perf_counter()
                with executor:
                    done, failed, _ = run_sweep(sweep, out, executor, fresh=True, progress=False)
                wall = time.perf_counter() - t0
            rates[kind].append(done / wall * 60)
            print(f"{kind}: runs_per_min: {rates[kind][-1]:.1f}  done: {done}  failed: {failed}  "
                  f"wall_s: {wall:.1f}  driver_peak_rss_mb: {peak_rss_mb():.0f}", flush=True)
    median = {kind: statistics.median(r) for kind, r in rates.items()}
    if args.repeat > 1:
        for kind in kinds:
            print(f"median {kind}: runs_per_min: {median[kind]:.1f}")
    if "serial" in median:
        for kind in kinds:
            if kind != "serial":
                print(f"speedup_{kind}_vs_serial: {median[kind] / median['serial']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
