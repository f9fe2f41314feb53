from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from coat_tf.layers import ChordAttention
from tests.layer_checks import (
    assert_config_round_trip,
    assert_repeat_calls_stable,
    assert_save_load_equal,
)


def _small(**kwargs) -> ChordAttention:
    return ChordAttention(
        num_chords=2, sequence_length=2, embedding_size=1, attention_size=1, **kwargs
    )


def test_equations_by_hand() -> None:
    layer = _small()
    layer.build([(None, 1), (None, 2)])
    # C = [[1], [2]], p = [[0], [0]], W_u = W_c = [[1]], W_p = [[0]], b = [0], h = [1]
    one = np.ones((1, 1), "f4")
    layer.set_weights(
        [
            np.array([[1], [2]], "f4"),
            np.zeros((2, 1), "f4"),
            one,
            one,
            np.zeros((1, 1), "f4"),
            np.zeros(1, "f4"),
            np.ones(1, "f4"),
        ]
    )
    attended, weights = layer([tf.constant([[0.0]]), tf.constant([[0, 1]])])
    # a = [ReLU(0 + 1 + 0), ReLU(0 + 2 + 0)] = [1, 2]; beta = softmax(a); Att = beta . [1, 2]
    beta = np.array([1, math.e]) / (1 + math.e)
    np.testing.assert_allclose(weights.numpy(), [beta], rtol=1e-6)
    np.testing.assert_allclose(attended.numpy(), [[beta @ [1.0, 2.0]]], rtol=1e-6)
    np.testing.assert_allclose(layer.scores(tf.constant([[0.0]]), tf.constant([[0, 1]])), [[1, 2]])


def test_constant_initialisers_by_hand() -> None:
    layer = ChordAttention(
        num_chords=5,
        sequence_length=4,
        embedding_size=3,
        attention_size=2,
        embeddings_initializer=tf.keras.initializers.Constant(0.5),
        kernel_initializer=tf.keras.initializers.Constant(1.0),
    )
    user = tf.fill((2, 3), 0.25)
    attended, weights = layer([user, tf.constant([[0, 1, 2, 3], [4, 4, 0, 1]])])
    # Every input is constant, so every position scores
    # a = sum_A ReLU(3*0.25 + 3*0.5 + 3*0.5) = 2 * 3.75 = 7.5 and gets weight 1/4.
    np.testing.assert_allclose(layer.scores(user, tf.zeros((2, 4), tf.int32)), np.full((2, 4), 7.5))
    np.testing.assert_allclose(weights.numpy(), np.full((2, 4), 0.25))
    np.testing.assert_allclose(attended.numpy(), np.full((2, 3), 0.5))


def test_split_form_equals_literal_concatenation() -> None:
    split = ChordAttention(30, 100, 16, 24)
    user = tf.random.normal((8, 12))
    chord_ids = tf.random.uniform((8, 100), 0, 30, tf.int32)
    split([user, chord_ids])
    concat = ChordAttention(30, 100, 16, 24, implementation="concat")
    concat([user, chord_ids])
    concat.set_weights(split.get_weights())
    np.testing.assert_allclose(
        split.scores(user, chord_ids).numpy(), concat.scores(user, chord_ids).numpy(), atol=1e-5
    )
    # and against equation (2) written out in numpy with W = [W_u; W_c; W_p]
    C, p, W_u, W_c, W_p, b, h = [w.numpy() for w in split.weights]
    x = np.concatenate(
        [
            np.repeat(user.numpy()[:, None], 100, 1),
            C[chord_ids.numpy()],
            np.broadcast_to(p, (8, 100, 16)),
        ],
        -1,
    )
    reference = np.maximum(x @ np.concatenate([W_u, W_c, W_p]) + b, 0) @ h
    np.testing.assert_allclose(split.scores(user, chord_ids).numpy(), reference, atol=1e-5)
    for a, b_ in zip(split([user, chord_ids]), concat([user, chord_ids]), strict=True):
        np.testing.assert_allclose(a.numpy(), b_.numpy(), atol=1e-5)


def test_learned_weights_sum_to_one_and_are_not_uniform() -> None:
    layer = ChordAttention(30, 100, 8, 8)
    _, weights = layer([tf.random.normal((4, 8)), tf.random.uniform((4, 100), 0, 30, tf.int32)])
    np.testing.assert_allclose(weights.numpy().sum(axis=1), np.ones(4), rtol=1e-5)
    assert np.all(weights.numpy() > 0)
    assert weights.numpy().std() > 0


def test_uniform_mode_is_the_mean_chord_embedding() -> None:
    layer = ChordAttention(30, 100, 8, 8, mode="uniform")
    chord_ids = tf.random.uniform((4, 100), 0, 30, tf.int32)
    attended, weights = layer([tf.random.normal((4, 8)), chord_ids])
    np.testing.assert_allclose(weights.numpy(), np.full((4, 100), 0.01))
    expected = layer.chord_embeddings.numpy()[chord_ids.numpy()].mean(axis=1)
    np.testing.assert_allclose(attended.numpy(), expected, rtol=1e-5, atol=1e-7)
    assert [w.name.split("/")[-1].split(":")[0] for w in layer.weights] == ["chord_embeddings"]
    with pytest.raises(ValueError, match="learned"):
        layer.scores(tf.zeros((1, 8)), chord_ids[:1])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_chords": 0}, "num_chords must be a positive integer, got 0"),
        ({"mode": "none"}, "mode must be one of .* got 'none'"),
        ({"implementation": "fast"}, "implementation must be one of .* got 'fast'"),
        ({"attention_size": 2.5}, "attention_size must be a positive integer, got 2.5"),
    ],
)
def test_bad_arguments(kwargs, message) -> None:
    args = {"num_chords": 5, "sequence_length": 4, "embedding_size": 3, "attention_size": 2}
    with pytest.raises(ValueError, match=message):
        ChordAttention(**{**args, **kwargs})


def test_wrong_sequence_length_is_named() -> None:
    with pytest.raises(ValueError, match="chord_ids must have 4 positions"):
        ChordAttention(5, 4, 3, 2)([tf.zeros((1, 3)), tf.zeros((1, 7), tf.int32)])


def test_config_round_trip() -> None:
    assert_config_round_trip(ChordAttention(5, 4, 3, 2, mode="uniform", l2=0.1, name="att"))


@pytest.mark.parametrize("mode", ["learned", "uniform"])
def test_save_and_load_equal(tmp_path, mode: str) -> None:
    inputs = [tf.keras.Input((3,)), tf.keras.Input((4,), dtype=tf.int32)]
    data = [tf.random.normal((2, 3)), tf.constant([[0, 1, 2, 3], [4, 4, 0, 1]])]
    assert_save_load_equal(ChordAttention(5, 4, 3, 2, mode=mode), inputs, data, tmp_path)


def test_repeat_calls_stable() -> None:
    data = [tf.random.normal((2, 3)), tf.constant([[0, 1, 2, 3], [4, 4, 0, 1]])]
    assert_repeat_calls_stable(ChordAttention(5, 4, 3, 2), data)


def test_precomputed_terms_give_the_same_scores() -> None:
    layer = ChordAttention(30, 100, 8, 6)
    user = tf.random.normal((3, 8))
    chord_ids = tf.random.uniform((3, 100), 0, 30, tf.int32)
    layer([user, chord_ids])
    combined = layer.combine(layer.user_terms(user), layer.song_terms(chord_ids))
    np.testing.assert_allclose(combined.numpy(), layer.scores(user, chord_ids).numpy(), atol=1e-6)


def test_mix_sums_the_weights_of_each_chord() -> None:
    layer = ChordAttention(4, 5, 2, 2)
    weights = tf.constant([[0.1, 0.2, 0.3, 0.15, 0.25], [0.5, 0.0, 0.25, 0.25, 0.0]])
    chord_ids = tf.constant([[3, 0, 3, 1, 0], [2, 2, 2, 2, 2]])
    np.testing.assert_allclose(
        layer.mix(weights, chord_ids).numpy(),
        [[0.45, 0.15, 0.0, 0.4], [0.0, 0.0, 1.0, 0.0]],
        rtol=1e-6,
    )


@pytest.mark.parametrize("mode", ["learned", "uniform", "ones"])
@pytest.mark.parametrize("num_chords", [25, 205])
def test_split_form_has_the_literal_forms_values_and_gradients(mode, num_chords) -> None:
    """Equations (2) and (4) by chord (split) and by position (concat): same values, and the
    same gradients with respect to the inputs and to every weight."""
    split = ChordAttention(num_chords, 100, 16, 24, mode=mode)
    concat = ChordAttention(num_chords, 100, 16, 24, mode=mode, implementation="concat")
    user = tf.random.normal((8, 16), seed=1)
    chord_ids = tf.random.uniform((8, 100), 0, num_chords, tf.int32, seed=2)
    split([user, chord_ids])
    concat([user, chord_ids])
    concat.set_weights(split.get_weights())
    probe = tf.random.normal((8, 16), seed=3)  # a loss that weighs every output differently
    results = []
    for layer in (split, concat):
        with tf.GradientTape() as tape:
            tape.watch(user)
            attended, weights = layer([user, chord_ids])
            loss = tf.reduce_sum(attended * probe) + tf.reduce_sum(weights[:, :5] ** 2)
        grads = tape.gradient(loss, [user, *layer.trainable_weights])
        results.append((attended, weights, grads))
    (a_split, w_split, g_split), (a_concat, w_concat, g_concat) = results
    np.testing.assert_allclose(a_split.numpy(), a_concat.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(w_split.numpy(), w_concat.numpy(), rtol=1e-5, atol=1e-7)
    assert len(g_split) == len(g_concat)
    for got, want in zip(g_split, g_concat, strict=True):
        if want is None:  # the user, in the modes whose weights do not depend on it
            assert got is None and mode != "learned"
            continue
        np.testing.assert_allclose(
            tf.convert_to_tensor(got).numpy(), tf.convert_to_tensor(want).numpy(), atol=1e-5
        )
