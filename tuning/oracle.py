"""keras-tuner's grid search oracle, made resumable after a kill.

keras-tuner 1.4.8 keeps two pieces of :class:`~keras_tuner.oracles.GridSearchOracle`'s state
in memory only: the trials ordered by their values (``_ordered_ids``) and the trials whose next
combination is still to be generated (``_populate_next``). A search reloaded in a new process
starts with both empty (keras-team/keras-tuner#1055), and then, depending on where the first
process was killed:

- **during a trial**: the trial is retried, and the next trial is requested with
  ``KeyError: '<trial id>'`` from ``LinkedList.next`` (the report of #1055);
- **between two trials**: no trial is retried, nothing is queued, and the oracle answers
  ``STOPPED``: the search ends at once, silently, with the rest of the grid never run.

``tests/test_tuning_oracle.py`` reproduces both with the stock oracle.
:class:`ResumableGridSearchOracle` rebuilds the two from the reloaded trials instead: every
trial goes into the ordered list (sorted as the oracle compares values) and into the queue,
where a trial whose next combination was already tried is skipped as usual. It needs nothing
more in the state file, so a search saved by the stock oracle resumes too.

It also writes its state files (``oracle.json``, each ``trial_*/trial.json``) atomically, where
keras-tuner writes them in place, so a kill never leaves one half-written, and it retries a
trial recorded as running but not listed as ongoing (killed between the two writes that start a
trial). :meth:`~ResumableGridSearchOracle.run_again` queues a trial that ended to run again
(the search does so for a trial whose results were deleted), and a trial whose whole folder
was deleted is made again from the hash of its values that the oracle's state keeps, and
queued to run again.
"""

from __future__ import annotations

import functools
import itertools
import json
import os

from keras_tuner.oracles import GridSearchOracle
from keras_tuner.src.engine import hyperparameters as hp_module
from keras_tuner.src.engine import metrics_tracking
from keras_tuner.src.engine import trial as trial_module

from coat_tf.fileio import atomic_write_text


class ResumableGridSearchOracle(GridSearchOracle):
    """:class:`~keras_tuner.oracles.GridSearchOracle` that resumes after a kill (module doc)."""

    def set_state(self, state: dict) -> None:
        lost = self._recreate_lost_trials(state)
        super().set_state(state)
        self.end_order = [t for t in self.end_order if t not in lost]
        for trial_id in lost:
            self._run_times.pop(trial_id, None)
        self._rebuild_order()
        waiting = set(self._retry_queue) | {t.trial_id for t in self.ongoing_trials.values()}
        for trial_id in sorted(self.trials):
            trial = self.trials[trial_id]
            if trial.status == trial_module.TrialStatus.RUNNING and trial_id not in waiting:
                self._retry_queue.append(trial_id)

    def _recreate_lost_trials(self, state: dict) -> list[str]:
        """Make again, to run again, the started trials whose folder (``trial.json``) is gone,
        from the hash of their values that the state keeps; returns their ids.

        Without them the grid position would be lost and the next trial would take a
        remaining trial's id (keras-tuner numbers trials by their count).
        """
        lost = [t for t in state["start_order"] if t not in self.trials]
        if not lost:
            return []
        space = hp_module.HyperParameters.from_config(state["hyperparameters"])
        choices = space.space
        by_hash = {}
        for combination in itertools.product(*(hp.values for hp in choices)):
            values = {hp.name: value for hp, value in zip(choices, combination, strict=True)}
            by_hash[self._compute_values_hash(values)] = values
        made = []
        for trial_id in lost:
            values = by_hash.get(state["id_to_hash"].get(trial_id))
            if values is None:
                continue
            hyperparameters = space.copy()
            hyperparameters.values = values
            trial = trial_module.Trial(
                hyperparameters, trial_id=trial_id, status=trial_module.TrialStatus.RUNNING
            )
            self.trials[trial_id] = trial
            self._save_trial(trial)
            made.append(trial_id)
        return made

    def run_again(self, trial_id: str) -> None:
        """Queue a trial that ended (completed or failed) to run again from the start, after
        the trials already waiting: its results are gone."""
        trial = self.trials[trial_id]
        trial.status = trial_module.TrialStatus.RUNNING
        trial.metrics = metrics_tracking.MetricsTracker()
        trial.score, trial.best_step, trial.message = None, 0, None
        self.end_order = [t for t in self.end_order if t != trial_id]
        self._run_times.pop(trial_id, None)
        if trial_id not in self._retry_queue:
            self._retry_queue.insert(0, trial_id)  # the queue is taken from its end
        self._save_trial(trial)
        self.save()

    def _rebuild_order(self) -> None:
        """``_ordered_ids`` and ``_populate_next`` from the reloaded trials."""
        from keras_tuner.src.tuners.gridsearch import LinkedList

        def compare(a: str, b: str) -> int:
            values_a = self.trials[a].hyperparameters.values
            values_b = self.trials[b].hyperparameters.values
            return self._compare(values_a, values_b)

        ordered = sorted(self.trials, key=functools.cmp_to_key(compare))
        self._ordered_ids = LinkedList()
        for trial_id in ordered:
            self._ordered_ids.insert(trial_id)
        started = [t for t in self.start_order if t in self.trials]
        self._populate_next = started + [t for t in ordered if t not in started]

    def save(self) -> None:
        atomic_write_text(self._get_oracle_fname(), json.dumps(self.get_state()))

    def _save_trial(self, trial) -> None:  # noqa: ANN001 - keras_tuner Trial
        path = os.path.join(self._get_trial_dir(trial.trial_id), "trial.json")
        atomic_write_text(path, json.dumps(trial.get_state()))
