"""``prepare``: raw listening data to a prepared data set (see :mod:`coat_tf.data.dataset`).

Steps, in order, each counted in the manifest's ``steps``:

1. read the source (bad lines raise or are skipped and counted, per ``on_error``);
2. events on or after ``since``; 3. the ``top_songs`` most played songs
   (:mod:`coat_tf.data.interactions`);
4. chords: songs with an audio file get Chordino chords (:mod:`coat_tf.data.features`,
   :func:`coat_tf.chords.extract_many`, cached); the playlists' songs get the chords of their
   sheets (``songs.tsv.gz``, read as ``chords import`` reads it), and an events file with
   ``chords_dir`` those of a chord table (:mod:`coat_tf.data.given_chords`); each moved to a
   common tonic where ``chord_key`` is ``relative``. Songs without chords are kept with the
   all-``N`` sequence (id 0, ``has_chords = 0``) or dropped (``songs_without_chords =
   "drop"``);
5. users with at least ``min_user_interactions`` interactions
   (:mod:`coat_tf.data.filtering`);
6. with ``new_songs``, the new songs and every interaction with them leave the catalogue
   (:mod:`coat_tf.data.new_songs`; their own files and candidates are written beside it);
7. leave-one-out by time (or by the order column: a playlist's ``position``, an events file's
   ``order_column``) and the fixed evaluation candidates (:mod:`coat_tf.data.splits`).

A step that leaves nobody stops with a DataError naming its option and what each step left.

MovieLens-1M is pre-split and has no timestamps: the date step does not apply (``--since`` is
refused), its test file
gives the test items, and one seeded random training item per user is the validation item.

Indices: songs by plays (descending, ties by id), users by id (numerically where every id is
an integer). The folder is built under a temporary name and renamed when complete, so a killed
run leaves no half-written data set.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from coat_tf import paths
from coat_tf.claims import DataInUse, replace_data
from coat_tf.data import filtering, records, splits
from coat_tf.data import new_songs as new_songs_
from coat_tf.data.dataset import PreparedDataset
from coat_tf.data.errors import DataError, ErrorLog
from coat_tf.data.features import chord_table, mfcc_table
from coat_tf.data.given_chords import LISTED_FAILURES, SongChords, sheet_chords, table_chords
from coat_tf.data.interactions import aggregate
from coat_tf.data.manifest import FORMAT_VERSION, MANIFEST, content_hash, data_files
from coat_tf.data.ncf import read_ncf
from coat_tf.data.prepare_config import SOURCES, PrepareConfig, check_options
from coat_tf.data.readers import (
    EventsFileSource,
    EventSource,
    Lastfm1kSource,
    Lfm1bSource,
    PlaylistsSource,
    demo_events,
    read_movielens,
)
from coat_tf.fileio import atomic_directory, atomic_write_bytes, atomic_write_text

#: The chord sheets beside ``playlists.tsv.gz`` (:class:`~coat_tf.data.readers.PlaylistsSource`).
PLAYLIST_SONGS = "songs.tsv.gz"
#: The report of the chord-sheet tokens that are not chords, in a prepared folder.
UNREAD = "chords_unread.tsv"
UNREAD_COLUMNS = ["token", "count", "songs"]


def _say(message: str, progress: bool) -> None:
    if progress:
        print(message, file=sys.stderr)


def _natural_order(ids: pd.Series) -> list[str]:
    unique = pd.unique(ids)
    if all(str(u).isdigit() for u in unique):
        return [str(u) for u in sorted(unique, key=int)]
    return sorted(str(u) for u in unique)


@dataclass
class _Read:
    """What ``_read`` gives: the interactions after the event steps (text ``user``, ``song``,
    ``play_count``, ``first_timestamp``, ``last_timestamp``), the pre-split test pairs
    (MovieLens, NCF) or None, audio paths and names by song, the step counts, and for the NCF
    format the given test negatives (user id -> song ids) and the file they come from."""

    interactions: pd.DataFrame
    test_pairs: pd.DataFrame | None
    audio: dict
    names: dict
    steps: dict
    test_negatives: dict[str, list[str]] | None = None
    negatives_path: Path | None = None


def _read(
    source: str, input_path, config: PrepareConfig, log: ErrorLog, progress: bool, demo: dict
) -> _Read:
    """Read ``source`` and apply the event steps (date, top songs); see :class:`_Read`."""
    if source == "ncf":
        files = read_ncf(input_path, log)
        both = pd.concat([files.train, files.test], ignore_index=True)
        interactions = (
            both.rename(columns={"item": "song"})
            .groupby(["user", "song"], as_index=False)
            .agg(
                play_count=("timestamp", "size"),
                first_timestamp=("timestamp", "min"),
                last_timestamp=("timestamp", "max"),
            )
        )
        read = {
            "events": len(both),
            **filtering.interaction_stats(interactions),
            "time": "seconds" if files.timed else "file order",
            "users_without_usable_negatives": len(files.dropped_users),
            "bad_negatives": files.bad_negatives,
        }
        test = files.test.rename(columns={"item": "song"})[["user", "song"]]
        return _Read(
            interactions, test, {}, {}, {"read": read}, files.negatives, files.negatives_path
        )
    if source == "movielens":
        train, test = read_movielens(input_path, log)
        both = pd.concat([train, test], ignore_index=True).rename(columns={"item": "song"})
        n = len(both)
        interactions = both.assign(
            play_count=np.ones(n, np.int64),
            first_timestamp=np.zeros(n, np.int64),
            last_timestamp=np.zeros(n, np.int64),
        ).drop_duplicates(["user", "song"])
        read = {"events": n, **filtering.interaction_stats(interactions)}
        counts = interactions.groupby("song")["play_count"].sum()
        ids = counts.index.astype(str).tolist()
        top = set(counts.index[_top(counts.to_numpy(), ids, config.top_songs)])
        interactions = interactions[interactions["song"].isin(top)].reset_index(drop=True)
        steps = {"read": read, "top_songs": filtering.interaction_stats(interactions)}
        return _Read(interactions, test.rename(columns={"item": "song"}), {}, {}, steps)
    kwargs = {"progress": progress}
    event_source: EventSource
    if source == "lfm1b":
        event_source = Lfm1bSource(input_path, **kwargs)
    elif source == "lastfm1k":
        event_source = Lastfm1kSource(input_path, **kwargs)
    elif source == "events":
        event_source = EventsFileSource(input_path, config.order_column, **kwargs)
    elif source == "playlists":
        event_source = PlaylistsSource(input_path, **kwargs)
    elif source == "demo":
        event_source = EventsFileSource(demo_events(**demo), **kwargs)
    else:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    result = aggregate(event_source, log, config.filters.since_unix, config.top_songs)
    s = result.stats
    steps = {
        "read": {"lines": s.lines, "events": s.events, "dropped_events": s.dropped_events},
        "since": {"events": s.events_since, "songs": s.tracks_since},
        "top_songs": {**filtering.interaction_stats(result.interactions)},
    }
    return _Read(result.interactions, None, result.audio_paths, result.track_names, steps)


def _top(counts: np.ndarray, ids: list[str], n: int | None) -> np.ndarray:
    """Indices of the ``n`` most played; ties by id (numerically where all ids are digits)."""
    from coat_tf.data.interactions import select_top

    keys = [str(i) for i in ids]
    numeric = all(k.isdigit() for k in keys)
    return select_top(counts, [int(k) for k in keys] if numeric else keys, n)


def prepare(
    source: str,
    input_path: str | os.PathLike | None,
    out_dir: str | os.PathLike,
    config: PrepareConfig | None = None,
    progress: bool = True,
    overwrite: bool = False,
    cache_dir: str | os.PathLike | None = None,
    workers: int | None = None,
    demo_config=None,
    chords_dir: str | os.PathLike | None = None,
) -> PreparedDataset:
    """Prepare ``input_path`` (a file or folder per ``source``) into ``out_dir``.

    ``chords_dir`` (``events`` only): a chord table folder (the ``--out`` of ``chords import``
    or ``chords extract``) that gives the songs' chords instead of their audio.

    Raises:
        DataError: missing input, a bad line under ``on_error="raise"``, a step that leaves
            nobody (naming its option), or, with ``overwrite``, an ``out_dir`` that live runs
            read (it is taken alone before any work and held until it is replaced, see
            :func:`coat_tf.claims.replace_data`).
        FileExistsError: ``out_dir`` exists and ``overwrite`` is false, or it is a file, or
            a non-empty folder that is not a prepared data set (never replaced).
    """
    started = time.perf_counter()
    config = config or PrepareConfig.for_source(source)
    if source != "demo" and input_path is None:
        raise DataError(None, f"--source {source} needs --input (the file or folder to read)")
    if chords_dir is not None:
        check_options(source, ["chords"])
    if config.new_songs is not None:
        check_options(source, ["new_songs"])
        config.check_new_songs_by(source)
    _check_out_dir(Path(out_dir), overwrite)
    if config.eval_negatives is None and source != "ncf":
        raise ValueError(
            f"eval_negatives must be a positive integer for --source {source} (only the NCF "
            "format's files give the number)"
        )
    try:
        replacing = replace_data(out_dir) if overwrite else contextlib.nullcontext()
        with replacing:
            return _build(
                source,
                input_path,
                out_dir,
                config,
                progress,
                overwrite,
                cache_dir,
                workers,
                demo_config,
                started,
                chords_dir,
            )
    except DataInUse as busy:
        raise DataError(out_dir, str(busy)) from None


def _build(
    source: str,
    input_path: str | os.PathLike | None,
    out_dir: str | os.PathLike,
    config: PrepareConfig,
    progress: bool,
    overwrite: bool,
    cache_dir: str | os.PathLike | None,
    workers: int | None,
    demo_config,  # noqa: ANN001
    started: float,
    chords_dir: str | os.PathLike | None = None,
) -> PreparedDataset:
    """The work of :func:`prepare`, once its arguments are checked."""
    cache_dir = Path(cache_dir) if cache_dir else paths.cache_dir()
    log = ErrorLog(config.on_error)
    demo = {"config": demo_config, "cache_root": cache_dir, "workers": workers}
    raw = _read(source, input_path, config, log, progress, demo)
    config = _given_negatives(config, raw)
    interactions, ml_test, audio, names, steps = (
        raw.interactions,
        raw.test_pairs,
        raw.audio,
        raw.names,
        raw.steps,
    )
    # songs that are candidates without being played (the NCF format's negatives)
    unplayed = _unplayed_songs(raw.test_negatives, interactions)
    where = input_path if input_path is not None else "demo"
    if not len(interactions):
        since = steps.get("since", {}).get("events")
        step = (
            f"--since {config.since} leaves no events"
            if since == 0 and config.since is not None
            else "no interactions left after the date and song steps (see --since and --top-songs)"
        )
        raise DataError(where, f"{step}. {_what_each_step_left(steps)}")

    song_order = interactions.groupby("song")["play_count"].sum()
    song_list = song_order.index.astype(str).tolist()
    ranked = [song_list[i] for i in _top(song_order.to_numpy(), song_list, None)] + unplayed
    given = _given_chords(source, input_path, chords_dir, ranked, config, progress)
    if given is None:
        vocabulary, table, has_chords, failures, extractor_key = chord_table(
            ranked, audio, config, cache_dir, workers, progress
        )
    else:
        from coat_tf.chords import ChordVocabulary

        vocabulary = ChordVocabulary.from_name(config.chord_vocabulary)
        table, has_chords = given.table(ranked, config.sequence_length)
        failures, extractor_key = given.failures, None
        names = {**given.names, **names}
    without = [s for s, h in zip(ranked, has_chords, strict=True) if not h]
    # an audio_path that names no file is not audio (its extraction failed as "file not found")
    has_audio_file = {s: Path(p).is_file() for s, p in audio.items() if p}
    steps["chords"] = {
        "songs_with_chords": int(has_chords.sum()),
        "songs_without": len(without),
        "extraction_failures": len(failures),
        "audio_files_missing": sum(not found for found in has_audio_file.values()),
    }
    if config.songs_without_chords == "drop":
        interactions = filtering.drop_songs(interactions, set(without))
        _someone_left(
            interactions, "--songs-without-chords drop", "no song has chords", where, steps
        )
    most = int(interactions.groupby("user")["song"].size().max())
    interactions = filtering.filter_min_user_interactions(
        interactions, config.min_user_interactions
    )
    steps["min_user_interactions"] = filtering.interaction_stats(interactions)
    _someone_left(
        interactions,
        f"--min-user-interactions {config.min_user_interactions}",
        f"the most active user has {most} interactions",
        where,
        steps,
    )
    held, choice = None, None
    if config.new_songs is not None:
        choice = new_songs_.choose(
            interactions, config.new_songs, config.new_songs_by, config.seed, where
        )
        is_new = interactions["song"].astype(str).isin(set(choice.ids)).to_numpy()
        held = interactions[is_new]
        interactions = interactions[~is_new].reset_index(drop=True)
        steps["new_songs"] = {
            **filtering.interaction_stats(interactions),
            "new_songs": len(choice.ids),
            "new_song_interactions": len(held),
        }
        _someone_left(
            interactions,
            f"--new-songs {config.new_songs}",
            "every user's interactions are with new songs",
            where,
            steps,
        )
    # Splittability depends on a user's own interactions only, so it goes first; dropping users
    # without room for negatives then cannot make another user unsplittable.
    interactions, ml_valid, dropped_users = splits.splittable(
        interactions, ml_test, config.seed, validation_by_time=raw.test_negatives is not None
    )
    interactions, short_users = splits.enough_negatives(interactions, config.eval_negatives)
    steps["split"] = {
        **filtering.interaction_stats(interactions),
        "users_without_enough_negatives": short_users,
        "users_too_few_to_split": dropped_users,
    }
    if not len(interactions):
        raise DataError(
            where,
            f"no users left to split (users need at least {splits.MIN_INTERACTIONS_TO_SPLIT} "
            f"interactions and {config.eval_negatives} songs they never heard; see "
            f"--min-user-interactions and --eval-negatives). {_what_each_step_left(steps)}",
        )

    # Indices.
    plays = interactions.groupby("song")["play_count"].sum()
    plays_ids = plays.index.astype(str).tolist()
    song_ids = [plays_ids[i] for i in _top(plays.to_numpy(), plays_ids, None)]
    song_ids += _unplayed_songs(raw.test_negatives, interactions)
    user_ids = _natural_order(interactions["user"])
    song_index = {s: i for i, s in enumerate(song_ids)}
    user_index = {u: i for i, u in enumerate(user_ids)}
    indexed = interactions.assign(
        user=interactions["user"].map(user_index).astype(np.int64),
        song=interactions["song"].map(song_index).astype(np.int64),
    )
    row_of = {s: i for i, s in enumerate(ranked)}
    chords = table[[row_of[s] for s in song_ids]]
    has = has_chords[[row_of[s] for s in song_ids]]

    if ml_test is None:
        train, valid, test = splits.leave_one_out(indexed)
    else:
        train, valid, test = splits.movielens_split(
            indexed, ml_test, ml_valid, user_index, song_index
        )
    if config.validation_in_train:
        train = splits.with_validation(indexed, train, valid)
    interacted = splits.interacted(indexed, len(user_ids))
    num_songs = len(song_ids)

    def sample(split: pd.DataFrame, stream: int) -> splits.Candidates:
        users, songs = split["user"].to_numpy(), split["song"].to_numpy()
        negatives = config.eval_negatives
        return splits.sample_candidates(
            users, songs, interacted, num_songs, negatives, [config.seed, stream]
        )

    valid_c = sample(valid, 0)
    if raw.test_negatives is None:
        test_c = sample(test, 1)
    else:
        test_c = _given_candidates(test, raw, user_ids, song_index)
    mfcc = mfcc_table(song_ids, audio, cache_dir, workers, progress) if config.mfcc else None
    new = None
    if choice is not None:
        rows, width = _new_song_rows(held, choice, user_index, config, where)
        kept = [row_of[s] for s in choice.ids]
        new = _NewSongFiles(
            table=pd.DataFrame(
                {
                    "index": range(len(choice.ids)),
                    "id": choice.ids,
                    "shelf": choice.shelf,
                    "has_chords": has_chords[kept].astype(int),
                    "has_audio": [int(has_audio_file.get(s, False)) for s in choice.ids],
                    "name": [names.get(s, "") for s in choice.ids],
                }
            ),
            chords=table[kept].astype(np.int32),
            mfcc=mfcc_table(choice.ids, audio, cache_dir, workers, progress)
            if config.mfcc
            else None,
            rows=rows,
            counts=new_songs_.counts(choice, rows, width),
        )
    final = filtering.interaction_stats(indexed)
    counts = {
        **{k: final[k] for k in ("users", "songs", "interactions", "sparsity", "plays")},
        "events": steps["read"].get("events"),
        "train": len(train),
        "valid": len(valid_c),
        "test": len(test_c),
        "negatives": config.eval_negatives,
        "songs_without_chords": int((~has).sum()),
        "songs_dropped_without_chords": len(without)
        if config.songs_without_chords == "drop"
        else 0,
        "users_too_few_to_split": dropped_users,
        "users_without_enough_negatives": short_users,
        **(new.counts if new is not None else {}),
        **log.summary(),
    }
    manifest = {
        "format_version": FORMAT_VERSION,
        "source": {
            "name": source,
            "input": None if input_path is None else str(input_path),
            **({} if chords_dir is None else {"chords": str(chords_dir)}),
        },
        "settings": dataclasses.asdict(config),
        "counts": counts,
        "steps": steps,
        "num_chords": len(vocabulary),
        "sequence_length": config.sequence_length,
        "chord_vocabulary": vocabulary.name,
        "chord_key": config.chord_key,
        "order": _order(source, config),
        "extractor_settings_key": extractor_key,
        "chord_failures": [list(f) for f in failures[:LISTED_FAILURES]],
        "seconds": None,
    }
    if given is not None:
        manifest["chords"] = given.report
    with atomic_directory(out_dir, overwrite=overwrite) as tmp:
        _write_table(
            tmp / "users.tsv", pd.DataFrame({"index": range(len(user_ids)), "id": user_ids})
        )
        _write_table(
            tmp / "songs.tsv",
            pd.DataFrame(
                {
                    "index": range(num_songs),
                    "id": song_ids,
                    "has_chords": has.astype(int),
                    "has_audio": [int(has_audio_file.get(s, False)) for s in song_ids],
                    "name": [names.get(s, "") for s in song_ids],
                }
            ),
        )
        vocabulary.save(tmp / "chord_vocabulary.txt")
        if given is not None and given.unread is not None:
            _write_table(tmp / UNREAD, pd.DataFrame(given.unread, columns=UNREAD_COLUMNS))
        _write_npy(tmp / "chords.npy", chords.astype(np.int32))
        if mfcc is not None:
            _write_npy(tmp / "mfcc.npy", mfcc)
        columns = ["user", "song", "play_count", "first_timestamp", "last_timestamp"]
        _write_table(tmp / "train.tsv", train[columns])
        valid_c.save(tmp / "valid.npz")
        test_c.save(tmp / "test.npz")
        if new is not None:
            new.write(tmp)
        _say(f"writing {len(train):,} training examples to TFRecords", progress)
        records.write_records(
            tmp / "tfrecords",
            train["user"].to_numpy(),
            train["song"].to_numpy(),
            chords,
            config.num_shards,
            config.compression,
        )
        manifest["content_hash"] = content_hash(tmp)
        manifest["files"] = _checksums(tmp, data_files(tmp))
        manifest["seconds"] = round(time.perf_counter() - started, 2)
        atomic_write_text(tmp / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    _say(filtering.format_stats(counts, f"prepared {out_dir}"), progress)
    return PreparedDataset.load(out_dir)


@dataclass
class _NewSongFiles:
    """The new songs' files (:mod:`coat_tf.data.new_songs`) ready to write, and their counts."""

    table: pd.DataFrame
    chords: np.ndarray
    mfcc: np.ndarray | None
    rows: dict[str, splits.Candidates]
    counts: dict[str, int]

    def write(self, folder: Path) -> None:
        _write_table(folder / new_songs_.TABLE, self.table)
        _write_npy(folder / new_songs_.CHORDS, self.chords)
        if self.mfcc is not None:
            _write_npy(folder / new_songs_.MFCC_FILE, self.mfcc)
        for name, rows in self.rows.items():
            rows.save(folder / new_songs_.CANDIDATES[name])


def _new_song_rows(
    held: pd.DataFrame,
    choice: new_songs_.Choice,
    user_index: dict[str, int],
    config: PrepareConfig,
    where: str | os.PathLike,
) -> tuple[dict[str, splits.Candidates], int]:
    """The new songs' candidates of each shelf, from ``held`` (text ``user``, ``song``: every
    interaction with a new song), for the users left in the catalogue; and their negatives."""
    new_index = {s: i for i, s in enumerate(choice.ids)}
    users = held["user"].map(user_index)
    kept = users.notna().to_numpy()
    pairs = pd.DataFrame(
        {
            "user": users[kept].astype(np.int64).to_numpy(),
            "song": held["song"].astype(str)[kept].map(new_index).astype(np.int64).to_numpy(),
        }
    )
    return new_songs_.shelf_rows(
        pairs, choice, len(user_index), config.eval_negatives, config.seed, where
    )


def _given_chords(
    source: str,
    input_path: str | os.PathLike | None,
    chords_dir: str | os.PathLike | None,
    songs: list[str],
    config: PrepareConfig,
    progress: bool,
) -> SongChords | None:
    """The chords that do not come from audio: the playlists' sheets, or ``chords_dir``'s
    table; ``None`` where the chords come from audio."""
    if source == "playlists":
        folder = Path(input_path)
        sheets = (folder if folder.is_dir() else folder.parent) / PLAYLIST_SONGS
        _say(f"reading the chord sheets of {len(songs):,} songs from {sheets}", progress)
        return sheet_chords(sheets, songs, config)
    if chords_dir is not None:
        given = table_chords(chords_dir, config)
        if not set(songs) & set(given.ids):
            raise DataError(
                chords_dir,
                f"none of its {len(given.ids):,} songs with chords is a song of the events "
                f"(song ids such as {songs[0]!r}); do the two use the same song ids?",
            )
        return given
    return None


def _order(source: str, config: PrepareConfig) -> str:
    """What orders each user's interactions for the split: a column, or ``time``."""
    if source == "playlists":
        return "position"
    return config.order_column or "time"


def _given_negatives(config: PrepareConfig, raw: _Read) -> PrepareConfig:
    """``config`` with ``eval_negatives`` the number the NCF files give per test user (the
    validation candidates get as many); an explicit number that disagrees is a DataError."""
    if raw.test_negatives is None:
        return config
    given = len(next(iter(raw.test_negatives.values())))
    if config.eval_negatives not in (None, given):
        raise DataError(
            raw.negatives_path,
            f"holds {given} negatives per test user, but --eval-negatives "
            f"{config.eval_negatives} asks for another number; the test candidates are used as "
            "given and the validation ones get as many, so leave --eval-negatives out",
        )
    return dataclasses.replace(config, eval_negatives=given)


def _unplayed_songs(negatives: dict[str, list[str]] | None, interactions: pd.DataFrame) -> list:
    """Songs among the given test negatives that nobody played, in their natural order."""
    if not negatives:
        return []
    candidates = {song for songs in negatives.values() for song in songs}
    unplayed = pd.Series(sorted(candidates - set(interactions["song"].astype(str))))
    return _natural_order(unplayed) if len(unplayed) else []


def _given_candidates(
    test: pd.DataFrame, raw: _Read, user_ids: list[str], song_index: dict[str, int]
) -> splits.Candidates:
    """The test candidates from the given negatives: column 0 each user's test song."""
    rows = []
    for user, song in zip(test["user"].to_numpy(), test["song"].to_numpy(), strict=True):
        negatives = raw.test_negatives[user_ids[user]]
        rows.append([song, *(song_index[n] for n in negatives)])
    return splits.Candidates(
        users=test["user"].to_numpy(np.int32), items=np.asarray(rows, dtype=np.int32)
    )


def _someone_left(
    interactions: pd.DataFrame, option: str, why: str, where: str | os.PathLike, steps: dict
) -> None:
    """Raise a DataError naming ``option`` if it left no interactions (``why``: a hint)."""
    if len(interactions):
        return
    raise DataError(where, f"{option} leaves no users ({why}). {_what_each_step_left(steps)}")


def _what_each_step_left(steps: dict) -> str:
    return "What each step left: " + "; ".join(f"{k} {_step_counts(v)}" for k, v in steps.items())


def _step_counts(counts: dict) -> str:
    """A step's counts in words: ``"3 events, 1 users, 2 songs, 2 interactions"``."""
    keys = [k for k in ("events", "users", "songs", "interactions") if k in counts]
    keys = keys or list(counts)[:2]
    return ", ".join(f"{counts[k]:,} {k}" for k in keys)


def _checksums(folder: Path, names: list[str]) -> dict[str, dict]:
    from coat_tf.integrity import checksums  # not at the top: it imports coat_tf.data

    return checksums(folder, names)


def _check_out_dir(out_dir: Path, overwrite: bool) -> None:
    """Refuse an ``out_dir`` that cannot (or must not) be replaced by a prepared data set."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise FileExistsError(f"{out_dir}: is a file; --out must name a folder to create")
    if not overwrite:
        raise FileExistsError(
            f"{out_dir}: already exists (pass --overwrite to replace the data set in it)"
        )
    if (out_dir / MANIFEST).is_file() or not any(out_dir.iterdir()):
        return
    raise FileExistsError(
        f"{out_dir}: holds files but no {MANIFEST}, so it is not a prepared data set; "
        "--overwrite only replaces a prepared data set. Choose another --out"
    )


def _write_table(path: Path, frame: pd.DataFrame) -> None:
    atomic_write_text(path, frame.to_csv(sep="\t", index=False, lineterminator="\n"))


def _write_npy(path: Path, array: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, array)
    atomic_write_bytes(path, buffer.getvalue())
