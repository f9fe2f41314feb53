"""The embedded demo data set: simulated songs and listeners with a planted chord preference.

Everything in it is **simulated**. :mod:`coat_tf.demo.listeners` documents the model of the
listeners and the planted preference; :mod:`coat_tf.demo.catalogue` the songs;
:mod:`coat_tf.demo.build` the folder it writes and its cache; :mod:`coat_tf.data.demo` its
prepared form, which ``python -m coat_tf.train`` trains on by default.
"""

from coat_tf.demo.build import build_demo, get_demo
from coat_tf.demo.catalogue import Song, chord_shares, make_catalogue
from coat_tf.demo.config import DEMO_VERSION, FAMILIES, DemoConfig
from coat_tf.demo.listeners import Listening, over_representation, simulate_listening

__all__ = [
    "DEMO_VERSION",
    "FAMILIES",
    "DemoConfig",
    "Listening",
    "Song",
    "build_demo",
    "chord_shares",
    "get_demo",
    "make_catalogue",
    "over_representation",
    "simulate_listening",
]
