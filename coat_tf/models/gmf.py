"""GMF as a model of its own (He et al., 2017): a dot-product recommender."""

from __future__ import annotations

import tensorflow as tf

from coat_tf.config import ModelConfig
from coat_tf.layers import GMF
from coat_tf.models.inputs import id_inputs

PREDICTION_LAYER = "prediction"


def build_gmf_model(config: ModelConfig) -> tf.keras.Model:
    """``probability = sigmoid(h^T (P[u] * Q[i]) + b)``.

    The score is the dot product of the query ``h * P[u]`` and the candidate ``Q[i]`` (plus a
    constant), so the model can be served and evaluated by a dot-product index
    (:func:`gmf_query_and_candidates`).

    Inputs ``{"user_id": [B], "song_id": [B]}``; output the probability ``[B]``.
    """
    inputs = id_inputs()
    product, _ = GMF(
        config.num_users, config.num_songs, config.embedding_size, l2=config.l2, name="gmf"
    )([inputs["user_id"], inputs["song_id"]])
    logit = tf.keras.layers.Dense(1, name=PREDICTION_LAYER)(product)
    probability = tf.keras.layers.Reshape((), name="probability")(
        tf.keras.layers.Activation("sigmoid")(logit)
    )
    return tf.keras.Model(inputs=inputs, outputs=probability, name="gmf")


def gmf_query_and_candidates(model: tf.keras.Model) -> tuple[tf.Tensor, tf.Tensor]:
    """Query table ``h * P`` ``[num_users, d]`` and candidate table ``Q`` ``[num_songs, d]``.

    ``query[u] . candidates[i]`` equals the model's logit minus its constant bias, so ranking by
    it ranks exactly as the model does.
    """
    gmf = model.get_layer("gmf")
    kernel = model.get_layer(PREDICTION_LAYER).kernel[:, 0]
    return gmf.user_embeddings * kernel, tf.convert_to_tensor(gmf.song_embeddings)
