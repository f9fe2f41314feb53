"""The MLP and NeuMF of neural collaborative filtering (He et al., 2017), with NCF's shapes.

For ``F`` predictive factors (``embedding_size``) and ``K`` hidden layers (``tower_layers``,
3 by default)::

    GMF path:  GMF_out = P_g[u] * Q_g[i]                                         [B, F]
    MLP path:  MLP_out = tower([P_m[u]; Q_m[i] (; content_i)])                   [B, F]
               embeddings of 2^(K-1) F each, hidden layers 2^(K-1) F, ..., 2F, F
    MLP:       probability = sigmoid(h^T MLP_out + b)
    NeuMF:     probability = sigmoid(h^T [GMF_out; MLP_out] + b)

With ``K = 3`` the MLP embeddings have ``4F`` each and the hidden layers ``4F, 2F, F`` (NCF's
``layers = [8F, 4F, 2F, F]``, whose first entry is the concatenated embedding). GMF on its own
is :mod:`coat_tf.models.gmf`. ``content_i`` is the audio models' song-content vector
(:mod:`coat_tf.models.audio`).

The output (:func:`predict`) and the MLP path (:func:`mlp_path`) are functions of layers, used
by the Keras graphs and by the scoring of new songs alike, so the forward pass is written once.

**Pre-training** (:func:`load_pretrained`): NeuMF starts from a trained GMF and a trained MLP
of the same size, and its output layer from theirs, ``h = [alpha h_gmf; (1 - alpha) h_mlp]``,
``b = alpha b_gmf + (1 - alpha) b_mlp`` (NCF uses ``alpha = 0.5``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from coat_tf.config import ModelConfig
from coat_tf.layers import GMF, TowerMLP
from coat_tf.models.inputs import SONG_ID, USER_ID, id_inputs

GMF_LAYER = "gmf"
PREDICTION_LAYER = "prediction"
MLP_USER_LAYER = "mlp_user_embedding"
MLP_SONG_LAYER = "mlp_song_embedding"
MLP_TOWER_LAYER = "mlp_tower"


def predict(prediction: tf.keras.layers.Dense, paths: Sequence[tf.Tensor]) -> tf.Tensor:
    """``sigmoid(h^T [path_1; path_2; ...] + b)``: ``[B, n_1], [B, n_2], ... -> [B]``."""
    fused = paths[0] if len(paths) == 1 else tf.concat(list(paths), axis=-1)
    return tf.squeeze(tf.sigmoid(prediction(fused)), axis=-1)


def mlp_path(tower: TowerMLP, vectors: Sequence[tf.Tensor]) -> tf.Tensor:
    """``tower([v_1; v_2; ...])``: the MLP path on concatenated vectors ``-> [B, F]``."""
    return tower(tf.concat(list(vectors), axis=-1))


def mlp_embedding_size(config: ModelConfig) -> int:
    """Size of each MLP embedding: the tower's first width (``4F`` for three layers)."""
    return config.tower_widths[0]


def _regularizer(config: ModelConfig):  # noqa: ANN202 - a Keras regularizer or None
    return tf.keras.regularizers.l2(config.l2) if config.l2 else None


def embedding_initializer(
    config: ModelConfig, default: str
) -> str | tf.keras.initializers.Initializer:
    """``N(0, config.embedding_init_std)`` where that is set, else ``default``."""
    std = config.embedding_init_std
    return default if std is None else tf.keras.initializers.RandomNormal(0.0, std)


def gmf_layer(config: ModelConfig) -> GMF:
    """The GMF layer of GMF and NeuMF (user and song tables of ``embedding_size``)."""
    return GMF(
        config.num_users,
        config.num_songs,
        config.embedding_size,
        l2=config.l2,
        embeddings_initializer=embedding_initializer(config, "random_normal"),
        name=GMF_LAYER,
    )


def mlp_layers(config: ModelConfig) -> tuple[tf.keras.layers.Layer, ...]:
    """The MLP path's user and song embeddings and its tower (hidden layers only)."""
    size = mlp_embedding_size(config)

    def table(count: int, name: str) -> tf.keras.layers.Embedding:
        return tf.keras.layers.Embedding(
            count,
            size,
            embeddings_initializer=embedding_initializer(config, "uniform"),
            embeddings_regularizer=_regularizer(config),
            name=name,
        )

    user = table(config.num_users, MLP_USER_LAYER)
    song = table(config.num_songs, MLP_SONG_LAYER)
    tower = TowerMLP(
        config.tower_widths[0],
        config.tower_layers,
        dropout=config.dropout,
        output="hidden",
        name=MLP_TOWER_LAYER,
    )
    return user, song, tower


def build_mlp_model(config: ModelConfig) -> tf.keras.Model:
    """NCF's MLP: ``sigmoid(h^T tower([P_m[u]; Q_m[i]]) + b)`` (see the module docstring).

    Inputs ``{"user_id": [B], "song_id": [B]}``; output the probability ``[B]``.
    """
    inputs = id_inputs()
    user, song, tower = mlp_layers(config)
    hidden = mlp_path(tower, [user(inputs[USER_ID]), song(inputs[SONG_ID])])
    prediction = tf.keras.layers.Dense(1, name=PREDICTION_LAYER)
    return tf.keras.Model(inputs=inputs, outputs=predict(prediction, [hidden]), name="mlp")


def neumf_graph(
    config: ModelConfig,
    inputs: dict[str, tf.keras.Input],
    content: tf.Tensor | None = None,
) -> tf.Tensor:
    """NeuMF's probability for symbolic ``inputs``, with an optional song-content vector
    ``[B, c]`` joining the MLP path (the audio models)."""
    gmf_out, _ = gmf_layer(config)([inputs[USER_ID], inputs[SONG_ID]])
    user, song, tower = mlp_layers(config)
    vectors = [user(inputs[USER_ID]), song(inputs[SONG_ID])]
    if content is not None:
        vectors.append(content)
    prediction = tf.keras.layers.Dense(1, name=PREDICTION_LAYER)
    return predict(prediction, [gmf_out, mlp_path(tower, vectors)])


def build_neumf_model(config: ModelConfig) -> tf.keras.Model:
    """NeuMF (see the module docstring). Inputs ``{"user_id": [B], "song_id": [B]}``; output
    the probability ``[B]``."""
    inputs = id_inputs()
    return tf.keras.Model(inputs=inputs, outputs=neumf_graph(config, inputs), name="neumf")


def load_pretrained(
    neumf: tf.keras.Model, gmf: tf.keras.Model, mlp: tf.keras.Model, alpha: float = 0.5
) -> None:
    """Set ``neumf``'s weights from a trained GMF and MLP (NCF's pre-training).

    The GMF and MLP paths take the two models' embeddings and hidden layers; the output layer
    becomes ``h = [alpha h_gmf; (1 - alpha) h_mlp]``, ``b = alpha b_gmf + (1 - alpha) b_mlp``.

    Raises:
        ValueError: the three models' shapes differ (another size or another data set).
    """
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    pairs = [
        (neumf.get_layer(GMF_LAYER), gmf.get_layer(GMF_LAYER), "GMF"),
        (neumf.get_layer(MLP_USER_LAYER), mlp.get_layer(MLP_USER_LAYER), "MLP"),
        (neumf.get_layer(MLP_SONG_LAYER), mlp.get_layer(MLP_SONG_LAYER), "MLP"),
        (neumf.get_layer(MLP_TOWER_LAYER), mlp.get_layer(MLP_TOWER_LAYER), "MLP"),
    ]
    for target, source, what in pairs:
        shapes = [w.shape for w in target.get_weights()]
        given = [w.shape for w in source.get_weights()]
        if shapes != given:
            raise ValueError(
                f"the pre-trained {what} does not fit NeuMF's {target.name!r}: weights of shapes "
                f"{given}, expected {shapes} (train it at the same size on the same data)"
            )
    for target, source, _ in pairs:
        target.set_weights(source.get_weights())
    h_gmf, b_gmf = gmf.get_layer(PREDICTION_LAYER).get_weights()
    h_mlp, b_mlp = mlp.get_layer(PREDICTION_LAYER).get_weights()
    kernel = np.concatenate([alpha * h_gmf, (1 - alpha) * h_mlp], axis=0)
    neumf.get_layer(PREDICTION_LAYER).set_weights([kernel, alpha * b_gmf + (1 - alpha) * b_mlp])
