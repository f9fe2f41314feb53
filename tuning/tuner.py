"""One trial of the search: a training run of one grid point that never reads the test split.

:class:`SearchTuner` subclasses keras-tuner's :class:`~keras_tuner.engine.base_tuner.BaseTuner`
(its Keras ``Tuner`` refuses tf_keras models, keras-team/keras-tuner#1039). A trial trains
through :func:`coat_tf.runner.train_and_evaluate` with ``evaluate_on_test=False`` (no test
figures, no export) and ``inspect=False``, in ``trial_<id>/run/``, and reports its best
validation NDCG@k (the objective) and HR@k.

- **Resuming**: a trial whose run finished (``metrics.json``) reports what it wrote, one that
  failed (``failure.json``) fails again with the same reason, and one killed half-way continues
  from its last finished epoch (the runner's backup, or WMF's state file).
- **Failures**: a diverged run (:class:`~coat_tf.failures.RunFailed`), a TensorFlow runtime
  error, or a validation NDCG that is not a number makes the trial ``FAILED`` with its reason in
  ``failure.json``; the search goes on, and a failed trial is never the best. Any other error
  (a bug, a full disk) stops the search: the same command continues it.
- **Memory**: the Keras session is cleared after every trial (keras-team/keras-tuner#395,
  #873); each trial records the process's resident memory after clearing and its peak so far.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import logging
import math
import time
from collections.abc import Iterator
from pathlib import Path

from keras_tuner import errors
from keras_tuner.engine.base_tuner import BaseTuner

from coat_tf import config as cfg
from coat_tf.config import RunConfig
from coat_tf.failures import FAILURE_FILE, RunFailed, describe, write_failure_report
from coat_tf.fileio import atomic_write_text
from coat_tf.runs import FAILED, FINISHED, METRICS_FILE, run_state
from tuning import results
from tuning.grid import Grid

OBJECTIVE = "val_ndcg"


class TrialCrashed(errors.FatalError):
    """A trial stopped on an error that is not a failed run (``__cause__`` holds it)."""


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


class _SlowCallbackFilter(logging.Filter):
    """Drops Keras's "Callback method ... is slow compared to the batch time" warnings: the
    validation ranking runs once per epoch by design, and a search prints one line per trial."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Callback method")


@contextlib.contextmanager
def quiet_keras_warnings() -> Iterator[None]:
    import tensorflow as tf

    logger, quiet = tf.get_logger(), _SlowCallbackFilter()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


def clear_keras_session() -> None:
    import tensorflow as tf

    tf.keras.backend.clear_session()
    gc.collect()


class SearchTuner(BaseTuner):
    """Runs the grid's trials on ``data`` in ``folder`` (keras-tuner's project folder).

    Args:
        oracle: a :class:`~tuning.oracle.ResumableGridSearchOracle` over ``grid``.
        folder: the search folder.
        grid: the grid, to turn a trial's values into a run configuration.
        base: the configuration every trial starts from (data sizes, epochs, seed).
        data: the prepared data set (its test split is never read).
        title: the heading of ``results.md``.
        progress: print a line per finished trial.
    """

    def __init__(
        self,
        oracle,  # noqa: ANN001 - keras_tuner Oracle
        folder: Path,
        grid: Grid,
        base: RunConfig,
        data,  # noqa: ANN001 - PreparedDataset
        title: str,
        progress: bool = True,
    ) -> None:
        self.folder = Path(folder)
        self.grid, self.base, self.data, self.title = grid, base, data, title
        self.progress = progress
        self.seconds: dict[str, float] = {}  # wall time of the trials trained by this process
        with contextlib.redirect_stdout(io.StringIO()):  # "Reloading Tuner from ..."
            super().__init__(
                oracle, directory=str(self.folder.parent), project_name=self.folder.name
            )

    # --- keras-tuner's hooks -----------------------------------------------------------------

    def run_trial(self, trial, **kwargs) -> dict:  # noqa: ANN001, ARG002 - keras_tuner Trial
        run_dir = self.run_dir(trial.trial_id)
        state = run_state(run_dir)
        if state == FINISHED:
            metrics = json.loads((run_dir / METRICS_FILE).read_text(encoding="utf-8"))
        elif state == FAILED:
            reason = results.read_json(run_dir / FAILURE_FILE) or {}
            raise errors.FailedTrialError(reason.get("message", "the trial failed"))
        else:
            metrics = self._train(trial, run_dir)
        return {OBJECTIVE: metrics["validation"]["ndcg"], "val_hr": metrics["validation"]["hr"]}

    def on_trial_end(self, trial) -> None:  # noqa: ANN001
        super().on_trial_end(trial)  # the oracle records it (and saves its state)
        rows = self.write_outputs()
        if self.progress:
            print(self.progress_line(trial.trial_id, rows), flush=True)

    def save(self) -> None:
        """The oracle's state, then this tuner's, each written atomically."""
        self.oracle.save()
        atomic_write_text(Path(self._get_tuner_fname()), json.dumps(self.get_state()))

    # --- a trial -----------------------------------------------------------------------------

    def run_dir(self, trial_id: str) -> Path:
        return Path(self.get_trial_dir(trial_id)) / "run"

    def config_for(self, values: dict) -> RunConfig:
        return self.grid.apply(self.base, values)

    def _train(self, trial, run_dir: Path) -> dict:  # noqa: ANN001
        import tensorflow as tf

        from coat_tf.runner import train_and_evaluate

        run = self.config_for(trial.hyperparameters.values)
        run_dir.mkdir(parents=True, exist_ok=True)
        cfg.save(run, run_dir / "config.json")
        started = time.perf_counter()
        try:
            with quiet_keras_warnings():
                metrics, recommender = train_and_evaluate(
                    run, self.data, run_dir, verbose=False, inspect=False, evaluate_on_test=False
                )
            del recommender
            ndcg = metrics["validation"]["ndcg"]
            if not (isinstance(ndcg, float | int) and math.isfinite(ndcg)):
                raise RunFailed(
                    f"no finite validation NDCG (got {ndcg}): no epoch gave a usable model"
                )
        except (RunFailed, tf.errors.OpError) as error:
            write_failure_report(run_dir, error)
            raise errors.FailedTrialError(describe(error)) from None
        except Exception as error:
            raise TrialCrashed(f"trial {trial.trial_id}: {describe(error)}") from error
        finally:
            clear_keras_session()
            self.seconds[trial.trial_id] = time.perf_counter() - started
        rss, peak = memory_mb()
        metrics["trial"] = {
            "id": trial.trial_id,
            "values": dict(trial.hyperparameters.values),
            "seconds": self.seconds[trial.trial_id],
            "rss_mb": rss,
            "peak_rss_mb": peak,
        }
        atomic_write_text(run_dir / METRICS_FILE, json.dumps(metrics, indent=2) + "\n")
        return metrics

    # --- outputs -----------------------------------------------------------------------------

    def rows(self) -> list[dict]:
        """A row per trial that has an outcome (completed or failed)."""
        rows = []
        for trial_id, trial in sorted(self.oracle.trials.items()):
            if trial.status not in (results.COMPLETED, results.FAILED):
                continue
            values = {name: trial.hyperparameters.values.get(name) for name in self.grid.names}
            rows.append(results.trial_row(trial_id, trial.status, values, self.run_dir(trial_id)))
        return rows

    def write_outputs(self) -> list[dict]:
        """Results tables, best configuration and HParams sessions, from the trials so far."""
        rows = self.rows()
        for row in rows:
            if row["status"] == results.COMPLETED and row.get("val_ndcg") is not None:
                values = {name: row[name] for name in self.grid.names}
                trial_dir = Path(self.get_trial_dir(row["trial"]))
                results.write_hparams_session(trial_dir, row["trial"], values, row)
        results.write_tables(self.folder, rows, self.grid, self.title)
        best = results.best_row(rows)
        if best is not None:
            results.write_best_config(self.folder, self.run_dir(best["trial"]))
        return rows

    def progress_line(self, trial_id: str, rows: list[dict]) -> str:
        row = next((r for r in rows if r["trial"] == trial_id), None)
        done, total = len(rows), self.grid.size
        values = " ".join(f"{n}={row[n]}" for n in self.grid.names) if row else ""
        took = self.seconds.get(trial_id)
        took_text = f" in {_duration(took)}" if took is not None else ""
        if row is None:
            outcome = "not finished"
        elif row["status"] == results.COMPLETED:
            outcome = f"val NDCG {row['val_ndcg']:.4f} HR {row['val_hr']:.4f}"
        else:
            outcome = f"FAILED: {row.get('reason') or 'see its failure.json'}"
        best = results.best_row(rows)
        best_text = f"; best {best['val_ndcg']:.4f} (trial_{best['trial']})" if best else ""
        left = total - done
        if left and self.seconds:
            mean = sum(self.seconds.values()) / len(self.seconds)
            left_text = f"; {left} left, about {_duration(mean * left)} to go"
        else:
            left_text = f"; {left} left"
        head = f"[{done}/{total}] trial_{trial_id} {values}{took_text}"
        return f"{head}: {outcome}{best_text}{left_text}"


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
