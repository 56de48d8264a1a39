"""Speed and memory of the vectorized engine on a full-size profile.

    python benchmarks/core_speed.py [--profile shangluo] [--years 7] [--households N]

Prints household-years per second (stepping only, and including synthesis), the bytes of
model state per household, and the process's peak resident memory. A small model runs
first (`--warm-up`, on by default) so that the compiled passes are compiled or loaded
from numba's cache before the clock starts: that happens once per process, whatever the
size, and is printed on its own.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim.registry import MEASURES  # noqa: E402
from sim.model import PovertyModel  # noqa: E402
from sim.profiles import load_profile  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="shangluo")
    ap.add_argument("--years", type=int, default=7)
    ap.add_argument("--households", type=int, default=None, help="rows (default: the full profile)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--all-measures", action="store_true", help="switch every measure on")
    ap.add_argument("--no-warm-up", dest="warm_up", action="store_false",
                    help="time the first model of the process, loading of compiled code included")
    args = ap.parse_args(argv)

    start = load_profile(args.profile).data["start_year"]
    measures = dict.fromkeys(MEASURES, True) if args.all_measures else None
    if args.warm_up:
        w0 = time.perf_counter()
        # as many years as the timed run: some passes first run in later years (loans falling due, ...)
        PovertyModel(args.profile, households=2_000, end_year=start + args.years - 1, rng=args.seed,
                     measures=measures).run()
        print(f"warm_up_s (compiling or loading the passes, once per process): {time.perf_counter() - w0:.2f}")
    t0 = time.perf_counter()
    model = PovertyModel(args.profile, households=args.households, end_year=start + args.years - 1, rng=args.seed,
                         measures=measures)
    t1 = time.perf_counter()
    model.run()
    t2 = time.perf_counter()
    n = model.hh.n
    hh_years = n * args.years
    state = model.hh.nbytes() / n
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    on = "all" if args.all_measures else "defaults"
    print(f"profile: {args.profile}  households (rows): {n:,}  years: {args.years}  measures: {on}")
    print(f"synthesis_s: {t1 - t0:.2f}  stepping_s: {t2 - t1:.2f}")
    print(f"household_years_per_s_stepping: {hh_years / (t2 - t1):,.0f}")
    print(f"household_years_per_s_total: {hh_years / (t2 - t0):,.0f}")
    print(f"state_bytes_per_household: {state:.0f}")
    print(f"peak_rss_gb: {peak_gb:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
