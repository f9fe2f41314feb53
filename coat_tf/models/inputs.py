"""The named inputs every model of the project accepts."""

from __future__ import annotations

import tensorflow as tf

USER_ID = "user_id"
SONG_ID = "song_id"
CHORD_IDS = "chord_ids"


def id_inputs() -> dict[str, tf.keras.Input]:
    """``user_id`` and ``song_id``: integer inputs of shape ``[B]``."""
    return {
        USER_ID: tf.keras.Input(shape=(), dtype=tf.int32, name=USER_ID),
        SONG_ID: tf.keras.Input(shape=(), dtype=tf.int32, name=SONG_ID),
    }


def chord_input(sequence_length: int) -> tf.keras.Input:
    """``chord_ids``: integer input of shape ``[B, sequence_length]``."""
    return tf.keras.Input(shape=(sequence_length,), dtype=tf.int32, name=CHORD_IDS)
