from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from coat_tf.layers import TowerMLP
from tests.layer_checks import (
    assert_config_round_trip,
    assert_repeat_calls_stable,
    assert_save_load_equal,
)

DATA = tf.constant([[1.0, 1.0], [0.0, 2.0]])


def test_constant_initialiser_by_hand() -> None:
    layer = TowerMLP(4, 3, kernel_initializer=tf.keras.initializers.Constant(0.1))
    out = layer(DATA).numpy()
    # x sums to 2 in both rows: h1 = 0.1*2 = 0.2 (4 units), h2 = 0.1*0.8 = 0.08 (2 units),
    # h3 = 0.1*0.16 = 0.016 (1 unit), output = sigmoid(0.1*0.016).
    expected = 1 / (1 + np.exp(-0.0016))
    np.testing.assert_allclose(out, [expected, expected], rtol=1e-6)


def test_widths_halve_and_output_is_one_probability_per_row() -> None:
    layer = TowerMLP(32, 3)
    out = layer(tf.random.normal((5, 7)))
    assert layer.widths == [32, 16, 8]
    assert [w.shape[-1] for w in layer.trainable_weights if len(w.shape) == 2] == [32, 16, 8, 1]
    assert out.shape == (5,)
    assert np.all((out.numpy() > 0) & (out.numpy() < 1))


def test_logit_and_hidden_outputs() -> None:
    init = tf.keras.initializers.Constant(0.1)
    logit = TowerMLP(4, 3, output="logit", kernel_initializer=init)(DATA)
    np.testing.assert_allclose(logit.numpy(), [0.0016, 0.0016], rtol=1e-5)
    hidden = TowerMLP(8, 3, output="hidden")(DATA)
    assert hidden.shape == (2, 2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"first_width": 0}, "first_width must be a positive integer, got 0"),
        ({"first_width": 2, "num_layers": 3}, "first_width 2 is too small"),
        ({"dropout": 1.5}, "dropout must be in"),
        ({"output": "softmax"}, "output must be one of"),
    ],
)
def test_bad_arguments(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        TowerMLP(**{"first_width": 8, **kwargs})


def test_config_round_trip() -> None:
    assert_config_round_trip(TowerMLP(16, 3, dropout=0.2, output="logit", name="t"))


def test_save_and_load_equal(tmp_path) -> None:
    assert_save_load_equal(TowerMLP(8, 3), [tf.keras.Input((2,))], DATA, tmp_path)


def test_repeat_calls_stable_and_dropout_only_in_training() -> None:
    layer = TowerMLP(8, 3, dropout=0.5)
    assert_repeat_calls_stable(layer, DATA)
    trained = [layer(DATA, training=True).numpy() for _ in range(5)]
    assert any(not np.allclose(trained[0], t) for t in trained[1:])


def test_weight_names_are_unique() -> None:
    layer = TowerMLP(8, 3, name="tower")
    layer(DATA)
    names = [w.name for w in layer.weights]
    assert len(set(names)) == len(names) == 8
    assert "tower/hidden_0/kernel:0" in names
