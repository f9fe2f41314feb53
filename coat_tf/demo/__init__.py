"""The embedded demo data set: simulated songs and listeners with a planted chord preference.

Everything in it is **simulated**. :mod:`coat_tf.demo.listeners` documents the model of the
listeners and the planted preference; :mod:`coat_tf.demo.catalogue` the songs;
:mod:`coat_tf.demo.build` the folder it writes and its cache.
"""

from coat_tf.demo.build import build_demo, default_cache_root, get_demo
from coat_tf.demo.catalogue import Song, chord_shares, make_catalogue
from coat_tf.demo.config import CACHE_ENV, DEMO_VERSION, FAMILIES, DemoConfig
from coat_tf.demo.listeners import Listening, over_representation, simulate_listening

__all__ = [
    "CACHE_ENV",
    "DEMO_VERSION",
    "FAMILIES",
    "DemoConfig",
    "Listening",
    "Song",
    "build_demo",
    "chord_shares",
    "default_cache_root",
    "get_demo",
    "make_catalogue",
    "over_representation",
    "simulate_listening",
]
