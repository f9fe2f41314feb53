"""Where the real shared data lives: ``$COAT_SHARED_DATA``, else ``../shared/data``."""

from __future__ import annotations

import os
from pathlib import Path

SHARED_DATA_ENV = "COAT_SHARED_DATA"


def shared_data_dir() -> Path:
    """The folder of real data for tests and benchmarks (it may not exist)."""
    env = os.environ.get(SHARED_DATA_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"
