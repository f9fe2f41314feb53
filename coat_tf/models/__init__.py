"""Every model of the paper, each behind one scoring interface (:class:`Recommender`).

- ``coat``, ``coat-uniform``, ``coat-ones``, ``coat-song-dropout``: :mod:`coat_tf.models.coat`
- ``gmf``: :mod:`coat_tf.models.gmf`; ``mlp``, ``neumf``: :mod:`coat_tf.models.ncf`
- ``neumf-cnn``, ``neumf-lstm``: :mod:`coat_tf.models.audio`
- ``wmf``: :mod:`coat_tf.models.wmf`
- ``popularity``: :mod:`coat_tf.models.popularity`; ``itemknn``: :mod:`coat_tf.models.itemknn`
- ``chord-histogram``: :mod:`coat_tf.models.chord_histogram`; ``random``:
  :mod:`coat_tf.models.random_baseline`

:mod:`coat_tf.models.registry` names them for ``--model``; :mod:`coat_tf.models.runs` loads a
trained run back as a :class:`Recommender`.
"""

from coat_tf.models.audio import AudioRecommender, build_neumf_audio_model
from coat_tf.models.chord_histogram import ChordHistogramRecommender
from coat_tf.models.coat import CoatRecommender, build_coat_model
from coat_tf.models.fitted import FittedRecommender
from coat_tf.models.gmf import GmfRecommender, build_gmf_model
from coat_tf.models.itemknn import ItemKnnRecommender
from coat_tf.models.ncf import build_mlp_model, build_neumf_model, load_pretrained
from coat_tf.models.popularity import PopularityRecommender
from coat_tf.models.random_baseline import RandomRecommender
from coat_tf.models.recommender import KerasRecommender, Recommender, Unsupported
from coat_tf.models.registry import (
    MODELS,
    MissingContentError,
    ModelSpec,
    build_model,
    get_spec,
    song_tables,
)
from coat_tf.models.wmf import WmfRecommender, WmfTrainer

__all__ = [
    "MODELS",
    "AudioRecommender",
    "ChordHistogramRecommender",
    "CoatRecommender",
    "FittedRecommender",
    "GmfRecommender",
    "ItemKnnRecommender",
    "KerasRecommender",
    "MissingContentError",
    "ModelSpec",
    "PopularityRecommender",
    "RandomRecommender",
    "Recommender",
    "Unsupported",
    "WmfRecommender",
    "WmfTrainer",
    "build_coat_model",
    "build_gmf_model",
    "build_mlp_model",
    "build_model",
    "build_neumf_audio_model",
    "build_neumf_model",
    "get_spec",
    "load_pretrained",
    "song_tables",
]
