"""coat_tf: COAT (chord-progression attention) for music recommendation.

Importing this package selects legacy Keras (tf_keras) for TensorFlow, which TensorFlow
Recommenders requires. The choice must be made before TensorFlow is first imported.
"""

from coat_tf._env import ensure_legacy_keras

__version__ = "0.1.0"

ensure_legacy_keras()
