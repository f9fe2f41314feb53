"""Readers of listening logs: LFM-1b, Last.fm-1K, a generic events file, MovieLens-1M, the demo.

Every event source yields DataFrame chunks with the columns

- ``user``: user id (int64 for LFM-1b, text otherwise),
- ``track``: track id (int64 for LFM-1b, text otherwise),
- ``timestamp``: int64 Unix seconds,
- optionally ``audio_path`` (absolute path of the track's audio, ``""`` where none) and
  ``track_name`` (a display name),

in bounded memory (see :mod:`coat_tf.data.table`), and can be iterated more than once (the
filtering makes two passes). Bad lines go to the :class:`~coat_tf.data.errors.ErrorLog`.

Formats:

- **LFM-1b**: ``LFM-1b_LEs.txt``, tab-separated, no header: ``user-id artist-id album-id
  track-id timestamp``; names from ``LFM-1b_tracks.txt`` (``track-id track-name artist-id``) and
  ``LFM-1b_artists.txt`` (``artist-id artist-name``) where they lie beside it.
- **Last.fm-1K**: tab-separated, no header: ``userid timestamp(ISO 8601) artist-MBID
  artist-name track-MBID track-name``. The track id is the track MBID where present, else
  ``"<artist name> - <track name>"``; events with neither are dropped and counted.
- **Generic events**: CSV (``.csv``) or tab-separated (otherwise), with a header naming
  ``user_id``, ``track_id``, ``timestamp`` (integer Unix seconds or ISO 8601) and optionally
  ``audio_path`` (relative to the file's folder, or absolute). Other columns are ignored.
  Where an order that is not a time orders the events (``order_column``, e.g. ``position``),
  that column replaces ``timestamp``: integers, ascending.
- **Playlists** (the playlists x chords set): ``playlists.tsv.gz`` in the given folder,
  tab-separated with the header ``playlist position song``. A playlist stands for a listener
  and ``position`` (an integer) orders its songs.
- **MovieLens-1M** (pre-split): ``train.tsv.gz`` and ``test.tsv``, each with the header
  ``user_id movie_id``, no timestamps.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from coat_tf.data.errors import DataError, ErrorLog
from coat_tf.data.table import DEFAULT_BLOCK_BYTES, Column, TableReader

LFM1B_EVENTS = "LFM-1b_LEs.txt"
LFM1B_TRACKS = "LFM-1b_tracks.txt"
LFM1B_ARTISTS = "LFM-1b_artists.txt"

_ALIASES = {
    "user_id": ("user_id", "user", "userid"),
    "track_id": ("track_id", "track", "song_id", "song", "item_id", "item"),
    "timestamp": ("timestamp", "time", "ts"),
    "audio_path": ("audio_path", "audio"),
}
PLAYLISTS = "playlists.tsv.gz"


class EventSource:
    """Base class: a re-iterable source of event chunks (see the module docstring)."""

    name = "events"
    integer_ids = False

    def __init__(self, block_bytes: int = DEFAULT_BLOCK_BYTES, progress: bool = False):
        self.block_bytes = block_bytes
        self.progress = progress
        self.lines_read = 0
        self.dropped_events = 0

    def chunks(self, log: ErrorLog) -> Iterator[pd.DataFrame]:
        raise NotImplementedError

    def track_names(self, track_ids: np.ndarray, log: ErrorLog) -> dict:
        """Display names of ``track_ids`` where the source knows them (``{}`` otherwise)."""
        return {}


class Lfm1bSource(EventSource):
    """LFM-1b: ``path`` is the ``LFM-1b_LEs.txt`` file or the folder that holds it."""

    name = "lfm1b"
    integer_ids = True

    def __init__(self, path: str | os.PathLike, **kwargs) -> None:
        super().__init__(**kwargs)
        path = Path(path)
        self.events_path = path / LFM1B_EVENTS if path.is_dir() else path
        if not self.events_path.is_file():
            raise DataError(self.events_path, "no such file (the LFM-1b listening events)")

    def chunks(self, log: ErrorLog) -> Iterator[pd.DataFrame]:
        columns = [
            Column("user", "int"),
            Column("artist", "int", keep=False),
            Column("album", "int", keep=False),
            Column("track", "int"),
            Column("timestamp", "unix"),
        ]
        reader = TableReader(
            self.events_path,
            columns,
            log=log,
            block_bytes=self.block_bytes,
            progress=self.progress,
        )
        yield from reader
        self.lines_read = reader.lines_read

    def track_names(self, track_ids: np.ndarray, log: ErrorLog) -> dict:
        folder = self.events_path.parent
        tracks_path, artists_path = folder / LFM1B_TRACKS, folder / LFM1B_ARTISTS
        if not tracks_path.is_file():
            return {}
        wanted = pd.Index(np.asarray(track_ids, dtype=np.int64))
        columns = [Column("track", "int"), Column("name", "opt"), Column("artist", "int")]
        found = [
            chunk[wanted.get_indexer(chunk["track"]) >= 0]
            for chunk in TableReader(tracks_path, columns, log=log, progress=self.progress)
        ]
        tracks = pd.concat(found) if found else pd.DataFrame(columns=["track", "name", "artist"])
        artist_names: dict[int, str] = {}
        if artists_path.is_file():
            artists = pd.Index(tracks["artist"].unique())
            for chunk in TableReader(
                artists_path, [Column("artist", "int"), Column("name", "opt")], log=log
            ):
                hit = chunk[artists.get_indexer(chunk["artist"]) >= 0]
                artist_names.update(zip(hit["artist"], hit["name"], strict=True))
        return {
            int(t): (f"{artist_names[a]} - {n}" if a in artist_names else str(n))
            for t, n, a in zip(tracks["track"], tracks["name"], tracks["artist"], strict=True)
        }


class Lastfm1kSource(EventSource):
    """Last.fm-1K: ``path`` is ``userid-timestamp-artid-artname-traid-traname.tsv`` (or .gz)."""

    name = "lastfm1k"

    def __init__(self, path: str | os.PathLike, **kwargs) -> None:
        super().__init__(**kwargs)
        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(self.path, "no such file (the Last.fm-1K listening log)")

    def chunks(self, log: ErrorLog) -> Iterator[pd.DataFrame]:
        columns = [
            Column("user", "str"),
            Column("timestamp", "iso"),
            Column("artist_mbid", "opt", keep=False),
            Column("artist_name", "opt"),
            Column("track_mbid", "opt"),
            Column("track_name", "opt"),
        ]
        reader = TableReader(
            self.path, columns, log=log, block_bytes=self.block_bytes, progress=self.progress
        )
        self.dropped_events = 0
        for chunk in reader:
            display = chunk["artist_name"] + " - " + chunk["track_name"]
            named = (chunk["artist_name"] != "") | (chunk["track_name"] != "")
            track = chunk["track_mbid"].where(chunk["track_mbid"] != "", display)
            ok = (chunk["track_mbid"] != "") | named
            self.dropped_events += int((~ok).sum())
            yield pd.DataFrame(
                {
                    "user": chunk["user"][ok],
                    "track": track[ok],
                    "timestamp": chunk["timestamp"][ok],
                    "track_name": display[ok],
                }
            )
        self.lines_read = reader.lines_read


class EventsFileSource(EventSource):
    """The generic events file (see the module docstring); ``order_column`` names the column
    that orders the events where it is not a timestamp (integers)."""

    name = "events"
    what = "events file"

    def __init__(self, path: str | os.PathLike, order_column: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.path = Path(path)
        self.order_column = order_column
        if not self.path.is_file():
            raise DataError(self.path, f"no such file (the {self.what})")
        stem = self.path.name[:-3] if self.path.name.endswith(".gz") else self.path.name
        self.sep = "," if stem.endswith(".csv") else "\t"
        self.columns = self._columns()

    def aliases(self) -> dict[str, tuple[str, ...]]:
        """The header names each column may have (``timestamp``: the order column, if any)."""
        if self.order_column is None:
            return _ALIASES
        return {**_ALIASES, "timestamp": (self.order_column.strip().lower(),)}

    def _columns(self) -> list[Column]:
        from coat_tf.data.table import GZIP_ERRORS, damaged_gzip, open_binary

        with open_binary(self.path) as handle:
            try:
                header = handle.readline().decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                raise DataError(self.path, "header is not UTF-8", 1) from None
            except GZIP_ERRORS as error:
                raise damaged_gzip(self.path, error) from None
        if not header:
            raise DataError(self.path, "empty file (expected a header line)", 1)
        names = [name.strip().lower() for name in header.split(self.sep)]
        found = {}
        aliases = self.aliases()
        for canonical, accepted in aliases.items():
            hits = [i for i, name in enumerate(names) if name in accepted and i not in found]
            if hits:
                found[hits[0]] = canonical
        missing = {"user_id", "track_id", "timestamp"} - set(found.values())
        if missing:
            wanted = ", ".join(aliases[c][0] for c in ("user_id", "track_id", "timestamp"))
            optional = "[, audio_path]" if "audio_path" in aliases else ""
            raise DataError(
                self.path,
                f"header {names} lacks column(s) {sorted(aliases[c][0] for c in missing)} "
                f"(expected {wanted}{optional})",
                1,
            )
        order = "time" if self.order_column is None else "int"
        kinds = {"user_id": "str", "track_id": "str", "timestamp": order, "audio_path": "opt"}
        # each column is named as the source names it (``position``), so messages do too
        self.names = {canonical: accepted[0] for canonical, accepted in aliases.items()}
        return [
            Column(self.names[found[i]], kinds[found[i]])
            if i in found
            else Column(f"_{i}", "opt", False)
            for i in range(len(names))
        ]

    def chunks(self, log: ErrorLog) -> Iterator[pd.DataFrame]:
        reader = TableReader(
            self.path,
            self.columns,
            sep=self.sep,
            header=True,
            log=log,
            block_bytes=self.block_bytes,
            progress=self.progress,
        )
        base = self.path.resolve().parent
        for chunk in reader:
            names = self.names
            out = pd.DataFrame(
                {
                    "user": chunk[names["user_id"]],
                    "track": chunk[names["track_id"]],
                    "timestamp": chunk[names["timestamp"]],
                }
            )
            if names.get("audio_path") in chunk:
                paths = chunk[names["audio_path"]]
                out["audio_path"] = [
                    str(base / p) if p and not os.path.isabs(p) else p for p in paths
                ]
            yield out
        self.lines_read = reader.lines_read


class PlaylistsSource(EventsFileSource):
    """The playlists x chords set: ``path`` is its folder (or its ``playlists.tsv.gz``); a
    playlist is a user, ``position`` orders its songs (see the module docstring)."""

    name = "playlists"
    what = "playlists of the playlists x chords set"

    def __init__(self, path: str | os.PathLike, **kwargs) -> None:
        path = Path(path)
        super().__init__(path / PLAYLISTS if path.is_dir() else path, "position", **kwargs)

    def aliases(self) -> dict[str, tuple[str, ...]]:
        return {"user_id": ("playlist",), "track_id": ("song",), "timestamp": ("position",)}


def read_movielens(
    folder: str | os.PathLike, log: ErrorLog | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """MovieLens-1M pre-split: ``(train, test)`` frames of text ``user``, ``item`` columns."""
    folder = Path(folder)
    log = log or ErrorLog()
    frames = []
    for name in ("train.tsv.gz", "test.tsv"):
        path = folder / name
        if not path.is_file() and name.endswith(".gz") and (folder / name[:-3]).is_file():
            path = folder / name[:-3]
        columns = [Column("user", "str"), Column("item", "str")]
        chunks = list(TableReader(path, columns, header=True, log=log))
        if not chunks:
            raise DataError(path, "no user-movie pairs")
        frames.append(pd.concat(chunks, ignore_index=True))
    return frames[0], frames[1]


def demo_events(config=None, cache_root=None, workers: int | None = None) -> Path:
    """The demo data set's ``events.tsv`` (built on first use by :mod:`coat_tf.demo`)."""
    from coat_tf import demo

    folder = demo.get_demo(config or demo.DemoConfig(), cache_root=cache_root, workers=workers)
    return Path(folder) / "events.tsv"
