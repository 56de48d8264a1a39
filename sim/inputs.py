"""Input files are read through one function: regular files only, within a size limit.

Parameter, profile, scenario, sweep, target and calibration files (everything `povsim`
reads as TOML) come through `load_toml`; a path named in one input and read later by
another reader is first checked with `check_input_file`, so the error names the file and
field that named it. Anything that is
not a regular file once symlinks are followed (a directory, `/dev/zero`, a named pipe, a
socket) is refused without being opened for reading, and so is a file larger than
`MAX_INPUT_BYTES`: otherwise `/dev/zero` or a pipe would hang the command, and a huge
file would exhaust memory, before any check could speak. The file is opened without
blocking and checked again on the open descriptor, and at most the limit plus one byte is
read, so a file swapped or grown between the check and the read is refused too.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sim.errors import InputError
from sim.schema import parse_toml

#: assumption: the largest shipped input file (policies/parameters/measures.toml) is 14 KB and
#: a scenario or sweep a few KB; 1 MB leaves seventy times that, and still refuses a file
#: that is not a hand-written input (a data dump, a log) before it is read into memory.
MAX_INPUT_BYTES = 1_000_000
LIMIT_TEXT = "1 MB"

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device such as /dev/zero"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a named pipe"),
          (stat.S_ISSOCK, "a socket"))


def _kind(mode: int) -> str:
    return next((what for test, what in _KINDS if test(mode)), "not a regular file")


def _problem(st: os.stat_result, limit: int | None) -> str | None:
    if not stat.S_ISREG(st.st_mode):
        kind = _kind(st.st_mode)
        if kind == "a directory":
            return "is a directory, not a file"
        return f"not a regular file ({kind}): input files must be regular files"
    if limit is not None and st.st_size > limit:
        return (f"{st.st_size:,} bytes is larger than the limit of {LIMIT_TEXT} ({limit:,} bytes) "
                "for an input file")
    return None


def _refuse(path: Path, message: str, referrer: tuple[str, str] | None):
    if referrer is None:
        return InputError(str(path), "", message)
    file, field = referrer
    return InputError(file, field, f"{path}: {message}")


def check_input_file(path, referrer: tuple[str, str] | None = None,
                     limit: int | None = MAX_INPUT_BYTES) -> Path:
    """`path` if it is a regular file (symlinks followed) of at most `limit` bytes, else an
    InputError naming it (and, with `referrer` = (file, field), the file and field that
    named it). Nothing is opened."""
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise _refuse(path, "file not found", referrer) from None
    except OSError as exc:
        raise _refuse(path, f"cannot read: {exc.strerror}", referrer) from None
    problem = _problem(st, limit)
    if problem is not None:
        raise _refuse(path, problem, referrer)
    return path


def read_input(path, referrer: tuple[str, str] | None = None,
               limit: int | None = MAX_INPUT_BYTES) -> bytes:
    """The bytes of an input file that `check_input_file` accepts; the same checks are
    repeated on the open descriptor (opened without blocking, so a pipe swapped in cannot
    hang us) and no more than `limit` + 1 bytes are ever read."""
    path = check_input_file(path, referrer, limit)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise _refuse(path, f"cannot read: {exc.strerror}", referrer) from None
    try:
        problem = _problem(os.fstat(fd), limit)
        if problem is not None:
            raise _refuse(path, problem, referrer)
        chunks, size = [], 0
        cap = None if limit is None else limit + 1
        while cap is None or size < cap:
            chunk = os.read(fd, 1 << 16 if cap is None else min(1 << 16, cap - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise _refuse(path, f"cannot read: {exc.strerror}", referrer) from None
    finally:
        os.close(fd)
    if limit is not None and size > limit:
        raise _refuse(path, f"larger than the limit of {LIMIT_TEXT} ({limit:,} bytes) for an input file "
                      "(it grew while being read)", referrer)
    return b"".join(chunks)


def load_toml(path, referrer: tuple[str, str] | None = None) -> dict:
    """The TOML document of an input file (see `read_input`), parsed by the project's one
    TOML loader (`sim.schema.parse_toml`: UTF-8, duplicate keys named with their lines)."""
    return parse_toml(read_input(path, referrer), str(path))
