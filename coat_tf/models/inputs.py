"""Keras inputs of the models, named by :mod:`coat_tf.schema`."""

from __future__ import annotations

import tensorflow as tf

from coat_tf.schema import CHORD_IDS, CONTENT_INPUTS, MFCC, SONG_ID, USER_ID

__all__ = [
    "CHORD_IDS",
    "CONTENT_INPUTS",
    "MFCC",
    "SONG_ID",
    "USER_ID",
    "chord_input",
    "id_inputs",
    "mfcc_input",
]


def id_inputs() -> dict[str, tf.keras.Input]:
    """``user_id`` and ``song_id``: integer inputs of shape ``[B]``."""
    return {
        USER_ID: tf.keras.Input(shape=(), dtype=tf.int32, name=USER_ID),
        SONG_ID: tf.keras.Input(shape=(), dtype=tf.int32, name=SONG_ID),
    }


def chord_input(sequence_length: int) -> tf.keras.Input:
    """``chord_ids``: integer input of shape ``[B, sequence_length]``."""
    return tf.keras.Input(shape=(sequence_length,), dtype=tf.int32, name=CHORD_IDS)


def mfcc_input(frames: int, coefficients: int) -> tf.keras.Input:
    """``mfcc``: float input of shape ``[B, frames, coefficients]`` (time first)."""
    return tf.keras.Input(shape=(frames, coefficients), dtype=tf.float32, name=MFCC)
