"""The demo data set (:mod:`coat_tf.demo`), prepared (split, negatives, TFRecords) and cached
for training."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from coat_tf.data.prepare import prepare
from coat_tf.data.prepare_config import PrepareConfig
from coat_tf.demo.config import DemoConfig
from coat_tf.paths import cache_dir


def prepared_demo(mfcc: bool = False, progress: bool = True) -> Path:
    """The prepared demo data set, built on first use and cached by its settings.

    Args:
        mfcc: also compute the songs' MFCC excerpts (for the audio baselines); a separate
            cached folder.
        progress: print what is being built.

    Returns:
        ``$COAT_CACHE_DIR/prepared/demo-<hash of the settings>``.
    """
    prepare_config = PrepareConfig.for_source("demo", mfcc=mfcc)
    # DemoConfig.key() covers the demo generator's version as well as its settings
    settings = dataclasses.asdict(prepare_config)
    if settings["new_songs"] is None:  # the key of the folders prepared before new songs
        del settings["new_songs"], settings["new_songs_by"]
    key = json.dumps([settings, DemoConfig().key()], sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    folder = cache_dir() / "prepared" / f"demo-{digest}"
    if not (folder / "manifest.json").is_file():
        prepare("demo", None, folder, prepare_config, progress=progress, overwrite=True)
    return folder
