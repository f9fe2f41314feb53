"""coat_tf: COAT (chord-progression attention) for music recommendation.

Importing this package selects legacy Keras (tf_keras) for TensorFlow, which TensorFlow
Recommenders requires. The choice must be made before TensorFlow is first imported.
"""

from __future__ import annotations

import argparse

from coat_tf._env import ensure_legacy_keras

# The one place the version is written: setup.cfg reads it (``version = attr: ...``).
__version__ = "0.1.0"

ensure_legacy_keras()


def add_version_option(parser: argparse.ArgumentParser) -> None:
    """Give a command's parser ``--version``, which prints ``coat_tf VERSION`` and exits 0."""
    parser.add_argument(
        "--version", action="version", version=f"coat_tf {__version__}", help="print the version"
    )
