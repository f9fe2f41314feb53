"""Crash-safe file output: write under a temporary name, then rename.

A reader (or a resumed job) never sees a half-written file or folder: ``os.replace`` is atomic
on one file system, and the temporary names start with a dot so globs skip them.

A temporary name carries the writing machine and process (``.NAME.HOST~PID-RANDOM.tmp`` for a
file, ``.NAME.HOST~PID-RANDOM.partial`` for a folder). A process killed half-way (SIGKILL,
power loss) cannot remove its temporaries; :func:`remove_stale_temporaries` removes those of
this machine whose process is gone (never another machine's, on a shared file system), and is
called by the next :func:`atomic_directory` in the same folder, by the chord cache and by the
commands that write into an output folder, so a re-run leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

_TEMPORARY = re.compile(r"^\..+\.([A-Za-z0-9_]+)~(\d+)-[^.]+\.(tmp|partial)$")
_HOST = re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname()) or "host"


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists (on this machine)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def remove_stale_temporaries(folder: str | os.PathLike, recursive: bool = False) -> int:
    """Remove temporary files and folders in ``folder`` left by processes of this machine
    that no longer exist; returns how many were removed. Those of live processes, and of
    other machines, are left alone."""
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    entries = folder.rglob(".*") if recursive else folder.glob(".*")
    removed = 0
    for entry in list(entries):
        match = _TEMPORARY.match(entry.name)
        if match is None or match.group(1) != _HOST or _alive(int(match.group(2))):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed += 1
    return removed


def _prefix(path: Path) -> str:
    return f".{path.name}.{_HOST}~{os.getpid()}-"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _ordinary_permissions(path: Path, directory: bool) -> None:
    """Give ``path`` the permissions a plain ``open``/``mkdir`` would have.

    ``tempfile`` creates private files (0600) and folders (0700); outputs meant to be read by
    other users (a SavedModel served by another account) must not keep those.
    """
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_prefix(path), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        _ordinary_permissions(Path(tmp), directory=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Build a folder under a temporary name and move it to ``path`` only on success.

    Yields the temporary folder to write into. If the block raises (or the process is killed),
    ``path`` is untouched and the temporary folder is removed (or left as a dot-folder that the
    next call in the same parent folder removes, whatever its target).

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is false.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists (pass overwrite to replace it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=_prefix(path), suffix=".partial"))
    try:
        yield tmp
        _ordinary_permissions(tmp, directory=True)
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
