"""A run folder claimed by one process, so that several processes can share one grid of runs.

``python -m coat_tf.experiments`` started twice with the same plan and ``--out`` (one process
per GPU, or one per core where a model uses one core poorly) splits the runs between them: each
process claims a run folder before it trains there and leaves alone the folders another live
process holds.

A claim is an exclusive ``flock`` on ``claim.lock`` in the run folder, whose text names the
holder (host and process id). The operating system releases the lock when its process ends,
killed or not, so there is no stale claim to clean up; the file is removed when the claim is
released. ``flock`` works on local file systems and on NFS (where Linux maps it to POSIX
locks); on a system without ``fcntl`` (Windows) every claim succeeds and the runs are not
guarded.

A prepared data set is held the same way, by a ``flock`` on ``data.lock`` in its folder: SHARED
by every run that reads it (:func:`hold_data`), EXCLUSIVE by ``prepare --overwrite`` while it
rebuilds it (:func:`replace_data`), so that a data set is never replaced under a live run.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from coat_tf.fileio import process_alive

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

CLAIM_FILE = "claim.lock"


class Busy(Exception):
    """The run folder is claimed by another live process (``str()`` names it)."""


def holder(run_dir: str | Path) -> str | None:
    """Who holds ``run_dir``'s claim now (``"process PID on HOST"``), or ``None`` if no live
    process does. Looks without claiming: the folder and its claim file are left as they are.

    Raises:
        OSError: the claim file cannot be opened (a folder in its place, no permission).
    """
    path = Path(run_dir) / CLAIM_FILE
    if fcntl is None or not os.path.lexists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return handle.read().strip() or "another process"
    return None  # closing the file dropped the shared lock


@contextlib.contextmanager
def claim(run_dir: str | Path) -> Iterator[None]:
    """Hold ``run_dir`` for this process for the length of the block.

    Raises:
        Busy: another process holds it; the block does not run.
    """
    path = Path(run_dir) / CLAIM_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    if fcntl is None:
        yield
        return
    while True:
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the block
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise Busy(f"{run_dir} is claimed by {holder}") from None
        # The holder before us may have removed the file between our open and our lock:
        # then the lock is on a file nobody else will see, and the claim starts again.
        try:
            same = os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        handle.close()
    try:
        handle.seek(0)
        handle.truncate()
        _write_holder(handle)
        yield
    finally:
        path.unlink(missing_ok=True)  # still under the lock: no one else holds this file
        handle.close()


#: The lock file of a prepared data set (not one of its data files: it changes neither the
#: content hash nor the file listing, see :func:`coat_tf.data.manifest.data_files`).
DATA_LOCK = "data.lock"


#: Tries of :func:`hold_data` (0.1 s apart) before it says the data set is being rebuilt.
_SHARED_TRIES = 10


class DataInUse(Busy):
    """A prepared data set that live runs read, or that a ``prepare --overwrite`` rebuilds."""


def _holders(handle: TextIO) -> str:
    """The live holders named in a lock file (``process PID on HOST`` lines), in words."""
    handle.seek(0)
    host = socket.gethostname()
    live = []
    for line in handle.read().splitlines():
        words = line.split()
        dead = (
            len(words) >= 4
            and words[2] == "on"
            and words[3] == host
            and words[1].isdigit()
            and not process_alive(int(words[1]))
        )
        if line.strip() and not dead and line.strip() not in live:
            live.append(line.strip())
    return ", ".join(live) or "another process"


def _lock_data(path: Path, mode: int) -> TextIO | None:
    """Open ``path`` and ``flock`` it with ``mode`` (non-blocking); returns the open file, or
    ``None`` where the folder is read-only and holds no lock file (nothing can replace it
    there either). A lock file this process cannot write is locked read-only.

    Raises:
        BlockingIOError: another process holds a conflicting lock (the file is closed).
    """
    while True:
        try:
            handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held by the caller
        except OSError as error:
            if error.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise
            if not path.is_file():
                return None
            handle = open(path, encoding="utf-8")  # noqa: SIM115 - flock works read-only
        try:
            fcntl.flock(handle, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            holders = _holders(handle)
            handle.close()
            raise BlockingIOError(holders) from None
        # a prepare that replaced the folder after our open: the lock is on a file nobody sees
        try:
            same = os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return handle
        handle.close()


def _write_holder(handle: TextIO, note: str = "") -> None:
    """Add this process to the lock file's holders (a read-only one stays as it is)."""
    if handle.writable():
        handle.write(f"process {os.getpid()} on {socket.gethostname()}{note}\n")
        handle.flush()


@contextlib.contextmanager
def hold_data(data_dir: str | Path) -> Iterator[None]:
    """Read the prepared data set ``data_dir`` for the length of the block: a SHARED ``flock``
    on its :data:`DATA_LOCK`, so that any number of runs read it together and ``prepare
    --overwrite`` (:func:`replace_data`) refuses to replace it under them.

    Raises:
        DataInUse: a ``prepare --overwrite`` is rebuilding it; the block does not run.
    """
    path = Path(data_dir) / DATA_LOCK
    if fcntl is None or not Path(data_dir).is_dir():
        yield
        return
    for attempt in range(_SHARED_TRIES):
        try:
            handle = _lock_data(path, fcntl.LOCK_SH)
            break
        except BlockingIOError as busy:
            # the last reader takes the lock alone for an instant as it leaves: try again
            if attempt == _SHARED_TRIES - 1:
                raise DataInUse(
                    f"{data_dir}: is being rebuilt by {busy} (prepare --overwrite); run again "
                    "when it is done"
                ) from None
            time.sleep(0.1)
    if handle is None:
        yield
        return
    try:
        _write_holder(handle)
        yield
    finally:
        try:  # the last reader clears the names of the holders before it
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if handle.writable():
                handle.truncate(0)
        except BlockingIOError:
            pass
        handle.close()


@contextlib.contextmanager
def replace_data(data_dir: str | Path) -> Iterator[None]:
    """Hold the prepared data set ``data_dir`` alone while it is rebuilt: an EXCLUSIVE,
    non-blocking ``flock`` on its :data:`DATA_LOCK` (see :func:`hold_data`).

    Raises:
        DataInUse: live runs read it (``str()`` names them); the block does not run.
    """
    path = Path(data_dir) / DATA_LOCK
    if fcntl is None or not Path(data_dir).is_dir():
        yield
        return
    try:
        handle = _lock_data(path, fcntl.LOCK_EX)
    except BlockingIOError as busy:
        raise DataInUse(
            f"is read by {busy} (a training run holds it for its whole length); replacing it "
            "would change the data under it: wait for the run to end, or prepare into another "
            "--out"
        ) from None
    if handle is None:
        yield
        return
    try:
        if handle.writable():
            handle.truncate(0)
        _write_holder(handle, " (prepare --overwrite)")
        yield
    finally:
        if handle.writable():
            handle.truncate(0)
        handle.close()
