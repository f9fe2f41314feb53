"""`import coat_tf` selects legacy Keras, or says clearly that it is too late."""

from __future__ import annotations

import os
import subprocess
import sys


def _run(code: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )


def test_import_selects_legacy_keras() -> None:
    result = _run(
        "import os, coat_tf, tensorflow as tf\n"
        "assert os.environ['TF_USE_LEGACY_KERAS'] == '1'\n"
        "print(tf.keras.__name__)"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("tf_keras")


def test_keras3_already_in_use_raises_clear_import_error() -> None:
    result = _run("import tensorflow as tf\ntf.keras.layers\nimport coat_tf")
    assert result.returncode != 0
    assert "ImportError" in result.stderr
    assert "Import coat_tf before using tensorflow" in result.stderr
    assert "TF_USE_LEGACY_KERAS=1" in result.stderr


def test_tensorflow_imported_first_but_keras_unused_is_fine() -> None:
    result = _run("import tensorflow as tf\nimport coat_tf\nprint(tf.keras.__name__)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("tf_keras")


def test_tensorflow_first_with_legacy_variable_is_accepted() -> None:
    code = "import os\nos.environ['TF_USE_LEGACY_KERAS'] = '1'\nimport tensorflow\nimport coat_tf"
    result = _run(code)
    assert result.returncode == 0, result.stderr
