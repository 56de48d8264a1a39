"""The national profile at full size, 2014-2020: wall time and peak memory.

    python benchmarks/national.py [--sample F] [--measures all|core|defaults] [--end-year 2020] [--seed 1]

Full size (F = 1) is the profile's own sampling (`sim/profiles/national.toml`, `[sampling]`):
every one of the 29.48 M registered households of 2014 as a row, and a weighted sample of
the other rural households (the near-poor and the rest, at the shares the profile gives;
each row carries the weight of the households it stands for). `--sample F` multiplies
every stratum's share by F (0 < F <= 1): `--sample 0.01` is a 1% sample of those rows,
with weights 100 times larger, and represents the same population. All measures are on
by default. Prints the rows by stratum, the register by year, and last
`wall_s: <seconds> peak_rss_gb: <GB> households: <rows simulated>`; wall time covers
synthesis and stepping (and loading the compiled passes), not Python's imports.
"""

from __future__ import annotations

import argparse
import copy
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim.registry import MEASURES  # noqa: E402
from sim.model import PovertyModel  # noqa: E402
from sim.profiles import Profile, load_profile  # noqa: E402

CORE = ("medical_insurance", "medical_assistance", "microcredit", "dibao")


def sampled_profile(fraction: float, name: str = "national") -> Profile:
    """The profile with every stratum's sampling share multiplied by `fraction`."""
    if not 0 < fraction <= 1:
        raise ValueError(f"--sample must be in (0, 1], got {fraction}")
    profile = load_profile(name)
    data = copy.deepcopy(profile.data)
    for entry in data["sampling"].values():
        entry["value"] = entry["value"] * fraction
    return Profile(profile.name, profile.file, data, profile.parameter_overrides)


def measures(choice: str) -> dict[str, bool] | None:
    if choice == "all":
        return dict.fromkeys(MEASURES, True)
    if choice == "core":
        return {name: name in CORE for name in MEASURES}
    return None  # each measure's default


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sample", type=float, default=1.0, help="share of the full-size rows (0 < F <= 1)")
    ap.add_argument("--measures", choices=("all", "core", "defaults"), default="all")
    ap.add_argument("--end-year", type=int, default=2020)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    if not 0 < args.sample <= 1:
        ap.error(f"--sample: must be in (0, 1], got {args.sample}")
    if args.end_year < 2014:
        ap.error(f"--end-year: the national profile starts in 2014, got {args.end_year}")

    t0 = time.perf_counter()
    model = PovertyModel(sampled_profile(args.sample), households=None, end_year=args.end_year,
                         measures=measures(args.measures), rng=args.seed)
    t1 = time.perf_counter()
    rows = model.hh.n
    print(f"national profile, sample {args.sample:g} of the full-size rows, {model.start_year}-{model.end_year}, "
          f"measures: {args.measures}")
    for name, s in model.population.strata.items():
        print(f"  {name:<10} {s['rows']:>12,} rows  weight {s['weight']:>9,.2f}  ({s['full_households']:,.0f} households)")
    print(f"  villages {model.villages.n:,} rows, counties {model.counties.n:,}")
    print(f"{'year':>6} {'registered poor':>16} {'exits':>12} {'returns':>11} {'new poor':>11} {'step s':>7}")
    while model.running:
        t = time.perf_counter()
        model.step()
        m = model.current
        print(f"{m['year']:>6} {m['registered_poor_people']:>16,.0f} {m['exits_people']:>12,.0f} "
              f"{m['returns_people']:>11,.0f} {m['new_poor_people']:>11,.0f} {time.perf_counter() - t:>7.2f}")
    t2 = time.perf_counter()
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"synthesis_s: {t1 - t0:.1f}  stepping_s: {t2 - t1:.1f}  "
          f"household table: {model.hh.nbytes() / rows:.0f} B/row")
    print(f"wall_s: {t2 - t0:.1f} peak_rss_gb: {peak_gb:.2f} households: {rows}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
