"""Serializable Keras layers of COAT."""

from coat_tf.layers.chord_attention import ChordAttention
from coat_tf.layers.gmf import GMF
from coat_tf.layers.tower import TowerMLP

__all__ = ["GMF", "ChordAttention", "TowerMLP"]
