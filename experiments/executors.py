"""Run a sweep on any `concurrent.futures.Executor`: in-process, a process pool or Dask.

`make_executor(kind, workers, scheduler)` gives

- ``serial``: `SerialExecutor`, which runs each task in the calling process when it is
  submitted (for debugging and for tests);
- ``process``: `ProcessPoolExecutor(max_workers=workers)` whose workers are forked from a
  fork server that has imported the engine but never run it (``spawn`` where there is no
  fork server): no numba or thread state is inherited;
- ``dask``: `distributed.Client(scheduler).get_executor(pure=False)`, or without an address
  a `LocalCluster(n_workers=workers, threads_per_worker=1, processes=True)`; the cluster and
  client are closed with the executor.

`run_sweep` submits one task per (scenario, seed) not yet stored (to Dask all at once, see
`DaskExecutor.submit_all`). Each task builds the model, runs it and writes its own Parquet
file into the store (see `experiments/store.py`); only a small status dict travels back. A
run that raises is recorded in `failures/` and does not stop the sweep.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import gc
import multiprocessing
import os
import sys
import threading
import time
import traceback
from collections import Counter
from pathlib import Path

from . import store

EXECUTORS = ("serial", "process", "dask")
CONNECT_TIMEOUT_S = 10


class SerialExecutor(cf.Executor):
    """Runs every task at once, in this process, when it is submitted."""

    def __init__(self):
        self._shutdown = False

    def submit(self, fn, /, *args, **kwargs):
        if self._shutdown:
            raise RuntimeError("cannot submit after shutdown")
        future: cf.Future = cf.Future()
        future.set_running_or_notify_cancel()
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the future, as a pool would
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            future.set_exception(exc)
        else:
            future.set_result(result)
        return future

    def shutdown(self, wait=True, *, cancel_futures=False):
        self._shutdown = True


class DaskExecutor(cf.Executor):
    """`client.get_executor(pure=False)` that also closes its client (and local cluster)."""

    def __init__(self, scheduler: str | None, workers: int):
        from distributed import Client, LocalCluster

        self.cluster = None
        if scheduler:
            # assumption: a reachable scheduler answers within seconds; don't keep a user
            # waiting Dask's default 30 s to hear that an address is wrong
            self.client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        else:
            import dask

            # Without a dashboard nobody reads the workers' statistical profiles; sampling
            # every task thread's stack every 10 ms cost ~3% of each run. Dask also starts
            # workers with MALLOC_TRIM_THRESHOLD_ set, which turns off glibc's adaptive mmap
            # threshold: every temporary array of a run was mapped and faulted afresh (3.8x
            # the page faults, ~4% of each run); workers here allocate as a plain process does.
            environ = {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ", {}).items()
                       if k != "MALLOC_TRIM_THRESHOLD_"}
            settings = {"distributed.worker.profile.enabled": False, "distributed.nanny.pre-spawn-environ": environ}
            with _forked_dask_workers(), dask.config.set(settings):
                self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                            dashboard_address=None)
            self.client = Client(self.cluster)
        self._executor = self.client.get_executor(pure=False)
        self._mapped: list = []

    def submit(self, fn, /, *args, **kwargs):
        return self._executor.submit(fn, *args, **kwargs)

    def submit_all(self, fn, calls: list[tuple]) -> list[cf.Future]:
        """`[submit(fn, *args) for args in calls]` in one `client.map` call (pure=False),
        with arguments that several calls share (by identity: a sweep's scenarios) sent
        to the workers once. One submission per call cost the scheduler, which shares the
        driver's cores with the workers, ~9 ms of CPU a task against ~5 ms this way (a
        200-run sweep finished ~5% sooner)."""
        if not calls:
            return []
        columns = [list(column) for column in zip(*calls)]
        for column in columns:
            uses = Counter(map(id, column))
            sent = {}
            for v in column:
                if uses[id(v)] > 1 and id(v) not in sent and not isinstance(v, (str, int, float, type(None))):
                    sent[id(v)] = self.client.scatter(v, broadcast=True, hash=False)
            column[:] = [sent.get(id(v), v) for v in column]
        futures = self.client.map(fn, *columns, pure=False)
        self._mapped += futures
        return [_as_concurrent(f) for f in futures]

    def shutdown(self, wait=True, *, cancel_futures=False):
        try:
            if not wait or cancel_futures:
                for f in self._mapped:
                    f.cancel()
            self._executor.shutdown(wait=wait)
        finally:
            self.client.close()
            if self.cluster is not None:
                self.cluster.close()


def _as_concurrent(future) -> cf.Future:
    """A `concurrent.futures.Future` that follows a Dask future (cancelling it cancels the task)."""
    out: cf.Future = cf.Future()

    def follow(f):
        if out.done():
            return
        if f.status == "finished":
            out.set_result(f.result())
        elif f.status == "cancelled":
            out.cancel()
            out.set_running_or_notify_cancel()
        else:
            out.set_exception(f.exception())

    out.add_done_callback(lambda o: o.cancelled() and future.cancel())
    future.add_done_callback(follow)
    return out


# Imported once in the fork server, then inherited by every worker it forks: a worker
# starts in milliseconds instead of importing mesa, pandas and the engine (~2.5 s).
WORKER_PRELOAD = ["experiments.executors", "experiments.runner", "sim.model"]


@contextlib.contextmanager
def _forked_dask_workers():
    """Local Dask workers forked from the fork server with the engine imported (as the
    process pool's), instead of spawned interpreters that import it each (~2.5 s)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        yield
        return
    import dask
    import distributed.utils

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["distributed", *WORKER_PRELOAD])
    distributed.utils._forkserver_preload_set = True  # keep this list rather than distributed's own
    with dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"}):
        yield


def _mp_context():
    # forkserver where there is one: workers are forked from a clean, single-threaded
    # server process that has imported the engine but never run it (no numba threads,
    # locks or state are inherited); the parent's sys.path is passed on, so a plain
    # checkout works without installing. Elsewhere spawn: a fresh interpreter per worker.
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(WORKER_PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")


def _leave_interrupts_to_the_parent() -> None:
    """In a pool worker: ignore SIGINT. Ctrl-C in a terminal signals the whole process
    group; the parent stops submitting, cancels what has not started and waits for the
    runs in flight (each stored whole, or not at all), instead of every worker printing a
    KeyboardInterrupt traceback and the pool breaking."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def make_executor(kind: str, workers: int | None = None, scheduler: str | None = None) -> cf.Executor:
    workers = int(workers or os.cpu_count() or 1)
    if kind == "serial":
        return SerialExecutor()
    if kind == "process":
        return cf.ProcessPoolExecutor(max_workers=workers, mp_context=_mp_context(),
                                      initializer=_leave_interrupts_to_the_parent)
    if kind == "dask":
        return DaskExecutor(scheduler, workers)
    raise ValueError(f"unknown executor {kind!r} (expected one of {', '.join(EXECUTORS)})")


# ---------------------------------------------------------------------------------------
# one task


def execute_run(scenario, seed: int, out_dir: str, config_hash: str,
                numba_threads: int | None = None) -> dict:
    """Run one (scenario, seed), store its timeseries or its failure; return a status dict.

    With `numba_threads`, the worker's numba thread pool is set to that size first: a sweep
    runs one model per core, and numba's parallel loops on top of that oversubscribe the
    cores (on a 2-core machine a 2-year run of 3000 households took 1.9 s instead of 0.04 s).
    The results do not depend on the number of threads.
    """
    from .runner import run_one

    if numba_threads is not None:
        _set_numba_threads(numba_threads)
    t0 = time.perf_counter()
    name = scenario.name
    try:
        with _collection_paused():
            frame = run_one(scenario, seed)
        store.write_run(out_dir, name, seed, config_hash, frame)
    except Exception as exc:  # noqa: BLE001 - every failure of a run is recorded
        error = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        store.write_failure(out_dir, name, seed, config_hash, error, traceback.format_exc())
        return {"scenario": name, "seed": int(seed), "status": "failed", "error": error,
                "seconds": time.perf_counter() - t0}
    return {"scenario": name, "seed": int(seed), "status": "done",
            "seconds": time.perf_counter() - t0}


@contextlib.contextmanager
def _collection_paused():
    """No automatic garbage collection while a run builds and steps its model; the run's
    own garbage (all in the youngest generation then) is collected after it.

    A run allocates enough Python objects (villages, counties, per-year dicts) to trigger
    the collector's full passes, and a full pass walks every object in the process: in a
    Dask worker, whose heap holds the whole distributed runtime, that took ~10% of each
    run (a run of 50,000 households: 131-136 ms, 117-118 ms without; a pool worker 118).
    """
    if not gc.isenabled():  # the caller manages collection
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect(0)


def _set_numba_threads(n: int) -> None:
    import numba

    n = max(1, min(int(n), numba.config.NUMBA_NUM_THREADS))
    if numba.get_num_threads() != n:
        numba.set_num_threads(n)


# ---------------------------------------------------------------------------------------
# the sweep


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def clear(out_dir) -> None:
    """Remove the stored runs and failures (for --fresh): only the files the store writes
    (`store.remove_written`); the rest of out_dir stays."""
    store.remove_written(out_dir)


def run_sweep(sweep, out_dir, executor: cf.Executor, fresh: bool = False,
              progress: bool = True, numba_threads: int | None = -1, warn=None) -> tuple[int, int, int]:
    """Run every (scenario, seed) of `sweep` not already stored; (n_done, n_failed, n_skipped).

    A run counts as stored when `runs/scenario=<name>/seed=<seed>/<config hash>.parquet`
    reads back whole (`store.check_run_file`: its recorded size and checksum, its footer,
    rows and place); `fresh` first deletes `runs/` and `failures/`. Before any run starts
    (from the command line and from a notebook alike): temporary files a killed sweep left
    are removed, damaged or foreign run files are moved to `damaged/` (each named in one
    line to `warn`, default `povsim: warning: ...` on stderr) and their runs done again,
    and runs stored under a scenario's old name are reused. Progress (runs done, failed,
    time left) goes to stderr when `progress` is on and stderr is a terminal.

    `numba_threads`: numba threads per run (see `execute_run`); the default -1 means 1 in
    pool and Dask workers and numba's own default with the serial executor; None leaves
    every worker as it is.
    """
    from tqdm import tqdm

    out_dir = Path(out_dir)
    if numba_threads == -1:
        numba_threads = None if isinstance(executor, SerialExecutor) else 1
    if fresh:
        clear(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    store.clean_temporary(out_dir)  # left by a killed sweep
    keys = [(name, int(seed), sc.config_hash()) for name, sc, seed in sweep.runs()]
    whole, damaged = store.set_aside_damaged(out_dir)
    if damaged:
        redo = set(keys) - {(r["scenario"], r["seed"], r["config_hash"]) for r in whole}
        say = warn or (lambda line: print(f"povsim: warning: {line}", file=sys.stderr, flush=True))
        unrecorded = [d for d in damaged if d[1] == store.NO_RECORD]
        if len(unrecorded) > store.UNRECORDED_LINES:  # a store from before run files were verified
            listing = store.list_unrecorded(out_dir, unrecorded)
            say(f"{out_dir}: {len(unrecorded)} run files without a checksum record ({store.NO_RECORD.partition(': ')[2]}) "
                f"moved into {out_dir / store.DAMAGED}, their paths kept, listed in {listing}; "
                "the runs this sweep asks for are done again")
            damaged = [d for d in damaged if d[1] != store.NO_RECORD]
        for path, problem, dest in damaged:
            seed = store._seed_of(path)
            say(store.damaged_line(path, problem, dest, (store._scenario_of(path), seed, path.stem) in redo))
    if store.adopt_renamed(out_dir, keys, whole):
        whole = store.verify(out_dir)[0]
    have = {(r["scenario"], r["seed"], r["config_hash"]) for r in whole}
    todo, skipped = [], 0
    for name, scenario, seed in sweep.runs():
        h = scenario.config_hash()
        if (name, int(seed), h) in have:
            skipped += 1
        else:
            todo.append((name, scenario, int(seed), h))

    bar = tqdm(total=len(todo), desc=f"sweep {sweep.name}", unit="run", file=sys.stderr,
               disable=not (progress and _isatty(sys.stderr)), dynamic_ncols=True)
    lock = threading.Lock()
    counts = {"done": 0, "failed": 0}

    def record(status: str) -> None:
        with lock:
            counts[status] += 1
            bar.set_postfix(failed=counts["failed"], refresh=False)
            bar.update(1)

    futures: dict[cf.Future, tuple] = {}
    seen: set[cf.Future] = set()
    calls = [(scenario, seed, str(out_dir), h, numba_threads) for _, scenario, seed, h in todo]
    submit_all = getattr(executor, "submit_all", None)  # Dask: one submission for all
    try:
        submitted = (submit_all(execute_run, calls) if submit_all is not None
                     else (executor.submit(execute_run, *call) for call in calls))  # one by one, as they run
        for (name, scenario, seed, h), fut in zip(todo, submitted):
            futures[fut] = (name, seed, h)
            if fut.done():  # the serial executor: show progress as we go
                seen.add(fut)
                _collect(fut, futures[fut], out_dir, record)
        for fut in cf.as_completed(list(futures)):
            if fut not in seen:
                _collect(fut, futures[fut], out_dir, record)
    except BaseException:
        for fut in futures:
            fut.cancel()
        raise
    finally:
        bar.close()
    return counts["done"], counts["failed"], skipped


def _collect(fut: cf.Future, key: tuple, out_dir: Path, record) -> None:
    """Count a finished task; a task that died without a status is recorded as failed."""
    name, seed, h = key
    try:
        status = fut.result()["status"]
    except Exception as exc:  # noqa: BLE001 - e.g. a worker process died
        error = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        store.write_failure(out_dir, name, seed, h, error,
                            "".join(traceback.format_exception(exc)))
        status = "failed"
    record(status)
