"""The search's tuner: each trial a training run of one grid point, in a process of its own,
that never reads the test split.

:class:`SearchTuner` subclasses keras-tuner's :class:`~keras_tuner.engine.base_tuner.BaseTuner`
(its Keras ``Tuner`` refuses tf_keras models, keras-team/keras-tuner#1039). A trial writes its
:class:`~coat_tf.config.RunConfig` to ``trial_<id>/run/config.json`` and runs
``python -m tuning.trial`` on it (:mod:`tuning.trial`: ``evaluate_on_test=False``,
``inspect=False``, no export; its output goes to ``trial.log`` in the run folder); it reports the
run's best validation NDCG@k (the objective) and HR@k.

- **Resuming**: a trial whose run finished (``metrics.json``) reports what it wrote, one that
  failed (``failure.json``) fails again with the same reason, and one killed half-way continues
  from its last finished epoch (the runner's backup, or WMF's state file). A trial that ended
  but whose outcome is gone (its run folder deleted) runs again.
- **Failures**: a run that failed (diverged, a TensorFlow error, no finite validation NDCG, a
  full disk) or a trial process killed by a signal (the kernel's out-of-memory killer) makes the
  trial ``FAILED`` with its reason in ``failure.json``; the search goes on, and a failed trial is
  never the best. A trial process that crashes otherwise (a bug) stops the search; the same
  command continues it.
- **Memory**: the search process itself never trains, so it does not grow from trial to trial;
  each trial records its own process's peak (:mod:`tuning.trial` says why a process each).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
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
from tuning.process import FAILED_STATUS, PARENT_ENV, STARTED_ENV, memory_mb

OBJECTIVE = "val_ndcg"
#: the module a trial process runs (``python -m``)
TRIAL_MODULE = "tuning.trial"
TRIAL_LOG = "trial.log"
#: signals that end a trial process without it being able to say why: a failed trial
_FATAL_SIGNALS = (signal.SIGKILL, signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS)


class TrialCrashed(errors.FatalError):
    """A trial's process crashed (not a failed run): the search stops."""


class SearchTuner(BaseTuner):
    """Runs the grid's trials in ``folder`` (keras-tuner's project folder).

    Args:
        oracle: a :class:`~tuning.oracle.ResumableGridSearchOracle` over ``grid``.
        folder: the search folder.
        grid: the grid, to turn a trial's values into a run configuration.
        base: the configuration every trial starts from (data, sizes, epochs, seed).
        title: the heading of ``results.md``.
        progress: print a line per finished trial.
    """

    def __init__(
        self,
        oracle,  # noqa: ANN001 - keras_tuner Oracle
        folder: Path,
        grid: Grid,
        base: RunConfig,
        title: str,
        progress: bool = True,
    ) -> None:
        self.folder = Path(folder).resolve()  # "--dir ." has a name too
        self.grid, self.base, self.title, self.progress = grid, base, title, progress
        self.seconds: dict[str, float] = {}  # wall time of the trials run by this process
        with contextlib.redirect_stdout(io.StringIO()):  # "Reloading Tuner from ..."
            super().__init__(
                oracle, directory=str(self.folder.parent), project_name=self.folder.name
            )
        self.run_lost_trials_again()

    def run_lost_trials_again(self) -> list[str]:
        """Queue again the trials that ended but whose outcome is gone (their run folder, or
        its ``metrics.json`` or ``failure.json``, deleted); returns their ids. Their HParams
        sessions go with them."""
        lost = [
            trial_id
            for trial_id, trial in sorted(self.oracle.trials.items())
            if trial.status in (results.COMPLETED, results.FAILED)
            and not results.has_outcome(trial.status, self.run_dir(trial_id))
        ]
        for trial_id in lost:
            shutil.rmtree(Path(self.get_trial_dir(trial_id)) / results.HPARAMS_RUN, True)
            self.oracle.run_again(trial_id)
        return lost

    # --- keras-tuner's hooks -----------------------------------------------------------------

    def run_trial(self, trial, **kwargs) -> dict:  # noqa: ANN001, ARG002 - keras_tuner Trial
        run_dir = self.run_dir(trial.trial_id)
        state = run_state(run_dir)
        if state == FAILED:
            raise errors.FailedTrialError(self._reason(run_dir))
        if state != FINISHED:
            try:
                self._run_process(trial, run_dir)
            except OSError as error:  # the trial's files cannot be written: a full disk
                raise errors.FailedTrialError(_record_failure(run_dir, error)) from None
        metrics = json.loads((run_dir / METRICS_FILE).read_text(encoding="utf-8"))
        return {OBJECTIVE: metrics["validation"]["ndcg"], "val_hr": metrics["validation"]["hr"]}

    def on_trial_end(self, trial) -> None:  # noqa: ANN001
        super().on_trial_end(trial)  # the oracle records it (and saves its state)
        self._record_unexplained_failure(trial.trial_id)
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

    def _run_process(self, trial, run_dir: Path) -> None:  # noqa: ANN001
        """Train the trial in a process of its own; raise ``FailedTrialError`` if its run
        failed, :class:`TrialCrashed` if the process crashed."""
        run_dir.mkdir(parents=True, exist_ok=True)
        cfg.save(self.config_for(trial.hyperparameters.values), run_dir / "config.json")
        command = [sys.executable, "-m", TRIAL_MODULE, str(run_dir), "--no-verify"]
        env = {
            **os.environ,
            "PYTHONPATH": _import_path(),
            PARENT_ENV: str(os.getpid()),
            STARTED_ENV: repr(time.time()),
        }
        started = time.perf_counter()
        with open(run_dir / TRIAL_LOG, "ab") as log:
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env
            )
            try:
                status = process.wait()
            except BaseException:  # Ctrl-C: the trial stops too, and is continued next time
                process.kill()
                process.wait()
                raise
        self.seconds[trial.trial_id] = time.perf_counter() - started
        if status == 0 and (run_dir / METRICS_FILE).is_file():
            return
        if status == FAILED_STATUS:
            if (run_dir / FAILURE_FILE).is_file():
                raise errors.FailedTrialError(self._reason(run_dir))
            # the trial could not write failure.json (a full disk): its last error line says why
            error = RunFailed(_last_error(run_dir / TRIAL_LOG) or "the trial failed")
            raise errors.FailedTrialError(_record_failure(run_dir, error))
        if status < 0 and -status in _FATAL_SIGNALS:
            name = signal.Signals(-status).name
            error = RunFailed(
                f"the trial's process was ended by {name}"
                + (" (out of memory?)" if -status == signal.SIGKILL else "")
            )
            raise errors.FailedTrialError(_record_failure(run_dir, error))
        tail = (run_dir / TRIAL_LOG).read_text(encoding="utf-8", errors="replace")[-3000:]
        raise TrialCrashed(
            f"trial {trial.trial_id}: its process ({' '.join(command)}) ended with status "
            f"{status}; the end of {run_dir / TRIAL_LOG}:\n{tail}"
        )

    def _record_unexplained_failure(self, trial_id: str) -> None:
        """A trial that failed on an error of the search's own (keras-tuner keeps only its
        traceback): its ``failure.json`` from that, so that the table gives the reason."""
        trial = self.oracle.trials[trial_id]
        run_dir = self.run_dir(trial_id)
        if trial.status != results.FAILED or (run_dir / FAILURE_FILE).is_file():
            return
        lines = (trial.message or "").strip().splitlines()
        _record_failure(run_dir, RunFailed(lines[-1] if lines else "the trial failed"))

    @staticmethod
    def _reason(run_dir: Path) -> str:
        failure = results.read_json(run_dir / FAILURE_FILE) or {}
        return failure.get("message") or "the trial failed"

    # --- outputs -----------------------------------------------------------------------------

    def rows(self) -> list[dict]:
        """A row per trial that has an outcome (completed or failed) on disk."""
        rows = []
        for trial_id, trial in sorted(self.oracle.trials.items()):
            if trial.status not in (results.COMPLETED, results.FAILED):
                continue
            if not results.has_outcome(trial.status, self.run_dir(trial_id)):
                continue  # deleted since: run again by the next search
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
        else:  # no trial with results: none is the best
            (self.folder / results.BEST_CONFIG).unlink(missing_ok=True)
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
            if row.get("peak_rss_mb"):
                outcome += f", peak {row['peak_rss_mb']:,.0f} MiB"
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
        search_rss = f"; search process {memory_mb()[0]:,.0f} MiB"
        head = f"[{done}/{total}] trial_{trial_id} {values}{took_text}"
        return f"{head}: {outcome}{best_text}{left_text}{search_rss}"


def _record_failure(run_dir: Path, error: BaseException) -> str:
    """Write the trial's ``failure.json`` where the disk allows; returns the reason."""
    with contextlib.suppress(OSError):
        write_failure_report(run_dir, error)
    return describe(error)


def _last_error(log: Path) -> str | None:
    """The last ``error:`` line a trial's process printed, without its prefix."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    found = [line[len("error:") :].strip() for line in lines if line.startswith("error:")]
    return found[-1] if found else None


def _import_path() -> str:
    """``PYTHONPATH`` for a trial process: the folders this process imported ``tuning`` and
    ``coat_tf`` from first, so that it runs the same code whatever its working folder."""
    import coat_tf
    import tuning

    roots = [str(Path(module.__file__).resolve().parents[1]) for module in (tuning, coat_tf)]
    rest = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return os.pathsep.join(dict.fromkeys(roots + rest))


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
