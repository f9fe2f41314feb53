"""`import coat_tf` selects legacy Keras, or says clearly that it is too late."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

NOISE = ("cuInit", "cudart_stub", "absl::InitializeLog", "cuda_platform")
#: What coat_tf sets in this (the test) process; a fresh user's shell has none of it.
OURS = ("TF_USE_LEGACY_KERAS", "TF_CPP_MIN_LOG_LEVEL", "COAT_TF_QUIET_TENSORFLOW")


def _run(code: str, argv: list[str] | None = None, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in OURS}
    return subprocess.run(
        [sys.executable, *(argv or ["-c", code])],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=240,
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


def test_tensorflow_starts_quietly() -> None:
    result = _run(
        "import os, coat_tf, tensorflow as tf\n"
        "tf.config.list_physical_devices()\n"
        "print(os.environ['TF_CPP_MIN_LOG_LEVEL'])"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "3"
    assert not any(noise in result.stderr for noise in NOISE), result.stderr


def test_a_users_own_log_level_is_respected() -> None:
    result = _run(
        "import os, coat_tf, tensorflow\nprint(os.environ['TF_CPP_MIN_LOG_LEVEL'])",
        TF_CPP_MIN_LOG_LEVEL="1",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"


def test_spawned_workers_start_quietly(tmp_path) -> None:
    """Workers of a process pool import the parent's main module, TensorFlow and all."""
    script = tmp_path / "pool.py"
    script.write_text(
        "import coat_tf\n"
        "import multiprocessing\n"
        "import tensorflow\n\n\n"
        "def square(x):\n"
        "    return x * x\n\n\n"
        "if __name__ == '__main__':\n"
        "    with multiprocessing.get_context('spawn').Pool(2) as pool:\n"
        "        print(pool.map(square, [1, 2, 3]))\n"
    )
    result = _run("", [str(script)], PYTHONPATH=str(Path.cwd()))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[1, 4, 9]"
    assert not any(noise in result.stderr for noise in NOISE), result.stderr
