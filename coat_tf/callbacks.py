"""Training callbacks: validation ranking metrics each epoch, and the best weights kept on disk."""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import numpy as np
import tensorflow as tf

from coat_tf import evaluation
from coat_tf.fileio import atomic_write_text
from coat_tf.models.recommender import Recommender


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

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        result = evaluation.sampled(self.recommender, self.users, self.items, k=self.k)
        if logs is not None:
            logs["val_hr"] = result.hr
            logs["val_ndcg"] = result.ndcg


class BestWeights(tf.keras.callbacks.Callback):
    """Saves the weights whenever ``val_ndcg`` improves; survives a restart.

    Writes ``best/`` (a TensorFlow weights checkpoint, readable under any distribution
    strategy) and ``best.json`` (epoch and validation figures) in ``folder``. The checkpoint is
    written into a temporary folder that then replaces ``best/``, so a kill never leaves a
    half-written one. On a resumed run ``best.json`` is read back, so only a real improvement
    replaces the saved weights.
    """

    def __init__(self, folder: str | Path, monitor: str = "val_ndcg") -> None:
        super().__init__()
        self.folder = Path(folder)
        self.monitor = monitor
        self.best = self.read(self.folder)

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
        self.best = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}}
        atomic_write_text(self.folder / "best.json", json.dumps(self.best, indent=2) + "\n")
