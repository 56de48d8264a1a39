"""Compiling the engine's passes on every core, once, before the first run needs them.

numba compiles a pass the first time it is called, one after another on one core: the
first run after installing (or after the engine's code changed) spent over two minutes
compiling. The passes a run calls, with the argument types they are called with, are
listed in `sim/compiled_signatures.json` (written by `python -m sim.precompile --record`,
checked by `tests/test_precompile.py`). When most of them are missing from numba's cache,
`ensure_compiled` splits the list over the cores: helper processes compile their shares
and numba caches them, while this process compiles its own; the run then loads the rest
from the cache. Anything the list does not foresee is still compiled when first called,
as before; a list that cannot be read only costs the time it would have saved.

    NUMBA_CACHE_DIR=$(mktemp -d) python -m sim.precompile --record   # after changing what the
                                                                      # passes are called with
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from .kernel_cache import PACKAGES, read_dir_of

SIGNATURES = Path(__file__).resolve().parent / "compiled_signatures.json"


# --- argument types as JSON ---------------------------------------------------------------------

def encode(t) -> object:
    """A numba type of a pass's argument as JSON (arrays, scalars and tuples of them)."""
    from numba.core import types

    if isinstance(t, types.Array):
        return {"array": [str(t.dtype), t.ndim, t.layout, not t.mutable]}
    if isinstance(t, types.NamedUniTuple):
        return {"namedunituple": [encode(t.dtype), t.count, f"{t.instance_class.__module__}:"
                                  f"{t.instance_class.__qualname__}"]}
    if isinstance(t, types.UniTuple):
        return {"unituple": [encode(t.dtype), t.count]}
    if isinstance(t, types.BaseTuple):
        return {"tuple": [encode(x) for x in t.types]}
    if isinstance(t, (types.Boolean, types.Integer, types.Float)):
        return str(t)
    raise TypeError(f"no JSON form for the numba type {t!r}")


def decode(j):
    import numpy as np
    from numba.core import types
    from numba.np.numpy_support import from_dtype

    if isinstance(j, str):
        return from_dtype(np.dtype(j))
    (kind, args), = j.items()
    if kind == "array":
        dtype, ndim, layout, readonly = args
        return types.Array(from_dtype(np.dtype(dtype)), ndim, layout, readonly=readonly)
    if kind == "unituple":
        return types.UniTuple(decode(args[0]), args[1])
    if kind == "namedunituple":
        module, _, name = args[2].partition(":")
        return types.NamedUniTuple(decode(args[0]), args[1], getattr(importlib.import_module(module), name))
    if kind == "tuple":
        return types.Tuple([decode(x) for x in args])
    raise ValueError(f"unknown type form {kind!r}")


# --- recording ------------------------------------------------------------------------------------

def _engine_dispatchers():
    """(module, name, dispatcher) of every compiled pass of the engine's modules."""
    from numba.core.registry import CPUDispatcher

    for module_name, module in sorted(sys.modules.items()):
        if module is None or module_name.split(".")[0] not in PACKAGES:
            continue
        for name, obj in sorted(vars(module).items()):
            if isinstance(obj, CPUDispatcher) and obj.py_func.__module__ == module_name:
                yield module_name, name, obj


WARM_UP_END = 2021  # through the years of return monitoring (from 2020) and loans falling due


def warm_up_runs() -> None:
    """What a first run compiles: a small run of every shipped profile with every measure on
    (which calls every pass), to `WARM_UP_END`."""
    from sim.registry import MEASURES
    from sim.model import PovertyModel
    from sim.profiles import available_profiles, load_profile

    for name in available_profiles():
        profile = load_profile(name)
        model = PovertyModel(profile, households=300, end_year=max(WARM_UP_END, profile.data["start_year"] + 1),
                             measures=dict.fromkeys(MEASURES, True), rng=1)
        while model.running:
            model.step()


def recorded_now() -> list[dict]:
    """The passes and argument types the warm-up runs compile, with seconds each (in a fresh
    process with a cold cache; otherwise the times are those of loading)."""
    from numba.core import event

    seconds: dict[tuple, float] = {}  # (pass, argument types) compiled from Python: seconds

    class Timer(event.Listener):
        """Times the compilations started from Python (a pass called from another pass is
        compiled inside its caller's compilation, and counts there)."""

        def __init__(self):
            self.active = []

        def on_start(self, ev):
            self.active.append(time.perf_counter())

        def on_end(self, ev):
            began = self.active.pop()
            if not self.active:
                d, sig = ev.data["dispatcher"], ev.data["args"]
                try:
                    key = (f"{d.py_func.__module__}:{d.py_func.__qualname__}", json.dumps([encode(t) for t in sig]))
                except TypeError:  # a type the list cannot hold: compiled when first called
                    return
                seconds[key] = seconds.get(key, 0.0) + time.perf_counter() - began

    timer = Timer()
    event.register("numba:compile", timer)
    try:
        warm_up_runs()
    finally:
        event.unregister("numba:compile", timer)
    engine = {f"{module}:{name}" for module, name, _ in _engine_dispatchers()}
    return [{"pass": name, "args": json.loads(args), "seconds": round(t, 2)}
            for (name, args), t in sorted(seconds.items()) if name in engine]


def record(path: Path = SIGNATURES) -> int:
    entries = recorded_now()
    lines = ",\n".join("  " + json.dumps(e) for e in entries)
    path.write_text('{"note": "written by python -m sim.precompile --record; do not edit",\n "passes": [\n'
                    + lines + "\n]}\n", encoding="utf-8")
    print(f"{len(entries)} passes recorded in {path.name} ({sum(e['seconds'] for e in entries):.0f} s "
          "of compiling when recorded with a cold cache)")
    return 0


# --- compiling ------------------------------------------------------------------------------------

def load(path: Path = SIGNATURES) -> list[dict]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))["passes"]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def compile_entries(entries: list[dict]) -> int:
    """Compile (or load from the cache) each listed pass for its argument types; entries
    that no longer fit the code are passed over. Returns how many compiled."""
    done = 0
    for entry in entries:
        module, _, name = entry["pass"].partition(":")
        try:
            dispatcher = getattr(importlib.import_module(module), name)
            dispatcher.compile(tuple(decode(a) for a in entry["args"]))
            done += 1
        except Exception:  # noqa: BLE001 - a stale entry: the first call compiles it instead
            pass
    return done


def _cached(entry: dict) -> bool:
    """Whether numba's cache holds an index for the pass (any argument types)."""
    module, _, name = entry["pass"].partition(":")
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return False
    source = Path(spec.origin)
    stem = f"{source.stem}.{name}-*.nbi"
    where = read_dir_of(source.parent)
    return where.is_dir() and any(where.glob(stem))


# assumption: a helper process spends about this long importing numba and the engine before
# it compiles; this process, already running, takes that much more of the work
HELPER_START_S = 3.0


def shares(entries: list[dict], n: int) -> list[list[dict]]:
    """The entries split into n shares of about equal compile time (longest first, each to
    the share with the least so far; the first share, this process's, starts ahead by a
    helper's start-up); one pass's types all go to one share."""
    by_pass: dict[str, list[dict]] = {}
    for e in entries:
        by_pass.setdefault(e["pass"], []).append(e)
    timed = sorted(((sum(e.get("seconds", 0.0) for e in g), g) for g in by_pass.values()), key=lambda t: -t[0])
    out: list[list[dict]] = [[] for _ in range(n)]
    load_of = [0.0] + [HELPER_START_S] * (n - 1)
    for seconds, g in timed:
        k = load_of.index(min(load_of))
        out[k] += g
        load_of[k] += seconds or 0.01
    return out


def needed(entries: list[dict], measures: dict[str, bool] | None) -> list[dict]:
    """The entries a run with these measures calls: a measure's own passes only when it is
    on (all of them without `measures`)."""
    if measures is None:
        return entries
    from sim.registry import MEASURES

    off = {spec.module.__name__ for name, spec in MEASURES.items() if not measures.get(name, False)}
    return [e for e in entries if e["pass"].partition(":")[0] not in off]


def ensure_compiled(say=None, workers: int | None = None, measures: dict[str, bool] | None = None) -> bool:
    """Compile the listed passes (those of the measures that are on, when `measures` is
    given) on every core when most are not cached yet. Returns whether it compiled. `say`
    gets one line before and one after (for the command line)."""
    everything = load()
    entries = needed(everything, measures)
    if not entries:
        return False
    missing = [e for e in entries if not _cached(e)]
    if len(missing) < len(entries) / 2:
        return False
    n = max(1, min(workers or os.cpu_count() or 1, 8))
    parts = shares(entries, n)
    t0 = time.perf_counter()
    if say:
        say(f"compiling the engine on {n} core{'s' if n != 1 else ''} (once after installing or "
            "updating; about a minute and a half on 2 cores)...")
    place = {id(e): i for i, e in enumerate(everything)}  # a helper reads the list itself
    helpers = []
    for part in parts[1:]:
        if part:
            which = ",".join(str(place[id(e)]) for e in part)
            helpers.append(subprocess.Popen(
                [sys.executable, "-m", "sim.precompile", "--compile", which],
                cwd=str(Path(__file__).resolve().parent.parent), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    compile_entries(parts[0])
    for helper in helpers:
        helper.wait()
    if say:
        say(f"compiled in {time.perf_counter() - t0:.0f} s")
    return True


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--record"]:
        return record()
    if argv[:1] == ["--compile"] and len(argv) == 2:  # a helper: the entries at these places of the list
        entries = load()
        compile_entries([entries[int(i)] for i in argv[1].split(",") if int(i) < len(entries)])
        return 0
    print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
