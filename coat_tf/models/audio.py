"""NeuMF with a song-content vector from the song's MFCCs: the paper's audio baselines.

The COAT paper compares against NeuMF with a CNN and with an LSTM over MFCCs but gives neither
architecture, so this module chooses one and says why:

- **Input.** ``prepare --mfcc`` stores a 30-second MFCC excerpt per song, ``n = 20``
  coefficients x 1,292 frames (hop 512 at 22,050 Hz). The models read the mean of every
  ``mfcc_pool = 8`` frames (:func:`pool_mfcc`): 161 steps of 186 ms, about a beat at common
  tempi. That keeps the per-song table at 161 x 20 floats (13 KB a song, 129 MB for 10,000
  songs, instead of 1 GB) and the per-example encoder cost near NeuMF's own, while keeping the
  timbre changes from beat to beat that a 1-D convolution or an LSTM can use.
- **Scale.** MFCCs differ in scale by orders of magnitude (``c_0`` is a log energy in the
  hundreds); a batch normalisation over the coefficients comes first, so the encoder needs no
  statistics fitted outside the model.
- **CNN** (``neumf-cnn``): two 1-D convolutions over time, 32 and 64 filters of width 5 with
  ReLU, each followed by max-pooling by 2, then the mean over time and a dense ReLU layer to
  the content vector. The widths follow the small 1-D convolutional audio encoders used for
  recommendation (van den Oord et al., *Deep content-based music recommendation*, NIPS 2013,
  convolve over time with the coefficients as channels); two layers see about 3 s of audio.
- **LSTM** (``neumf-lstm``): one LSTM of 64 units over the 161 steps, its last state through a
  dense ReLU layer to the content vector.
- **Where it goes.** The content vector has the size of an MLP embedding (``4F`` with three
  layers), and joins the MLP path as a third input beside the user and song embeddings,
  ``tower([P_m[u]; Q_m[i]; content_i])``, as the issue that introduced the models asked.

A song that is not in the catalogue is scored from its MFCCs (:meth:`AudioRecommender.
score_new_songs`): it has no song embeddings, so both paths use the catalogue's mean song
embeddings, and its content vector comes from its own audio.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import tensorflow as tf

from coat_tf.checks import check_choice, check_positive_int
from coat_tf.config import ModelConfig
from coat_tf.models.inputs import MFCC, id_inputs, mfcc_input
from coat_tf.models.ncf import (
    GMF_LAYER,
    MLP_SONG_LAYER,
    MLP_TOWER_LAYER,
    MLP_USER_LAYER,
    PREDICTION_LAYER,
    mlp_embedding_size,
    mlp_path,
    neumf_graph,
    predict,
)
from coat_tf.models.recommender import KerasRecommender

ENCODER_LAYER = "mfcc_encoder"
KINDS = ("cnn", "lstm")


def pool_mfcc(mfcc: np.ndarray | tf.Tensor, pool: int) -> tf.Tensor:
    """Mean of every ``pool`` frames, time first: ``[N, n, frames] -> [N, frames // pool, n]``.

    Frames past the last whole group are dropped. The coefficient and frame axes must have
    static sizes.
    """
    mfcc = tf.convert_to_tensor(mfcc, dtype=tf.float32)
    if mfcc.shape.rank != 3 or None in mfcc.shape[1:]:
        raise ValueError(f"mfcc must be [N, n_mfcc, frames] with known sizes, got {mfcc.shape}")
    steps = mfcc.shape[-1] // pool
    grouped = tf.reshape(mfcc[..., : steps * pool], [-1, mfcc.shape[1], steps, pool])
    return tf.transpose(tf.reduce_mean(grouped, axis=-1), [0, 2, 1])


def mfcc_table(mfcc: np.ndarray, pool: int, chunk: int = 256) -> np.ndarray:
    """:func:`pool_mfcc` over a whole (possibly memory-mapped) table, ``chunk`` songs at a time."""
    parts = [pool_mfcc(mfcc[i : i + chunk], pool).numpy() for i in range(0, len(mfcc), chunk)]
    return np.concatenate(parts) if parts else np.zeros((0, 0, 0), np.float32)


@tf.keras.utils.register_keras_serializable(package="coat_tf")
class MfccEncoder(tf.keras.layers.Layer):
    """A song-content vector from pooled MFCC frames (see the module docstring).

    Args:
        kind: ``"cnn"`` or ``"lstm"``.
        output_size: size of the content vector.
        filters: the CNN's two convolution widths.
        kernel_size: the CNN's kernel width (steps).
        lstm_units: the LSTM's units.

    Input: ``[B, T, n]`` float. Output: ``[B, output_size]``.
    """

    def __init__(
        self,
        kind: str,
        output_size: int,
        filters: tuple[int, int] = (32, 64),
        kernel_size: int = 5,
        lstm_units: int = 64,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        check_choice("kind", kind, KINDS)
        check_positive_int("output_size", output_size)
        check_positive_int("kernel_size", kernel_size)
        check_positive_int("lstm_units", lstm_units)
        filters = tuple(filters)
        if len(filters) != 2:
            raise ValueError(f"filters must hold two widths, got {filters!r}")
        for width in filters:
            check_positive_int("filters", width)
        self.kind = kind
        self.output_size = output_size
        self.filters = filters
        self.kernel_size = kernel_size
        self.lstm_units = lstm_units
        layers = tf.keras.layers
        self.normalise = layers.BatchNormalization(name="normalise")
        if kind == "cnn":
            self.body = [
                layers.Conv1D(
                    filters[0], kernel_size, padding="same", activation="relu", name="conv_0"
                ),
                layers.MaxPooling1D(2, padding="same", name="pool_0"),
                layers.Conv1D(
                    filters[1], kernel_size, padding="same", activation="relu", name="conv_1"
                ),
                layers.MaxPooling1D(2, padding="same", name="pool_1"),
                layers.GlobalAveragePooling1D(name="mean_over_time"),
            ]
        else:
            self.body = [layers.LSTM(lstm_units, name="lstm")]
        self.project = layers.Dense(output_size, activation="relu", name="project")

    def build(self, input_shape) -> None:  # noqa: ANN001 - Keras passes shapes
        shape = tf.TensorShape(input_shape)
        for layer in [self.normalise, *self.body, self.project]:
            # own name scopes, so the weights get distinct names in checkpoints
            with tf.name_scope(layer.name):
                layer.build(shape)
            shape = layer.compute_output_shape(shape)
        super().build(input_shape)

    def call(self, inputs: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        x = self.normalise(inputs, training=training)
        for layer in self.body:
            x = layer(x)
        return self.project(x)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "kind": self.kind,
            "output_size": self.output_size,
            "filters": list(self.filters),
            "kernel_size": self.kernel_size,
            "lstm_units": self.lstm_units,
        }


def build_neumf_audio_model(config: ModelConfig, kind: str) -> tf.keras.Model:
    """NeuMF with an MFCC content vector in the MLP path (see the module docstring).

    Inputs ``{"user_id": [B], "song_id": [B], "mfcc": [B, T, n]}`` with ``T =
    config.mfcc_steps``, ``n = config.mfcc_coefficients``; output the probability ``[B]``.
    """
    inputs = id_inputs()
    inputs[MFCC] = mfcc_input(config.mfcc_steps, config.mfcc_coefficients)
    encoder = MfccEncoder(kind, mlp_embedding_size(config), name=ENCODER_LAYER)
    probability = neumf_graph(config, inputs, content=encoder(inputs[MFCC]))
    return tf.keras.Model(inputs=inputs, outputs=probability, name=f"neumf_{kind}")


def every_pair(users: tf.Tensor, songs: tf.Tensor) -> tf.Tensor:
    """``[N, a], [S, b] -> [N S, a + b]``: ``[users[n]; songs[s]]`` for every pair, user-major."""
    grid = [tf.shape(users)[0], tf.shape(songs)[0]]
    wide = tf.concat(
        [
            tf.broadcast_to(users[:, None, :], [*grid, users.shape[-1]]),
            tf.broadcast_to(songs[None, :, :], [*grid, songs.shape[-1]]),
        ],
        axis=-1,
    )
    return tf.reshape(wide, [-1, users.shape[-1] + songs.shape[-1]])


class AudioRecommender(KerasRecommender):
    """The scoring interface of NeuMF+CNN and NeuMF+LSTM.

    ``score_pairs`` and ``score_all`` encode each song's MFCCs once per call, not once per pair.
    ``score_new_songs(user_ids [N], mfcc [N, n, frames]) -> [N]`` scores songs with new audio
    from their raw MFCC excerpts (as ``prepare --mfcc`` computes them): pooled like the
    catalogue's, encoded, and read with the catalogue's mean song embeddings in both paths.

    Args:
        model: a model from :func:`build_neumf_audio_model`.
        num_users: the size of the user id vocabulary.
        num_songs: the size of the song id vocabulary.
        song_tables: ``{"mfcc": float32 [num_songs, T, n]}``, pooled (:func:`mfcc_table`).
        mfcc_shape: ``(n_mfcc, frames)`` of a raw excerpt (what :meth:`score_new_songs` takes).
        mfcc_pool: the pooling the table was made with.
    """

    content_input = MFCC

    def __init__(
        self,
        model: tf.keras.Model,
        num_users: int,
        num_songs: int,
        song_tables: Mapping[str, np.ndarray],
        mfcc_shape: tuple[int, int],
        mfcc_pool: int,
        song_chunk: int = 512,
    ) -> None:
        super().__init__(model, num_users, num_songs, song_tables, song_chunk)
        self.mfcc_shape = (int(mfcc_shape[0]), int(mfcc_shape[1]))
        self.mfcc_pool = int(mfcc_pool)
        self.gmf = model.get_layer(GMF_LAYER)
        self.mlp_users = model.get_layer(MLP_USER_LAYER).embeddings
        self.mlp_songs = model.get_layer(MLP_SONG_LAYER).embeddings
        self.tower = model.get_layer(MLP_TOWER_LAYER)
        self.encoder = model.get_layer(ENCODER_LAYER)
        self.prediction = model.get_layer(PREDICTION_LAYER)

    def score_pairs(self, user_ids: tf.Tensor, song_ids: tf.Tensor) -> tf.Tensor:
        """Aligned pairs, ``[N], [N] -> [N]``, each distinct song of the call encoded once.

        The same scores as the Keras model on the pairs (the encoder reads only the song's
        MFCCs, and with ``training=False`` its batch normalisation uses its moving statistics,
        so a song's content vector does not depend on the rows beside it). Sampled evaluation
        asks for 100 candidates of each of 256 users at once: 25,600 pairs over at most the
        catalogue's songs, each of which the model would encode again for every user that has it
        among its candidates.
        """
        user_ids = tf.cast(user_ids, tf.int32)
        song_ids = tf.cast(song_ids, tf.int32)
        songs, row = tf.unique(song_ids)
        content = self.encoder(tf.gather(self.tables[MFCC], songs), training=False)  # [S, c]
        gmf_out, _ = self.gmf([user_ids, song_ids])
        mlp_in = [
            tf.gather(self.mlp_users, user_ids),
            tf.gather(self.mlp_songs, song_ids),
            tf.gather(content, row),
        ]
        return predict(self.prediction, [gmf_out, mlp_path(self.tower, mlp_in)])

    def score_all(self, user_ids: tf.Tensor) -> tf.Tensor:
        """Every catalogue song for each user: ``[N] -> [N, num_songs]``.

        ``song_chunk`` songs at a time: the chunk's MFCCs are encoded once (``[S, c]``), then
        its ``N x S`` pairs are scored from the content vectors,
        ``sigmoid(h^T [P_g[u] * Q_g[s]; tower([P_m[u]; Q_m[s]; content_s])] + b)``. The generic
        pairwise path encoded each song again for every user (``N`` times the encoder's work
        and an ``[N S, T, n]`` MFCC tensor). Songs are encoded on every call: the weights may
        have changed since the last one (evaluation during training).
        """
        user_ids = tf.cast(user_ids, tf.int32)
        gmf_users = tf.gather(self.gmf.user_embeddings, user_ids)  # [N, F]
        mlp_users = tf.gather(self.mlp_users, user_ids)  # [N, 4F]
        num_users = tf.shape(user_ids)[0]
        parts = []
        for start in range(0, self.num_songs, self.song_chunk):
            stop = min(start + self.song_chunk, self.num_songs)
            songs = tf.range(start, stop)
            content = self.encoder(tf.gather(self.tables[MFCC], songs), training=False)  # [S, c]
            grid = [num_users, stop - start]
            song_gmf = tf.gather(self.gmf.song_embeddings, songs)
            gmf_out = tf.reshape(gmf_users[:, None, :] * song_gmf[None], [-1, song_gmf.shape[-1]])
            songs_mlp = tf.concat([tf.gather(self.mlp_songs, songs), content], axis=-1)
            mlp_out = mlp_path(self.tower, [every_pair(mlp_users, songs_mlp)])
            parts.append(tf.reshape(predict(self.prediction, [gmf_out, mlp_out]), grid))
        return tf.concat(parts, axis=1)

    def score_new_songs(self, user_ids: tf.Tensor, content: tf.Tensor) -> tf.Tensor:
        user_ids = tf.cast(user_ids, tf.int32)
        mean_gmf_song = tf.reduce_mean(self.gmf.song_embeddings, axis=0)
        mean_mlp_song = tf.reduce_mean(self.mlp_songs, axis=0)
        gmf_out = tf.gather(self.gmf.user_embeddings, user_ids) * mean_gmf_song[None, :]
        users = tf.gather(self.mlp_users, user_ids)
        songs = tf.broadcast_to(mean_mlp_song[None, :], tf.shape(users))
        vector = self.encoder(pool_mfcc(content, self.mfcc_pool), training=False)
        return predict(self.prediction, [gmf_out, mlp_path(self.tower, [users, songs, vector])])
