"""Errors that mean a run failed (as opposed to bad input), and the run's failure report.

A failed run exits with status 1 and leaves ``failure.json`` in its run folder: what went
wrong, when, and what to do about it. Nothing is exported from it. A later run started in the
same folder without ``--resume`` replaces it (see :mod:`coat_tf.runs`).
"""

from __future__ import annotations

import json
import time
import traceback
from pathlib import Path

from coat_tf.fileio import atomic_write_text

FAILURE_FILE = "failure.json"


class RunFailed(RuntimeError):
    """A run that cannot produce trustworthy results; ``str()`` says why and what to do."""


class TrainingDiverged(RunFailed):
    """The training loss (or the weights) stopped being finite.

    Attributes:
        epoch: 1-based epoch in which it happened.
        batch: 1-based batch of that epoch, or ``None`` where not known.
        loss: the loss value seen (NaN or infinite).
    """

    def __init__(self, epoch: int, loss: float, batch: int | None = None) -> None:
        self.epoch, self.loss, self.batch = epoch, loss, batch
        where = f"epoch {epoch}" + (f" (by batch {batch})" if batch is not None else "")
        super().__init__(
            f"training diverged: the loss is {loss} in {where}; nothing was evaluated or "
            "exported. Try a smaller --learning-rate (the default is 0.001)."
        )


class NonFiniteWeights(RunFailed):
    """A model whose weights hold NaN or infinite values (it is never exported)."""


class NonFiniteScoresError(RunFailed):
    """Every held-out song of an evaluation got a NaN or infinite score."""


def describe(error: BaseException) -> str:
    """A one-paragraph message for ``error``: TensorFlow's errors keep only their first line
    (the rest is the graph node's call stack, which is in the failure report)."""
    message = str(getattr(error, "message", None) or error).strip()
    first = message.splitlines()[0] if message else type(error).__name__
    return first if isinstance(error, RunFailed) else f"{type(error).__name__}: {first}"


def write_failure_report(run_dir: str | Path, error: BaseException) -> Path:
    """Write ``failure.json`` into ``run_dir``: the error's type and message, the time, and
    the last lines of its traceback (for a bug report). Returns its path."""
    path = Path(run_dir) / FAILURE_FILE
    message = describe(error)
    report = {
        "error": type(error).__name__,
        "message": message,
        "details": str(error) if str(error) != message else None,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "epoch": getattr(error, "epoch", None),
        "traceback": traceback.format_exception(error)[-6:],
    }
    atomic_write_text(path, json.dumps(report, indent=2) + "\n")
    return path
