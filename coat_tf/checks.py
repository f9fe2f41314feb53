"""Argument checks shared by the layers: each raises ValueError naming the bad value."""

from __future__ import annotations

import math
from typing import Any


def check_positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def check_non_negative(name: str, value: Any) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"{name} must be a finite non-negative number, got {value!r}")


def check_non_negative_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")


def check_probability(name: str, value: Any) -> None:
    """``value`` must be a number in ``[0, 1]`` (a bool is not one)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 <= value <= 1
    ):
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


def fresh_initializer(initializer):  # noqa: ANN001, ANN201 - any Keras initializer
    """A new instance of ``initializer``.

    Keras initializers called twice return identical values, so two tables built from one
    instance would start equal; every weight gets its own instance.
    """
    import tensorflow as tf

    return tf.keras.initializers.deserialize(tf.keras.initializers.serialize(initializer))
