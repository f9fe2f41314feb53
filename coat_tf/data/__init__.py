"""Listening data: readers, the paper's filtering, leave-one-out splits, negatives, TFRecords
and ``tf.data`` input.

Command line: ``python -m coat_tf.data prepare --source
lfm1b|lastfm1k|events|movielens|ncf|demo|playlists --input PATH --out DIR [options]`` and
``python -m coat_tf.data stats DIR``.
"""

from __future__ import annotations

from coat_tf.data.dataset import PreparedDataset, content_hash
from coat_tf.data.errors import DataError, ErrorLog
from coat_tf.data.filtering import FilterConfig, format_stats, interaction_stats
from coat_tf.data.pipeline import batches_per_pass, make_train_dataset
from coat_tf.data.prepare import prepare
from coat_tf.data.prepare_config import SOURCES, PrepareConfig
from coat_tf.data.splits import Candidates, leave_one_out, sample_candidates

__all__ = [
    "SOURCES",
    "Candidates",
    "DataError",
    "ErrorLog",
    "FilterConfig",
    "PrepareConfig",
    "PreparedDataset",
    "batches_per_pass",
    "content_hash",
    "format_stats",
    "interaction_stats",
    "leave_one_out",
    "make_train_dataset",
    "prepare",
    "sample_candidates",
]
