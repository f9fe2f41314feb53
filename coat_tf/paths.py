"""Where things live: the real shared data, and the cache of derived files.

- ``$COAT_SHARED_DATA``, else ``../shared/data`` beside the checkout: real data for tests and
  benchmarks.
- ``$COAT_CACHE_DIR``, else ``~/.cache/coat_tf``: the chord and MFCC caches, the demo data set
  and its prepared forms.
"""

from __future__ import annotations

import os
from pathlib import Path

SHARED_DATA_ENV = "COAT_SHARED_DATA"
CACHE_ENV = "COAT_CACHE_DIR"


def shared_data_dir() -> Path:
    """The folder of real data for tests and benchmarks (it may not exist)."""
    env = os.environ.get(SHARED_DATA_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


def cache_dir() -> Path:
    """The cache of derived files: ``$COAT_CACHE_DIR``, else ``~/.cache/coat_tf``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "coat_tf"
