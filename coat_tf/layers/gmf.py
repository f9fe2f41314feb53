"""Generalized matrix factorisation (GMF) layer."""

from __future__ import annotations

import tensorflow as tf

from coat_tf.checks import (
    check_non_negative,
    check_positive_int,
    check_probability,
    fresh_initializer,
)


@tf.keras.utils.register_keras_serializable(package="coat_tf")
class GMF(tf.keras.layers.Layer):
    """Element-wise product of a user and a song embedding (He et al., 2017).

    ``GMF_out = P[u] * Q[i]``, with ``P`` (users x d) and ``Q`` (songs x d).

    The user embedding ``P[u]`` is returned as well: COAT's attention scores each chord position
    against it when the attention shares the GMF user embedding (the paper's choice).

    Song dropout (DropoutNet, Volkovs, Yu & Poutanen, NeurIPS 2017), in training only: each
    example's song embedding is replaced, with probability ``p``, by the mean song embedding,
    the value a song without history gets at scoring time::

        z_b ~ Bernoulli(p)                                   one draw per example
        q_b = mean_j Q[j]  if z_b  else  Q[i_b]
        GMF_out = P[u_b] * q_b

    The mean is taken in the graph, so its gradient reaches every row of ``Q``. At inference
    (``training`` false or unset), and whatever ``training`` says when ``p = 0``, the output is
    ``P[u] * Q[i]``.

    Args:
        num_users: rows of ``P``.
        num_songs: rows of ``Q``.
        embedding_size: ``d``.
        l2: L2 penalty on the embeddings (0 disables it).
        embeddings_initializer: initialiser of both tables.
        song_dropout: ``p``, in ``[0, 1]`` (0 disables it).

    Input: ``[user_id, song_id]``, each an integer tensor of shape ``[B]``.
    Output: ``(gmf_out, user_embedding)``, each of shape ``[B, d]``.
    """

    def __init__(
        self,
        num_users: int,
        num_songs: int,
        embedding_size: int,
        l2: float = 0.0,
        embeddings_initializer: str | tf.keras.initializers.Initializer = "random_normal",
        song_dropout: float = 0.0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        check_positive_int("num_users", num_users)
        check_positive_int("num_songs", num_songs)
        check_positive_int("embedding_size", embedding_size)
        check_non_negative("l2", l2)
        check_probability("song_dropout", song_dropout)
        self.num_users = num_users
        self.num_songs = num_songs
        self.embedding_size = embedding_size
        self.l2 = float(l2)
        self.embeddings_initializer = tf.keras.initializers.get(embeddings_initializer)
        self.song_dropout = float(song_dropout)

    def build(self, input_shape) -> None:  # noqa: ANN001 - Keras passes shapes
        regularizer = tf.keras.regularizers.l2(self.l2) if self.l2 > 0 else None
        self.user_embeddings = self.add_weight(
            name="user_embeddings",
            shape=(self.num_users, self.embedding_size),
            initializer=fresh_initializer(self.embeddings_initializer),
            regularizer=regularizer,
        )
        self.song_embeddings = self.add_weight(
            name="song_embeddings",
            shape=(self.num_songs, self.embedding_size),
            initializer=fresh_initializer(self.embeddings_initializer),
            regularizer=regularizer,
        )
        super().build(input_shape)

    def call(
        self, inputs: list[tf.Tensor], training: bool | tf.Tensor | None = None
    ) -> tuple[tf.Tensor, tf.Tensor]:
        user_id, song_id = inputs
        user = tf.gather(self.user_embeddings, user_id)
        song = tf.gather(self.song_embeddings, song_id)
        if self.song_dropout > 0 and training is not None:
            song = tf.__internal__.smart_cond.smart_cond(
                training, lambda: self._drop_songs(song), lambda: song
            )
        return user * song, user

    def _drop_songs(self, song: tf.Tensor) -> tf.Tensor:
        """``song`` ``[B, d]`` with each row replaced by the mean song embedding with
        probability ``song_dropout``."""
        mean_song = tf.reduce_mean(self.song_embeddings, axis=0)  # [d]
        dropped = tf.random.uniform(tf.shape(song)[:1]) < self.song_dropout  # [B]
        return tf.where(dropped[:, None], mean_song[None, :], song)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "num_users": self.num_users,
            "num_songs": self.num_songs,
            "embedding_size": self.embedding_size,
            "l2": self.l2,
            "embeddings_initializer": tf.keras.initializers.serialize(self.embeddings_initializer),
            "song_dropout": self.song_dropout,
        }
