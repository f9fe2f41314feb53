"""A tiny prepared data set for training tests: 80 listeners, 300 songs, random chords."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_events(path: Path, users: int = 80, songs: int = 300, per_user: int = 25) -> Path:
    """A generic events file where a third of the catalogue is three times as popular."""
    rng = np.random.default_rng(0)
    weights = np.r_[np.full(songs // 5, 3.0), np.ones(songs - songs // 5)]
    lines = ["user_id\ttrack_id\ttimestamp"]
    for user in range(users):
        picks = rng.choice(songs, per_user, replace=False, p=weights / weights.sum())
        lines += [
            f"u{user}\ts{song}\t{1_400_000_000 + user * 1000 + j}" for j, song in enumerate(picks)
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def prepare_tiny(folder: Path, new_songs: float | None = None) -> Path:
    """Prepare the tiny events into ``folder/prepared`` and give its songs random chords
    (marked ``has_chords`` in ``songs.tsv``); with ``new_songs``, that fraction of the songs
    held out as new songs (``prepare --new-songs``), with random chords too."""
    from coat_tf.data import PrepareConfig, prepare
    from coat_tf.data.manifest import update_checksums

    events = write_events(folder / "events.tsv")
    out = folder / "prepared"
    settings = {"eval_negatives": 20, "new_songs": new_songs} if new_songs else {}
    config = PrepareConfig.for_source(
        "events", since=None, min_user_interactions=5, num_shards=2, **settings
    )
    prepare("events", events, out, config, progress=False)
    rng = np.random.default_rng(1)
    names = [("chords.npy", "songs.tsv")]
    if new_songs:
        names.append(("new_chords.npy", "new_songs.tsv"))
    for chords_name, songs_name in names:
        chords = rng.integers(1, 25, (300, 100)).astype(np.int32)
        np.save(out / chords_name, chords[: len(np.load(out / chords_name))])
        songs = (out / songs_name).read_text().splitlines()
        header = songs[0].split("\t")
        column = header.index("has_chords")
        rows = [row.split("\t") for row in songs[1:]]
        for row in rows:
            row[column] = "1"
        text = "\n".join("\t".join(r) for r in [header, *rows]) + "\n"
        (out / songs_name).write_text(text)
    update_checksums(out)
    return out
