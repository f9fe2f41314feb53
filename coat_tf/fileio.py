"""Crash-safe file output: write under a temporary name, then rename.

A reader (or a resumed job) never sees a half-written file or folder: ``os.replace`` is atomic
on one file system, and the temporary names start with a dot so globs skip them.

A temporary name carries the writing machine and process (``.NAME.HOST~PID-RANDOM.tmp`` for a
file, ``.NAME.HOST~PID-RANDOM.partial`` for a folder). A process killed half-way (SIGKILL,
power loss) cannot remove its temporaries; :func:`remove_stale_temporaries` removes those of
this machine whose process is gone (never another machine's, on a shared file system), and is
called by the next :func:`atomic_directory` in the same folder, by the chord cache and by the
commands that write into an output folder, so a re-run leaves nothing behind.

A folder is published by a rename that never replaces another process's output:
:func:`atomic_directory` refuses a target that appeared meanwhile, and
:func:`atomic_numbered_directory` takes the next free number (a model version) by that rename.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

_TEMPORARY = re.compile(r"^\..+\.([A-Za-z0-9_]+)~(\d+)-[^.]+\.(tmp|partial)$")
_NUMBER = re.compile(r"^[0-9]+$")
_HOST = re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname()) or "host"


def process_alive(pid: int) -> bool:
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
        if match is None or match.group(1) != _HOST or process_alive(int(match.group(2))):
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
def _temporary_folder(parent: Path, name: str) -> Iterator[Path]:
    """A fresh temporary folder in ``parent`` for output called ``name``, removed if the
    block raises (stale ones of killed processes are removed first)."""
    parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(parent)
    tmp = Path(tempfile.mkdtemp(dir=parent, prefix=_prefix(parent / name), suffix=".partial"))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _rename_unless_taken(tmp: Path, path: Path) -> None:
    """Rename folder ``tmp`` to ``path`` without replacing anything already there.

    Raises:
        FileExistsError: ``path`` exists, or another process published it first (a rename
            onto a non-empty folder fails atomically, so the race has one winner).
    """
    if path.exists() or path.is_symlink():
        raise FileExistsError(f"{path} already exists")
    try:
        os.rename(tmp, path)
    except OSError as error:
        if error.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR):
            raise FileExistsError(f"{path} already exists") from None
        raise


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Build a folder under a temporary name and move it to ``path`` only on success.

    Yields the temporary folder to write into. If the block raises (or the process is killed),
    ``path`` is untouched and the temporary folder is removed (or left as a dot-folder that the
    next call in the same parent folder removes, whatever its target).

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is false, checked before the block
            and again when publishing (another process may have written ``path`` meanwhile:
            its folder is kept and this one is dropped).
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists (pass overwrite to replace it)")
    with _temporary_folder(path.parent, path.name) as tmp:
        yield tmp
        _ordinary_permissions(tmp, directory=True)
        if overwrite and path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            _rename_unless_taken(tmp, path)


def highest_number(parent: str | os.PathLike) -> int:
    """The highest integer name of a folder in ``parent`` (0 if none)."""
    parent = Path(parent)
    if not parent.is_dir():
        return 0
    numbers = [int(p.name) for p in parent.iterdir() if _NUMBER.match(p.name) and p.is_dir()]
    return max(numbers, default=0)


@dataclass
class NumberedDirectory:
    """The folder :func:`atomic_numbered_directory` builds: ``building`` (the temporary folder
    to write into) and, once published, ``number`` and ``path``."""

    building: Path
    number: int | None = None
    path: Path | None = None


@contextlib.contextmanager
def atomic_numbered_directory(
    parent: str | os.PathLike,
    stamp: Callable[[Path, int], None] | None = None,
    attempts: int = 1000,
) -> Iterator[NumberedDirectory]:
    """Build a folder under a temporary name and publish it as ``parent/<n>``, ``n`` one more
    than the highest number there when the block ends.

    The number is taken by the rename that publishes the folder, so processes writing into
    ``parent`` at once each get their own: when another one published ``n`` first, the rename
    fails and the next number is tried. ``stamp(folder, n)`` is called before each try, to
    write the number into the folder's own files (it must rewrite them whole).

    Yields a :class:`NumberedDirectory`; after the block, its ``number`` and ``path`` say
    where the folder went.

    Raises:
        FileExistsError: ``attempts`` numbers in a row were taken.
    """
    parent = Path(parent)
    with _temporary_folder(parent, "next") as tmp:
        folder = NumberedDirectory(tmp)
        yield folder
        number = highest_number(parent) + 1
        for _ in range(attempts):
            if stamp is not None:
                stamp(tmp, number)
            _ordinary_permissions(tmp, directory=True)
            try:
                _rename_unless_taken(tmp, parent / str(number))
            except FileExistsError:
                number = max(number, highest_number(parent)) + 1
                continue
            folder.number, folder.path = number, parent / str(number)
            return
        raise FileExistsError(f"{parent}: {attempts} numbers in a row were taken")
