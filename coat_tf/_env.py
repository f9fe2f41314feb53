"""Environment guard: route ``tf.keras`` to legacy Keras (tf_keras) for TensorFlow Recommenders."""

import os
import sys

_MESSAGE = (
    "coat_tf needs legacy Keras (tf_keras), but tf.keras was already resolved to Keras 3 in "
    "this process. Import coat_tf before using tensorflow, or set TF_USE_LEGACY_KERAS=1 in the "
    "environment before starting Python."
)


def ensure_legacy_keras() -> None:
    """Set ``TF_USE_LEGACY_KERAS=1``, or fail if it is too late for it to take effect.

    TensorFlow reads the variable when ``tf.keras`` is first used (it is a lazy module), to
    choose between Keras 3 and tf_keras. So importing ``tensorflow`` before ``coat_tf`` is
    fine; touching ``tf.keras`` before it is not.

    Raises:
        ImportError: ``tf.keras`` was already resolved to Keras 3.
    """
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return
    loader = vars(tf).get("keras")
    if loader is None or not getattr(loader, "_tfll_initialized", True):
        return  # not resolved yet: the variable set above will be read
    if not tf.keras.__name__.startswith("tf_keras"):
        raise ImportError(_MESSAGE)
