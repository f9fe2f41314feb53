from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from coat_tf.config import ModelConfig
from coat_tf.models import CoatRecommender, build_coat_model, build_neumf_model


def attention_of(model: tf.keras.Model, batch: dict) -> np.ndarray:
    """The attention weights of ``batch`` through the scoring interface."""
    users, songs = model.get_layer("gmf").num_users, model.get_layer("gmf").num_songs
    chords = np.zeros((songs, batch["chord_ids"].shape[1]), np.int32)
    recommender = CoatRecommender(model, users, songs, {"chord_ids": chords})
    return recommender.attention(batch["user_id"], batch["chord_ids"]).numpy()


def _config(**kwargs) -> ModelConfig:
    return ModelConfig(**{"num_users": 20, "num_songs": 30, "num_chords": 25, **kwargs})


def _batch(config: ModelConfig, size: int = 16) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "user_id": rng.integers(0, config.num_users, size).astype("int32"),
        "song_id": rng.integers(0, config.num_songs, size).astype("int32"),
        "chord_ids": rng.integers(0, config.num_chords, (size, config.sequence_length)).astype(
            "int32"
        ),
    }


@pytest.mark.parametrize("embedding_size", [8, 16, 32, 64])
def test_builds_and_takes_a_training_step(embedding_size: int) -> None:
    config = _config(embedding_size=embedding_size)
    model = build_coat_model(config)
    model.compile(optimizer=tf.keras.optimizers.Adam(0.01), loss="binary_crossentropy")
    batch = _batch(config)
    labels = np.tile([1.0, 0.0], 8).astype("float32")
    before = model.predict_on_batch(batch)
    losses = [model.train_on_batch(batch, labels) for _ in range(3)]
    assert model.predict_on_batch(batch).shape == (16,)
    assert np.all(np.isfinite(losses))
    assert losses[-1] < losses[0]
    assert not np.allclose(before, model.predict_on_batch(batch))


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"attention_user_embedding": "separate"}, {"attention_mode": "uniform"}, {"l2": 1e-4}],
)
def test_every_trainable_weight_gets_a_gradient(kwargs) -> None:
    config = _config(embedding_size=8, **kwargs)
    model = build_coat_model(config)
    batch = _batch(config)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(
            tf.keras.losses.binary_crossentropy(np.tile([1.0, 0.0], 8), model(batch))
        ) + tf.add_n(model.losses or [tf.constant(0.0)])
    grads = tape.gradient(loss, model.trainable_weights)
    for weight, grad in zip(model.trainable_weights, grads, strict=True):
        assert grad is not None, weight.name
        dense = tf.convert_to_tensor(grad)
        assert float(tf.reduce_max(tf.abs(dense))) > 0, weight.name


def test_attention_weights_sum_to_one_and_match_the_layer() -> None:
    config = _config(embedding_size=8)
    model = build_coat_model(config)
    batch = _batch(config)
    weights = attention_of(model, batch)
    assert weights.shape == (16, 100)
    np.testing.assert_allclose(weights.sum(axis=1), np.ones(16), rtol=1e-5)
    # the same weights as the layer inside the Keras model
    inside = tf.keras.Model(model.input, model.get_layer("chord_attention").output[1])
    np.testing.assert_allclose(weights, inside(batch).numpy(), rtol=1e-6)


def test_uniform_ablation_has_flat_attention() -> None:
    config = _config(embedding_size=8, attention_mode="uniform")
    model = build_coat_model(config)
    np.testing.assert_allclose(attention_of(model, _batch(config)), 0.01)
    assert model.name == "coat_uniform"


def test_ones_ablation_sums_the_chord_embeddings() -> None:
    """The paper's literal ablation: every weight 1, Att = the sum of the chord embeddings,
    exactly L times the uniform ablation's mean with the same weights."""
    ones = build_coat_model(_config(embedding_size=8, attention_mode="ones"))
    uniform = build_coat_model(_config(embedding_size=8, attention_mode="uniform"))
    uniform.set_weights(ones.get_weights())
    batch = _batch(_config(embedding_size=8))
    np.testing.assert_allclose(attention_of(ones, batch), 1.0)
    assert ones.name == "coat_ones"

    def attended(model: tf.keras.Model) -> np.ndarray:
        return tf.keras.Model(model.input, model.get_layer("chord_attention").output[0])(
            batch
        ).numpy()

    table = ones.get_layer("chord_attention").chord_embeddings.numpy()
    np.testing.assert_allclose(
        attended(ones), table[batch["chord_ids"]].sum(axis=1), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(attended(ones), 100 * attended(uniform), rtol=1e-5, atol=1e-6)


def test_separate_user_embedding_is_used() -> None:
    shared = build_coat_model(_config(embedding_size=8))
    separate = build_coat_model(_config(embedding_size=8, attention_user_embedding="separate"))
    names = {layer.name for layer in separate.layers}
    assert "attention_user_embedding" in names
    assert "attention_user_embedding" not in {layer.name for layer in shared.layers}
    assert separate.count_params() == shared.count_params() + 20 * 8


def test_concat_implementation_predicts_the_same() -> None:
    config = _config(embedding_size=16)
    split = build_coat_model(config)
    concat = build_coat_model(config, implementation="concat")
    concat.set_weights(split.get_weights())
    batch = _batch(config)
    np.testing.assert_allclose(split(batch).numpy(), concat(batch).numpy(), atol=1e-5)


@pytest.mark.parametrize("mode", ["learned", "uniform", "ones"])
def test_saved_whole_model_predicts_the_same(tmp_path, mode: str) -> None:
    config = _config(embedding_size=8, attention_mode=mode)
    model = build_coat_model(config)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    batch = _batch(config)
    model.train_on_batch(batch, np.tile([1.0, 0.0], 8))
    model.save(tmp_path / "coat.keras")
    restored = tf.keras.models.load_model(tmp_path / "coat.keras")
    np.testing.assert_allclose(restored(batch).numpy(), model(batch).numpy(), rtol=1e-6)
    np.testing.assert_allclose(attention_of(restored, batch), attention_of(model, batch), rtol=1e-6)


def test_neumf_trains_and_ignores_chords() -> None:
    config = _config(embedding_size=16)
    model = build_neumf_model(config)
    model.compile(optimizer=tf.keras.optimizers.Adam(0.01), loss="binary_crossentropy")
    batch = {k: v for k, v in _batch(config).items() if k != "chord_ids"}
    losses = [model.train_on_batch(batch, np.tile([1.0, 0.0], 8)) for _ in range(3)]
    assert losses[-1] < losses[0]
    assert model(batch).shape == (16,)


def test_concat_implementation_has_the_same_gradients() -> None:
    config = _config(embedding_size=16)
    split = build_coat_model(config)
    concat = build_coat_model(config, implementation="concat")
    concat.set_weights(split.get_weights())
    batch = _batch(config)
    labels = tf.constant(np.random.default_rng(1).random(16) < 0.3, tf.float32)
    grads = []
    for model in (split, concat):
        with tf.GradientTape() as tape:
            loss = tf.keras.losses.binary_crossentropy(labels, model(batch, training=True))
        grads.append(tape.gradient(loss, model.trainable_weights))
    for got, want in zip(*grads, strict=True):
        np.testing.assert_allclose(
            tf.convert_to_tensor(got).numpy(), tf.convert_to_tensor(want).numpy(), atol=1e-6
        )


@pytest.mark.parametrize("mode", ["learned", "uniform", "ones"])
@pytest.mark.parametrize("num_chords", [5, 25])  # folded into the tower (V <= d) or not
def test_fast_full_catalogue_in_blocks_equals_the_pairwise_scores(mode, num_chords) -> None:
    from coat_tf.models.recommender import pairwise_score_all

    config = _config(embedding_size=8, num_chords=num_chords, attention_mode=mode)
    model = build_coat_model(config)
    chords = np.random.default_rng(2).integers(0, num_chords, (config.num_songs, 100))
    # 2 users and 3 songs at a time: several user blocks, several song chunks, a ragged last
    recommender = CoatRecommender(
        model, config.num_users, config.num_songs, {"chord_ids": chords}, 2, 6
    )
    users = tf.constant([0, 3, 7, 19, 11], tf.int32)
    want = pairwise_score_all(recommender, users).numpy()
    np.testing.assert_allclose(recommender.score_all(users).numpy(), want, atol=1e-6)
    traced = tf.function(
        recommender.score_all, input_signature=[tf.TensorSpec([None], tf.int32)]
    )  # the user count unknown when traced, as in the exported ``recommend``
    np.testing.assert_allclose(traced(users).numpy(), want, atol=1e-6)
    np.testing.assert_allclose(traced(users[:1]).numpy(), want[:1], atol=1e-6)
