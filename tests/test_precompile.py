"""Compiling the engine's passes on every core before the first run (`sim/precompile.py`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from numba.core import types

from sim import precompile
from sim.kernel_cache import read_dir_of

REPO = Path(__file__).resolve().parent.parent


def test_argument_types_survive_the_json_list():
    from policies.microcredit import LoanParams

    named = types.NamedUniTuple(types.float64, len(LoanParams._fields), LoanParams)
    sig = (types.Array(types.float32, 1, "C"), types.Array(types.int8, 2, "A", readonly=True), types.uint64,
           types.boolean, types.UniTuple(types.float64, 3), types.Tuple([types.int64, types.Array(types.bool_, 1, "C")]),
           named)
    encoded = json.loads(json.dumps([precompile.encode(t) for t in sig]))
    assert tuple(precompile.decode(j) for j in encoded) == sig


def test_shares_balance_the_recorded_seconds_and_keep_a_pass_whole():
    entries = [{"pass": "m:a", "args": [], "seconds": 30.0}, {"pass": "m:b", "args": [], "seconds": 10.0},
               {"pass": "m:b", "args": ["int64"], "seconds": 10.0}, {"pass": "m:c", "args": [], "seconds": 12.0},
               {"pass": "m:d", "args": [], "seconds": 9.0}]
    first, second = precompile.shares(entries, 2)
    loads = [sum(e["seconds"] for e in part) for part in (first, second)]
    assert sorted(e["pass"] for e in first + second) == sorted(e["pass"] for e in entries)
    assert {e["pass"] for e in first}.isdisjoint({e["pass"] for e in second})  # m:b's two types together
    assert abs(loads[0] - (loads[1] + precompile.HELPER_START_S)) <= 10.0


def test_a_run_compiles_only_the_passes_of_its_measures():
    entries = [{"pass": "policies.microcredit:_loan_rows"}, {"pass": "policies.dibao:_dibao_rows"},
               {"pass": "agents.life:_live_rows"}, {"pass": "policies:_reached_bits"}]
    kept = precompile.needed(entries, {"dibao": True, "microcredit": False})
    assert [e["pass"] for e in kept] == ["policies.dibao:_dibao_rows", "agents.life:_live_rows",
                                         "policies:_reached_bits"]
    assert precompile.needed(entries, None) == entries


def test_a_pass_counts_as_cached_only_where_numba_reads_it(tmp_path, monkeypatch):
    """With NUMBA_CACHE_DIR set numba reads only there, so an index beside the sources does
    not spare the first run its compile (it would compile pass by pass, on one core)."""
    entry = {"pass": "sim.sums:weighted_sum"}
    source_dir = REPO / "sim"
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    beside = source_dir / "__pycache__" / "sums.weighted_sum-0.py312.nbi"
    made = not beside.exists()
    beside.parent.mkdir(exist_ok=True)
    beside.touch()
    try:
        assert precompile._cached(entry)
        monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
        assert precompile._cached(entry) is False
        user = read_dir_of(source_dir)  # numba's folder for sim/ under NUMBA_CACHE_DIR
        assert user.parent == tmp_path
        user.mkdir(parents=True)
        (user / "sums.weighted_sum-0.py312.nbi").touch()
        assert precompile._cached(entry)
    finally:
        if made:
            beside.unlink()


def test_with_numba_cache_dir_set_a_pass_numba_compiled_counts_as_cached(tmp_path):
    """Where numba itself writes under NUMBA_CACHE_DIR is where the check looks: a pass
    compiled once is not compiled again by the next command (which would say "compiling the
    engine" every time)."""
    code = ("import numpy as np\nfrom sim import precompile\nentry = {'pass': 'sim.sums:weighted_sum'}\n"
            "before = precompile._cached(entry)\nfrom sim.sums import weighted_sum\n"
            "weighted_sum(np.ones(3, np.float32), np.ones(3, bool))\nprint(before, precompile._cached(entry))")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]


def test_listed_passes_compile_and_stale_entries_are_passed_over():
    from sim.sums import weighted_sum

    entries = [{"pass": "sim.sums:weighted_sum", "args": [precompile.encode(types.Array(types.float32, 1, "C")),
                                                          precompile.encode(types.Array(types.float64, 1, "C"))]},
               {"pass": "sim.sums:no_such_pass", "args": []},
               {"pass": "sim.sums:weighted_sum", "args": [{"unknown": []}]}]
    assert precompile.compile_entries(entries) == 1
    assert (types.Array(types.float32, 1, "C"), types.Array(types.float64, 1, "C")) in weighted_sum.signatures
    assert weighted_sum(np.ones(3, np.float32), np.arange(3.0)) == 3.0


def test_the_list_is_what_a_first_run_compiles():
    """Every listed pass still exists with those argument types, and every pass the warm-up
    runs call from Python is listed (a pass called only from other passes compiles inside
    its callers). Regenerate with `NUMBA_CACHE_DIR=$(mktemp -d) python -m sim.precompile --record`."""
    script = """
import json, sys
from sim import precompile
precompile.warm_up_runs()
out = {}
for module, name, d in precompile._engine_dispatchers():
    sigs = []
    for sig in d.signatures:
        try:
            sigs.append([precompile.encode(t) for t in sig])
        except TypeError:
            pass
    out[f"{module}:{name}"] = {"sigs": sigs, "source": __import__("inspect").getsource(d.py_func)}
print(json.dumps(out))
"""
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    compiled = json.loads(proc.stdout.strip().splitlines()[-1])
    listed = precompile.load()
    assert listed, "sim/compiled_signatures.json is missing or unreadable"
    stale = [e["pass"] for e in listed if e["args"] not in compiled.get(e["pass"], {}).get("sigs", [])]
    assert not stale, f"listed passes no longer compiled with those types: {stale}; re-record the list"
    listed_names = {e["pass"] for e in listed}
    sources = {name: c["source"] for name, c in compiled.items()}
    unlisted = [name for name, c in compiled.items() if c["sigs"] and name not in listed_names
                and not any(name.partition(":")[2] + "(" in src for other, src in sources.items() if other != name)]
    assert not unlisted, f"passes called from Python but not listed: {unlisted}; re-record the list"
