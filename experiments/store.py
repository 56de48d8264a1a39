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

Verification: beside each run file the store keeps its record, `<config_hash>.record.json`
(written atomically before the run file is renamed into place): the SHA-256 and size of
the file's bytes as written, its row count, its seed and config hash. A run counts as
stored only when its file reads back whole (`check_run_file`): a regular file of the
recorded size and checksum, whose Parquet footer parses with the recorded rows and the
columns `year` and `config_hash`, in the partition of its recorded seed and named by its
recorded hash. A damaged or foreign file (truncated, emptied, bytes changed, another
run's file swapped in, a stray `.parquet` with no record) is not trusted: a sweep names
it (`set_aside_damaged`, one line each; more than `UNRECORDED_LINES` files without a
record are listed in a file named by one line), moves it with its record into
`damaged/<its path>` with a UTC time stamp in its name (never deleted), and runs it
again; `load_results` refuses to read it, naming it. Checking costs one read of each file
(~80 KB a run) and its footer.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path
from urllib.parse import quote, unquote

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from sim.errors import InputError

from .provenance import git_info, json_default, package_versions, utc_now, utc_text

RUNS = "runs"
FAILURES = "failures"
MANIFEST = "manifest.json"
DAMAGED = "damaged"  # where damaged or foreign run files are moved, never deleted
RECORD_SUFFIX = ".record.json"  # <config_hash>.record.json beside <config_hash>.parquet
RECORD_KEYS = ("sha256", "bytes", "rows", "seed", "config_hash")

PARTITION_SCHEMA = pa.schema([("scenario", pa.string()), ("seed", pa.int64())])
PROVENANCE_KEY = b"povsim"
TEMPORARY_GLOB = ".*.tmp"  # what atomic_write leaves behind when its process is killed


def partitioning():
    return ds.partitioning(PARTITION_SCHEMA, flavor="hive")


def run_dir(out_dir, scenario: str, seed: int) -> Path:
    return Path(out_dir) / RUNS / f"scenario={quote(scenario, safe='')}" / f"seed={int(seed)}"


def run_path(out_dir, scenario: str, seed: int, config_hash: str) -> Path:
    return run_dir(out_dir, scenario, seed) / f"{config_hash}.parquet"


def record_path(run_file) -> Path:
    """The record of a run file: `<config_hash>.record.json` beside `<config_hash>.parquet`."""
    run_file = Path(run_file)
    return run_file.with_name(run_file.stem + RECORD_SUFFIX)


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

    text = json.dumps(data, indent=2, default=json_default, allow_nan=False) + "\n"
    return atomic_write(Path(path), lambda tmp: tmp.write_text(text, encoding="utf-8"))


_CODE: dict | None = None


def code_provenance() -> dict:
    """{"commit", "dirty", "povsim"} of the code running here (looked up once per process)."""
    global _CODE
    if _CODE is None:

        git = git_info() or {}
        _CODE = {"commit": git.get("commit"), "dirty": git.get("dirty"),
                 "povsim": package_versions().get("povsim")}
    return dict(_CODE)


def write_run(out_dir, scenario: str, seed: int, config_hash: str, frame: pd.DataFrame) -> Path:
    """Store one run's timeseries (plus a `config_hash` column) atomically; returns its path.

    `scenario` and `seed` are partition keys, not columns of the file (so a run can be
    moved to another scenario name without rewriting it). The file's metadata holds its
    provenance (see `provenance`). Its record (`record_path`: SHA-256, size and rows of the
    bytes written, seed, config hash) is put in place just before the file is renamed in.
    The store's files of the same scenario and seed with another config hash (an older
    configuration) are removed once the new file is in place, and so is an earlier failure
    record of the run.
    """

    frame = frame.drop(columns=[c for c in ("scenario", "seed") if c in frame.columns])
    frame = frame.reset_index(drop=True)
    frame["config_hash"] = config_hash
    # Column by column: the same types as `Table.from_pandas` in half the time (a sweep
    # writes a small frame per run, and the pandas conversion was an eighth of a run).
    table = pa.Table.from_arrays([pa.array(col) for _, col in frame.items()], names=[str(c) for c in frame.columns])
    meta = {"config_hash": config_hash, **code_provenance(), "written_utc": utc_text(utc_now())}
    table = table.replace_schema_metadata({PROVENANCE_KEY: json.dumps(meta).encode()})
    path = run_path(out_dir, scenario, seed, config_hash)
    record = record_path(path)
    wrote_record = []

    def write(tmp: Path) -> None:
        # the record of the bytes as written goes in place first: a run file is never
        # without its record (a writer killed in between leaves a record and no run file)
        pq.write_table(table, tmp)
        data = tmp.read_bytes()
        write_json(record, {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
                            "rows": table.num_rows, "seed": int(seed), "config_hash": config_hash})
        wrote_record.append(True)

    try:
        atomic_write(path, write)
    except BaseException:
        if wrote_record:
            record.unlink(missing_ok=True)
        raise
    _remove_other_hashes(path)
    failure_path(out_dir, scenario, seed).unlink(missing_ok=True)
    return path


def _remove_other_hashes(path: Path) -> None:
    """The store's own files of other config hashes in `path`'s partition: run files that
    have a record, and records. Files it did not write are left alone."""
    for other in path.parent.glob(f"*{RECORD_SUFFIX}"):
        stem = other.name[:-len(RECORD_SUFFIX)]
        if stem != path.stem:
            other.with_name(stem + ".parquet").unlink(missing_ok=True)
            other.unlink(missing_ok=True)


def write_failure(out_dir, scenario: str, seed: int, config_hash: str, error: str,
                  traceback_text: str) -> Path:

    return write_json(failure_path(out_dir, scenario, seed), {
        "scenario": scenario, "seed": int(seed), "config_hash": config_hash,
        "error": error, "traceback": traceback_text, "time_utc": utc_text(utc_now()),
    })


# ---------------------------------------------------------------------------------------
# reading, with verification


def _run_files(out_dir) -> list[Path]:
    """Every `runs/scenario=*/seed=*/*.parquet` (not hidden), whether whole or not."""
    root = Path(out_dir) / RUNS
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("scenario=*/seed=*/*.parquet") if not p.name.startswith("."))


def _scenario_of(path: Path) -> str:
    return unquote(path.parent.parent.name.partition("=")[2])


def _seed_of(path: Path) -> int | None:
    text = path.parent.name.partition("=")[2]
    try:
        return int(text)
    except ValueError:
        return None


#: assumption: a record is a few hundred bytes; anything far larger is not one of ours
MAX_RECORD_BYTES = 65_536
NO_RECORD = ("no checksum record beside it: not a run file this store wrote, or one written by a "
             "povsim from before run files were verified")
#: assumption: up to this many run files without a record are named one line each; more are
#: most likely a whole store from before run files were verified, listed in a file instead
UNRECORDED_LINES = 5


def _read_record(run_file: Path) -> dict | str:
    """The record of a run file, or what is wrong with it (one phrase)."""
    path = record_path(run_file)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return NO_RECORD
    except OSError as exc:
        return f"its record {path.name} cannot be read: {exc.strerror}"
    if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_RECORD_BYTES:
        return f"its record {path.name} is not a record file"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"its record {path.name} cannot be read: {type(exc).__name__}"
    ints = ("bytes", "rows", "seed")
    ok = (isinstance(record, dict) and all(k in record for k in RECORD_KEYS)
          and all(isinstance(record[k], int) and not isinstance(record[k], bool) for k in ints)
          and isinstance(record["sha256"], str) and isinstance(record["config_hash"], str))
    return record if ok else f"its record {path.name} is not a record of this store"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


#: Run files found whole in this process, by path: the (inode, size, mtime, ctime) of the file
#: and of its record then. A file whose stat is unchanged is not read again (a sweep that
#: checks its store before every batch, as calibrate does, reads each file once); any
#: write, rename or truncation changes the ctime, which no user can set back.
_WHOLE: dict[str, tuple] = {}


def _signature(path: Path) -> tuple | None:
    try:
        a, b = os.lstat(path), os.lstat(record_path(path))
    except OSError:
        return None
    return tuple((s.st_ino, s.st_size, s.st_mtime_ns, s.st_ctime_ns) for s in (a, b))


def check_run_file(path) -> str | None:
    """None when the run file reads back whole and is the run its place says, else what is
    wrong (one phrase): a regular file in a `seed=<seed>` partition, with a record naming
    that seed and the file's config hash, the recorded size and SHA-256, and a Parquet
    footer that parses with the recorded rows and the columns `year` and `config_hash`."""
    path = Path(path)
    key = str(path.absolute())
    signature = _signature(path)
    if signature is not None and _WHOLE.get(key) == signature:
        return None
    _WHOLE.pop(key, None)
    problem = _check_run_file(path)
    if problem is None and signature is not None and _signature(path) == signature:
        _WHOLE[key] = signature
    return problem


def _check_run_file(path: Path) -> str | None:
    try:
        st = os.lstat(path)
    except OSError as exc:
        return f"cannot be read: {exc.strerror}"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    seed = _seed_of(path)
    if seed is None:
        return f"in a partition '{path.parent.name}' that is not seed=<whole number>"
    record = _read_record(path)
    if isinstance(record, str):
        return record
    if record["config_hash"] != path.stem:
        return f"its record is of config hash {record['config_hash'][:16]!r}, not of the file's name"
    if record["seed"] != seed:
        return f"its record is of seed {record['seed']}, not of its partition seed={seed}"
    if st.st_size != record["bytes"]:
        return (f"{st.st_size:,} bytes where {record['bytes']:,} were written: "
                f"{'truncated or emptied' if st.st_size < record['bytes'] else 'bytes added'}")
    try:
        if _sha256(path) != record["sha256"]:
            return ("its bytes are not those written: checksum mismatch, the file was changed or another "
                    "run's file put in its place")
        meta = pq.read_metadata(path)
        names = set(meta.schema.to_arrow_schema().names)
    except (OSError, pa.ArrowException) as exc:
        return f"its Parquet footer cannot be read: {type(exc).__name__}"
    if meta.num_rows != record["rows"]:
        return f"{meta.num_rows} rows where {record['rows']} were written"
    missing = sorted({"year", "config_hash"} - names)
    if missing:
        return f"no column {', '.join(missing)}: not a run's timeseries"
    return None


def verify(out_dir) -> tuple[list[dict], list[tuple[Path, str]]]:
    """(whole runs, damaged files) of the store: each whole run as {scenario, seed,
    config_hash, path}; each damaged or foreign file with what is wrong (`check_run_file`)."""
    good, damaged = [], []
    for p in _run_files(out_dir):
        problem = check_run_file(p)
        if problem is None:
            good.append({"scenario": _scenario_of(p), "seed": _seed_of(p), "config_hash": p.stem, "path": p})
        else:
            damaged.append((p, problem))
    return good, damaged


def set_aside(out_dir, path: Path, when: str | None = None) -> Path:
    """Move a damaged run file (and its record, if any) into `damaged/` under `out_dir`, at
    its path there with a UTC time stamp before the suffix (never over another file);
    returns where it went."""

    root = Path(out_dir)
    path = Path(path)
    stamp = when or utc_now().strftime("%Y%m%dT%H%M%SZ")
    folder = root / DAMAGED / path.parent.relative_to(root)
    folder.mkdir(parents=True, exist_ok=True)
    record = record_path(path)
    n = 0
    while True:
        tag = stamp if n == 0 else f"{stamp}-{n}"
        dest = folder / f"{path.stem}.{tag}{path.suffix}"
        dest_record = folder / f"{path.stem}.{tag}{RECORD_SUFFIX}"
        if not (dest.exists() or dest.is_symlink() or dest_record.exists()):
            break
        n += 1
    os.replace(path, dest)
    if record.is_file() and not record.is_symlink():
        try:
            os.replace(record, dest_record)
        except OSError:
            pass
    return dest


def set_aside_damaged(out_dir) -> tuple[list[dict], list[tuple[Path, str, Path | None]]]:
    """Verify the store and move every damaged or foreign run file into `damaged/`:
    (whole runs, [(damaged file, what is wrong, where it went or None if it could not be
    moved)]). Run before a sweep decides what is already stored."""
    good, damaged = verify(out_dir)
    moved = []
    for path, problem in damaged:
        try:
            dest = set_aside(out_dir, path)
        except OSError:
            dest = None
        moved.append((path, problem, dest))
    return good, moved


def list_unrecorded(out_dir, moved: list[tuple[Path, str, Path | None]]) -> Path:
    """Write `damaged/unrecorded-<UTC time>.txt`: each run file without a record, a line
    `<where it was>\t<where it went>`; returns its path."""

    folder = Path(out_dir) / DAMAGED
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"unrecorded-{utc_now().strftime('%Y%m%dT%H%M%SZ')}.txt"
    text = "".join(f"{p}\t{dest if dest is not None else 'not moved'}\n" for p, _, dest in moved)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return path


def damaged_line(path: Path, problem: str, dest: Path | None, redone: bool) -> str:
    """One line about a damaged run file that was set aside."""
    where = f"moved to {dest}" if dest is not None else "could not be moved aside"
    return f"{path}: damaged run file, {problem}; {where}{'; its run is done again' if redone else ''}"


def completed(out_dir) -> set[tuple[str, int, str]]:
    """(scenario, seed, config_hash) of every run stored whole under `out_dir` (verified)."""
    return {(r["scenario"], r["seed"], r["config_hash"]) for r in verify(out_dir)[0]}


def provenance(path) -> dict:
    """The provenance stored in a run file's metadata ({} for files written before it was,
    or that cannot be read)."""
    try:
        meta = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowException):
        return {}
    try:
        return json.loads(meta[PROVENANCE_KEY])
    except (KeyError, ValueError):
        return {}


def stored_runs(out_dir, with_provenance: bool = True) -> list[dict]:
    """Every stored run file: scenario, seed, config hash, path and (read from each file's
    metadata, unless `with_provenance` is false) provenance. Not verified (see `verify`)."""
    out = []
    for p in _run_files(out_dir):
        seed = _seed_of(p)
        if seed is None:
            continue
        out.append({"scenario": _scenario_of(p), "seed": seed, "config_hash": p.stem, "path": p,
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
    """What `--fresh` removes: the run files this store wrote (`runs/scenario=*/seed=*/
    <hash>.parquet` with their `<hash>.record.json`), failure records (`failures/*__<seed>.json`)
    and temporaries, then the partition folders left empty. Anything else a user keeps
    there stays (a `.parquet` without a record is not the store's: the next sweep moves it
    to `damaged/`), and so do the folders holding it, and `damaged/`. Returns the files
    removed."""
    root = Path(out_dir)
    records = list(root.glob(f"{RUNS}/scenario=*/seed=*/*{RECORD_SUFFIX}"))
    runs = [r.with_name(r.name[:-len(RECORD_SUFFIX)] + ".parquet") for r in records]
    fails = [p for p in root.glob(f"{FAILURES}/*__*.json") if p.stem.rpartition("__")[2].isdigit()]
    written = [p for p in [*runs, *records, *fails] if p.is_file() and not p.is_symlink()]
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


def adopt_renamed(out_dir, runs, whole: list[dict] | None = None) -> int:
    """Reuse stored runs whose scenario was renamed: for each (name, seed, config hash) of
    `runs` not stored under `name`, a whole file (`whole`, default: `verify`'s) with the
    same seed and hash stored under another name is linked (or copied) into place with
    its record. The hash covers everything that determines the numbers and nothing else
    (see `Scenario.hashed`), so the file is the run. Returns how many runs were adopted."""
    by_key: dict[tuple[int, str], Path] = {}
    have = set()
    for rec in (verify(out_dir)[0] if whole is None else whole):
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

        atomic_write(record_path(target), lambda tmp, src=record_path(source): shutil.copyfile(src, tmp))
        atomic_write(target, copy)
        _remove_other_hashes(target)
        failure_path(out_dir, name, seed).unlink(missing_ok=True)
        have.add((name, int(seed), h))
        adopted += 1
    return adopted


def failures(out_dir) -> list[dict]:
    """The failure records; one that cannot be read is given as a record whose error says so."""
    root = Path(out_dir) / FAILURES
    if not root.is_dir():
        return []
    from sim.inputs import read_input

    out = []
    for p in sorted(root.glob("*.json")):
        try:
            rec = json.loads(read_input(p, limit=None).decode("utf-8"))  # a regular file: never a pipe
            if not isinstance(rec, dict):
                raise ValueError("not an object")
        except (OSError, ValueError, InputError):
            name, _, seed = p.stem.rpartition("__")
            rec = {"scenario": unquote(name), "seed": seed, "error": f"(its failure record {p} cannot be read)"}
        out.append(rec)
    return out


def current_scenarios(out_dir) -> list[str] | None:
    """The scenario names of the sweep as last run (from manifest.json), or None without a
    manifest (or one of a `povsim run`, which lists no scenarios). A damaged manifest is an
    InputError naming it (see `read_manifest`)."""
    manifest = read_manifest(out_dir)
    entries = manifest.get("scenarios") if isinstance(manifest, dict) else None
    if not isinstance(entries, list):
        return None
    return [e["name"] for e in entries]


def stale_scenarios(out_dir) -> list[str]:
    """Scenarios with stored runs that are no longer in the sweep (see `load_results`); none
    when the manifest is missing or damaged (nothing to tell them apart by)."""
    try:
        current = current_scenarios(out_dir)
    except InputError:
        return []
    if current is None:
        return []
    return sorted({r["scenario"] for r in stored_runs(out_dir, with_provenance=False)} - set(current))


def load_results(out_dir, current_only: bool = True) -> pd.DataFrame:
    """All stored runs: one row per scenario x seed x year, `scenario` and `seed` first,
    sorted by scenario, seed and year, with a fresh index.

    With `current_only` (the default), runs of scenarios that are no longer in the sweep
    (removed from the sweep file since they ran; the sweep's manifest.json lists the
    current ones) are left out; `stale_scenarios` names them. Without a manifest every
    stored run is loaded; a damaged one is an InputError naming it (`current_only=False`
    reads every stored run without it).

    Every file is verified first (`check_run_file`): damaged or foreign files are an
    InputError (`sim.schema.InputProblems` for several) naming each, never read."""
    files = _run_files(out_dir)
    if current_only:
        current = current_scenarios(out_dir)
        if current is not None:
            keep = {quote(n, safe="") for n in current}
            files = [f for f in files if f.parent.parent.name.partition("=")[2] in keep]
    if not files:
        raise FileNotFoundError(f"no stored runs under {Path(out_dir) / RUNS}")
    problems = [InputError(str(f), "", f"damaged run file, {why}; not read: run the sweep (or the command "
                           f"that stored it) again, which moves it to {Path(out_dir) / DAMAGED}{os.sep} and "
                           "redoes its run")
                for f, why in ((f, check_run_file(f)) for f in files) if why is not None]
    if problems:
        from sim.schema import raise_all
        raise_all(problems)
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


def _manifest_fault(manifest) -> tuple[str, str] | None:
    """(field, what is wrong) with the fields of a manifest that povsim reads, or None."""
    if not isinstance(manifest, dict):
        return "", f"expected a JSON object, found {type(manifest).__name__}"
    if manifest.get("baseline") is not None and not isinstance(manifest["baseline"], str):
        return "baseline", f"expected text, found {manifest['baseline']!r:.40}"
    if manifest.get("config") is not None and not isinstance(manifest["config"], dict):
        return "config", f"expected an object, found {type(manifest['config']).__name__}"
    entries = manifest.get("scenarios")
    if entries is None:
        return None
    if not isinstance(entries, list):
        return "scenarios", f"expected a list, found {type(entries).__name__}"
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            return f"scenarios[{i}]", f"expected an object, found {type(e).__name__}"
        if not isinstance(e.get("name"), str):
            return f"scenarios[{i}].name", f"expected text, found {e.get('name')!r:.40}"
        for key, kind, what in (("config_hash", str, "text"), ("config", dict, "an object")):
            if e.get(key) is not None and not isinstance(e[key], kind):
                return f"scenarios[{i}].{key}", f"expected {what}, found {type(e[key]).__name__}"
    return None


def read_manifest(out_dir) -> dict | None:
    """The manifest.json of `out_dir`, or None when there is none. One that cannot be read
    (not a regular file, not UTF-8 JSON, not an object, or a field povsim reads of the
    wrong type) is an InputError naming the file (and the field)."""
    from sim.inputs import read_input

    p = Path(out_dir) / MANIFEST
    if not (p.exists() or p.is_symlink()):
        return None
    data = read_input(p, limit=None)  # written by povsim: it grows with a sweep, no input limit
    try:
        manifest = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(str(p), "", f"not UTF-8 text (byte {exc.start})") from None
    except ValueError as exc:
        raise InputError(str(p), "", f"not JSON ({exc})") from None
    fault = _manifest_fault(manifest)
    if fault is not None:
        raise InputError(str(p), *fault)
    return manifest


def manifest_problem(out_dir) -> str | None:
    """What is wrong with the manifest of `out_dir` (one line naming it), or None when it
    is fine or missing."""
    try:
        read_manifest(out_dir)
    except InputError as err:
        return " ".join(err.one_line().split())
    return None


def read_manifest_quietly(out_dir) -> dict | None:
    """The manifest, or None when it is missing or damaged (callers that use it say so
    with `manifest_problem`)."""
    try:
        return read_manifest(out_dir)
    except InputError:
        return None


def sweep_manifest(sweep, started, finished=None, *, command=None, cli_overrides=None,
                   executor=None, counts=None, status: str | None = None) -> dict:
    """The sweep's manifest: what was run (resolved config and hash of every scenario),
    with which seeds, code and packages, where and when. `status`: "running" until
    `finished` is given, then "finished", or what the caller says ("interrupted")."""
    import socket
    import sys


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
        "started_utc": utc_text(started),
        "finished_utc": utc_text(finished) if finished is not None else None,
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
