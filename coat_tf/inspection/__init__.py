"""Inspection of COAT's chord attention: probe pairs, measures, and TensorBoard summaries.

Matplotlib is imported only when an image is rendered.
"""

from __future__ import annotations

from coat_tf.inspection.callback import AttentionSummary, probe_attention
from coat_tf.inspection.heatmap import AttentionPlot, render_attention
from coat_tf.inspection.measures import (
    UserChords,
    attention_entropy,
    chord_mass,
    top_chords_markdown,
    uniform_entropy,
    user_chords,
)
from coat_tf.inspection.probes import Probes, choose_probes, song_display_names

__all__ = [
    "AttentionPlot",
    "AttentionSummary",
    "Probes",
    "UserChords",
    "attention_entropy",
    "choose_probes",
    "chord_mass",
    "probe_attention",
    "render_attention",
    "song_display_names",
    "top_chords_markdown",
    "uniform_entropy",
    "user_chords",
]
