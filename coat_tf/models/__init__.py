"""Models assembled from the layers, each a functional Keras model."""

from coat_tf.models.coat import attention_model, build_coat_model
from coat_tf.models.gmf import build_gmf_model
from coat_tf.models.neumf import build_neumf_model
from coat_tf.models.registry import MODELS, build_model

__all__ = [
    "MODELS",
    "attention_model",
    "build_coat_model",
    "build_gmf_model",
    "build_model",
    "build_neumf_model",
]
