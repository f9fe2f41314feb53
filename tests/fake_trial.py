"""``python -m tests.fake_trial RUN_DIR``: a stand-in for a search's trial process that follows
its protocol without training (so that the search's handling of each outcome is quick to test).

By the configuration's batch size: 16 diverges (``failure.json``, exit status 3), 32 is killed
by SIGKILL (as the out-of-memory killer would), 48 crashes (a traceback, exit status 1); 56
runs the real trial (:mod:`tuning.trial`) on a full disk (training raises ``ENOSPC``), 72 too,
and there even ``failure.json`` cannot be written; 88 writes a ``metrics.json`` without
figures; any other scores ``1 / batch size``, once
the file named by ``$FAKE_TRIAL_GATE`` exists where that variable is set."""

from __future__ import annotations

import errno
import json
import os
import signal
import sys
import time
from pathlib import Path

from tuning import trial  # noqa: F401  (ties this process to the search's)
from tuning.process import FAILED_STATUS


def main(run_dir: Path) -> int:
    from coat_tf.failures import TrainingDiverged, write_failure_report
    from coat_tf.fileio import atomic_write_text

    batch = json.loads((run_dir / "config.json").read_text())["train"]["batch_size"]
    if batch == 16:
        write_failure_report(run_dir, TrainingDiverged(epoch=2, loss=float("nan")))
        return FAILED_STATUS
    if batch == 32:
        os.kill(os.getpid(), signal.SIGKILL)
    if batch == 48:
        raise RuntimeError("a bug in the trial")
    if batch in (56, 72):
        return full_disk(run_dir, failure_written=batch == 56)
    if batch == 88:  # a metrics.json without the validation figures
        atomic_write_text(run_dir / "metrics.json", "{}")
        return 0
    wait_for_gate()
    metrics = {
        "validation": {"hr": 0.5, "ndcg": 1 / batch},
        "best_epoch": 1,
        "epochs": 1,
        "trial": {"seconds": 0.1, "rss_mb": 1.0, "peak_rss_mb": 1.0},
    }
    atomic_write_text(run_dir / "metrics.json", json.dumps(metrics))
    return 0


def full_disk(run_dir: Path, failure_written: bool) -> int:
    """The real trial, on a disk that fills up during training."""
    import coat_tf.runner

    def no_space(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(run_dir / "best"))

    coat_tf.runner.train_and_evaluate = no_space
    if not failure_written:
        trial.write_failure_report = no_space
    return trial.run_trial(run_dir, verify=False)


def wait_for_gate(limit: float = 300) -> None:
    """Wait until the file ``$FAKE_TRIAL_GATE`` exists (a test holds the trial running)."""
    gate = os.environ.get("FAKE_TRIAL_GATE")
    deadline = time.time() + limit
    while gate and not Path(gate).exists() and time.time() < deadline:
        time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
