"""Per-song features: the chord table and the MFCC table of a prepared data set.

Songs with an audio file get Chordino chords through :func:`coat_tf.chords.extract_many`
(parallel, cached by file content and settings in ``cache_dir/chord_cache``, the cache the demo
also uses), moved to a common tonic where ``chord_key`` is ``relative``
(:func:`coat_tf.chords.sequence.keyed_segments`) and turned into fixed-length id sequences by
:func:`coat_tf.chords.to_sequence`. Chords that do not come from audio (chord sheets, a chord
table) are read by :mod:`coat_tf.data.given_chords`. Songs without chords get the unknown
sequence: all ``N`` (id 0), with ``has_chords`` false. MFCCs (optional) come from
:func:`coat_tf.chords.mfcc_many`, cached in ``cache_dir/mfcc_cache``; rows of songs without
audio are zeros.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def chord_table(
    songs: list[str],
    audio: dict[str, str],
    config,
    cache_dir: str | Path,
    workers: int | None = None,
    progress: bool = True,
):
    """Chord ids of ``songs`` in order.

    ``config`` needs ``chord_vocabulary`` and ``sequence_length``. Returns ``(vocabulary, table
    int32 [songs, sequence_length], has_chords bool [songs], failures [(path, reason)],
    extractor settings key or None)``.
    """
    from coat_tf.chords import ChordVocabulary, to_sequence
    from coat_tf.chords.sequence import keyed_segments

    vocabulary = ChordVocabulary.from_name(config.chord_vocabulary)
    table = np.zeros((len(songs), config.sequence_length), dtype=np.int32)
    has = np.zeros(len(songs), dtype=bool)
    paths = [audio[s] for s in songs if audio.get(s)]
    failures: list[tuple[str, str]] = []
    key = None
    if paths:
        from coat_tf.chords import ExtractorSettings, extract_many

        settings = ExtractorSettings()
        key = settings.cache_key()
        report = extract_many(
            paths, Path(cache_dir) / "chord_cache", settings, workers=workers, progress=progress
        )
        failures = report.failures
        for row, song in enumerate(songs):
            segments = report.chords.get(audio.get(song, ""))
            if segments is not None:
                moved, _ = keyed_segments(segments, config.chord_key)
                table[row] = to_sequence(moved, vocabulary, config.sequence_length)
                has[row] = True
    return vocabulary, table, has, failures, key


def mfcc_table(
    song_ids: list[str],
    audio: dict[str, str],
    cache_dir: str | Path,
    workers: int | None = None,
    progress: bool = True,
) -> np.ndarray | None:
    """float32 ``[songs, n_mfcc, frames]`` (zeros where no audio), or None without any audio."""
    paths = [audio[s] for s in song_ids if audio.get(s)]
    if not paths:
        return None
    from coat_tf.chords import MfccSettings, mfcc_many

    settings = MfccSettings()
    report = mfcc_many(
        paths, Path(cache_dir) / "mfcc_cache", settings, workers=workers, progress=progress
    )
    out = np.zeros((len(song_ids), settings.n_mfcc, settings.frames), dtype=np.float32)
    for row, song in enumerate(song_ids):
        features = report.features.get(audio.get(song, ""))
        if features is not None:
            out[row] = features
    return out
