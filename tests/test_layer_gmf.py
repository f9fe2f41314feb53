from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from coat_tf.layers import GMF
from tests.layer_checks import (
    assert_config_round_trip,
    assert_repeat_calls_stable,
    assert_save_load_equal,
)

USERS = tf.constant([0, 2])
SONGS = tf.constant([1, 0])


def test_constant_initialiser_by_hand() -> None:
    layer = GMF(3, 2, 4, embeddings_initializer=tf.keras.initializers.Constant(0.5))
    product, user = layer([USERS, SONGS])
    np.testing.assert_allclose(product.numpy(), np.full((2, 4), 0.25))
    np.testing.assert_allclose(user.numpy(), np.full((2, 4), 0.5))


def test_element_wise_product_of_the_right_rows() -> None:
    layer = GMF(3, 2, 2)
    layer.build(None)
    layer.set_weights([np.array([[1, 2], [3, 4], [5, 6]], "f4"), np.array([[1, 0], [2, -1]], "f4")])
    product, user = layer([USERS, SONGS])
    # user 0 x song 1 = [1*2, 2*-1]; user 2 x song 0 = [5*1, 6*0]
    np.testing.assert_allclose(product.numpy(), [[2, -2], [5, 0]])
    np.testing.assert_allclose(user.numpy(), [[1, 2], [5, 6]])


@pytest.mark.parametrize("kwargs", [{"num_users": 0}, {"embedding_size": -3}, {"l2": -1.0}])
def test_bad_arguments_are_named(kwargs) -> None:
    args = {"num_users": 3, "num_songs": 2, "embedding_size": 4, **kwargs}
    name, value = next(iter(kwargs.items()))
    with pytest.raises(ValueError, match=f"{name} must be .*{value!r}"):
        GMF(**args)


def test_l2_adds_a_loss() -> None:
    layer = GMF(3, 2, 4, l2=0.1)
    layer([USERS, SONGS])
    assert len(layer.losses) == 2


def test_config_round_trip() -> None:
    assert_config_round_trip(GMF(3, 2, 4, l2=0.01, name="g"))


def test_save_and_load_equal(tmp_path) -> None:
    inputs = [tf.keras.Input((), dtype=tf.int32), tf.keras.Input((), dtype=tf.int32)]
    assert_save_load_equal(GMF(3, 2, 4), inputs, [USERS, SONGS], tmp_path)


def test_repeat_calls_stable() -> None:
    assert_repeat_calls_stable(GMF(3, 2, 4), [USERS, SONGS])


def test_tables_start_different() -> None:
    layer = GMF(5, 5, 8)
    layer.build(None)
    assert not np.allclose(layer.user_embeddings.numpy(), layer.song_embeddings.numpy())
