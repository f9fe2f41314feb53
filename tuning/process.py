"""What the search process and a trial process share: how the search passes its process id
and the trial's start, the exit status of a failed run, dying with the search, and memory."""

from __future__ import annotations

import os
import signal
import sys

#: the environment variable through which the search passes its process id
PARENT_ENV = "TUNING_SEARCH_PID"
#: the environment variable through which the search passes the trial's start (``time.time()``)
STARTED_ENV = "TUNING_TRIAL_STARTED"
#: exit status of a trial whose run failed (``failure.json`` written)
FAILED_STATUS = 3


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when the search process ends, and exit at once if
    it has already ended (a kill between the two processes' start and this call)."""
    parent = os.environ.get(PARENT_ENV)
    if not parent or not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if str(os.getppid()) != parent:
        os._exit(1)


def memory_mb() -> tuple[float, float]:
    """``(resident, peak resident)`` memory of this process in MiB (``VmRSS``, ``VmHWM``)."""
    fields = {}
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                name, _, value = line.partition(":")
                if name in ("VmRSS", "VmHWM"):
                    fields[name] = int(value.split()[0]) / 1024
    except OSError:
        pass
    if len(fields) < 2:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return fields.get("VmRSS", peak), peak
    return fields["VmRSS"], fields["VmHWM"]
