"""One name per model, for ``--model`` and the tuner."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import tensorflow as tf

from coat_tf.config import ModelConfig
from coat_tf.models.coat import build_coat_model
from coat_tf.models.gmf import build_gmf_model
from coat_tf.models.neumf import build_neumf_model


def _coat_uniform(config: ModelConfig) -> tf.keras.Model:
    return build_coat_model(dataclasses.replace(config, attention_mode="uniform"))


MODELS: dict[str, Callable[[ModelConfig], tf.keras.Model]] = {
    "coat": build_coat_model,
    "coat-uniform": _coat_uniform,
    "gmf": build_gmf_model,
    "neumf": build_neumf_model,
}


def build_model(name: str, config: ModelConfig) -> tf.keras.Model:
    """The model called ``name`` (one of :data:`MODELS`), shaped by ``config``."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name](config)
