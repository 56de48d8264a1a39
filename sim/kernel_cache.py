"""Stale compiled passes are cleared when any engine source changes.

numba caches each compiled pass beside its source and checks only that one file's time
stamp: a pass that inlines a helper from another file (the draws of `sim/streams.py`, the
insurance cover of `policies/medical.py`) would keep running the old helper after the
helper changed. The engine's sources are fingerprinted here at import; when the
fingerprint changes, every cached pass of the engine is removed and numba compiles afresh.
The same fingerprint keys stored runs (a run of older code is not this code's result).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

PACKAGES = ("sim", "agents", "policies")
ROOT = Path(__file__).resolve().parent.parent
STAMP = "engine-sources.sha256"


def _fingerprint(root: Path) -> str:
    h = hashlib.sha256()
    for package in PACKAGES:
        for source in sorted((root / package).glob("*.py")):
            h.update(f"{package}/{source.name}\0".encode())
            h.update(source.read_bytes())
    return h.hexdigest()


_ENGINE: dict[Path, str] = {}


def engine_fingerprint(root: Path = ROOT) -> str:
    """The fingerprint of the engine's sources as this process imported them: stored runs
    are keyed by it too (`experiments/scenario.py: Scenario.hashed`), so results of other
    code are never taken for this code's."""
    if root not in _ENGINE:
        _ENGINE[root] = _fingerprint(root)
    return _ENGINE[root]


def cache_dirs_of(source_dir: Path) -> list[Path]:
    """Where numba caches the passes of the sources in `source_dir`: beside them, and under
    NUMBA_CACHE_DIR when it is set, in the folder numba's own locator names for that source
    directory (its name and a hash of its absolute path)."""
    dirs = [source_dir / "__pycache__"]
    user_dir = os.environ.get("NUMBA_CACHE_DIR")
    if user_dir:
        from numba.core.caching import _CacheLocator

        dirs.append(Path(user_dir) / _CacheLocator.get_suitable_cache_subpath(str(source_dir / "__init__.py")))
    return dirs


def read_dir_of(source_dir: Path) -> Path:
    """Where numba looks for the cached passes of `source_dir`: under NUMBA_CACHE_DIR when it
    is set (numba's user-provided locator comes first and is then the only one used), else
    beside the sources."""
    return cache_dirs_of(source_dir)[-1]


def _cache_dirs(root: Path) -> list[Path]:
    return [d for package in PACKAGES for d in cache_dirs_of(root / package)]


def clear_stale_kernels(root: Path = ROOT) -> bool:
    """Remove the engine's cached passes if its sources changed since they were cached.
    Returns whether anything was cleared. Unwritable installs are left alone."""
    digest = _ENGINE[root] = _fingerprint(root)  # read afresh: the sources may have changed since
    stamp = root / "sim" / "__pycache__" / STAMP
    try:
        if stamp.read_text() == digest:
            return False
    except OSError:
        pass
    cleared = False
    for directory in _cache_dirs(root):
        for cached in (*directory.glob("*.nbi"), *directory.glob("*.nbc")):
            try:
                cached.unlink()
                cleared = True
            except OSError:  # another process removed it first, or read-only
                pass
    try:
        stamp.parent.mkdir(exist_ok=True)
        tmp = stamp.with_name(f"{STAMP}.{os.getpid()}")
        tmp.write_text(digest)
        os.replace(tmp, stamp)  # atomic: concurrent workers never read half a stamp
    except OSError:
        pass
    return cleared
