"""Environment guard: route ``tf.keras`` to legacy Keras (tf_keras), and keep TensorFlow quiet.

TensorFlow Recommenders needs legacy Keras, chosen by ``TF_USE_LEGACY_KERAS=1`` before
``tf.keras`` is first used.

TensorFlow's C++ side also prints start-up lines on a machine without a GPU ("Could not find
cuda drivers", "failed call to cuInit: INTERNAL: CUDA error", ...), one of them an error,
repeated by every worker process. Unless the user set ``TF_CPP_MIN_LOG_LEVEL`` themselves, we
set it to ``"3"`` (only fatal messages: level 2 still lets the cuInit error through), and
filter the lines printed while ``tensorflow`` is imported, which come before TensorFlow's
logging is set up and ignore the level. Worker processes inherit both through the
environment. A user who sets ``TF_CPP_MIN_LOG_LEVEL`` (to ``0`` to see everything) gets
TensorFlow's output untouched.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import re
import sys
import tempfile
from types import ModuleType

_MESSAGE = (
    "coat_tf needs legacy Keras (tf_keras), but tf.keras was already resolved to Keras 3 in "
    "this process. Import coat_tf before using tensorflow, or set TF_USE_LEGACY_KERAS=1 in the "
    "environment before starting Python."
)

LOG_LEVEL = "TF_CPP_MIN_LOG_LEVEL"
#: Set beside ``TF_CPP_MIN_LOG_LEVEL`` when coat_tf chose the level, so that worker processes
#: (which inherit both) know the level is ours to quieten, not the user's.
QUIET_MARKER = "COAT_TF_QUIET_TENSORFLOW"
QUIET_LEVEL = "3"

#: Start-up lines of TensorFlow's C++ libraries that say nothing a user can act on.
_NOISE = re.compile(
    r"All log messages before absl::InitializeLog|cudart_stub\.cc|cuda_platform\.cc|"
    r"cuda_executor\.cc|Could not find cuda drivers|failed call to cuInit|"
    r"Unable to register cu(DNN|FFT|BLAS) factory|computation placer already registered|"
    r"This TensorFlow binary is optimized to use available CPU instructions|"
    r"To enable the following instructions|oneDNN custom operations are on"
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
    quiet_tensorflow()
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return
    loader = vars(tf).get("keras")
    if loader is None or not getattr(loader, "_tfll_initialized", True):
        return  # not resolved yet: the variable set above will be read
    if not tf.keras.__name__.startswith("tf_keras"):
        raise ImportError(_MESSAGE)


def quiet_tensorflow() -> bool:
    """Quieten TensorFlow's C++ logging unless the user chose a level; True if quietened.

    Sets ``TF_CPP_MIN_LOG_LEVEL=3`` and, if ``tensorflow`` is not imported yet, filters the
    start-up lines its import prints (see the module docstring).
    """
    if os.environ.get(LOG_LEVEL) is not None and os.environ.get(QUIET_MARKER) != "1":
        return False  # the user's own choice
    os.environ[LOG_LEVEL] = QUIET_LEVEL
    os.environ[QUIET_MARKER] = "1"
    if "tensorflow" not in sys.modules and not any(
        isinstance(finder, _QuietImport) for finder in sys.meta_path
    ):
        sys.meta_path.insert(0, _QuietImport())
    return True


class _QuietImport(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` once and wraps its loader in :class:`_QuietLoader`."""

    def find_spec(self, name: str, path=None, target=None):  # noqa: ANN001 - importlib's API
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


class _QuietLoader(importlib.abc.Loader):
    """Runs the real loader with file descriptor 2 sent to a temporary file, then writes
    back every captured line that is not start-up noise (so real messages still show)."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self.loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        with filtered_stderr():
            self.loader.exec_module(module)


class filtered_stderr:  # noqa: N801 - used as a context manager, like contextlib's
    """Context manager: capture what C/C++ code writes to file descriptor 2, and write the
    lines that are not TensorFlow start-up noise back on leaving."""

    def __enter__(self) -> filtered_stderr:
        sys.stderr.flush()
        self.capture = tempfile.TemporaryFile()
        self.saved = os.dup(2)
        os.dup2(self.capture.fileno(), 2)
        return self

    def __exit__(self, *exc_info: object) -> None:
        sys.stderr.flush()
        os.dup2(self.saved, 2)
        os.close(self.saved)
        self.capture.seek(0)
        text = self.capture.read().decode("utf-8", "replace")
        self.capture.close()
        kept = [line for line in text.splitlines(keepends=True) if not _NOISE.search(line)]
        if kept:
            sys.stderr.write("".join(kept))
            sys.stderr.flush()


def device_summary(strategy) -> str:  # noqa: ANN001 - a tf.distribute.Strategy
    """One plain line saying which devices a training run uses, e.g. ``devices: CPU only (no
    GPU visible to TensorFlow)`` or ``devices: 2 replicas (GPU:0, GPU:1)``."""
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    replicas = strategy.num_replicas_in_sync
    if replicas > 1:
        names = ", ".join(d.split("device:")[-1] for d in strategy.extended.worker_devices)
        return f"devices: {replicas} replicas ({names})"
    if gpus:
        return f"devices: {gpus[0].name.split('device:')[-1]} ({len(gpus)} GPU(s) visible)"
    return "devices: CPU only (no GPU visible to TensorFlow)"
