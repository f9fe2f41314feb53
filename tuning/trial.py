"""One trial of a search in a process of its own: ``python -m tuning.trial RUN_DIR``.

The search (:class:`~tuning.tuner.SearchTuner`) writes the trial's
:class:`~coat_tf.config.RunConfig` to ``RUN_DIR/config.json`` and starts this command. It
trains that configuration with :func:`coat_tf.runner.train_and_evaluate` with
``evaluate_on_test=False`` (the test split is never read, nothing is exported) and
``inspect=False``, continuing from the run's last finished epoch if an earlier process was
killed, and writes one of:

- ``metrics.json`` (exit status 0): the best validation HR/NDCG and epoch, the training figures,
  and under ``"trial"`` the process's wall time and peak resident memory;
- ``failure.json`` (exit status 3): the run failed (it diverged, TensorFlow stopped on an error,
  no epoch gave a finite validation NDCG, or a file could not be written: a full disk), with the
  reason. Where even that file cannot be written, the reason is the last ``error:`` line of its
  output, which the search records.

Any other exit is a crash; the search stops and says so, and the same search command continues.

A process per trial, because a process that trains trial after trial grows even with the Keras
session cleared between trials: on this machine about 12 MiB per trial, XLA's cache of compiled
programs, which TensorFlow never empties (``tf.keras.backend.clear_session`` and
``context.clear_kernel_cache`` leave it); without XLA it stays flat. A process of its own gives
every trial the same start and gives the memory back when it ends.

On Linux the process dies with the search (``PR_SET_PDEATHSIG``): a search killed with SIGKILL
leaves no trial running on.
"""

from __future__ import annotations

from tuning.process import die_with_parent

die_with_parent()  # before anything slow is imported

import contextlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402

import coat_tf  # noqa: E402, F401  (legacy Keras before TensorFlow)
from coat_tf import config as cfg  # noqa: E402
from coat_tf.config import RunConfig  # noqa: E402
from coat_tf.failures import RunFailed, describe, write_failure_report  # noqa: E402
from coat_tf.fileio import atomic_write_text  # noqa: E402
from coat_tf.runs import METRICS_FILE  # noqa: E402
from tuning.process import FAILED_STATUS, STARTED_ENV, memory_mb  # noqa: E402


def run_trial(run_dir: Path, verify: bool = True) -> int:
    """Train the run in ``run_dir`` (module doc); returns the exit status."""
    import tensorflow as tf

    from coat_tf.data import PreparedDataset
    from coat_tf.runner import train_and_evaluate
    from tuning.quiet import quiet_keras_warnings

    started = float(os.environ.get(STARTED_ENV) or time.time())  # the process's start
    run = cfg.load(RunConfig, run_dir / "config.json")
    data = PreparedDataset.load(run.data_dir, verify=verify)
    try:
        with quiet_keras_warnings():
            metrics, _ = train_and_evaluate(
                run, data, run_dir, verbose=False, inspect=False, evaluate_on_test=False
            )
        ndcg = metrics["validation"]["ndcg"]
        if not (isinstance(ndcg, float | int) and math.isfinite(ndcg)):
            raise RunFailed(f"no finite validation NDCG (got {ndcg}): no epoch gave a usable model")
        rss, peak = memory_mb()
        metrics["trial"] = {
            "seconds": time.time() - started,
            "rss_mb": rss,
            "peak_rss_mb": peak,
        }
        atomic_write_text(run_dir / METRICS_FILE, json.dumps(metrics, indent=2) + "\n")
    except (RunFailed, tf.errors.OpError, OSError) as error:  # OSError: a full disk, say
        return failed(run_dir, error)
    return 0


def failed(run_dir: Path, error: BaseException) -> int:
    """Report a failed run: ``failure.json`` where it can be written (a full disk may refuse
    it: the search then records the reason this process printed), and the exit status."""
    print(f"error: {describe(error)}", file=sys.stderr, flush=True)
    with contextlib.suppress(OSError):
        write_failure_report(run_dir, error)
    return FAILED_STATUS


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m tuning.trial", description="Run one trial of a search (see tuning.search)."
    )
    parser.add_argument("run_dir", help="the trial's run folder, holding its config.json")
    parser.add_argument(
        "--no-verify", action="store_true", help="skip the data set's checksums (checked once)"
    )
    args = parser.parse_args(argv)
    return run_trial(Path(args.run_dir), verify=not args.no_verify)


if __name__ == "__main__":
    sys.exit(main())
