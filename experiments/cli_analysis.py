"""The `povsim calibrate` and `povsim sensitivity` subcommands.

    povsim calibrate TARGETS [--params P,Q] [--budget N] [--method de|nelder-mead]
                     [--seeds N] [--households N] [--seed S] [--calibratable FILE]
                     [--executor serial|process|dask] [--workers N] [--scheduler ADDR]
                     [--out DIR] [--fresh] [--debug]
    povsim sensitivity SCENARIO [--method sobol|morris] [--params P,Q] [--n N]
                     [--outputs A,B] [--seeds N] [--households N] [--seed S]
                     [--calibratable FILE] [--executor ...] [--workers N]
                     [--scheduler ADDR] [--out DIR] [--fresh] [--debug]

`register(subparsers)` adds both to the `povsim` parser; `COMMANDS` maps their names to
the command functions. As for the other commands, everything is validated before the first
run (bad input: one line, exit code 2, nothing written) and a failed run is exit code 1.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from sim.errors import InputError, nearest

from .calibrate import CALIBRATABLE_FILE, METHODS as CALIBRATION_METHODS
from .cli_common import (CMDLINE, PROG, add_executor_options, check_executor_options, check_writable, describe,
                         dir_name, fail, int_arg, interrupted, running_executor)
from .sensitivity import DEFAULT_OUTPUTS, METHODS as SENSITIVITY_METHODS

DEFAULT_BUDGET = 100
DEFAULT_CALIBRATION_SEEDS = 4
DEFAULT_SENSITIVITY_SEEDS = 2
DEFAULT_N = 32
# assumption: below these sizes the estimates are noise whatever the model (Sobol: fewer than 8
# base samples leave the bootstrap of each index fewer than 8 differences to resample; Morris:
# fewer than 4 trajectories give each parameter fewer than 4 elementary effects)
MIN_N = {"sobol": 8, "morris": 4}
# assumption: indices whose confidence half-width exceeds a tenth of the output's variance
# (Sobol indices lie between 0 and 1) cannot rank parameters; reported as unreliable, with widths
UNRELIABLE_CONF = 0.1
BATCH = 64  # points per batch of a sensitivity analysis (one progress line each)


def _executor_options(p) -> None:
    add_executor_options(p)
    p.add_argument("--calibratable", metavar="FILE",
                   help="file declaring the free parameters with ranges and reasons "
                        "(default: experiments/calibratable.toml)")
    p.add_argument("--params", metavar="P,Q",
                   help="comma-separated dotted names of declared parameters (default: all declared)")
    p.add_argument("--households", metavar="N", help="household rows per run (overrides the scenario)")
    p.add_argument("--fresh", action="store_true",
                   help="delete runs stored in the output directory first instead of reusing them")
    p.add_argument("--debug", action="store_true", help="show tracebacks")


def register(sub) -> None:
    """Add the `calibrate` and `sensitivity` subcommands to the `povsim` subparsers."""
    cal = sub.add_parser(
        "calibrate", help="fit declared free parameters to a target file",
        description="Fit the declared free parameters to the series of TARGETS (a target file), "
        "minimising the tolerance-scaled squared error of the model's mean over common seeds. "
        "Writes calibrated.toml (a runnable scenario), fit.csv, history.csv, calibration.json "
        "and figures/fit.png to the output directory.")
    cal.add_argument("targets", metavar="TARGETS", help="target file (TOML)")
    cal.add_argument("--budget", metavar="N",
                     help=f"parameter points to evaluate (default {DEFAULT_BUDGET}); at least "
                          "2 x max(5, 2 x parameters) for de (20 for up to 5 parameters, 44 for 11), "
                          "parameters + 2 for nelder-mead")
    cal.add_argument("--method", choices=CALIBRATION_METHODS, default="de",
                     help="differential evolution (default) or Nelder-Mead from the scenario's values")
    cal.add_argument("--seeds", metavar="N",
                     help=f"common seeds every point is run on (default {DEFAULT_CALIBRATION_SEEDS})")
    cal.add_argument("--seed", metavar="S", help="seed of the optimizer (default 0)")
    cal.add_argument("--out", metavar="DIR",
                     help="output directory (default: results/calibrate_<targets name>/)")
    _executor_options(cal)

    sens = sub.add_parser(
        "sensitivity", help="Sobol indices or Morris screening of declared parameters",
        description="Vary the declared parameters over their ranges (SALib: Sobol or Morris) and "
        "measure what drives the chosen outputs. Writes sensitivity.csv, samples.csv, "
        "sensitivity.json and figures/sensitivity.png; runs are stored, so a rerun resumes.")
    sens.add_argument("scenario", metavar="SCENARIO", help="scenario file (TOML)")
    sens.add_argument("--method", choices=SENSITIVITY_METHODS, default="sobol",
                      help="sobol (default) or morris")
    sens.add_argument("--n", metavar="N", help=f"base sample size: Sobol's N (a power of 2, at least "
                      f"{MIN_N['sobol']}; N x (parameters + 2) points) or Morris trajectories (at least "
                      f"{MIN_N['morris']}) (default {DEFAULT_N}); indices with wide confidence intervals "
                      "are reported as unreliable")
    sens.add_argument("--outputs", metavar="A,B",
                      help=f"outputs to analyse (default {','.join(DEFAULT_OUTPUTS)})")
    sens.add_argument("--seeds", metavar="N",
                      help=f"common seeds every point is run on (default {DEFAULT_SENSITIVITY_SEEDS})")
    sens.add_argument("--seed", metavar="S", help="seed of the sample (default 0)")
    sens.add_argument("--out", metavar="DIR",
                      help="output directory (default: results/sensitivity_<scenario>_<method>/)")
    _executor_options(sens)


# ---------------------------------------------------------------------------------------
# validation of arguments


def _names(text: str | None, option: str) -> list[str] | None:

    if text is None:
        return None
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise InputError(CMDLINE, option, f"expected comma-separated names, found {text!r}")
    return names


def _common(args):
    """(households, workers, free parameters, calibratable file) from the shared options."""
    from .calibrate import load_calibratable, select
    from .scenario import SCENARIO_SCHEMA

    hh_key = SCENARIO_SCHEMA["households"]
    households = int_arg(args.households, "--households", int(hh_key.min), int(hh_key.max))
    workers = check_executor_options(args)
    cfile = Path(args.calibratable) if args.calibratable else CALIBRATABLE_FILE
    free = select(load_calibratable(cfile), _names(args.params, "--params"), str(cfile))
    return households, workers, free, cfile


def _out_dir(args, default: str, file: str) -> Path:

    if args.out is not None:
        out = Path(args.out)
    else:
        dir_name(default, file)
        out = Path("results") / default
    check_writable(out)
    return out


def plan_calibrate(args) -> dict:
    from .calibrate import de_settings
    from .targets import load_targets

    households, workers, free, cfile = _common(args)
    budget = int_arg(args.budget, "--budget", 1, 1_000_000) or DEFAULT_BUDGET
    n_seeds = int_arg(args.seeds, "--seeds", 1, 10_000) or DEFAULT_CALIBRATION_SEEDS
    seed = int_arg(args.seed, "--seed", 0, 2**32 - 1) or 0
    targets = load_targets(args.targets, households=households)
    if args.method == "de":
        de_settings(budget, len(free))  # InputError when the budget is too small
    elif budget < len(free) + 2:
        raise InputError(CMDLINE, "--budget", f"{budget} is too small for Nelder-Mead over "
                         f"{len(free)} parameter(s): its first simplex alone has {len(free) + 1} "
                         f"points; give at least {len(free) + 2}")
    out = _out_dir(args, f"calibrate_{targets.name}", targets.file)
    return dict(targets=targets, free=free, budget=budget, n_seeds=n_seeds, seed=seed,
                workers=workers, out=out, calibratable=cfile)


def plan_sensitivity(args) -> dict:
    from .scenario import load_scenario
    from .sensitivity import output_names

    households, workers, free, cfile = _common(args)
    n = int_arg(args.n, "--n", 2, 1_000_000) or DEFAULT_N
    if n < MIN_N[args.method]:
        what = "base samples" if args.method == "sobol" else "trajectories"
        raise InputError(CMDLINE, "--n", f"{n} {what} are too few for {args.method}: the indices would be "
                         f"noise; give at least {MIN_N[args.method]} (usable indices need far more, "
                         f"e.g. {8 * DEFAULT_N})")
    if args.method == "sobol" and n & (n - 1):
        low = 1 << (n.bit_length() - 1)
        raise InputError(CMDLINE, "--n", f"{n} is not a power of 2, which Sobol's sequence needs "
                         f"(try {low} or {low * 2})")
    if args.method == "morris" and len(free) < 2:
        raise InputError(CMDLINE, "--params", "Morris screening needs at least two parameters")
    n_seeds = int_arg(args.seeds, "--seeds", 1, 10_000) or DEFAULT_SENSITIVITY_SEEDS
    seed = int_arg(args.seed, "--seed", 0, 2**32 - 1) or 0
    outputs = _names(args.outputs, "--outputs") or list(DEFAULT_OUTPUTS)
    valid = output_names()
    for o in outputs:
        if o not in valid:
            raise InputError(CMDLINE, "--outputs", f"unknown output '{o}'{nearest(o, valid)} "
                             f"(outputs: {', '.join(valid)})")
    scenario = load_scenario(args.scenario, households=households)
    out = _out_dir(args, f"sensitivity_{scenario.name}_{args.method}", scenario.file)
    return dict(scenario=scenario, free=free, n=n, n_seeds=n_seeds, seed=seed, outputs=outputs,
                workers=workers, out=out, calibratable=cfile)


# ---------------------------------------------------------------------------------------
# commands


def cmd_calibrate(args, argv: list[str]) -> int:
    from . import provenance
    from .calibrate import RunFailed, calibrate, write_outputs

    plan = plan_calibrate(args)  # everything validated here
    targets, free, out = plan["targets"], plan["free"], plan["out"]
    started = provenance.utc_now()
    with running_executor(args, plan["workers"], out) as executor:
        try:
            result = calibrate(targets, free, budget=plan["budget"], n_seeds=plan["n_seeds"], out_dir=out,
                               executor=executor, method=args.method, seed=plan["seed"])
        except RunFailed as exc:
            return fail(str(exc), args.debug)
        except KeyboardInterrupt:
            return _kept(out)
    try:
        write_outputs(targets, result, free, out, n_seeds=plan["n_seeds"],
                      households=targets.scenario.households, budget=plan["budget"], seed=plan["seed"],
                      command=[PROG, *argv], started=started)
    except Exception as exc:  # noqa: BLE001
        return fail(f"writing results to {out} failed: {describe(exc)}", args.debug)
    from .targets import fit_table
    fit = fit_table(result.frame, targets)
    print(f"calibrated {len(free)} parameter(s) to {targets.file} ({args.method}, "
          f"{result.evaluations} points x {plan['n_seeds']} seeds, {result.seconds:.0f} s): loss {result.loss:.4g}")
    for p in free:
        print(f"  {p.name} = {result.best[p.name]:.6g}   (range {p.low:g}-{p.high:g})")
    show = fit[["series", "year", "target", "model_mean", "model_p10", "model_p90", "within_tolerance"]]
    print(show.to_string(index=False, float_format=lambda v: f"{v:,.0f}"))
    print(f"{int(fit['within_tolerance'].sum())} of {len(fit)} targets within tolerance")
    print(f"results: {out}{os.sep} (calibrated.toml, fit.csv, history.csv, calibration.json, "
          f"figures/fit.png, runs/)")
    return 0


def cmd_sensitivity(args, argv: list[str]) -> int:
    from . import provenance
    from .calibrate import RunFailed
    from .sensitivity import design_size, model_evaluator, sensitivity, write_outputs

    plan = plan_sensitivity(args)  # everything validated here
    scenario, free, out = plan["scenario"], plan["free"], plan["out"]
    started = provenance.utc_now()
    points = design_size(args.method, plan["n"], len(free))
    with running_executor(args, plan["workers"], out) as executor:
        print(f"sensitivity {scenario.name}: {args.method}, {len(free)} parameters, {points} points x "
              f"{plan['n_seeds']} seeds = {points * plan['n_seeds']} runs", file=sys.stderr)
        try:
            evaluate, point_runner = model_evaluator(scenario, free, plan["n_seeds"], out, executor,
                                                     plan["outputs"], str(plan["calibratable"]),
                                                     label=args.method)
            table, X, Y = sensitivity(free, evaluate, args.method, plan["n"], seed=plan["seed"],
                                      batch_size=BATCH, label=f"sensitivity {scenario.name}")
        except RunFailed as exc:
            return fail(str(exc), args.debug)
        except KeyboardInterrupt:
            return _kept(out)
    info = {"scenario": scenario.name, "scenario_file": scenario.file, "n": plan["n"],
            "seed": plan["seed"], "seeds": plan["n_seeds"], "households": scenario.households,
            "outputs": plan["outputs"], "runs_done": point_runner.runs_done,
            "runs_reused": point_runner.runs_skipped, "started_utc": provenance.utc_text(started),
            "command": [PROG, *argv], "warnings": reliability_warnings(table, args.method, plan["n"])}
    try:
        write_outputs(table, X, Y, free, args.method, out, info=info,
                      title=f"{scenario.name}: {args.method} over {len(free)} parameters, "
                            f"{points} points x {plan['n_seeds']} seeds")
    except Exception as exc:  # noqa: BLE001
        return fail(f"writing results to {out} failed: {describe(exc)}", args.debug)
    print(table.drop(columns=["note"] if not table["note"].astype(bool).any() else [])
          .to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    for line in info["warnings"]:
        print(f"{PROG}: warning: {line}", file=sys.stderr)
    print(f"{point_runner.runs_done} runs done, {point_runner.runs_skipped} already stored")
    print(f"results: {out}{os.sep} (sensitivity.csv, samples.csv, sensitivity.json, "
          f"figures/sensitivity.png, runs/)")
    return 0


def _kept(out: Path) -> int:
    """Ctrl-C during calibrate or sensitivity: the runs stored so far stay in DIR/runs/, and
    the same command, rerun, evaluates the same points in the same order and loads them."""
    from . import store

    n = len(store.completed(out))
    return interrupted(f"{n} run{'s' if n != 1 else ''} stored in {out / store.RUNS}{os.sep} and kept",
                       "the points already run are loaded, not run again; --fresh would delete them")


def reliability_warnings(table, method: str, n: int) -> list[str]:
    """One line per output whose indices the sample cannot pin down: Sobol indices with a
    confidence half-width over `UNRELIABLE_CONF`, or a Morris mu* whose half-width exceeds
    the largest mu* of the output (the ranking of parameters is then noise)."""
    out = []
    for output, rows in table.groupby("output", sort=False):
        if method == "sobol":
            widest = {k: float(rows[f"{k}_conf"].max()) for k in ("S1", "ST")}
            if max(widest.values()) > UNRELIABLE_CONF:
                out.append(f"{output}: indices unreliable at N = {n}: confidence half-widths up to "
                           f"{widest['S1']:.2g} (S1) and {widest['ST']:.2g} (ST), against indices between 0 "
                           f"and 1; a larger --n narrows them (about 1/sqrt(N))")
        else:
            top, conf = float(rows["mu_star"].max()), float(rows["mu_star_conf"].max())
            if conf > top:
                out.append(f"{output}: screening unreliable with {n} trajectories: mu* confidence "
                           f"half-widths up to {conf:.3g} against a largest mu* of {top:.3g}; give more "
                           "trajectories (--n)")
    return out


def check_targets_file(path: Path, raw: dict) -> str | None:
    """For `povsim check`: validate a target file (one with a [series] table and a profile)
    and return its `ok:` line; None when `raw` is not a target file."""
    if not (isinstance(raw.get("series"), dict) and "profile" in raw):
        return None
    from .targets import load_targets

    targets = load_targets(path)
    values = sum(len(s.years) for s in targets.series)
    n = len(targets.series)
    return (f"ok: {path} (targets {targets.name}, profile {targets.profile}, scenario "
            f"{targets.scenario.name}, {n} series, {values} target value{'s' if values != 1 else ''})")


COMMANDS = {"calibrate": cmd_calibrate, "sensitivity": cmd_sensitivity}
