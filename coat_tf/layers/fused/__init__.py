"""The fused chord-attention op: a TensorFlow custom op in C++ (``chord_scores.cc``).

Built by ``make install`` (:mod:`coat_tf.layers.fused.build`) and loaded on first use
(:mod:`coat_tf.layers.fused.loader`); without it the layer computes the same scores in the
split form.
"""

from coat_tf.layers.fused.loader import available, chord_scores, unavailable_reason

__all__ = ["available", "chord_scores", "unavailable_reason"]
