"""WMF: weighted matrix factorisation for implicit feedback (Hu, Koren & Volinsky, ICDM 2008).

Each user ``u`` and song ``i`` get ``F`` factors ``x_u``, ``y_i``; the preference ``p_ui`` is 1
for a training pair and 0 otherwise, with confidence ``c_ui = 1 + alpha * r_ui`` (``r_ui`` the
play count, or ``log(1 + plays)`` with ``log_plays``; ``c_ui = 1`` for the pairs never
played)::

    min  sum_{u,i} c_ui (p_ui - x_u . y_i)^2 + lambda (sum_u |x_u|^2 + sum_i |y_i|^2)

solved by alternating least squares with the ``implicit`` library (its conjugate-gradient
solver). ``implicit`` takes the confidence matrix itself (it adds the ``c_ui = 1`` of the
unobserved pairs), so it is built here as ``1 + alpha r`` and passed with ``implicit``'s own
``alpha`` left at 1. The score of a pair is ``x_u . y_i``, a preference rather than a
probability, so WMF is a dot-product model: its whole-catalogue scores are one matrix product,
and a retrieval index can serve it.

:class:`WmfTrainer` runs one ALS iteration at a time, so that the runner can compute the
validation NDCG after each iteration (early stopping, best iteration), as it does after each
epoch of the neural models.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from coat_tf.config import WmfConfig
from coat_tf.fileio import atomic_write_bytes
from coat_tf.models.recommender import Recommender

FACTORS_FILE = "factors.npz"

#: WMF's hyperparameter grid for ``python -m tuning.search --model wmf`` (it has no batch size or
#: learning rate): each key is a :class:`~coat_tf.config.RunConfig` field path, each value the
#: values tried. The factors are the predictive factors of the neural models' grid; the
#: regularisation spans implicit's default (0.01) by decades; alpha runs from implicit's default
#: (1) to Hu et al.'s 40.
SEARCH_GRID: dict[str, tuple] = {
    "model.embedding_size": (8, 16, 32, 64),
    "model.wmf.regularization": (0.001, 0.01, 0.1, 1.0),
    "model.wmf.alpha": (1.0, 5.0, 10.0, 40.0),
}


def confidence_matrix(
    users: np.ndarray,
    songs: np.ndarray,
    plays: np.ndarray,
    num_users: int,
    num_songs: int,
    config: WmfConfig,
):  # noqa: ANN201 - a scipy.sparse.csr_matrix
    """``C`` ``[num_users, num_songs]`` (CSR, float32) holding ``1 + alpha r_ui`` at the
    training pairs; repeated pairs add their plays."""
    import scipy.sparse as sp

    plays = np.asarray(plays, dtype=np.float64)
    if len(plays) and plays.min() < 0:
        raise ValueError("play counts must be non-negative")
    counts = sp.coo_matrix(
        (plays, (np.asarray(users), np.asarray(songs))), shape=(num_users, num_songs)
    ).tocsr()
    counts.sum_duplicates()
    strength = np.log1p(counts.data) if config.log_plays else counts.data
    counts.data = (1.0 + config.alpha * strength).astype(np.float32)
    return counts.astype(np.float32)


class WmfRecommender(Recommender):
    """WMF's scoring interface over its factor tables ``X`` ``[users, F]``, ``Y`` ``[songs, F]``.

    ``score_pairs(u, i) = X[u] . Y[i]``; ``score_all(u) = X[u] Y^T``.
    """

    is_dot_product = True

    score_is_probability = False

    def __init__(self, user_factors: np.ndarray, song_factors: np.ndarray) -> None:
        user_factors = np.asarray(user_factors, dtype=np.float32)
        song_factors = np.asarray(song_factors, dtype=np.float32)
        if user_factors.ndim != 2 or song_factors.ndim != 2:
            raise ValueError("factor tables must be 2-D")
        if user_factors.shape[1] != song_factors.shape[1]:
            raise ValueError(
                f"user factors {user_factors.shape} and song factors {song_factors.shape} "
                "differ in their number of factors"
            )
        super().__init__(len(user_factors), len(song_factors), name="wmf")
        self.user_factors = tf.Variable(user_factors, trainable=False, name="user_factors")
        self.song_factors = tf.Variable(song_factors, trainable=False, name="song_factors")

    def assign(self, user_factors: np.ndarray, song_factors: np.ndarray) -> None:
        """Replace the factors (same shapes), e.g. after another ALS iteration."""
        self.user_factors.assign(np.asarray(user_factors, dtype=np.float32))
        self.song_factors.assign(np.asarray(song_factors, dtype=np.float32))

    def score_pairs(self, user_ids: tf.Tensor, song_ids: tf.Tensor) -> tf.Tensor:
        users = tf.gather(self.user_factors, tf.cast(user_ids, tf.int32))
        songs = tf.gather(self.song_factors, tf.cast(song_ids, tf.int32))
        return tf.reduce_sum(users * songs, axis=-1)

    def score_all(self, user_ids: tf.Tensor) -> tf.Tensor:
        users = tf.gather(self.user_factors, tf.cast(user_ids, tf.int32))
        return tf.matmul(users, self.song_factors, transpose_b=True)

    def dot_product_tables(self) -> tuple[tf.Tensor, tf.Tensor]:
        return tf.convert_to_tensor(self.user_factors), tf.convert_to_tensor(self.song_factors)

    def save(self, path: str | os.PathLike) -> None:
        """Write the factors to ``path`` (``.npz``) atomically."""
        import io

        buffer = io.BytesIO()
        np.savez(buffer, users=self.user_factors.numpy(), songs=self.song_factors.numpy())
        atomic_write_bytes(Path(path), buffer.getvalue())

    @classmethod
    def load(cls, path: str | os.PathLike) -> WmfRecommender:
        with np.load(path) as factors:
            return cls(factors["users"], factors["songs"])


class WmfTrainer:
    """ALS one iteration at a time, with the factors kept between iterations.

    Args:
        confidence: ``C`` from :func:`confidence_matrix`.
        factors: ``F``.
        config: regularisation (and the confidence settings ``C`` was built with).
        seed: seeds the initial factors.
        threads: ALS threads (0: every core).
    """

    def __init__(
        self,
        confidence,  # noqa: ANN001 - scipy.sparse.csr_matrix
        factors: int,
        config: WmfConfig,
        seed: int = 0,
        threads: int = 0,
    ) -> None:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        self.confidence = confidence
        # implicit runs its own threads, and warns (at construction) where BLAS has a pool too:
        # a second pool inside BLAS only slows it down, so BLAS gets one thread around it
        with threadpool_limits(1, "blas"):
            self.model = AlternatingLeastSquares(
                factors=factors,
                regularization=config.regularization,
                alpha=1.0,
                iterations=1,
                calculate_training_loss=False,
                num_threads=threads,
                random_state=seed,
            )
        self.iterations = 0

    def step(self) -> None:
        """One ALS iteration (users, then songs)."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, "blas"):
            self.model.fit(self.confidence, show_progress=False)
        self.iterations += 1

    def factors(self) -> tuple[np.ndarray, np.ndarray]:
        """``(X [users, F], Y [songs, F])`` after the iterations so far."""
        return np.asarray(self.model.user_factors), np.asarray(self.model.item_factors)
