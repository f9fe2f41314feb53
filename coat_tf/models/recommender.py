"""The one scoring interface that every model provides.

In the manner of RecBole's ``predict`` / ``full_sort_predict``, a :class:`Recommender` scores

- aligned pairs: ``score_pairs(user_ids [N], song_ids [N]) -> [N]``;
- the whole catalogue for a batch of users: ``score_all(user_ids [U]) -> [U, num_songs]``, by the
  model's fast path where it has one (COAT's per-(chord, position) grid, a matrix product for
  the dot-product models), else pair by pair; tests show both paths agree;
- songs that are not in the catalogue, from their content, for the models that read content:
  ``score_new_songs(user_ids [N], content [N, ...]) -> [N]`` (chord ids for COAT, MFCC frames
  for the audio models);
- and, for COAT, the attention weights: ``attention(user_ids [N], chord_ids [N, L]) -> [N, L]``.

Evaluation, export, ``recommend --explain``, the TensorBoard inspection, the tuner and the
benchmarks use only this interface. A model's forward pass lives in its own module under
``coat_tf/models/``; nothing outside this package looks a layer up by name.

A recommender holds the model's weights by reference: after more training it scores with the new
weights, so one object serves every epoch. It is a ``tf.Module``, so it can be exported with
``tf.saved_model.save`` and its methods traced by ``tf.function``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import tensorflow as tf

from coat_tf.models.inputs import SONG_ID, USER_ID


class Unsupported(NotImplementedError):
    """The model has no such capability (no content input, no attention, not a dot product)."""


class Recommender(tf.Module):
    """Scores of a trained model (see the module docstring).

    Attributes:
        num_users, num_songs: sizes of the id vocabularies.
        content_input: the content a new song is scored from (``"chord_ids"``, ``"mfcc"``), or
            ``None`` for a model that reads ids only.
        has_attention: whether :meth:`attention` is available.
        attention_mode: for a model with a chord attention, its mode (``"learned"``, or an
            ablation's ``"uniform"`` or ``"ones"``: weights that nothing learned); else ``None``.
        is_dot_product: whether :meth:`dot_product_tables` is available.
        score_is_probability: whether scores are listening probabilities in ``[0, 1]`` (the
            neural models) rather than unbounded preferences (WMF).
    """

    content_input: str | None = None
    has_attention: bool = False
    attention_mode: str | None = None
    is_dot_product: bool = False
    score_is_probability: bool = True

    def __init__(self, num_users: int, num_songs: int, name: str = "recommender") -> None:
        super().__init__(name=name)
        self.num_users = int(num_users)
        self.num_songs = int(num_songs)

    def score_pairs(self, user_ids: tf.Tensor, song_ids: tf.Tensor) -> tf.Tensor:
        """Scores of aligned pairs: int ``[N]``, int ``[N]`` -> float ``[N]``."""
        raise NotImplementedError

    def score_all(self, user_ids: tf.Tensor) -> tf.Tensor:
        """Scores of every song for each user: int ``[U]`` -> float ``[U, num_songs]``."""
        raise NotImplementedError

    def score_new_songs(self, user_ids: tf.Tensor, content: tf.Tensor) -> tf.Tensor:
        """Scores of songs that are not in the catalogue, from their content: ``[N], [N, ...]
        -> [N]``. Only models with a :attr:`content_input`."""
        raise Unsupported(f"{self.name} scores catalogue songs only (it reads no song content)")

    def attention(self, user_ids: tf.Tensor, chord_ids: tf.Tensor) -> tf.Tensor:
        """Attention weights over chord positions: ``[N], [N, L] -> [N, L]``. COAT only."""
        raise Unsupported(f"{self.name} has no chord attention")

    def dot_product_tables(self) -> tuple[tf.Tensor, tf.Tensor]:
        """``(queries [num_users, k], candidates [num_songs, k])`` such that
        ``queries[u] . candidates[i]`` ranks songs exactly as the model does. Dot-product models
        (GMF, WMF) only; a retrieval index (TFRS ``BruteForce``) can serve them."""
        raise Unsupported(f"{self.name} is not a dot-product model")


class KerasRecommender(Recommender):
    """A :class:`Recommender` over a Keras model whose inputs are ids and content tables.

    ``score_pairs`` calls the model on ``{"user_id", "song_id", <content>}`` with the content
    gathered from per-song tables; ``score_all`` scores the catalogue pair by pair, in chunks.

    Args:
        model: a Keras model with inputs among ``user_id``, ``song_id``, ``chord_ids``, ``mfcc``.
        num_users: the size of the user id vocabulary.
        num_songs: the size of the song id vocabulary.
        song_tables: content name -> ``[num_songs, ...]`` table, for the model's content inputs
            (tables the model does not take are ignored).
        song_chunk: songs scored at once by :meth:`score_all` (bounds memory).
    """

    def __init__(
        self,
        model: tf.keras.Model,
        num_users: int,
        num_songs: int,
        song_tables: Mapping[str, np.ndarray] | None = None,
        song_chunk: int = 512,
    ) -> None:
        super().__init__(num_users, num_songs, name=model.name)
        self.model = model
        self.song_chunk = int(song_chunk)
        self.input_names = tuple(model.input_names)
        self.tables: dict[str, tf.Variable] = {}
        for name, table in (song_tables or {}).items():
            if name not in self.input_names:
                continue
            table = np.asarray(table)
            if table.shape[0] != num_songs:
                raise ValueError(
                    f"the {name} table has {table.shape[0]} rows for {num_songs} songs"
                )
            self.tables[name] = tf.Variable(table, trainable=False, name=f"{name}_table")
        missing = [n for n in self.input_names if n not in (USER_ID, SONG_ID, *self.tables)]
        if missing:
            raise ValueError(f"model {model.name!r} needs song tables for {missing}")

    def features(self, user_ids: tf.Tensor, song_ids: tf.Tensor) -> dict[str, tf.Tensor]:
        """The model's inputs for aligned pairs, content gathered from the song tables."""
        song_ids = tf.cast(song_ids, tf.int32)
        out = {USER_ID: tf.cast(user_ids, tf.int32), SONG_ID: song_ids}
        for name, table in self.tables.items():
            out[name] = tf.gather(table, song_ids)
        return {name: out[name] for name in self.input_names}

    def score_pairs(self, user_ids: tf.Tensor, song_ids: tf.Tensor) -> tf.Tensor:
        return self.model(self.features(user_ids, song_ids), training=False)

    def score_all(self, user_ids: tf.Tensor) -> tf.Tensor:
        return pairwise_score_all(self, user_ids)


def pairwise_score_all(recommender: Recommender, user_ids: tf.Tensor) -> tf.Tensor:
    """``score_all`` through ``score_pairs``, ``song_chunk`` songs at a time: the generic path,
    and the reference the fast paths are tested against."""
    user_ids = tf.cast(user_ids, tf.int32)
    num_users = tf.shape(user_ids)[0]
    chunk = getattr(recommender, "song_chunk", 512)
    parts = []
    for start in range(0, recommender.num_songs, chunk):
        songs = tf.range(start, min(start + chunk, recommender.num_songs))
        users = tf.repeat(user_ids, tf.shape(songs)[0])
        pairs = tf.tile(songs, [num_users])
        parts.append(tf.reshape(recommender.score_pairs(users, pairs), [num_users, -1]))
    return tf.concat(parts, axis=1)
