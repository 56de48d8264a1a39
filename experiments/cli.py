"""The `povsim` command line.

    povsim run SCENARIO [--seed S | --seeds N] [--households N] [--out DIR] [--debug]
    povsim sweep SWEEP [--executor serial|process|dask] [--workers N] [--scheduler ADDR]
                 [--out DIR] [--fresh] [--households N] [--seeds N] [--debug]
    povsim report DIR [--baseline NAME] [--debug]
    povsim check FILE [--debug]
    povsim describe SCENARIO [--debug]
    povsim app [SCENARIO ...] [--host ADDR] [--port N] [--results DIR] [--open] [--debug]

Exit codes: 0 success, 1 a run failed, 2 bad input (one line on stderr; nothing written).
Everything a run needs is validated before the first model is built.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback
import warnings
from pathlib import Path

from sim.errors import InputError

from .cli_common import (CMDLINE, PROG, CommandFailed, add_executor_options, check_executor_options,
                         check_writable, describe, dir_name, fail, int_arg, interrupted, running_executor)

class _Usage(Exception):
    """An argparse error: reported like an InputError, as one line and exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse would print usage and exit; we want one line
        raise _Usage(f"{message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Agent-based simulation of rural households "
                     "leaving and returning to poverty.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    run = sub.add_parser("run", help="run a scenario over seeds and write its results",
                         description="Run SCENARIO once per seed and write timeseries.parquet, "
                         "manifest.json and figures/poverty.png to the output directory.")
    run.add_argument("scenario", metavar="SCENARIO", help="scenario file (TOML)")
    run.add_argument("--seed", metavar="S",
                     help="alone: one run with exactly this model seed; with --seeds: the root "
                          "the N replication seeds are spawned from")
    run.add_argument("--seeds", metavar="N",
                     help="N replications spawned from the scenario's seed (or from --seed); "
                          "default: the scenario's 'seeds'")
    run.add_argument("--households", metavar="N",
                     help="household rows to simulate (overrides the scenario and profile)")
    run.add_argument("--out", metavar="DIR",
                     help="output directory (default: results/<scenario name>/)")
    run.add_argument("--set", metavar="KEY=VALUE", action="append", default=[], dest="set",
                     help="override on top of the scenario's, validated like the file's: a parameter "
                          "(--set medical.assistance_share=0.9) or a measure switched on or off "
                          "(--set measures.microcredit=false); repeat for several")
    run.add_argument("--debug", action="store_true", help="show tracebacks")

    sweep = sub.add_parser("sweep", help="run a sweep of scenarios over common seeds",
                           description="Run every scenario of SWEEP once per replication seed "
                           "and store each run under DIR/runs/ (Hive-partitioned Parquet). "
                           "Runs already stored are skipped, so an interrupted sweep resumes.")
    sweep.add_argument("sweep", metavar="SWEEP", help="sweep file (TOML)")
    add_executor_options(sweep)
    sweep.add_argument("--out", metavar="DIR", help="output directory (default: results/<sweep name>/)")
    sweep.add_argument("--fresh", action="store_true",
                       help="delete stored runs and failures first instead of resuming")
    sweep.add_argument("--households", metavar="N",
                       help="household rows per run (overrides the sweep and its scenarios)")
    sweep.add_argument("--seeds", metavar="N", help="replications (overrides the sweep's)")
    sweep.add_argument("--debug", action="store_true", help="show tracebacks")

    report = sub.add_parser("report", help="compare the scenarios of a results directory",
                            description="Summarize the results in DIR (a sweep or a run) and "
                            "write report tables and figures into it.")
    report.add_argument("dir", metavar="DIR", help="results directory")
    report.add_argument("--baseline", metavar="NAME", help="scenario to compare against")
    report.add_argument("--debug", action="store_true", help="show tracebacks")

    comp = sub.add_parser("compare", help="paired differences of two results, seed by seed",
                          description="B - A, paired by the seeds both were run with: per year and "
                          "over the horizon, each with its 90% t-interval; a table, compare.csv, "
                          "compare.md and figures/differences.png.")
    comp.add_argument("a", metavar="A", help="results of `povsim run` (a directory), or with --in a scenario name")
    comp.add_argument("b", metavar="B", help="the same for the results compared with A")
    comp.add_argument("--in", metavar="DIR", dest="store",
                      help="a sweep's results directory holding scenarios A and B")
    comp.add_argument("--out", metavar="DIR", help="where to write (default: results/compare/<B> vs <A>/)")
    comp.add_argument("--debug", action="store_true", help="show tracebacks")

    check = sub.add_parser("check", help="validate a scenario, sweep or profile file",
                           description="Validate a scenario file, a sweep file (or a region "
                           "profile) without running anything.")
    check.add_argument("file", metavar="FILE", help="scenario, sweep or profile file (TOML)")
    check.add_argument("--debug", action="store_true", help="show tracebacks")

    desc = sub.add_parser("describe", help="print the plan of a scenario's year, step by step",
                          description="Print the steps of the set-up and of a simulated year of SCENARIO in "
                          "order: where each lives, the flows it reads and writes, the household columns a "
                          "measure writes, and which measures are on.")
    desc.add_argument("scenario", metavar="SCENARIO", help="scenario file (TOML)")
    desc.add_argument("--debug", action="store_true", help="show tracebacks")

    from .cli_analysis import register  # calibrate, sensitivity
    register(sub)
    from .app_server import register as register_app  # the planner's page
    register_app(sub)
    return parser


# ---------------------------------------------------------------------------------------
# validation of arguments


#: Rough sizes of what runs write, for the free-space check before anything starts
#: (measured: a stored run of two years is ~77 KB, mostly Parquet's schema; a figure
#: ~100 KB; a manifest with the resolved configuration ~50 KB), with room to spare.
BYTES_PER_RUN = 150_000
BYTES_PER_RUN_YEAR = 10_000
BYTES_FIXED = 1_000_000


def _check_space(out_dir: Path, need: int) -> None:
    """Enough free space where `out_dir` is (or would be) for `need` bytes, else InputError.
    A full disk found later still leaves no partial files (every file is written atomically)."""
    import shutil

    probe = out_dir.absolute()
    while not probe.exists():
        probe = probe.parent
    try:
        free = shutil.disk_usage(probe).free
    except OSError:
        return  # cannot tell: the atomic writes still protect the results
    if free < need:
        raise InputError(str(out_dir), "", f"not enough free space: about {_mb(need)} needed, "
                         f"{_mb(free)} free on the disk of {probe}")


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def plan_run(args) -> tuple:
    """(scenario, seeds, seeding, out_dir) from the arguments; InputError on anything bad."""
    from .runner import replication_seeds
    from .scenario import SCENARIO_SCHEMA, load_scenario

    hh_key = SCENARIO_SCHEMA["households"]
    seeds_key = SCENARIO_SCHEMA["seeds"]
    households = int_arg(args.households, "--households", max(1, int(hh_key.min or 1)),
                          int(hh_key.max) if hh_key.max else None)
    n_seeds = int_arg(args.seeds, "--seeds", 1, int(seeds_key.max) if seeds_key.max else None)
    seed_key = SCENARIO_SCHEMA["seed"]
    seed = int_arg(args.seed, "--seed", 0, int(seed_key.max) if seed_key.max else None)

    scenario = load_scenario(args.scenario, households=households)
    if args.set:
        from .sweep import derive, point_name

        overrides = command_line_overrides(args.set)
        # named as a sweep names a grid point, so its results do not replace the scenario's own
        scenario = derive(scenario, point_name(scenario.name, overrides), overrides, CMDLINE, "--set")

    if seed is not None and n_seeds is None:
        seeds, seeding = [seed], {"method": "exact", "seed": seed}
    else:
        root = seed if seed is not None else scenario.seed
        n = n_seeds if n_seeds is not None else scenario.seeds
        seeds = replication_seeds(root, n)
        seeding = {"method": "numpy.random.SeedSequence(root).spawn(n), "
                             "child.generate_state(1, uint32)[0]", "root": root, "n": n}

    if args.out is not None:
        out_dir = Path(args.out)
    else:
        # a --set run is named after its overrides: a name too long is theirs
        dir_name(scenario.name, *((CMDLINE, "--set") if args.set else (scenario.file, "name")))
        out_dir = Path("results") / scenario.name
    check_writable(out_dir)
    years = scenario.end_year - scenario.start_year + 1
    _check_space(out_dir, BYTES_FIXED + len(seeds) * years * BYTES_PER_RUN_YEAR)
    return scenario, seeds, seeding, out_dir


def command_line_overrides(items: list[str]) -> dict:
    """{dotted path: value} of `--set KEY=VALUE` options; each value is read as a TOML value
    (0.9, false, { values = { 2018 = 0.9 } }), so it means what it would in a file."""
    import tomllib

    out = {}
    for item in items:
        key, sep, text = item.partition("=")
        key, text = key.strip(), text.strip()
        if not sep or not key or not text:
            raise InputError(CMDLINE, "--set", f"expected KEY=VALUE, found {item!r}")
        try:
            out[key] = tomllib.loads(f"value = {text}")["value"]
        except tomllib.TOMLDecodeError:
            raise InputError(CMDLINE, f"--set {key}", f"cannot read {text!r} as a value "
                             "(a number, true or false, or a TOML table)") from None
    return out


def plan_sweep(args) -> tuple:
    """(sweep, out_dir, workers, cli_overrides) from the arguments; InputError on anything bad."""
    from .scenario import SCENARIO_SCHEMA
    from .sweep import SWEEP_SCHEMA, load_sweep

    hh_key = SCENARIO_SCHEMA["households"]
    households = int_arg(args.households, "--households", max(1, int(hh_key.min or 1)),
                          int(hh_key.max) if hh_key.max else None)
    n_seeds = int_arg(args.seeds, "--seeds", 1, int(SWEEP_SCHEMA["replications"].max))
    workers = check_executor_options(args)
    sweep = load_sweep(args.sweep, households=households, replications=n_seeds)
    if args.out is not None:
        out_dir = Path(args.out)
    else:
        dir_name(sweep.name, sweep.file)
        out_dir = Path("results") / sweep.name
    check_writable(out_dir)
    years = max((sc.end_year - sc.start_year + 1 for _, sc in sweep.scenarios), default=1)
    from .store import completed
    n_runs = max(0, len(sweep.scenarios) * sweep.replications - len(completed(out_dir)))
    _check_space(out_dir, BYTES_FIXED + n_runs * (BYTES_PER_RUN + years * BYTES_PER_RUN_YEAR))
    cli_overrides = {k: v for k, v in (("households", households), ("seeds", n_seeds)) if v is not None}
    return sweep, out_dir, workers, cli_overrides


# ---------------------------------------------------------------------------------------
# commands


def cmd_sweep(args, argv: list[str]) -> int:
    from . import provenance, store
    from .executors import run_sweep

    sweep, out_dir, workers, cli_overrides = plan_sweep(args)  # everything validated here
    n_runs = len(sweep.scenarios) * sweep.replications
    executor_info = {"kind": args.executor, "workers": workers or (None if args.executor == "serial"
                                                                     else os.cpu_count()),
                     "scheduler": args.scheduler}
    started = provenance.utc_now()
    command = [PROG, *argv]
    manifest_path = out_dir / store.MANIFEST
    stopped = False
    with running_executor(args, workers, out_dir) as executor:
        try:
            store.write_json(manifest_path, store.sweep_manifest(
                sweep, started, command=command, cli_overrides=cli_overrides, executor=executor_info))
            done, failed, skipped = run_sweep(sweep, out_dir, executor, fresh=False, progress=True)
        except KeyboardInterrupt:  # the runs stored so far stay; a rerun resumes from them
            stopped = True
            store.write_json(manifest_path, store.sweep_manifest(
                sweep, started, provenance.utc_now(), command=command, cli_overrides=cli_overrides,
                executor=executor_info, status="interrupted"))
    if stopped:
        keys = {(name, int(seed), sc.config_hash()) for name, sc, seed in sweep.runs()}
        n = len(keys & store.completed(out_dir))
        return interrupted(f"{n} of {n_runs} runs of the sweep stored in {out_dir / store.RUNS}{os.sep} and kept",
                            "they are not run again")
    finished = provenance.utc_now()
    counts = {"total": n_runs, "done": done, "failed": failed, "skipped": skipped}
    store.write_json(manifest_path, store.sweep_manifest(
        sweep, started, finished, command=command, cli_overrides=cli_overrides,
        executor=executor_info, counts=counts))
    print(f"sweep {sweep.name}: {len(sweep.scenarios)} scenario{'s' if len(sweep.scenarios) != 1 else ''}"
          f" x {sweep.replications} seed{'s' if sweep.replications != 1 else ''} = {n_runs} runs: "
          f"{done} done, {failed} failed, {skipped} already stored")
    print(f"results: {out_dir}{os.sep} (runs/, manifest.json"
          f"{', failures/' if failed else ''})")
    if failed:
        for rec in store.failures(out_dir)[:5]:
            print(f"{PROG}: error: run {rec['scenario']} seed {rec['seed']} failed: {rec['error']}",
                  file=sys.stderr)
        return 1
    return 0


def cmd_report(args, argv: list[str]) -> int:
    from .report import report  # late: the report pulls in plotting

    return int(report(Path(args.dir), args.baseline) or 0)


def cmd_compare(args, argv: list[str]) -> int:
    from .compare import compare  # late: pulls in plotting

    return compare(args.a, args.b, store=args.store, out_dir=args.out)


def cmd_run(args, argv: list[str]) -> int:
    from . import provenance, runner

    scenario, seeds, seeding, out_dir = plan_run(args)
    _compile_first(args, scenario.measures)
    started = provenance.utc_now()
    keep = runner.resume_dir(out_dir)  # finished runs, until all are written: a rerun resumes
    failing = f"run of scenario '{scenario.name}'"
    try:
        df = runner.run_scenario(scenario, seeds, progress=True, keep=keep)
        finished = provenance.utc_now()
        failing = f"writing results to {out_dir}"
        runner.write_outputs(df, scenario, seeds, out_dir, started, finished,
                             command=[PROG, *argv], seeding=seeding)
    except KeyboardInterrupt:
        n = len(runner.kept_runs(keep, scenario, seeds))
        return interrupted(f"{n} of {len(seeds)} run{'s' if len(seeds) != 1 else ''} finished, kept in {keep}{os.sep}"
                            if n else "no run had finished, nothing kept",
                            "they are loaded, not run again" if n else "")
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure of a run is exit code 1
        return fail(f"{failing} failed: {describe(exc)}", args.debug)
    runner.discard_kept(keep)

    print(runner.format_summary(runner.summary_table(df)))
    missing = runner.missing_contract_columns(df, [m for m, on in scenario.measures.items() if on])
    if missing:
        print(f"{PROG}: warning: timeseries lacks contract columns: {', '.join(missing)}",
              file=sys.stderr)
    print(f"results: {out_dir}{os.sep} (timeseries.parquet, manifest.json, figures/poverty.png; "
          f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''}, {len(df)} rows)")
    return 0


def cmd_describe(args, argv: list[str]) -> int:
    from sim import plan

    from .scenario import load_scenario

    scenario = load_scenario(args.scenario)
    year, setup = plan.year_plan(scenario.measures), plan.setup_plan(scenario.measures)
    plan.check(setup)
    plan.check(year)
    on = [name for name, is_on in scenario.measures.items() if is_on]
    off = [name for name, is_on in scenario.measures.items() if not is_on]
    print(f"scenario {scenario.name} ({args.scenario}): profile {scenario.profile.name}, "
          f"{scenario.start_year}-{scenario.end_year}")
    print(f"measures on ({len(on)}): {', '.join(on) or 'none'}")
    print(f"measures off ({len(off)}): {', '.join(off) or 'none'}")
    print(f"set-up before {scenario.start_year} (sim/plan.py: setup_plan; only the entitlements act):")
    print("\n".join(plan.describe(setup, scenario.measures)))
    print("each year (sim/plan.py: year_plan):")
    print("\n".join(plan.describe(year)))
    return 0


def cmd_check(args, argv: list[str]) -> int:
    from sim.inputs import load_toml

    path = Path(args.file)
    raw = load_toml(path)
    if "profile" not in raw and "register" in raw:
        from sim.profiles import load_profile
        profile = load_profile(path)
        start = profile.data["start_year"]
        print(f"ok: {args.file} (profile {profile.name}, start year {start}, "
              f"{profile.data['default_households']:,} households by default)")
        return 0
    from .cli_analysis import check_targets_file
    if (message := check_targets_file(path, raw)) is not None:
        print(message)
        return 0
    from .sweep import is_sweep_file, load_sweep
    if is_sweep_file(raw):
        sweep = load_sweep(path)
        n = len(sweep.scenarios)
        print(f"ok: {args.file} (sweep {sweep.name}, {n} scenario{'s' if n != 1 else ''} x "
              f"{sweep.replications} seed{'s' if sweep.replications != 1 else ''} = "
              f"{n * sweep.replications} runs)")
        return 0
    from .scenario import load_scenario
    scenario = load_scenario(path)
    print(f"ok: {args.file} (scenario {scenario.name}, profile {scenario.profile.name}, "
          f"years {scenario.start_year}-{scenario.end_year})")
    return 0


@contextlib.contextmanager
def _input_warnings():
    """Print each suspicious input value once, as one `povsim: warning:` line on stderr,
    as soon as it is found (before any run starts); other warnings go their usual way."""
    from sim.schema import SuspiciousValue

    with warnings.catch_warnings():
        warnings.simplefilter("default", SuspiciousValue)
        shown = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if isinstance(message, SuspiciousValue):
                print(f"{PROG}: warning: {' '.join(message.one_line().split())}", file=sys.stderr)
            else:
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield


RUNS_MODELS = ("run", "sweep", "calibrate", "sensitivity")


def _compile_first(args, measures: dict[str, bool] | None = None) -> None:
    """Before the first run after installing (or after the engine changed): compile the
    passes (of the measures that are on, when known) on every core, saying so, instead of
    one by one on one core inside the run."""
    from sim.precompile import ensure_compiled

    workers = getattr(args, "workers", None)
    ensure_compiled(say=lambda line: print(f"{PROG}: {line}", file=sys.stderr, flush=True),
                    workers=int(workers) if workers and str(workers).isdigit() else None, measures=measures)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
    except _Usage as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    debug = getattr(args, "debug", debug)
    commands = {"run": cmd_run, "check": cmd_check, "describe": cmd_describe, "sweep": cmd_sweep,
                "report": cmd_report, "compare": cmd_compare}
    from .cli_analysis import COMMANDS as analysis_commands
    commands.update(analysis_commands)
    from .app_server import COMMANDS as app_commands
    commands.update(app_commands)
    try:
        with _input_warnings():
            if args.command in RUNS_MODELS and args.command != "run":  # run: once its measures are known
                _compile_first(args)
            return commands[args.command](args, argv)
    except InputError as err:
        if debug:
            traceback.print_exc()
        from sim.schema import problems_of
        for problem in problems_of(err):  # one line per problem
            print(f"{PROG}: error: {' '.join(problem.one_line().split())}", file=sys.stderr)
        return 2
    except CommandFailed as exc:
        return fail(str(exc), debug)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - unexpected: exit code 1, one line
        return fail(describe(exc), debug)


if __name__ == "__main__":
    raise SystemExit(main())
