"""NeuMF (He et al., 2017): GMF and an MLP over separate embeddings, fused by one output unit."""

from __future__ import annotations

import tensorflow as tf

from coat_tf.config import ModelConfig
from coat_tf.layers import GMF, TowerMLP
from coat_tf.models.inputs import id_inputs


def build_neumf_model(config: ModelConfig) -> tf.keras.Model:
    """NeuMF as a functional Keras model, sized like COAT from the same config.

    ::

        GMF_out = P_g[u] * Q_g[i]                                  [B, d]
        MLP_out = tower([P_m[u]; Q_m[i]])  (widths d, d/2, d/4)    [B, d/4]
        probability = sigmoid(h^T [GMF_out; MLP_out] + b)          [B]

    Inputs ``{"user_id": [B], "song_id": [B]}``; output the probability ``[B]``.
    """
    d = config.embedding_size
    regularizer = tf.keras.regularizers.l2(config.l2) if config.l2 else None
    inputs = id_inputs()
    gmf_out, _ = GMF(config.num_users, config.num_songs, d, l2=config.l2, name="gmf")(
        [inputs["user_id"], inputs["song_id"]]
    )
    mlp_user = tf.keras.layers.Embedding(
        config.num_users, d, embeddings_regularizer=regularizer, name="mlp_user_embedding"
    )(inputs["user_id"])
    mlp_song = tf.keras.layers.Embedding(
        config.num_songs, d, embeddings_regularizer=regularizer, name="mlp_song_embedding"
    )(inputs["song_id"])
    mlp_in = tf.keras.layers.Concatenate(name="mlp_input")([mlp_user, mlp_song])
    mlp_out = TowerMLP(
        config.tower_widths[0],
        config.tower_layers,
        dropout=config.dropout,
        output="hidden",
        name="mlp_tower",
    )(mlp_in)
    fused = tf.keras.layers.Concatenate(name="neumf_fusion")([gmf_out, mlp_out])
    logit = tf.keras.layers.Dense(1, name="prediction")(fused)
    probability = tf.keras.layers.Reshape((), name="probability")(
        tf.keras.layers.Activation("sigmoid")(logit)
    )
    return tf.keras.Model(inputs=inputs, outputs=probability, name="neumf")
