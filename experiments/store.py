"""The result store of a sweep: a Hive-partitioned Parquet dataset, failures and a manifest.

Layout under the output directory::

    runs/scenario=<name>/seed=<seed>/<config_hash>.parquet   one file per finished run
    failures/<name>__<seed>.json                             one file per failed run
    manifest.json                                            the sweep: configs, seeds, code

Scenario names are percent-encoded in paths (`urllib.parse.quote(name, safe="")`, which
is what pyarrow's Hive partitioning decodes by default), so names like
`shangluo[medical.assistance_share=0.9]` are safe directory names.

Every file is written atomically: into a temporary file whose name starts with "." in the
same directory (pyarrow's dataset discovery ignores such files), then moved into place with
`os.replace`. A sweep that is killed loses only the runs in flight; a rerun skips the runs
whose (scenario, seed, config hash) is already stored.
"""

from __future__ import annotations

import json
import os
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


def write_run(out_dir, scenario: str, seed: int, config_hash: str, frame: pd.DataFrame) -> Path:
    """Store one run's timeseries (plus a `config_hash` column) atomically; returns its path.

    `scenario` and `seed` are partition keys, not columns of the file. Files of the same
    scenario and seed with another config hash (an older configuration) are removed once
    the new file is in place, and so is an earlier failure record of the run.
    """
    frame = frame.drop(columns=[c for c in ("scenario", "seed") if c in frame.columns])
    frame = frame.reset_index(drop=True)
    frame["config_hash"] = config_hash
    table = pa.Table.from_pandas(frame, preserve_index=False)
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


def failures(out_dir) -> list[dict]:
    root = Path(out_dir) / FAILURES
    if not root.is_dir():
        return []
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(root.glob("*.json"))]


def load_results(out_dir) -> pd.DataFrame:
    """All stored runs: one row per scenario x seed x year, `scenario` and `seed` first,
    sorted by scenario, seed and year, with a fresh index."""
    files = _run_files(out_dir)
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


def sweep_manifest(sweep, started, finished=None, *, command=None, cli_overrides=None,
                   executor=None, counts=None) -> dict:
    """The sweep's manifest: what was run (resolved config and hash of every scenario),
    with which seeds, code and packages, where and when."""
    import socket
    import sys

    from .runner import _utc, git_info, package_versions

    return {
        "sweep": sweep.name,
        "sweep_file": str(sweep.file),
        "description": sweep.description,
        "baseline": sweep.baseline,
        "status": "finished" if finished is not None else "running",
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
