"""The names of the features that flow from the prepared data to the models.

A model's inputs are a subset of::

    user_id    int32 [B]            user index
    song_id    int32 [B]            song index
    chord_ids  int32 [B, L]         the song's chord ids (COAT and its ablations)
    mfcc       float32 [B, T, n]    the song's pooled MFCC frames (NeuMF+CNN, NeuMF+LSTM)

``chord_ids`` and ``mfcc`` are *content*: they depend on the song only, so they are kept as
per-song tables (``[num_songs, ...]``) and gathered by song index, both by the training input
(:mod:`coat_tf.data.pipeline`) and by the scoring interface (:mod:`coat_tf.models`).

This module imports nothing, so the data side can use the names without loading TensorFlow.
"""

USER_ID = "user_id"
SONG_ID = "song_id"
CHORD_IDS = "chord_ids"
MFCC = "mfcc"
CONTENT_INPUTS = (CHORD_IDS, MFCC)
