"""The COAT model: GMF and chord attention, then a tower MLP; and its recommender."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import tensorflow as tf

from coat_tf.config import ModelConfig
from coat_tf.layers import GMF, ChordAttention, TowerMLP
from coat_tf.models.inputs import CHORD_IDS, SONG_ID, USER_ID, chord_input, id_inputs
from coat_tf.models.recommender import KerasRecommender

ATTENTION_LAYER = "chord_attention"
GMF_LAYER = "gmf"
TOWER_LAYER = "tower"
SEPARATE_USER_LAYER = "attention_user_embedding"
MODEL_NAMES = {"learned": "coat", "uniform": "coat_uniform", "ones": "coat_ones"}
#: Added to the model's name (and so to its export folder's) when it trains with song dropout.
SONG_DROPOUT_SUFFIX = "_song_dropout"


def coat_model_name(config: ModelConfig) -> str:
    """The Keras model's name: ``coat``, ``coat_uniform`` or ``coat_ones``, then
    ``_song_dropout`` when ``config.song_dropout > 0``."""
    name = MODEL_NAMES[config.attention_mode]
    return name + SONG_DROPOUT_SUFFIX if config.song_dropout > 0 else name


def build_coat_model(config: ModelConfig, implementation: str = "auto") -> tf.keras.Model:
    """COAT as a functional Keras model.

    ::

        GMF_out, e_u = GMF(user_id, song_id)                       [B, d], [B, d]
        Att_out, beta = ChordAttention(e_u, chord_ids)             [B, d], [B, L]
        probability = TowerMLP([GMF_out; Att_out])                 [B]

    ``e_u`` is the GMF user embedding when ``config.attention_user_embedding == "shared"`` (the
    paper's choice), else a separate user embedding. ``config.attention_mode`` ``"uniform"`` and
    ``"ones"`` give the ablations "without attention" (mean and sum of the chord embeddings).
    ``config.song_dropout`` ``p > 0`` trains with song dropout: each training example's ``Q[i]``
    is replaced, with probability ``p``, by ``mean_j Q[j]``, the song embedding
    :meth:`CoatRecommender.score_new_songs` gives a new song (:class:`~coat_tf.layers.GMF`).

    Args:
        config: the model's shape.
        implementation: ``"auto"``, ``"fused"``, ``"split"`` or ``"concat"``, see
            :class:`ChordAttention`.

    Returns:
        A model with inputs ``{"user_id": [B], "song_id": [B], "chord_ids": [B, L]}`` (integers)
        and output the listening probability ``[B]``. :class:`CoatRecommender` scores with it
        and gives the attention weights.
    """
    d = config.embedding_size
    inputs = id_inputs()
    inputs[CHORD_IDS] = chord_input(config.sequence_length)
    gmf_out, user = GMF(
        config.num_users,
        config.num_songs,
        d,
        l2=config.l2,
        song_dropout=config.song_dropout,
        name=GMF_LAYER,
    )([inputs[USER_ID], inputs[SONG_ID]])
    if config.attention_user_embedding == "separate":
        user = tf.keras.layers.Embedding(
            config.num_users,
            d,
            embeddings_initializer="random_normal",
            embeddings_regularizer=tf.keras.regularizers.l2(config.l2) if config.l2 else None,
            name=SEPARATE_USER_LAYER,
        )(inputs[USER_ID])
    attended, _ = ChordAttention(
        config.num_chords,
        config.sequence_length,
        d,
        config.resolved_attention_size,
        mode=config.attention_mode,
        implementation=implementation,
        l2=config.l2,
        name=ATTENTION_LAYER,
    )([user, inputs[CHORD_IDS]])
    features = tf.keras.layers.Concatenate(name="gmf_and_attention")([gmf_out, attended])
    probability = TowerMLP(
        config.tower_widths[0], config.tower_layers, dropout=config.dropout, name=TOWER_LAYER
    )(features)
    return tf.keras.Model(inputs=inputs, outputs=probability, name=coat_model_name(config))


class CoatRecommender(KerasRecommender):
    """The scoring interface of COAT (and its ablations).

    ``score_pairs`` runs the Keras model. ``score_all`` exploits the split form of the attention
    (:class:`~coat_tf.layers.ChordAttention`): the attention input at position ``i`` of song
    ``s`` is ``user_term[u] + T[c_{s,i}, i]`` with ``T = chord_position_table()`` ``[V, L, A]``,
    so it depends on the song only through the chord at ``i``. For a block of ``U`` users and a
    chunk of ``S`` songs::

        G[v, i, u] = h^T ReLU(user_term[u] + T[v, i])                 [V, L, U], once a block
        E[v, i, u] = exp(max(G[v, i, u] - max_{v', i'} G[v', i', u], -floor))   once a block
        M[s, u, v] = sum_{i: c_{s,i} = v} E[v, i, u]                  [S, U, V]
                   = (onehot(c_s)[:, :, v] @ E[v])[s, u]   V products [S, L] x [L, U]
        M[s, u, :] /= sum_v M[s, u, v]                                (equation 4 by chord:
                                                                        Att = M C)
        score      = tower([P[u] * Q[s]; M C])                          [S, U]

    Softmax does not change when every score of a row is shifted by the same amount, so shifting
    by the user's largest score over all ``(chord, position)`` pairs, instead of by each song's
    own maximum, gives the same weights, and the exponentials are taken once a block instead of
    once a pair. The ``floor`` (``exp_floor``, 60) keeps every ``E >= e^-60``, so that a song
    whose positions all score far below the user's best one still has weights that sum to more
    than zero: the weights are exact unless every position of a song scores more than 60 below
    the user's best ``(chord, position)`` score (then its positions below that line share the
    weight ``e^-60`` equally). Tests check the scores against the Keras model's.

    The ReLU runs on ``U x V x L x A`` values instead of ``U x S x L x A`` (with 25 chords and
    10,000 songs, 400 times fewer), and no ``[U, S, L, d]`` chord vectors are formed. The mix by
    chord costs ``V x L`` multiply-adds a pair as ``V`` matrix products; with more than
    ``MAX_PRODUCT_CHORDS`` (64) chords it is a gather of ``E[c_{s,i}, i, u]`` and a segment sum
    over the positions instead (100 values a pair). At d = 64 on 10,000 songs the products gave
    1.19x the users per second of the gather with 25 chords (``majmin``) and 0.75x with 206
    (``full``).
    When ``V <= d`` the chord table is folded into the tower's first layer,
    ``[g; M C] W_1 = [g; M] [W_1a; C W_1b]``, so the first product reads ``d + V`` columns
    instead of ``2d``, and is one matrix product with the bias and ReLU. Users go
    ``user_chunk`` at a time and songs ``pair_chunk // user_chunk`` at a time, which bounds the
    temporaries (about ``pair_chunk x (4d + 2V)`` floats) whatever the number of users asked.

    ``score_new_songs`` scores a song with new audio from its chord ids: it has no song
    embedding ``Q[i]``, so its GMF term uses the mean song embedding (the catalogue's average
    song), ``score = tower([P[u] * mean_j Q[j]; Att(e_u, chords)])``. ``attention`` gives
    ``beta``, which does not depend on ``Q`` at all.

    Args:
        model: a model from :func:`build_coat_model`.
        num_users: the size of the user id vocabulary.
        num_songs: the size of the song id vocabulary.
        song_tables: ``{"chord_ids": int32 [num_songs, L]}``.
        user_chunk: users scored together by :meth:`score_all`.
        pair_chunk: (user, song) pairs per step of :meth:`score_all`.
        exp_floor: the lowest exponent of the attention weights in :meth:`score_all` (above).
    """

    content_input = CHORD_IDS
    has_attention = True
    MAX_PRODUCT_CHORDS = 64

    def __init__(
        self,
        model: tf.keras.Model,
        num_users: int,
        num_songs: int,
        song_tables: Mapping[str, np.ndarray],
        user_chunk: int = 256,
        pair_chunk: int = 32_768,
        exp_floor: float = 60.0,
    ) -> None:
        self.user_chunk = max(1, int(user_chunk))
        song_chunk = max(1, int(pair_chunk) // self.user_chunk)
        super().__init__(model, num_users, num_songs, song_tables, song_chunk)
        self.gmf = model.get_layer(GMF_LAYER)
        self.attention_layer = model.get_layer(ATTENTION_LAYER)
        self.tower = model.get_layer(TOWER_LAYER)
        names = {layer.name for layer in model.layers}
        self.attention_users = (
            model.get_layer(SEPARATE_USER_LAYER).embeddings
            if SEPARATE_USER_LAYER in names
            else self.gmf.user_embeddings
        )
        self.exp_floor = float(exp_floor)
        self.grid_index = None  # row of (c_{s,i}, i) in E flattened over [V, L], for many chords
        if self.num_chords > self.MAX_PRODUCT_CHORDS:
            chords = np.asarray(song_tables[CHORD_IDS], dtype=np.int32)
            length = chords.shape[1]
            self.grid_index = tf.Variable(
                chords * length + np.arange(length, dtype=np.int32)[None, :],
                trainable=False,
                name="grid_index",
            )

    @property
    def num_chords(self) -> int:
        return int(self.attention_layer.num_chords)

    @property
    def attention_mode(self) -> str:
        """``"learned"``, ``"uniform"`` or ``"ones"`` (the attention layer's mode)."""
        return str(self.attention_layer.mode)

    @property
    def sequence_length(self) -> int:
        return int(self.attention_layer.sequence_length)

    def song_chords(self, song_ids: tf.Tensor) -> tf.Tensor:
        """The chord ids of catalogue songs: ``[N] -> [N, L]``."""
        return tf.gather(self.tables[CHORD_IDS], tf.cast(song_ids, tf.int32))

    def _head(self, gmf_out: tf.Tensor, attended: tf.Tensor) -> tf.Tensor:
        """The prediction layer on ``[..., d]`` pairs of vectors: ``[N, d], [N, d] -> [N]``."""
        return self.tower(tf.concat([gmf_out, attended], axis=-1), training=False)

    def attention(self, user_ids: tf.Tensor, chord_ids: tf.Tensor) -> tf.Tensor:
        users = tf.gather(self.attention_users, tf.cast(user_ids, tf.int32))
        return self.attention_layer.weights_for(users, tf.cast(chord_ids, tf.int32))

    def score_new_songs(self, user_ids: tf.Tensor, content: tf.Tensor) -> tf.Tensor:
        user_ids = tf.cast(user_ids, tf.int32)
        mean_song = tf.reduce_mean(self.gmf.song_embeddings, axis=0)  # [d]
        gmf_out = tf.gather(self.gmf.user_embeddings, user_ids) * mean_song[None, :]
        users = tf.gather(self.attention_users, user_ids)
        attended, _ = self.attention_layer([users, tf.cast(content, tf.int32)])
        return self._head(gmf_out, attended)

    def score_all(self, user_ids: tf.Tensor) -> tf.Tensor:
        user_ids = tf.cast(user_ids, tf.int32)
        count = user_ids.shape[0]
        if count is not None:  # known here: a Python loop over the blocks
            if count <= self.user_chunk:
                return self._score_block(user_ids)
            blocks = range(0, count, self.user_chunk)
            parts = [self._score_block(user_ids[i : i + self.user_chunk]) for i in blocks]
            return tf.concat(parts, axis=0)
        count = tf.shape(user_ids)[0]  # known when run only (a traced signature)
        blocks = (count + self.user_chunk - 1) // self.user_chunk
        size = self.user_chunk

        def body(i: tf.Tensor, out: tf.TensorArray) -> tuple[tf.Tensor, tf.TensorArray]:
            return i + 1, out.write(i, self._score_block(user_ids[i * size : (i + 1) * size]))

        _, out = tf.while_loop(
            lambda i, _: i < blocks,
            body,
            (tf.constant(0), tf.TensorArray(tf.float32, size=blocks, infer_shape=False)),
        )
        return tf.reshape(out.concat(), [count, self.num_songs])

    def _score_block(self, user_ids: tf.Tensor) -> tf.Tensor:
        """:meth:`score_all` for at most ``user_chunk`` users (see the class docstring)."""
        attention = self.attention_layer
        chords = self.tables[CHORD_IDS]
        num_users = tf.shape(user_ids)[0]
        gmf_users = tf.gather(self.gmf.user_embeddings, user_ids)  # [U, d]
        d = int(self.gmf.embedding_size)
        kernel = self.tower.first_kernel()  # [2d, w]
        fold = self.num_chords <= d
        if fold:  # [g; M C] W_1 = [g; M] [W_1a; C W_1b]
            chord_kernel = tf.matmul(attention.chord_embeddings, kernel[d:])
            kernel = tf.concat([kernel[:d], chord_kernel], axis=0)  # [d + V, w]
        constant = attention.constant_weight()
        if constant is None:
            user_terms = attention.user_terms(tf.gather(self.attention_users, user_ids))
            table = attention.chord_position_table()  # [V, L, A]
            hidden = tf.nn.relu(user_terms[:, None, None, :] + table[None])  # [U, V, L, A]
            grid = tf.einsum("uvla,a->vlu", hidden, attention.score_vector)  # [V, L, U]
            top = tf.reduce_max(grid, axis=[0, 1], keepdims=True)
            weights = tf.exp(tf.maximum(grid - top, -self.exp_floor))  # [V, L, U]
            if self.grid_index is not None:  # the gather path reads the weights as rows
                weight_rows = tf.reshape(weights, [-1, num_users])  # [V L, U]
        parts = []
        for start in range(0, self.num_songs, self.song_chunk):
            stop = min(start + self.song_chunk, self.num_songs)
            song_chords = chords[start:stop]  # [S, L]
            if constant is None:
                if self.grid_index is None:
                    where = tf.one_hot(song_chords, self.num_chords, dtype=weights.dtype)
                    mixed = tf.einsum("slv,vlu->suv", where, weights)  # V x [S, L] @ [L, U]
                else:
                    rows = tf.gather(weight_rows, self.grid_index[start:stop])  # [S, L, U]
                    mixed = tf.transpose(attention.mix(rows, song_chords), [0, 2, 1])
                mixed = mixed / tf.reduce_sum(mixed, axis=-1, keepdims=True)  # [S, U, V]
            else:
                counts = attention.mix(tf.ones(tf.shape(song_chords)), song_chords)  # [S, V]
                mixed = tf.broadcast_to(
                    constant * counts[:, None, :], [stop - start, num_users, self.num_chords]
                )
            if not fold:
                mixed = tf.einsum("suv,vd->sud", mixed, attention.chord_embeddings)
            gmf_out = self.gmf.song_embeddings[start:stop][:, None, :] * gmf_users[None]
            features = tf.concat([gmf_out, mixed], axis=-1)  # [S, U, d + V] or [S, U, 2d]
            flat = tf.reshape(features, [-1, kernel.shape[0]])
            scores = self.tower.call_with_first_kernel(flat, kernel)
            parts.append(tf.reshape(scores, [stop - start, num_users]))
        return tf.transpose(tf.concat(parts, axis=0))
