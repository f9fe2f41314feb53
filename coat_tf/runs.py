"""What a run folder holds, and whether a new run (or ``--resume``) may start in it.

States of a run folder (``python -m coat_tf.train --run-dir DIR``):

- **new**: no ``config.json`` (absent, empty, or unrelated files): a run may start.
- **finished**: ``metrics.json`` is there. Never overwritten; ``--resume`` has nothing to do.
- **failed**: ``failure.json`` is there (the run diverged or stopped on an error). A new run
  without ``--resume`` moves the failed run's files into ``failed-<time>/`` inside the folder
  and starts afresh; ``--resume`` continues from its last finished epoch.
- **unfinished**: ``config.json`` but neither of the above: the run was killed. With saved
  progress (a backup, best weights, or ``trained.json``: training had ended and the evaluation
  was killed) only ``--resume`` continues it, so a typing slip cannot
  wipe hours of training; without any, a new run simply starts over.

Before any of these is judged, the folder's claim (:mod:`coat_tf.claims`) is looked at: a run
folder that a live process holds is in use, whatever its files look like.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from coat_tf.claims import CLAIM_FILE, holder
from coat_tf.failures import FAILURE_FILE
from coat_tf.per_user import PER_USER_FILE

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
#: Written when training ends (before the test evaluation): a run killed after it resumes
#: with its best weights and goes straight to the evaluation.
TRAINED_FILE = "trained.json"
#: The state of a WMF run after each ALS iteration.
WMF_STATE = "wmf_state.npz"
#: The epoch of Keras' ``BackupAndRestore`` checkpoint (counted from 0).
_BACKUP_EPOCH = "ckpt_saved_epoch/.ATTRIBUTES/VARIABLE_VALUE"
#: What a run writes into its folder (moved aside together when a failed run is replaced).
RUN_FILES = (
    CONFIG_FILE,
    METRICS_FILE,
    PER_USER_FILE,
    FAILURE_FILE,
    TRAINED_FILE,
    "best.json",
    "best",
    "backup",
    WMF_STATE,
    "tensorboard",
)

NEW, FINISHED, FAILED, UNFINISHED = "new", "finished", "failed", "unfinished"


class RunDirError(ValueError):
    """A run folder that does not fit the command (``str()`` says what to do)."""


def ncf_epoch_rule(epochs: dict[str, dict[str, float]]) -> dict:
    """The epoch NCF's reference code reports, from a run's test figures per epoch
    (``test_each_epoch.json``: ``{"<epoch>": {"hr", "ndcg"}}``, epoch 0 a pre-trained start):
    the first epoch with the highest test HR (its ``if hr > best_hr``), with that epoch's HR
    and NDCG, as ``{"epoch", "hr", "ndcg"}``. Chosen on the test split: for comparison only."""
    if not epochs:
        raise ValueError("no epoch was recorded")
    in_order = sorted(epochs.items(), key=lambda item: int(item[0]))
    epoch, best = max(in_order, key=lambda item: item[1]["hr"])  # the first of equals
    return {"epoch": int(epoch), "hr": best["hr"], "ndcg": best["ndcg"]}


def run_state(run_dir: str | Path) -> str:
    """One of ``"new"``, ``"finished"``, ``"failed"``, ``"unfinished"`` (module docstring)."""
    run_dir = Path(run_dir)
    if (run_dir / METRICS_FILE).is_file():
        return FINISHED
    if (run_dir / FAILURE_FILE).is_file():
        return FAILED
    if (run_dir / CONFIG_FILE).is_file():
        return UNFINISHED
    return NEW


def has_progress(run_dir: str | Path) -> bool:
    """Whether a killed run left anything ``--resume`` can continue from."""
    run_dir = Path(run_dir)
    backup = run_dir / "backup"
    if (run_dir / TRAINED_FILE).is_file() or (run_dir / "best.json").is_file():
        return True
    return backup.is_dir() and any(backup.rglob("*"))


def epochs_trained(run_dir: str | Path) -> tuple[int, bool]:
    """How many epochs (ALS iterations for WMF) a run has finished, and whether its training
    has ended (``trained.json``: only the evaluation is left). ``(0, False)`` for a new run.

    Read from ``trained.json``, else from the backup ``--resume`` continues from (the Keras
    models') or ``wmf_state.npz`` (WMF); an unreadable one counts as no epoch.
    """
    run_dir = Path(run_dir)
    try:
        return int(json.loads((run_dir / TRAINED_FILE).read_text())["epochs"]), True
    except (OSError, ValueError, KeyError, TypeError):
        pass
    done = 0
    if (run_dir / WMF_STATE).is_file():
        import numpy as np

        try:
            with np.load(run_dir / WMF_STATE) as state:
                done = int(state["iterations"])
        except (OSError, ValueError, KeyError):
            pass
    backup = run_dir / "backup" / "chief"
    if backup.is_dir():
        import tensorflow as tf

        try:
            latest = tf.train.latest_checkpoint(str(backup))
            if latest:
                epoch = tf.train.load_checkpoint(latest).get_tensor(_BACKUP_EPOCH)
                done = max(done, int(epoch) + 1)
        except (tf.errors.OpError, ValueError):
            pass
    return done, False


def prepare_run_dir(run_dir: str | Path, resume: bool, claimed: bool = False) -> str | None:
    """Check that a run (or ``--resume``) may start in ``run_dir``; make room if needed.

    Returns a note to print (a failed run was moved aside), or ``None``. ``claimed``: the
    caller holds ``run_dir``'s claim itself (an experiment's run), so the claim is not
    another process's.

    Raises:
        RunDirError: the folder is not a folder or cannot be written, a live process holds
            it, it holds a finished run, holds nothing to resume, or holds an unfinished run
            with progress and ``resume`` is false.
    """
    run_dir = Path(run_dir)
    check_writable_folder(run_dir, "--run-dir")
    if not claimed:
        _check_not_in_use(run_dir)
    state = run_state(run_dir)
    if state == FINISHED:
        what = "nothing to resume" if resume else "it is never overwritten"
        raise RunDirError(
            f"--run-dir {run_dir} holds a finished run ({METRICS_FILE}); {what}. "
            "Choose another --run-dir."
        )
    if resume:
        if state == NEW:
            raise RunDirError(
                f"--resume: {run_dir} holds no run to continue (no {CONFIG_FILE}); "
                "check the folder name, or start the run without --resume"
            )
        return None
    if state == UNFINISHED and has_progress(run_dir):
        raise RunDirError(
            f"--run-dir {run_dir} holds an unfinished run (killed?); pass --resume to continue "
            "it, or choose another --run-dir"
        )
    if state == FAILED:
        return f"note: {run_dir} held a failed run; its files were moved to {_set_aside(run_dir)}"
    return None


def check_same_data(
    run_dir: str | Path, recorded: str | None, data_dir: str | Path, current: str | None
) -> None:
    """Refuse to resume the run in ``run_dir`` on other data than it started on.

    Args:
        recorded: the ``content_hash`` its ``config.json`` records (``None``: a run written
            before runs recorded it, not checked).
        current: the ``content_hash`` of the data set in ``data_dir`` now.

    Raises:
        RunDirError: the hashes differ (``prepare --overwrite`` rebuilt the data set, or
            ``--data`` names another one).
    """
    if recorded is None or recorded == current:
        return
    raise RunDirError(
        f"--resume: {run_dir} was trained on data with content hash {recorded}, but {data_dir} "
        f"now holds content hash {current} (rebuilt by prepare --overwrite?); it cannot go "
        "on with other data: start a new run, or resume on the data it started on"
    )


def check_writable_folder(folder: str | Path, option: str) -> None:
    """Check, without creating anything, that ``folder`` is (or can be made as) a folder this
    process can write in: the first of it and its parents that exists must be a writable
    folder.

    Raises:
        RunDirError: naming ``option``, the path in the way and why.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise RunDirError(f"{option} {folder}: is a file, not a folder")
    existing = folder
    while not os.path.lexists(existing) and existing != existing.parent:
        existing = existing.parent
    if existing != folder and not existing.is_dir():
        raise RunDirError(f"{option} {folder}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise RunDirError(
            f"{option} {folder}: cannot write in {existing} (permission denied or a "
            "read-only file system)"
        )


def _check_not_in_use(run_dir: Path) -> None:
    """Refuse a run folder that a live process holds, naming the process."""
    claim_file = run_dir / CLAIM_FILE
    if os.path.lexists(claim_file) and not claim_file.is_file():
        raise RunDirError(
            f"{claim_file}: is not a file (a folder?); it must be the run's claim file: "
            "remove it, or choose another --run-dir"
        )
    try:
        who = holder(run_dir)
    except OSError as error:
        raise RunDirError(f"{claim_file}: cannot read it ({error.strerror or error})") from None
    if who is not None:
        raise RunDirError(
            f"--run-dir {run_dir} is claimed by {who}, a live process training there (one "
            "process at a time trains in a run folder); wait for it to end or choose another "
            "--run-dir"
        )


def _set_aside(run_dir: Path) -> Path:
    """Move a failed run's files into ``failed-<time>/`` inside ``run_dir``."""
    target = run_dir / f"failed-{time.strftime('%Y%m%d-%H%M%S')}"
    suffix = 1
    while target.exists():
        suffix += 1
        target = run_dir / f"failed-{time.strftime('%Y%m%d-%H%M%S')}-{suffix}"
    target.mkdir()
    for name in RUN_FILES:
        if (run_dir / name).exists():
            shutil.move(str(run_dir / name), str(target / name))
    for stale in run_dir.glob(".best.*"):
        shutil.rmtree(stale, ignore_errors=True)
    return target
