"""Scoring users against songs: chosen pairs, or the whole catalogue.

Full-catalogue scoring of COAT re-uses the split form of the attention (see
:class:`~coat_tf.layers.ChordAttention`): the chord and position terms ``(C W_c)[v] +
(p W_p)_i + b`` are computed once for every (chord, position), the user term ``W_u^T e_u`` once
per user, the attention scores once per user for every (chord, position) and then gathered for
each song; only the softmax, the weighted sum and the tower run per user-song pair. Any other
model is scored pair by pair through its own ``__call__``.
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
    """:class:`CatalogueScorer` whose :meth:`score_all` exploits the structure of COAT.

    In the split form, the attention input at position ``i`` of song ``s`` is
    ``user_term[u] + T[c_{s,i}, i]`` with ``T = chord_position_table()`` ``[V, L, A]``: it
    depends on the song only through the chord at ``i``. So for a batch of ``U`` users::

        G[u, v, i] = h^T ReLU(user_term[u] + T[v, i])                  [U, V, L]
        a[u, s, i] = G[u, c_{s,i}, i]                    (a gather)    [U, S, L]
        beta       = softmax over i                                    [U, S, L]
        Att[u, s]  = sum_i beta[u, s, i] C[c_{s,i}]                    [U, S, d]
        score      = tower([P[u] * Q[s]; Att[u, s]])                   [U, S]

    The ReLU runs on ``U x V x L x A`` values instead of ``U x S x L x A`` (with 25 chords
    and 10,000 songs, 400 times fewer). Songs are processed in chunks of ``song_chunk``.
    """

    def __init__(self, model: tf.keras.Model, chords: np.ndarray, song_chunk: int = 1024) -> None:
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
        length = int(self.chords.shape[1])
        # index of (c_{s,i}, i) in G flattened over [V, L]
        self.table_index = self.chords * length + tf.range(length)[None, :]  # [S, L]

    def score_all(self, user_ids: tf.Tensor) -> tf.Tensor:
        user_ids = tf.cast(user_ids, tf.int32)
        num_users = tf.shape(user_ids)[0]
        gmf_users = tf.gather(self.gmf.user_embeddings, user_ids)  # [U, d]
        learned = self.attention.mode == "learned"
        if learned:
            user_terms = self.attention.user_terms(tf.gather(self.user_table, user_ids))
            table = self.attention.chord_position_table()  # [V, L, A]
            hidden = tf.nn.relu(user_terms[:, None, None, :] + table[None])  # [U, V, L, A]
            grid = tf.einsum("uvla,a->uvl", hidden, self.attention.score_vector)
            grid = tf.reshape(grid, [num_users, -1])  # [U, V * L]
        parts = []
        for start in range(0, self.num_songs, self.song_chunk):
            stop = min(start + self.song_chunk, self.num_songs)
            # gathered per chunk: the whole catalogue's [S, L, d] need never be held at once
            chord_vectors = tf.gather(self.attention.chord_embeddings, self.chords[start:stop])
            if learned:
                scores = tf.gather(grid, self.table_index[start:stop], axis=1)  # [U, S, L]
                beta = tf.nn.softmax(scores, axis=-1)
                attended = tf.einsum("usl,sld->usd", beta, chord_vectors)
            else:
                mean_chords = tf.reduce_mean(chord_vectors, axis=1)  # [S, d]
                attended = tf.broadcast_to(
                    mean_chords[None], [num_users, stop - start, mean_chords.shape[-1]]
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
        return CoatCatalogueScorer(model, chords, song_chunk or 1024)
    return CatalogueScorer(model, chords, song_chunk or 512)
