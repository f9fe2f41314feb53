"""The COAT model: GMF and chord attention, then a tower MLP."""

from __future__ import annotations

import tensorflow as tf

from coat_tf.config import ModelConfig
from coat_tf.layers import GMF, ChordAttention, TowerMLP
from coat_tf.models.inputs import CHORD_IDS, chord_input, id_inputs

ATTENTION_LAYER = "chord_attention"
GMF_LAYER = "gmf"


def build_coat_model(config: ModelConfig, implementation: str = "split") -> tf.keras.Model:
    """COAT as a functional Keras model.

    ::

        GMF_out, e_u = GMF(user_id, song_id)                       [B, d], [B, d]
        Att_out, beta = ChordAttention(e_u, chord_ids)             [B, d], [B, L]
        probability = TowerMLP([GMF_out; Att_out])                 [B]

    ``e_u`` is the GMF user embedding when ``config.attention_user_embedding == "shared"`` (the
    paper's choice), else a separate user embedding. ``config.attention_mode == "uniform"`` gives
    the ablation "without attention".

    Args:
        config: the model's shape.
        implementation: ``"split"`` or ``"concat"``, see :class:`ChordAttention`.

    Returns:
        A model with inputs ``{"user_id": [B], "song_id": [B], "chord_ids": [B, L]}`` (integers)
        and output the listening probability ``[B]``. :func:`attention_model` gives the
        attention weights for the same inputs.
    """
    d = config.embedding_size
    inputs = id_inputs()
    inputs[CHORD_IDS] = chord_input(config.sequence_length)
    gmf_out, user = GMF(config.num_users, config.num_songs, d, l2=config.l2, name=GMF_LAYER)(
        [inputs["user_id"], inputs["song_id"]]
    )
    if config.attention_user_embedding == "separate":
        user = tf.keras.layers.Embedding(
            config.num_users,
            d,
            embeddings_initializer="random_normal",
            embeddings_regularizer=tf.keras.regularizers.l2(config.l2) if config.l2 else None,
            name="attention_user_embedding",
        )(inputs["user_id"])
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
        config.tower_widths[0], config.tower_layers, dropout=config.dropout, name="tower"
    )(features)
    name = "coat" if config.attention_mode == "learned" else "coat_uniform"
    return tf.keras.Model(inputs=inputs, outputs=probability, name=name)


def attention_model(model: tf.keras.Model) -> tf.keras.Model:
    """A model sharing ``model``'s weights that returns the attention weights ``[B, L]``.

    Works on a freshly built COAT model and on one loaded from disk.
    """
    _, weights = model.get_layer(ATTENTION_LAYER).output
    return tf.keras.Model(inputs=model.input, outputs=weights, name=f"{model.name}_attention")
