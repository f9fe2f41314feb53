"""Training callbacks: a guard against a diverged loss, a Ctrl-C that always stops training,
validation ranking metrics each epoch, the best weights kept on disk, early stopping on them,
and (on request) test ranking metrics each epoch."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import threading
from pathlib import Path
from types import FrameType

import numpy as np
import tensorflow as tf

from coat_tf import evaluation
from coat_tf.failures import NonFiniteWeights, TrainingDiverged, write_failure_report
from coat_tf.fileio import atomic_write_text
from coat_tf.models.recommender import Recommender
from coat_tf.runs import ncf_epoch_rule


class StopOnNonFiniteLoss(tf.keras.callbacks.Callback):
    """Stops training once the epoch's loss is NaN or infinite, by raising
    :class:`~coat_tf.failures.TrainingDiverged` (naming the epoch).

    Like ``TerminateOnNaN``, but the run fails instead of going on to evaluate, checkpoint and
    export a model whose weights are no longer numbers, and with ``run_dir`` the run is marked
    failed (``failure.json``, see :mod:`coat_tf.failures`). Put it first in the callback list:
    the loss is checked at the end of each epoch, before the other callbacks look at the model
    (heat maps of NaN attention weights, validation ranking, the best weights).

    The loss is checked once per epoch, not per batch: a callback with a batch hook makes Keras
    call every callback's batch hooks and copy the logs to the host after every step, which
    slowed training by several times at batch 256. The loss Keras logs is the mean over the
    epoch, so once a batch gives NaN the epoch's loss is NaN too: a diverged epoch is always
    caught, at the cost of finishing it.

    Args:
        run_dir: where to write the failure report, or ``None``.
    """

    def __init__(self, run_dir: str | Path | None = None) -> None:
        super().__init__()
        self.run_dir = None if run_dir is None else Path(run_dir)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        value = float(np.asarray(loss))
        if math.isfinite(value):
            return
        self.model.stop_training = True
        error = TrainingDiverged(epoch + 1, value)
        if self.run_dir is not None:
            write_failure_report(self.run_dir, error)
        raise error


class StopOnInterrupt(tf.keras.callbacks.Callback):
    """Makes sure a Ctrl-C (SIGINT) stops training, even when Python drops it.

    Python runs a signal handler between two bytecodes of the main thread; when that moment
    falls inside a finaliser or a weak-reference callback (during an import, a garbage
    collection), the ``KeyboardInterrupt`` raised there is printed as "Exception ignored" and
    lost, and training would go on for all its epochs. While training, this callback's
    handler raises ``KeyboardInterrupt`` as Python's does and also remembers the signal; at the
    end of the next epoch, after the backup of that epoch is written, a remembered signal that
    did not stop training is raised again. Put it after ``BackupAndRestore``.

    The check is made once per epoch, not per batch, for the reason given in
    :class:`StopOnNonFiniteLoss`. Call :meth:`restore` when ``fit`` returns or raises: it puts
    back the handler that was there before (Keras does not call ``on_train_end`` after an
    exception). Outside the main thread, where signal handlers cannot be set, it does nothing.
    """

    def __init__(self) -> None:
        super().__init__()
        self.requested = False
        self._previous: signal.Handlers | object | None = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.requested = False
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True
        raise KeyboardInterrupt

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.requested:
            raise KeyboardInterrupt

    def on_train_end(self, logs: dict | None = None) -> None:
        self.restore()

    def restore(self) -> None:
        """Put back the SIGINT handler found at the start of training."""
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


def check_finite_weights(model: tf.Module) -> None:
    """Raise :class:`~coat_tf.failures.NonFiniteWeights` if any weight of ``model`` (a Keras
    model or a :class:`~coat_tf.models.Recommender`) is NaN or infinite (checked before a
    model is evaluated or exported: nothing is exported from a diverged run)."""
    for weight in model.variables:
        if weight.dtype.is_floating and not np.all(np.isfinite(weight.numpy())):
            raise NonFiniteWeights(
                f"weight {weight.name} of model {model.name} holds NaN or infinite values: "
                "the model diverged and is not exported. Retrain with a smaller learning rate."
            )


class ValidationRanking(tf.keras.callbacks.Callback):
    """Adds ``val_hr`` and ``val_ndcg`` (sampled, at ``k``) to the logs at every epoch end.

    The callbacks after it (early stopping, the best checkpoint, TensorBoard) see them.

    Args:
        recommender: the scoring interface of the model being trained (it reads the model's
            weights when called, so one serves every epoch).
        users: validation users ``[U]``.
        items: their candidates ``[U, C]``, column 0 the held-out positive.
        k: cut-off.
    """

    def __init__(
        self, recommender: Recommender, users: np.ndarray, items: np.ndarray, k: int
    ) -> None:
        super().__init__()
        self.recommender, self.users, self.items, self.k = recommender, users, items, k

    #: The names the figures get in the logs.
    HR, NDCG = "val_hr", "val_ndcg"

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.evaluate(logs)

    def evaluate(self, logs: dict | None) -> evaluation.RankingMetrics:
        """Rank the candidates, add HR and NDCG to ``logs``; returns the figures."""
        result = evaluation.sampled(self.recommender, self.users, self.items, k=self.k)
        if logs is not None:
            logs[self.HR] = result.hr
            logs[self.NDCG] = result.ndcg
        return result


class BestWeights(tf.keras.callbacks.Callback):
    """Saves the weights whenever ``val_ndcg`` improves; survives a restart.

    Epochs are counted from 1; :meth:`offer` with epoch 0 offers the weights training starts
    from (a pre-trained start, which training may not improve on). A tie keeps the earlier
    epoch. Writes ``best/`` (a TensorFlow weights checkpoint, readable under any distribution
    strategy) and ``best.json`` (epoch and validation figures) in ``folder``. The checkpoint is
    written into a temporary folder that then replaces ``best/``, so a kill never leaves a
    half-written one. On a resumed run ``best.json`` is read back, so only a real improvement
    replaces the saved weights, and what a kill during a swap left is tidied: a lone
    ``.best.old`` (``best/`` already moved aside, the new one not yet in place) becomes
    ``best/`` again, which is what ``best.json`` still describes.
    """

    def __init__(self, folder: str | Path, monitor: str = "val_ndcg") -> None:
        super().__init__()
        self.folder = Path(folder)
        self.monitor = monitor
        self._recover()
        self.best = self.read(self.folder)

    def _recover(self) -> None:
        final, old = self.folder / "best", self.folder / ".best.old"
        if old.is_dir() and not final.exists():
            os.replace(old, final)
        shutil.rmtree(old, ignore_errors=True)
        shutil.rmtree(self.folder / ".best.partial", ignore_errors=True)

    @staticmethod
    def read(folder: Path) -> dict:
        path = Path(folder) / "best.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    @property
    def weights_prefix(self) -> Path:
        """The checkpoint prefix to pass to ``model.load_weights``."""
        return self.folder / "best" / "weights"

    def exists(self) -> bool:
        return (self.folder / "best" / "weights.index").is_file()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.offer(epoch + 1, logs)

    def offer(self, epoch: int, logs: dict | None) -> None:
        """Keep the model's weights as those of ``epoch`` if ``logs[monitor]`` beats the best."""
        value = (logs or {}).get(self.monitor)
        if value is None or math.isnan(value):
            return
        if self.best and value <= self.best[self.monitor]:
            return
        tmp = self.folder / ".best.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        self.model.save_weights(str(tmp / "weights"))
        final = self.folder / "best"
        old = self.folder / ".best.old"
        shutil.rmtree(old, ignore_errors=True)
        if final.exists():
            os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
        self.best = {"epoch": epoch, **{k: float(v) for k, v in (logs or {}).items()}}
        atomic_write_text(self.folder / "best.json", json.dumps(self.best, indent=2) + "\n")


def patience_spent(epochs_done: int, best: dict, patience: int) -> bool:
    """Whether ``patience`` epochs have passed since the best one (``best``, as ``best.json``
    holds it; empty: none yet), and at least one: ``epochs_done - best_epoch >= patience``.
    The early stopping of the Keras models and of WMF's iterations."""
    since_best = epochs_done - best["epoch"] if best else 0
    return since_best > 0 and since_best >= patience


class StopWithoutImprovement(tf.keras.callbacks.Callback):
    """Early stopping on the best epoch that a :class:`BestWeights` holds: training stops once
    ``patience`` epochs have passed since it (``epoch - best_epoch >= patience``, and at least
    one epoch since it).

    Unlike Keras' ``EarlyStopping`` the count survives a restart (the best epoch is read back
    from ``best.json``) and starts from a pre-trained start (epoch 0) when that is the best.
    Put it after the :class:`BestWeights` it reads.
    """

    def __init__(self, best: BestWeights, patience: int) -> None:
        super().__init__()
        self.best, self.patience = best, patience

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if patience_spent(epoch + 1, self.best.best, self.patience):
            self.model.stop_training = True


class TestEveryEpoch(ValidationRanking):
    """NCF's epoch rule, for comparison only: sampled test HR and NDCG after every epoch.

    NCF's reference code evaluates the test split after each epoch and reports the best
    figures over the epochs, so the epoch is chosen on the test split. This package chooses it
    on validation; with ``TrainConfig.test_every_epoch`` a run also records the test figures of
    every epoch, so that the share of a gap to published figures that comes from that rule can
    be measured. Nothing reads them to train, stop or keep weights: put this callback after
    the early stopping and the best checkpoint. They are added to the logs as
    ``test_hr_each_epoch`` and ``test_ndcg_each_epoch`` (TensorBoard shows them) and kept in
    ``FILE`` (``{"<epoch>": {"hr": ..., "ndcg": ...}}``, epochs from 1; epoch 0 is a
    pre-trained start, :meth:`record`), which a resumed run adds to.

    Args:
        recommender: as :class:`ValidationRanking`, with the test split.
        users: as :class:`ValidationRanking`, with the test split.
        items: as :class:`ValidationRanking`, with the test split.
        k: as :class:`ValidationRanking`, with the test split.
        folder: where ``FILE`` is kept (None: the logs only, as on a worker that is not the
            chief).
    """

    FILE = "test_each_epoch.json"
    HR, NDCG = "test_hr_each_epoch", "test_ndcg_each_epoch"

    def __init__(
        self,
        recommender: Recommender,
        users: np.ndarray,
        items: np.ndarray,
        k: int,
        folder: str | Path | None,
    ) -> None:
        super().__init__(recommender, users, items, k)
        self.folder = None if folder is None else Path(folder)

    @classmethod
    def read(cls, folder: Path) -> dict[str, dict[str, float]]:
        path = Path(folder) / cls.FILE
        return json.loads(path.read_text()) if path.is_file() else {}

    @classmethod
    def summary(cls, folder: Path) -> dict | None:
        """``{"epochs": {...}, "best_by_test": {"epoch", "hr", "ndcg"}}``, or None if nothing
        was recorded: the epoch NCF's code reports (:func:`coat_tf.runs.ncf_epoch_rule`)."""
        epochs = cls.read(folder)
        return {"epochs": epochs, "best_by_test": ncf_epoch_rule(epochs)} if epochs else None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.record(epoch + 1, logs)

    def record(self, epoch: int, logs: dict | None) -> None:
        """Evaluate the model as it is now and keep its figures as those of ``epoch``."""
        result = self.evaluate(logs)
        if self.folder is not None:
            epochs = self.read(self.folder)
            epochs[str(epoch)] = {"hr": float(result.hr), "ndcg": float(result.ndcg)}
            atomic_write_text(self.folder / self.FILE, json.dumps(epochs, indent=2) + "\n")
