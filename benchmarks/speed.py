"""The vectorized engine against the plain-Mesa reference: household-years per second.

    python benchmarks/speed.py [--households N] [--profile national] [--years 7]
                               [--max-reference 100000] [--repeat 3] [--seed 1] [--threads T]

Both run the core rules (`benchmarks/reference_mesa.py`: medical insurance and assistance,
dibao, microcredit, the register) on the same starting population, 10,000 and 100,000
households by default (or N), the reference only up to `--max-reference` households.
Timing covers stepping the years only: both start from the engine's synthesized
population, and converting it into agents is not timed. The vectorized engine is timed
`--repeat` times on fresh models (it takes well under a second) and the median kept; the
reference once. Memory is measured in separate one-year runs with `tracemalloc` (which
sees numpy's buffers as well as Python objects): the model state per household once built,
and the peak while stepping a year (state plus temporaries). The last line is
`speedup_vs_mesa_agents: <ratio>` at the largest size both ran.

The reference runs on one core; the vectorized engine uses every core from
`PARALLEL_MIN_ROWS` rows on (`--threads 1` keeps it to one, a per-core comparison, and
steadier on a machine shared with other work, where busy compiled threads wait on each other).
"""

from __future__ import annotations

import argparse
import gc
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numba

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.reference_mesa import CORE_MEASURES, ReferenceModel  # noqa: E402
from sim.model import PARALLEL_MIN_ROWS, PovertyModel  # noqa: E402
from sim.errors import InputError  # noqa: E402
from sim.profiles import load_profile  # noqa: E402


def engine(args, households: int, years: int) -> PovertyModel:
    start = load_profile(args.profile).data["start_year"]
    return PovertyModel(args.profile, households=households, end_year=start + years - 1,
                        measures=CORE_MEASURES, rng=args.seed)


def time_steps(model) -> float:
    t = time.perf_counter()
    while model.running:
        model.step()
    return time.perf_counter() - t


def memory(build, rows: int, prepare=lambda: None) -> tuple[float, float]:
    """(state bytes per household once built, peak bytes per household stepping one year).
    Only what `build(prepare())` allocates is traced, and only what it keeps is state."""
    before = prepare()
    gc.collect()
    tracemalloc.start()
    model = build(before)
    del before
    gc.collect()
    state = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    model.step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del model
    gc.collect()
    return state / rows, peak / rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=int, default=None, help="one size instead of 10,000 and 100,000")
    ap.add_argument("--profile", default="national")
    ap.add_argument("--years", type=int, default=7)
    ap.add_argument("--max-reference", type=int, default=100_000,
                    help="largest population the reference is run on (it takes ~1 min per 100,000 household-years)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of the vectorized engine (median kept)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=None,
                    help="threads of the vectorized engine's compiled passes (default: every core; the reference uses one)")
    args = ap.parse_args(argv)
    for name in ("households", "years", "repeat", "max_reference"):
        value = getattr(args, name)
        if value is not None and value < 1:
            ap.error(f"--{name.replace('_', '-')}: must be at least 1, got {value}")
    if args.threads is not None:
        if not 1 <= args.threads <= numba.config.NUMBA_NUM_THREADS:
            ap.error(f"--threads: must be between 1 and {numba.config.NUMBA_NUM_THREADS}")
        numba.set_num_threads(args.threads)
    try:
        load_profile(args.profile)
    except InputError as e:
        print(f"error: {e.one_line()}", file=sys.stderr)
        return 2
    sizes = [args.households] if args.households else [10_000, 100_000]

    # Warm-up: load the compiled passes (numba's cache) and the draw functions the agents call.
    ReferenceModel.from_engine(engine(args, 500, 1)).run()
    engine(args, 500, 1).run()

    print(f"profile: {args.profile}  years: {args.years}  measures: {', '.join(k for k, on in CORE_MEASURES.items() if on)}"
          f"  vectorized threads: {numba.get_num_threads()} (one below {PARALLEL_MIN_ROWS:,} rows)")
    ratio = None
    for n in sizes:
        times = []
        for _ in range(max(args.repeat, 1)):
            model = engine(args, n, args.years)
            times.append(time_steps(model))
        rows, table = model.hh.n, model.hh.nbytes() / model.hh.n
        del model
        vec_s = statistics.median(times)
        hh_years = rows * args.years
        vec_state, vec_peak = memory(lambda _: engine(args, n, args.years), rows)
        print(f"households {rows:,}:")
        print(f"  vectorized:   {hh_years / vec_s:>12,.0f} household-years/s  (stepping {vec_s:.3f} s, median of "
              f"{len(times)})  state {vec_state:,.0f} B/hh (household table {table:.0f})  peak stepping a year {vec_peak:,.0f} B/hh")
        if n > args.max_reference:
            print(f"  mesa agents:  not run (above --max-reference {args.max_reference:,})")
            continue
        start = engine(args, n, args.years)
        t = time.perf_counter()
        ref = ReferenceModel.from_engine(start)
        convert_s = time.perf_counter() - t
        del start
        ref_s = time_steps(ref)
        del ref
        gc.collect()
        ref_state, ref_peak = memory(ReferenceModel.from_engine, rows, lambda: engine(args, n, args.years))
        ratio = ref_s / vec_s
        print(f"  mesa agents:  {hh_years / ref_s:>12,.0f} household-years/s  (stepping {ref_s:.1f} s; converting "
              f"rows to agents {convert_s:.1f} s)  state {ref_state:,.0f} B/hh  peak stepping a year {ref_peak:,.0f} B/hh")
        print(f"  ratio: {ratio:,.1f}x")
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"process peak RSS: {peak_gb:.2f} GB")
    print(f"speedup_vs_mesa_agents: {ratio:.1f}" if ratio is not None else "speedup_vs_mesa_agents: nan")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
