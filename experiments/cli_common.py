"""What the `povsim` commands share: argument checks, the executor options and the
executor itself, and how failures and interruptions are reported (one line on stderr,
with the exit codes of `experiments/cli.py`)."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import traceback
from pathlib import Path

from sim.errors import InputError

PROG = "povsim"
CMDLINE = "command line"  # the "file" of InputErrors about arguments
EXECUTOR_CHOICES = ("serial", "process", "dask")


class CommandFailed(Exception):
    """A command cannot go on (exit code 1); its message is the one line shown."""


def add_executor_options(p) -> None:
    """--executor, --workers and --scheduler, as every command that runs many models has them."""
    p.add_argument("--executor", choices=EXECUTOR_CHOICES, default="process",
                   help="where runs execute (default: process)")
    p.add_argument("--workers", metavar="N", help="worker processes (default: the number of CPUs)")
    p.add_argument("--scheduler", metavar="ADDR",
                   help="address of a running Dask scheduler (with --executor dask; default: start a local cluster)")


def check_executor_options(args) -> int | None:
    """The --workers count, after checking the executor options fit together."""
    workers = int_arg(args.workers, "--workers", 1, 4096)
    if args.scheduler is not None and args.executor != "dask":
        raise InputError(CMDLINE, "--scheduler", f"only used with --executor dask, "
                         f"not with --executor {args.executor}")
    if workers is not None and args.executor == "serial":
        raise InputError(CMDLINE, "--workers", "not used with --executor serial")
    return workers


@contextlib.contextmanager
def running_executor(args, workers, out_dir: Path):
    """The executor of --executor/--workers/--scheduler, shut down (pending runs cancelled)
    however the block ends. It starts before --fresh deletes anything in `out_dir`: an
    unreachable scheduler leaves the results as they were (CommandFailed)."""
    from .executors import clear, make_executor

    try:
        executor = make_executor(args.executor, workers, args.scheduler)
    except Exception as exc:  # noqa: BLE001 - e.g. no scheduler at that address
        raise CommandFailed(f"cannot start the {args.executor} executor: {describe(exc)}") from exc
    try:
        if args.fresh:
            clear(out_dir)
        yield executor
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def int_arg(text: str | None, option: str, minimum: int, maximum: int | None = None) -> int | None:
    if text is None:
        return None
    try:
        value = int(text.strip().replace("_", ""))
    except ValueError:
        raise InputError(CMDLINE, option, f"expected a whole number, found {text!r}") from None
    if value < minimum:
        what = {0: "a non-negative whole number", 1: "a positive whole number"}.get(
            minimum, f"a whole number of at least {minimum}")
        raise InputError(CMDLINE, option, f"expected {what}, found {value}")
    if maximum is not None and value > maximum:
        raise InputError(CMDLINE, option, f"{value} is above the maximum {maximum}")
    return value


def check_writable(out_dir: Path) -> None:
    """The output directory if it exists, else its nearest existing ancestor, must be a
    directory we can create files in (tried for real: os.access says yes to root)."""
    shown = str(out_dir)
    probe = out_dir.absolute()
    if probe.exists() and not probe.is_dir():
        raise InputError(shown, "", "output path exists and is not a directory")
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise InputError(shown, "", f"cannot create it: {probe} is not a directory")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".povsim-probe-", dir=probe))
    except OSError as exc:
        raise InputError(shown, "", f"cannot write in {probe}: {exc.strerror}") from None


def dir_name(name: str, file: str, path: str = "name") -> None:
    """`name` can be the default output folder results/<name>/."""
    from .scenario import check_name

    check_name(name, file, path, "directory name under results/ (rename it or give --out DIR)")


def describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())  # one line
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def interrupted(kept: str, resume: str = "") -> int:
    """Ctrl-C: one line saying what was kept and how to resume; exit code 130."""
    again = f"; run the same command again to resume ({resume})" if resume else ""
    print(f"{PROG}: interrupted: {kept}{again}", file=sys.stderr, flush=True)
    return 130


def fail(message: str, debug: bool) -> int:
    if debug:
        traceback.print_exc()
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 1
