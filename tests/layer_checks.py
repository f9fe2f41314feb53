"""Checks every layer must pass: config round trip, save and load, stable repeat calls."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf


def assert_config_round_trip(layer: tf.keras.layers.Layer) -> None:
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config


def assert_save_load_equal(
    layer: tf.keras.layers.Layer, inputs: list[tf.keras.Input], data: list, tmp_path: Path
) -> None:
    """Wrap ``layer`` in a model, save it in the Keras format, reload and compare outputs."""
    model = tf.keras.Model(inputs, layer(inputs if len(inputs) > 1 else inputs[0]))
    before = model(data)
    path = tmp_path / "layer.keras"
    model.save(path)
    restored = tf.keras.models.load_model(path)
    after = restored(data)
    for a, b in zip(tf.nest.flatten(before), tf.nest.flatten(after), strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)


def assert_repeat_calls_stable(layer: tf.keras.layers.Layer, data) -> None:  # noqa: ANN001
    first = layer(data)
    second = layer(data)
    for a, b in zip(tf.nest.flatten(first), tf.nest.flatten(second), strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
