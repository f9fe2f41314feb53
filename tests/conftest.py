"""Shared fixtures: every test is seeded; real data is found or the test skips."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest

import coat_tf  # noqa: F401  (selects legacy Keras before TensorFlow is imported)
from coat_tf.paths import SHARED_DATA_ENV, shared_data_dir


@pytest.fixture(autouse=True)
def seeded() -> None:
    """Seed Python, NumPy and TensorFlow before every test."""
    import tensorflow as tf

    random.seed(1234)
    np.random.seed(1234)
    tf.random.set_seed(1234)
    tf.keras.backend.clear_session()


@pytest.fixture
def shared_data() -> Path:
    """The real data folder; skips the test with a message where it is absent."""
    path = shared_data_dir()
    if not path.is_dir():
        if os.environ.get("COAT_REQUIRE_SHARED_DATA") == "1":
            pytest.fail(f"real data required (COAT_REQUIRE_SHARED_DATA=1) but not found at {path}")
        pytest.skip(f"real data not found at {path} (set {SHARED_DATA_ENV} to its folder)")
    return path
