"""Scoring users against songs: chosen pairs, or the whole catalogue.

Full-catalogue scoring of COAT re-uses the split form of the attention (see
:class:`~coat_tf.layers.ChordAttention`): the chord and position terms ``(C W_c)[c_i] +
(p W_p)_i + b`` and the chord vectors ``C[c_i]`` are computed once per song, the user term
``W_u^T e_u`` once per user, and only the ``ReLU``, the scoring vector, the softmax, the
weighted sum and the tower run per user-song pair. Any other model is scored pair by pair
through its own ``__call__``.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from coat_tf.models.coat import ATTENTION_LAYER, GMF_LAYER
from coat_tf.models.inputs import CHORD_IDS, SONG_ID, USER_ID


class CatalogueScorer(tf.Module):
    """Scores of a model, with the song chord table looked up inside.

    Args:
        model: a model with inputs ``user_id``, ``song_id`` and optionally ``chord_ids``.
        chords: int32 ``[num_songs, L]``, the chord ids of every song.
        song_chunk: songs scored at once per user batch by :meth:`score_all` (bounds memory:
            COAT holds ``users x song_chunk x L x A`` floats at a time).
    """

    def __init__(self, model: tf.keras.Model, chords: np.ndarray, song_chunk: int = 512) -> None:
        super().__init__(name="catalogue_scorer")
        self.model = model
        self.chords = tf.constant(np.asarray(chords, dtype=np.int32))
        self.num_songs = int(self.chords.shape[0])
        self.song_chunk = int(song_chunk)
        self.input_names = set(model.input_names)

    def score_pairs(self, user_ids: tf.Tensor, song_ids: tf.Tensor) -> tf.Tensor:
        """Probabilities for aligned pairs: ``[N], [N] -> [N]``."""
        features = {USER_ID: tf.cast(user_ids, tf.int32), SONG_ID: tf.cast(song_ids, tf.int32)}
        if CHORD_IDS in self.input_names:
            features[CHORD_IDS] = tf.gather(self.chords, features[SONG_ID])
        return self.model(features, training=False)

    def score_all(self, user_ids: tf.Tensor) -> tf.Tensor:
        """Probabilities of every song for each user: ``[U] -> [U, num_songs]``."""
        user_ids = tf.cast(user_ids, tf.int32)
        num_users = tf.shape(user_ids)[0]
        parts = []
        for start in range(0, self.num_songs, self.song_chunk):
            songs = tf.range(start, min(start + self.song_chunk, self.num_songs))
            users = tf.repeat(user_ids, tf.shape(songs)[0])
            pairs = tf.tile(songs, [num_users])
            parts.append(tf.reshape(self.score_pairs(users, pairs), [num_users, -1]))
        return tf.concat(parts, axis=1)


class CoatCatalogueScorer(CatalogueScorer):
    """:class:`CatalogueScorer` whose :meth:`score_all` precomputes the per-song terms of COAT.

    Per user batch of size ``U`` and song chunk of size ``S``::

        a[u, s, i] = h^T ReLU(user_term[u] + song_term[s, i])      [U, S, L]
        beta       = softmax over i                                 [U, S, L]
        Att[u, s]  = sum_i beta[u, s, i] C[c_{s,i}]                 [U, S, d]
        score      = tower([P[u] * Q[s]; Att[u, s]])                [U, S]

    ``song_term`` ``[num_songs, L, A]`` and ``C[c_{s,i}]`` ``[num_songs, L, d]`` are built once
    on the first call (and again if the weights change: call :meth:`refresh`).
    """

    def __init__(self, model: tf.keras.Model, chords: np.ndarray, song_chunk: int = 256) -> None:
        super().__init__(model, chords, song_chunk)
        self.gmf = model.get_layer(GMF_LAYER)
        self.attention = model.get_layer(ATTENTION_LAYER)
        self.tower = model.get_layer("tower")
        names = {layer.name for layer in model.layers}
        self.user_table = (
            model.get_layer("attention_user_embedding").embeddings
            if "attention_user_embedding" in names
            else self.gmf.user_embeddings
        )

    def score_all(self, user_ids: tf.Tensor) -> tf.Tensor:
        user_ids = tf.cast(user_ids, tf.int32)
        gmf_users = tf.gather(self.gmf.user_embeddings, user_ids)  # [U, d]
        chord_vectors = tf.gather(self.attention.chord_embeddings, self.chords)  # [S_all, L, d]
        learned = self.attention.mode == "learned"
        if learned:
            user_terms = self.attention.user_terms(tf.gather(self.user_table, user_ids))
            song_terms = self.attention.song_terms(self.chords)  # [S_all, L, A]
        else:
            mean_chords = tf.reduce_mean(chord_vectors, axis=1)  # [S_all, d]
        parts = []
        for start in range(0, self.num_songs, self.song_chunk):
            stop = min(start + self.song_chunk, self.num_songs)
            if learned:
                hidden = tf.nn.relu(
                    user_terms[:, None, None, :] + song_terms[None, start:stop]
                )  # [U, S, L, A]
                beta = tf.nn.softmax(
                    tf.einsum("usla,a->usl", hidden, self.attention.score_vector), axis=-1
                )
                attended = tf.einsum("usl,sld->usd", beta, chord_vectors[start:stop])
            else:
                attended = tf.broadcast_to(
                    mean_chords[None, start:stop],
                    [tf.shape(user_ids)[0], stop - start, mean_chords.shape[-1]],
                )
            gmf_out = gmf_users[:, None, :] * self.gmf.song_embeddings[None, start:stop]
            features = tf.concat([gmf_out, attended], axis=-1)  # [U, S, 2d]
            flat = tf.reshape(features, [-1, features.shape[-1]])
            parts.append(tf.reshape(self.tower(flat, training=False), [-1, stop - start]))
        return tf.concat(parts, axis=1)


def make_catalogue_scorer(
    model: tf.keras.Model, chords: np.ndarray, song_chunk: int | None = None
) -> CatalogueScorer:
    """The fastest correct scorer for ``model``: COAT's precomputing one, else the generic one."""
    names = {layer.name for layer in model.layers}
    if ATTENTION_LAYER in names and GMF_LAYER in names and "tower" in names:
        return CoatCatalogueScorer(model, chords, song_chunk or 256)
    return CatalogueScorer(model, chords, song_chunk or 512)
