"""GMF as a model of its own (He et al., 2017): a dot-product recommender."""

from __future__ import annotations

import tensorflow as tf

from coat_tf.config import ModelConfig
from coat_tf.models.inputs import SONG_ID, USER_ID, id_inputs
from coat_tf.models.ncf import GMF_LAYER, PREDICTION_LAYER, gmf_layer, predict
from coat_tf.models.recommender import KerasRecommender


def build_gmf_model(config: ModelConfig) -> tf.keras.Model:
    """``probability = sigmoid(h^T (P[u] * Q[i]) + b)``, with ``F`` = ``embedding_size``.

    The score is the dot product of the query ``h * P[u]`` and the candidate ``Q[i]`` (plus a
    constant), so the model can be served and evaluated by a dot-product index
    (:meth:`GmfRecommender.dot_product_tables`).

    Inputs ``{"user_id": [B], "song_id": [B]}``; output the probability ``[B]``.
    """
    inputs = id_inputs()
    product, _ = gmf_layer(config)([inputs[USER_ID], inputs[SONG_ID]])
    prediction = tf.keras.layers.Dense(1, name=PREDICTION_LAYER)
    return tf.keras.Model(inputs=inputs, outputs=predict(prediction, [product]), name="gmf")


class GmfRecommender(KerasRecommender):
    """GMF's scoring interface: the whole catalogue is one matrix product.

    ``score_all(u) = sigmoid((h * P[u]) Q^T + b)``, equal to scoring every pair with the model.
    """

    is_dot_product = True

    def __init__(self, model: tf.keras.Model, num_users: int, num_songs: int, **kwargs) -> None:
        super().__init__(model, num_users, num_songs, **kwargs)
        self.gmf = model.get_layer(GMF_LAYER)
        self.prediction = model.get_layer(PREDICTION_LAYER)

    def dot_product_tables(self) -> tuple[tf.Tensor, tf.Tensor]:
        kernel = self.prediction.kernel[:, 0]
        return self.gmf.user_embeddings * kernel, tf.convert_to_tensor(self.gmf.song_embeddings)

    def score_all(self, user_ids: tf.Tensor) -> tf.Tensor:
        queries, candidates = self.dot_product_tables()
        query = tf.gather(queries, tf.cast(user_ids, tf.int32))
        logits = tf.matmul(query, candidates, transpose_b=True) + self.prediction.bias[0]
        return tf.sigmoid(logits)
