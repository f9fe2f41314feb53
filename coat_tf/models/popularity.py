"""Popularity: every user gets the songs with the most training listeners first.

``score(u, i) = n_i``, the number of training interactions of song ``i`` (its distinct
training listeners: a prepared data set holds one row per user and song, whatever the plays),
the same for every user. Songs with equal counts tie, and the evaluator counts ties against
the model (:mod:`coat_tf.evaluation`), so a held-out song is ranked behind every competitor
as popular as it. No training: the counts are the model.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import tensorflow as tf

from coat_tf.config import ModelConfig
from coat_tf.models.fitted import FittedRecommender, unique_pairs


class PopularityRecommender(FittedRecommender):
    """Scores every song by its training count (see the module docstring).

    Args:
        counts: float ``[num_songs]``, the training interactions of each song.
        num_users: the users it scores (every one alike).
    """

    def __init__(self, counts: np.ndarray, num_users: int) -> None:
        counts = np.asarray(counts, dtype=np.float32)
        if counts.ndim != 1 or not np.all(np.isfinite(counts)) or np.any(counts < 0):
            raise ValueError("counts must be a 1-D array of finite non-negative numbers")
        super().__init__(num_users, len(counts), name="popularity")
        self.counts = tf.Variable(counts, trainable=False, name="counts")

    @classmethod
    def fit(
        cls,
        users: np.ndarray,
        songs: np.ndarray,
        config: ModelConfig,
        threads: int = 0,
        *,
        seed: int = 0,
        song_tables: Mapping[str, np.ndarray] | None = None,
    ) -> PopularityRecommender:
        _, songs = unique_pairs(users, songs, config.num_users, config.num_songs)
        return cls(np.bincount(songs, minlength=config.num_songs), config.num_users)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"counts": self.counts.numpy(), "num_users": np.int64(self.num_users)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> PopularityRecommender:
        return cls(arrays["counts"], int(arrays["num_users"]))

    def score_pairs(self, user_ids: tf.Tensor, song_ids: tf.Tensor) -> tf.Tensor:
        return tf.gather(self.counts, tf.cast(song_ids, tf.int32))

    def score_all(self, user_ids: tf.Tensor) -> tf.Tensor:
        users = tf.shape(tf.convert_to_tensor(user_ids))[0]
        return tf.tile(self.counts[tf.newaxis, :], tf.stack([users, 1]))
