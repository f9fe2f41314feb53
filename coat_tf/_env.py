"""Environment guard: select legacy Keras (tf_keras) before TensorFlow is imported."""

import os
import sys

_MESSAGE = (
    "coat_tf needs legacy Keras (tf_keras), but TensorFlow was already imported with Keras 3. "
    "Import coat_tf before tensorflow, or set TF_USE_LEGACY_KERAS=1 in the environment "
    "before starting Python."
)


def ensure_legacy_keras() -> None:
    """Set ``TF_USE_LEGACY_KERAS=1`` or fail if it is too late to do so.

    TensorFlow reads the variable once, when ``tensorflow`` is first imported, to decide whether
    ``tf.keras`` is Keras 3 or tf_keras. TensorFlow Recommenders only works with tf_keras.

    Raises:
        ImportError: TensorFlow was imported before this call and ``tf.keras`` is Keras 3.
    """
    if "tensorflow" not in sys.modules:
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        return
    import tensorflow as tf

    if not tf.keras.__name__.startswith("tf_keras"):
        raise ImportError(_MESSAGE)
