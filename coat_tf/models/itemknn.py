"""Item-kNN: songs similar to a user's training songs, by cosine over their listeners.

The similarity of songs ``j`` and ``i`` is the cosine of their columns of the binary
user-song matrix ``R`` (1 for a training pair)::

    s(j, i) = |U_j & U_i| / sqrt(|U_j| |U_i|)

kept for the ``K`` most similar songs of each song ``j`` (``j`` itself among them, with
``s(j, j) = 1``) and 0 for the rest: ``S`` ``[num_songs, num_songs]``, at most ``K`` entries a
row. It is computed by ``implicit``'s ``CosineRecommender`` (its ``all_pairs_knn``), and a
user's score of a song is ``implicit``'s item-kNN score, the sum of the song's similarities
from the user's training songs::

    score(u, i) = sum_{j in I_u} S[j, i] = (R S)[u, i]

A song that none of the user's songs has among its neighbours scores 0. The scores are
computed here in TensorFlow from ``R`` and ``S`` (kept as tables of the recommender, so it can
be exported): ``score_all`` gathers the rows of ``S`` of the user's songs and sums them per
song; ``score_pairs`` gathers the column of ``S`` of each song and sums the entries from the
user's songs (each found by a binary search in the sorted training pairs).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import tensorflow as tf

from coat_tf.config import ModelConfig
from coat_tf.models.fitted import FittedRecommender, unique_pairs

#: Ends the sorted training keys, so that a binary search always lands on an entry.
_SENTINEL = np.iinfo(np.int64).max


def cosine_neighbours(interactions, neighbours: int, threads: int = 0):  # noqa: ANN001, ANN201
    """``S`` (CSR float32, ``[songs, songs]``, sorted indices, no stored zeros): the cosine
    similarity of each song to its ``neighbours`` most similar songs, itself included, by
    ``implicit``'s ``CosineRecommender``, from the binary user-song CSR ``interactions``."""
    from implicit.nearest_neighbours import CosineRecommender
    from threadpoolctl import threadpool_limits

    model = CosineRecommender(K=neighbours, num_threads=threads)
    with warnings.catch_warnings(), threadpool_limits(1, "blas"):
        # implicit hands its own normalised COO matrix on and warns that it is not CSR
        warnings.filterwarnings("ignore", message="Method expects CSR input")
        model.fit(interactions, show_progress=False)
    similarity = model.similarity.tocsr().astype(np.float32)
    similarity.eliminate_zeros()
    similarity.sort_indices()
    return similarity


class ItemKnnRecommender(FittedRecommender):
    """Item-kNN's scoring interface over ``R`` and ``S`` (see the module docstring).

    Args:
        user_splits: ``R`` as CSR without values, its row offsets: user ``u``'s training songs
            are ``user_songs[user_splits[u]:user_splits[u + 1]]``.
        user_songs: ``R``'s column indices, sorted within each user.
        similarity_splits: ``S`` as CSR, its row offsets (song ``j``'s neighbours).
        similarity_songs: ``S``'s column indices: the neighbours.
        similarity_values: ``S``'s values: the neighbours' similarities.
        neighbours: the ``K`` that ``S`` was built with (kept for the record).
    """

    def __init__(
        self,
        user_splits: np.ndarray,
        user_songs: np.ndarray,
        similarity_splits: np.ndarray,
        similarity_songs: np.ndarray,
        similarity_values: np.ndarray,
        neighbours: int,
    ) -> None:
        import scipy.sparse as sp

        num_users, num_songs = len(user_splits) - 1, len(similarity_splits) - 1
        values = np.asarray(similarity_values, dtype=np.float32)
        try:
            interactions = sp.csr_matrix(
                (np.ones(len(user_songs), np.float32), user_songs, user_splits),
                shape=(num_users, num_songs),
            )
            similarity = sp.csr_matrix(
                (values, similarity_songs, similarity_splits), shape=(num_songs, num_songs)
            )
            interactions.check_format(full_check=True)
            similarity.check_format(full_check=True)
        except (ValueError, TypeError) as error:
            raise ValueError(f"item-kNN tables are inconsistent: {error}") from None
        if not np.all(np.isfinite(values)):
            raise ValueError("item-kNN similarities must be finite")
        super().__init__(num_users, num_songs, name="itemknn")
        self.neighbours = int(neighbours)
        rows = interactions.tocoo()
        keys = rows.row.astype(np.int64) * num_songs + rows.col
        by_column = similarity.tocsc()
        by_column.sort_indices()
        self.user_splits = _table(interactions.indptr, tf.int64, "user_splits")
        self.user_songs = _table(interactions.indices, tf.int32, "user_songs")
        self.train_keys = _table(np.r_[np.sort(keys), _SENTINEL], tf.int64, "train_keys")
        self.similarity_splits = _table(similarity.indptr, tf.int64, "similarity_splits")
        self.similarity_songs = _table(similarity.indices, tf.int32, "similarity_songs")
        self.similarity_values = _table(similarity.data, tf.float32, "similarity_values")
        self.column_splits = _table(by_column.indptr, tf.int64, "column_splits")
        self.column_songs = _table(by_column.indices, tf.int32, "column_songs")
        self.column_values = _table(by_column.data, tf.float32, "column_values")

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
    ) -> ItemKnnRecommender:
        import scipy.sparse as sp

        users, songs = unique_pairs(users, songs, config.num_users, config.num_songs)
        interactions = sp.csr_matrix(
            (np.ones(len(users), np.float32), (users, songs)),
            shape=(config.num_users, config.num_songs),
        )
        neighbours = config.itemknn.neighbours
        similarity = cosine_neighbours(interactions, neighbours, threads)
        return cls(
            interactions.indptr,
            interactions.indices,
            similarity.indptr,
            similarity.indices,
            similarity.data,
            neighbours,
        )

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "user_splits": self.user_splits.numpy(),
            "user_songs": self.user_songs.numpy(),
            "similarity_splits": self.similarity_splits.numpy(),
            "similarity_songs": self.similarity_songs.numpy(),
            "similarity_values": self.similarity_values.numpy(),
            "neighbours": np.int64(self.neighbours),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> ItemKnnRecommender:
        names = ("user_splits", "user_songs", "similarity_splits", "similarity_songs")
        return cls(
            *(arrays[name] for name in names),
            arrays["similarity_values"],
            int(arrays["neighbours"]),
        )

    def score_pairs(self, user_ids: tf.Tensor, song_ids: tf.Tensor) -> tf.Tensor:
        users = tf.cast(user_ids, tf.int64)
        songs = tf.cast(song_ids, tf.int32)
        sources = _rows(self.column_songs, self.column_splits, songs)  # [N, None]
        values = _rows(self.column_values, self.column_splits, songs)
        pair = sources.value_rowids()
        keys = tf.gather(users, pair) * self.num_songs + tf.cast(sources.flat_values, tf.int64)
        found = tf.gather(self.train_keys, tf.searchsorted(self.train_keys, keys))
        values = tf.where(found == keys, values.flat_values, 0.0)
        return tf.math.unsorted_segment_sum(values, pair, tf.shape(users, out_type=tf.int64)[0])

    def score_all(self, user_ids: tf.Tensor) -> tf.Tensor:
        users = tf.cast(user_ids, tf.int32)
        history = _rows(self.user_songs, self.user_splits, users)  # [U, None]
        neighbours = _rows(self.similarity_songs, self.similarity_splits, history.flat_values)
        values = _rows(self.similarity_values, self.similarity_splits, history.flat_values)
        owner = tf.gather(history.value_rowids(), neighbours.value_rowids())
        cells = owner * self.num_songs + tf.cast(neighbours.flat_values, tf.int64)
        count = tf.shape(users, out_type=tf.int64)[0]
        sums = tf.math.unsorted_segment_sum(values.flat_values, cells, count * self.num_songs)
        return tf.reshape(sums, tf.stack([count, self.num_songs]))


def _rows(values: tf.Variable, splits: tf.Variable, rows: tf.Tensor) -> tf.RaggedTensor:
    """Rows ``rows`` of the CSR table ``(values, splits)``, as a ragged ``[len(rows), None]``."""
    table = tf.RaggedTensor.from_row_splits(values, splits, validate=False)
    return tf.gather(table, rows)


def _table(values: np.ndarray, dtype: tf.DType, name: str) -> tf.Variable:
    return tf.Variable(np.asarray(values, dtype=dtype.as_numpy_dtype), trainable=False, name=name)
