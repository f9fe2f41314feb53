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
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path

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
        handle.write(f"process {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()
        yield
    finally:
        path.unlink(missing_ok=True)  # still under the lock: no one else holds this file
        handle.close()
