"""Where a result came from: package versions, the git commit, times in UTC, and the
JSON encoding of manifests. Shared by the runner, the result store and the analyses."""

from __future__ import annotations

import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parent.parent


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def package_versions() -> dict[str, str | None]:
    povsim = _version("povsim")
    if povsim is None:  # running from a checkout that was never installed
        try:
            import tomllib
            with open(REPO_ROOT / "pyproject.toml", "rb") as fh:
                povsim = tomllib.load(fh)["project"]["version"]
        except (OSError, KeyError, ValueError):
            povsim = None
    return {
        "povsim": povsim,
        "mesa": _version("mesa"),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "pyarrow": _version("pyarrow"),
        "python": platform.python_version(),
    }


def _git(*args: str, cwd: Path) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_info(root: Path = REPO_ROOT) -> dict | None:
    """{"commit", "dirty"} when the package directory is a git checkout, else None.

    `commit` is None in a repository without commits; `dirty` counts modified and
    untracked (not ignored) files.
    """
    top = _git("rev-parse", "--show-toplevel", cwd=root)
    if top is None or Path(top).resolve() != root.resolve():
        return None  # not a checkout, or installed somewhere inside another repository
    commit = _git("rev-parse", "--verify", "--quiet", "HEAD", cwd=root) or None
    status = _git("status", "--porcelain", cwd=root)
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def utc_text(t: datetime) -> str:
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (Path, datetime)):
        return str(obj)
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    return str(obj)
