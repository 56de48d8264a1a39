"""The result store of a sweep: a Hive-partitioned Parquet dataset, failures and a manifest.

Layout under the output directory::

    runs/scenario=<name>/seed=<seed>/<config_hash>.parquet   one file per finished run
    failures/<name>__<seed>.json                             one file per failed run
    manifest.json                                            the sweep: configs, seeds, code

Scenario names are percent-encoded in paths (`urllib.parse.quote(name, safe="")`, which
is what pyarrow's Hive partitioning decodes by default), so names like
`shangluo[medical.assistance_share=0.9]` are safe directory names.

Every file is written atomically: into a temporary file whose name starts with "." and
ends in ".tmp" in the same directory (pyarrow's dataset discovery ignores such files), then
moved into place with `os.replace`. A sweep that is killed loses only the runs in flight
(their temporary files are removed by `clean_temporary` when the sweep is run again); a
rerun skips the runs whose (scenario, seed, config hash) is already stored, and takes a
run stored under another scenario name with the same hash and seed (`adopt_renamed`), so
renaming a scenario does not re-run identical work.

Each run file carries its provenance in the Parquet metadata (key `povsim`): the config
hash, the code commit and whether the working tree was dirty, the povsim version and the
time it was written (`provenance`), so `povsim report` can warn when the runs of one sweep
come from different configurations or code.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import quote, unquote

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

RUNS = "runs"
FAILURES = "failures"
MANIFEST = "manifest.json"

PARTITION_SCHEMA = pa.schema([("scenario", pa.string()), ("seed", pa.int64())])
PROVENANCE_KEY = b"povsim"
TEMPORARY_GLOB = ".*.tmp"  # what atomic_write leaves behind when its process is killed


def partitioning():
    return ds.partitioning(PARTITION_SCHEMA, flavor="hive")


def run_dir(out_dir, scenario: str, seed: int) -> Path:
    return Path(out_dir) / RUNS / f"scenario={quote(scenario, safe='')}" / f"seed={int(seed)}"


def run_path(out_dir, scenario: str, seed: int, config_hash: str) -> Path:
    return run_dir(out_dir, scenario, seed) / f"{config_hash}.parquet"


def failure_path(out_dir, scenario: str, seed: int) -> Path:
    return Path(out_dir) / FAILURES / f"{quote(scenario, safe='')}__{int(seed)}.json"


# ---------------------------------------------------------------------------------------
# atomic writing


def atomic_write(path: Path, write) -> Path:
    """Call `write(tmp_path)` on a temporary file beside `path`, then rename it to `path`.

    The temporary name starts with "." so dataset discovery ignores it; the file gets the
    mode a normal file would (mkstemp makes it private)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_json(path, data: dict) -> Path:
    from .runner import _json_default

    text = json.dumps(data, indent=2, default=_json_default, allow_nan=False) + "\n"
    return atomic_write(Path(path), lambda tmp: tmp.write_text(text, encoding="utf-8"))


_CODE: dict | None = None


def code_provenance() -> dict:
    """{"commit", "dirty", "povsim"} of the code running here (looked up once per process)."""
    global _CODE
    if _CODE is None:
        from .runner import git_info, package_versions

        git = git_info() or {}
        _CODE = {"commit": git.get("commit"), "dirty": git.get("dirty"),
                 "povsim": package_versions().get("povsim")}
    return dict(_CODE)


def write_run(out_dir, scenario: str, seed: int, config_hash: str, frame: pd.DataFrame) -> Path:
    """Store one run's timeseries (plus a `config_hash` column) atomically; returns its path.

    `scenario` and `seed` are partition keys, not columns of the file (so a run can be
    moved to another scenario name without rewriting it). The file's metadata holds its
    provenance (see `provenance`). Files of the same scenario and seed with another config
    hash (an older configuration) are removed once the new file is in place, and so is an
    earlier failure record of the run.
    """
    from .runner import _utc, utc_now

    frame = frame.drop(columns=[c for c in ("scenario", "seed") if c in frame.columns])
    frame = frame.reset_index(drop=True)
    frame["config_hash"] = config_hash
    # Column by column: the same types as `Table.from_pandas` in half the time (a sweep
    # writes a small frame per run, and the pandas conversion was an eighth of a run).
    table = pa.Table.from_arrays([pa.array(col) for _, col in frame.items()], names=[str(c) for c in frame.columns])
    meta = {"config_hash": config_hash, **code_provenance(), "written_utc": _utc(utc_now())}
    table = table.replace_schema_metadata({PROVENANCE_KEY: json.dumps(meta).encode()})
    path = run_path(out_dir, scenario, seed, config_hash)
    atomic_write(path, lambda tmp: pq.write_table(table, tmp))
    for other in path.parent.glob("*.parquet"):
        if other.name != path.name:
            other.unlink(missing_ok=True)
    failure_path(out_dir, scenario, seed).unlink(missing_ok=True)
    return path


def write_failure(out_dir, scenario: str, seed: int, config_hash: str, error: str,
                  traceback_text: str) -> Path:
    from .runner import _utc, utc_now

    return write_json(failure_path(out_dir, scenario, seed), {
        "scenario": scenario, "seed": int(seed), "config_hash": config_hash,
        "error": error, "traceback": traceback_text, "time_utc": _utc(utc_now()),
    })


# ---------------------------------------------------------------------------------------
# reading


def _run_files(out_dir) -> list[Path]:
    root = Path(out_dir) / RUNS
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("scenario=*/seed=*/*.parquet") if not p.name.startswith("."))


def completed(out_dir) -> set[tuple[str, int, str]]:
    """(scenario, seed, config_hash) of every run stored under `out_dir`."""
    out = set()
    for p in _run_files(out_dir):
        scen = unquote(p.parent.parent.name.partition("=")[2])
        try:
            seed = int(p.parent.name.partition("=")[2])
        except ValueError:
            continue
        out.add((scen, seed, p.stem))
    return out


def provenance(path) -> dict:
    """The provenance stored in a run file's metadata ({} for files written before it was)."""
    meta = pq.read_schema(path).metadata or {}
    try:
        return json.loads(meta[PROVENANCE_KEY])
    except (KeyError, ValueError):
        return {}


def stored_runs(out_dir, with_provenance: bool = True) -> list[dict]:
    """Every stored run file: scenario, seed, config hash, path and (read from each file's
    metadata, unless `with_provenance` is false) provenance."""
    out = []
    for p in _run_files(out_dir):
        try:
            seed = int(p.parent.name.partition("=")[2])
        except ValueError:
            continue
        out.append({"scenario": unquote(p.parent.parent.name.partition("=")[2]), "seed": seed,
                    "config_hash": p.stem, "path": p,
                    "provenance": provenance(p) if with_provenance else None})
    return out


def clean_temporary(out_dir) -> list[Path]:
    """Remove the temporary files a killed writer left in the store; returns them.

    Only `atomic_write`'s own names (".<name>.<random>.tmp") in `runs/`, `failures/` and
    the directory itself are touched. Run this before a sweep starts writing, not while
    another sweep writes into the same directory."""
    root = Path(out_dir)
    found = list(root.glob(TEMPORARY_GLOB))
    for sub in (FAILURES, RUNS):
        if (root / sub).is_dir():
            found += (root / sub).rglob(TEMPORARY_GLOB)
    removed = []
    for p in found:
        if p.is_file():
            try:
                p.unlink()
                removed.append(p)
            except OSError:
                pass
    return removed


def remove_written(out_dir) -> list[Path]:
    """What `--fresh` removes: the run files (`runs/scenario=*/seed=*/*.parquet`), failure
    records (`failures/*__<seed>.json`) and temporaries this store writes, then the
    partition folders left empty. Anything else a user keeps there stays, and so do the
    folders holding it. Returns the files removed."""
    root = Path(out_dir)
    written = [*root.glob(f"{RUNS}/scenario=*/seed=*/*.parquet"), *root.glob(f"{FAILURES}/*__*.json")]
    written = [p for p in written if p.is_file() and (p.suffix != ".json" or p.stem.rpartition("__")[2].isdigit())]
    removed = clean_temporary(root)
    for p in written:
        try:
            p.unlink()
            removed.append(p)
        except OSError:
            pass
    for folder in sorted(root.glob(f"{RUNS}/scenario=*/seed=*"), reverse=True) + sorted(root.glob(f"{RUNS}/scenario=*")):
        try:
            folder.rmdir()  # only when empty
        except OSError:
            pass
    return removed


def adopt_renamed(out_dir, runs) -> int:
    """Reuse stored runs whose scenario was renamed: for each (name, seed, config hash) of
    `runs` not stored under `name`, a file with the same seed and hash stored under
    another name is linked (or copied) into place. The hash covers everything that
    determines the numbers and nothing else (see `Scenario.hashed`), so the file is the
    run. Returns how many runs were adopted."""
    by_key: dict[tuple[int, str], Path] = {}
    have = set()
    for rec in stored_runs(out_dir, with_provenance=False):
        by_key.setdefault((rec["seed"], rec["config_hash"]), rec["path"])
        have.add((rec["scenario"], rec["seed"], rec["config_hash"]))
    adopted = 0
    for name, seed, h in runs:
        if (name, int(seed), h) in have or (int(seed), h) not in by_key:
            continue
        source = by_key[(int(seed), h)]
        target = run_path(out_dir, name, seed, h)

        def copy(tmp, source=source):
            tmp.unlink()
            try:
                os.link(source, tmp)
            except OSError:
                shutil.copyfile(source, tmp)

        atomic_write(target, copy)
        for other in target.parent.glob("*.parquet"):
            if other.name != target.name:
                other.unlink(missing_ok=True)
        failure_path(out_dir, name, seed).unlink(missing_ok=True)
        have.add((name, int(seed), h))
        adopted += 1
    return adopted


def failures(out_dir) -> list[dict]:
    root = Path(out_dir) / FAILURES
    if not root.is_dir():
        return []
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(root.glob("*.json"))]


def current_scenarios(out_dir) -> list[str] | None:
    """The scenario names of the sweep as last run (from manifest.json), or None."""
    manifest = read_manifest_quietly(out_dir)
    entries = manifest.get("scenarios") if isinstance(manifest, dict) else None
    if not isinstance(entries, list):
        return None
    names = [e.get("name") for e in entries if isinstance(e, dict)]
    return names if all(isinstance(n, str) for n in names) else None


def stale_scenarios(out_dir) -> list[str]:
    """Scenarios with stored runs that are no longer in the sweep (see `load_results`)."""
    current = current_scenarios(out_dir)
    if current is None:
        return []
    return sorted({r["scenario"] for r in stored_runs(out_dir, with_provenance=False)} - set(current))


def load_results(out_dir, current_only: bool = True) -> pd.DataFrame:
    """All stored runs: one row per scenario x seed x year, `scenario` and `seed` first,
    sorted by scenario, seed and year, with a fresh index.

    With `current_only` (the default), runs of scenarios that are no longer in the sweep
    (removed from the sweep file since they ran; the sweep's manifest.json lists the
    current ones) are left out; `stale_scenarios` names them. Without a manifest every
    stored run is loaded."""
    files = _run_files(out_dir)
    if current_only:
        current = current_scenarios(out_dir)
        if current is not None:
            keep = {quote(n, safe="") for n in current}
            files = [f for f in files if f.parent.parent.name.partition("=")[2] in keep]
    if not files:
        raise FileNotFoundError(f"no stored runs under {Path(out_dir) / RUNS}")
    # runs of scenarios with other measures may have other columns: unify the schemas
    schema = pa.unify_schemas([pq.read_schema(f) for f in files] + [PARTITION_SCHEMA])
    dataset = ds.dataset([str(f) for f in files], schema=schema, format="parquet",
                         partitioning=partitioning(), partition_base_dir=str(Path(out_dir) / RUNS))
    df = dataset.to_table().to_pandas()
    first = ["scenario", "seed"]
    df = df[first + [c for c in df.columns if c not in first]]
    df["scenario"] = df["scenario"].astype(str)
    df["seed"] = df["seed"].astype("int64")
    keys = ["scenario", "seed"] + (["year"] if "year" in df.columns else [])
    return df.sort_values(keys, kind="stable").reset_index(drop=True)


def read_manifest(out_dir) -> dict | None:
    p = Path(out_dir) / MANIFEST
    if not p.is_file():
        return None
    return json.loads(p.read_text(encoding="utf-8"))


def read_manifest_quietly(out_dir) -> dict | None:
    """The manifest, or None when it is missing or unreadable."""
    try:
        return read_manifest(out_dir)
    except (OSError, ValueError):
        return None


def sweep_manifest(sweep, started, finished=None, *, command=None, cli_overrides=None,
                   executor=None, counts=None, status: str | None = None) -> dict:
    """The sweep's manifest: what was run (resolved config and hash of every scenario),
    with which seeds, code and packages, where and when. `status`: "running" until
    `finished` is given, then "finished", or what the caller says ("interrupted")."""
    import socket
    import sys

    from .runner import _utc, git_info, package_versions

    return {
        "sweep": sweep.name,
        "sweep_file": str(sweep.file),
        "description": sweep.description,
        "baseline": sweep.baseline,
        "status": status or ("finished" if finished is not None else "running"),
        "seeds": [int(s) for s in sweep.seeds()],
        "seeding": {"method": "numpy.random.SeedSequence(root).spawn(n), "
                              "child.generate_state(1, uint32)[0]; the same for every scenario",
                    "root": int(sweep.seed), "n": int(sweep.replications)},
        "households": sweep.households,
        "cli_overrides": dict(cli_overrides or {}),
        "design": sweep.design,
        "executor": executor,
        "runs": dict(counts) if counts is not None else None,
        "layout": {"runs": "runs/scenario=<name>/seed=<seed>/<config_hash>.parquet",
                   "failures": "failures/<name>__<seed>.json",
                   "names": "percent-encoded (urllib.parse.quote(name, safe=''))"},
        "scenarios": [{"name": name, "file": str(sc.file), "config_hash": sc.config_hash(),
                       "overrides": sc.overrides, "config": sc.resolved()}
                      for name, sc in sweep.scenarios],
        "versions": package_versions(),
        "git": git_info(),
        "host": socket.gethostname(),
        "started_utc": _utc(started),
        "finished_utc": _utc(finished) if finished is not None else None,
        "command": list(sys.argv if command is None else command),
    }


def provenance_warnings(out_dir) -> list[str]:
    """What makes the stored runs of a sweep not one consistent result, one line each.

    - scenarios with runs stored under several config hashes, or under another hash than
      the sweep's manifest names (the configuration changed and not every run was redone);
    - runs made by different code commits (a commit with uncommitted changes counts as
      other code than the clean commit);
    - stored runs of scenarios no longer in the sweep (left out of the results).
    """
    runs = stored_runs(out_dir)
    stale = set(stale_scenarios(out_dir))
    manifest = read_manifest_quietly(out_dir) or {}
    expected = {e.get("name"): e.get("config_hash") for e in manifest.get("scenarios") or []
                if isinstance(e, dict)}
    current = [r for r in runs if r["scenario"] not in stale]
    out = []
    by_scenario: dict[str, dict[str, int]] = {}
    for r in current:
        hashes = by_scenario.setdefault(r["scenario"], {})
        hashes[r["config_hash"]] = hashes.get(r["config_hash"], 0) + 1
    for name, hashes in sorted(by_scenario.items()):
        want = expected.get(name)
        if len(hashes) > 1 or (want is not None and set(hashes) != {want}):
            counts = ", ".join(f"{h} ({n} run{'s' if n != 1 else ''})" for h, n in sorted(hashes.items()))
            also = f"; the sweep's current configuration is {want}" if want else ""
            out.append(f"scenario '{name}': stored runs come from different configurations: "
                       f"{counts}{also} (rerun the sweep to redo the others)")
    commits: dict[str, int] = {}
    for r in current:
        prov = r["provenance"]
        code = (prov.get("commit") or "unknown")[:12] + (" with uncommitted changes"
                                                           if prov.get("dirty") else "")
        commits[code] = commits.get(code, 0) + 1
    if len(commits) > 1:
        counts = ", ".join(f"{c} ({n} run{'s' if n != 1 else ''})" for c, n in sorted(commits.items()))
        out.append(f"the stored runs come from different code: commits {counts} "
                   "(rerun with --fresh for results from one version of the code)")
    if stale:
        n = sum(r["scenario"] in stale for r in runs)
        out.append(f"left out {n} stored run{'s' if n != 1 else ''} of scenarios no longer in the "
                   f"sweep: {', '.join(sorted(stale))}")
    return out
