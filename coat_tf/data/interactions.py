"""From a stream of listening events to interactions, in bounded memory.

An interaction is a distinct (user, song) pair; it keeps its play count (events of the pair)
and its first and last timestamps. The paper's first two filtering steps act on events:

1. keep events with ``timestamp >= since`` (default 2014-01-01, Unix 1388534400);
2. keep the ``top_songs`` most played tracks (plays counted over the events of step 1). Ties
   at the cut are broken by track id: numerically for integer ids, by text otherwise.

With ``top_songs`` set the source is read twice: pass 1 counts plays per track, pass 2
aggregates the (user, track) pairs of the selected tracks only. Memory is bounded by the
number of distinct tracks plus the kept pairs, never by the events:

- play counts are one int64 array indexed by track code (integer ids are their own code, so
  LFM-1b's 32 million track ids take 256 MiB); the top tracks are chosen with array operations;
- pairs are kept as sorted runs of four int64 arrays (key ``user << 32 | song``, play count,
  first and last timestamp), 32 bytes a pair. Each chunk's events become one run; runs are
  merged (a stable sort, which finds the presorted runs, then a segmented reduction, one
  column at a time) when the unmerged runs outgrow the merged one;
- the id columns of the result share one string object per distinct id.

Rows come out sorted by user code, then song code (song rank where ``top_songs`` is set).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from coat_tf.data.errors import DataError, ErrorLog
from coat_tf.data.readers import EventSource

_MERGE_ROWS = 4_000_000
_CODE_LIMIT = 1 << 31


class IdCoder:
    """Maps ids to dense non-negative int64 codes; integer ids are their own code."""

    def __init__(self, integer: bool) -> None:
        self.integer = integer
        self._codes: dict = {}
        self._ids: list = []

    def __len__(self) -> int:
        return len(self._ids)

    def encode(self, values: pd.Series | np.ndarray, add: bool = True) -> np.ndarray:
        """Codes of ``values``; unknown ids get new codes (``add``) or ``-1``."""
        if self.integer:
            codes = np.asarray(values, dtype=np.int64)
            if len(codes) and (codes.min() < 0 or codes.max() >= _CODE_LIMIT):
                raise DataError(None, f"integer ids must lie in [0, 2**31), got {codes.max()}")
            return codes
        positions, uniques = pd.factorize(values)
        mapped = np.empty(len(uniques), dtype=np.int64)
        for i, value in enumerate(uniques):
            code = self._codes.get(value, -1)
            if code < 0 and add:
                code = self._codes[value] = len(self._ids)
                self._ids.append(value)
            mapped[i] = code
        return mapped[positions]

    def decode(self, codes: Iterable[int]) -> list[str]:
        if self.integer:
            return np.asarray(codes, dtype=np.int64).astype(str).astype(object).tolist()
        return [str(self._ids[c]) for c in codes]

    def column(self, codes: np.ndarray) -> np.ndarray:
        """``decode(codes)`` as an object array in which equal ids share one string."""
        distinct, inverse = np.unique(codes, return_inverse=True)
        return np.asarray(self.decode(distinct), dtype=object)[inverse.reshape(-1)]


@dataclass
class StreamStats:
    """What the streaming steps saw (all counts are of events unless named otherwise)."""

    lines: int = 0
    events: int = 0
    events_since: int = 0
    tracks_since: int = 0
    plays_top_tracks: int = 0
    dropped_events: int = 0
    extra: dict = field(default_factory=dict)


@dataclass
class Aggregated:
    """Interactions (text ids) with per-track metadata where the source had it."""

    interactions: pd.DataFrame  # user, song, play_count, first_timestamp, last_timestamp
    audio_paths: dict[str, str]
    track_names: dict[str, str]
    stats: StreamStats


def select_top(counts: np.ndarray, ids: Sequence | np.ndarray | None, n: int | None) -> np.ndarray:
    """Indices of the ``n`` largest ``counts`` (zeros never chosen), ties by ``ids`` ascending.

    ``ids`` holds one distinct id per index (``None``: the ids are the indices). The result is
    ordered by count descending, then id ascending.
    """
    candidates = np.flatnonzero(counts > 0)
    if n is not None and len(candidates) > n:
        chosen = counts[candidates]
        threshold = np.partition(chosen, len(candidates) - n)[len(candidates) - n]
        candidates = candidates[chosen >= threshold]
    if ids is None:
        keys = candidates
    elif isinstance(ids, np.ndarray):
        keys = ids[candidates]
    else:
        keys = np.array([ids[i] for i in candidates])
    id_rank = np.argsort(np.argsort(keys, kind="stable"), kind="stable")
    chosen = candidates[np.lexsort((id_rank, -counts[candidates]))]
    return chosen if n is None else chosen[:n]


class PlayCounts:
    """Plays per track code in one int64 array that grows as larger codes arrive.

    Until :attr:`counts` is first read, the array grows in place (``ndarray.resize``: a
    ``realloc``, which moves pages rather than copying them), so growing never holds the old
    and the new array at once; after that it grows by copying, so the view handed out stays
    valid.
    """

    def __init__(self) -> None:
        self._counts = np.zeros(0, dtype=np.int64)
        self._shared = False
        self.size = 0

    def add(self, codes: np.ndarray) -> None:
        if not len(codes):
            return
        top = int(codes.max()) + 1
        if top > len(self._counts):
            capacity = max(top, len(self._counts) + len(self._counts) // 4)
            if self._shared:
                grown = np.zeros(capacity, dtype=np.int64)
                grown[: self.size] = self._counts[: self.size]
                self._counts, self._shared = grown, False
            else:  # no view of the array exists: nothing can see its memory move
                self._counts.resize(capacity, refcheck=False)
        self.size = max(self.size, top)
        distinct, plays = np.unique(codes, return_counts=True)
        self._counts[distinct] += plays

    @property
    def counts(self) -> np.ndarray:
        self._shared = True
        return self._counts[: self.size]


class PairRuns:
    """Per-pair play count and first/last timestamp, as sorted runs merged in bounded memory.

    ``add`` takes one chunk of events (int64 pair keys and timestamps); ``result`` gives the
    aggregate sorted by key.
    """

    def __init__(self, merge_rows: int = _MERGE_ROWS) -> None:
        self.merge_rows = merge_rows
        self._runs: list[list] = []
        self._base_rows = 0
        self._pending = 0

    def add(self, keys: np.ndarray, timestamps: np.ndarray) -> None:
        if not len(keys):
            return
        ones = np.ones(len(keys), dtype=np.int64)
        self._runs.append(_reduce([[keys, ones, timestamps, timestamps]]))
        self._pending += len(self._runs[-1][0])
        # Merge when the unmerged runs outgrow the merged base: amortised O(n log n).
        if self._pending > max(self.merge_rows, self._base_rows) and len(self._runs) > 1:
            runs, self._runs = self._runs, []
            self._runs = [_reduce(runs)]
            self._base_rows, self._pending = len(self._runs[0][0]), 0

    def result(self) -> list[np.ndarray]:
        """``[keys, play counts, first timestamps, last timestamps]``; the runs are consumed."""
        runs, self._runs = self._runs, []
        self._base_rows = self._pending = 0
        if not runs:
            return [np.zeros(0, dtype=np.int64) for _ in range(4)]
        return runs[0] if len(runs) == 1 else _reduce(runs)


def _reduce(runs: list[list]) -> list[np.ndarray]:
    """Merge runs ``[keys, plays, first, last]``: rows with equal keys summed (plays), min-ed
    (first) and max-ed (last), sorted by key. Each input column is released once read."""
    keys = _take_column(runs, 0)
    order = np.argsort(keys, kind="stable")  # timsort: near linear on presorted runs
    keys = keys[order]
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    out = [keys[starts]]
    del keys
    for i, ufunc in ((1, np.add), (2, np.minimum), (3, np.maximum)):
        out.append(ufunc.reduceat(_take_column(runs, i)[order], starts))
    return out


def _take_column(runs: list[list], i: int) -> np.ndarray:
    column = runs[0][i] if len(runs) == 1 else np.concatenate([run[i] for run in runs])
    for run in runs:
        run[i] = None
    return column


def _since_mask(timestamps: np.ndarray, since: int | None) -> np.ndarray | slice:
    return slice(None) if since is None else timestamps >= since


def _count_plays(
    source: EventSource, log: ErrorLog, since: int | None, tracks: IdCoder, stats: StreamStats
) -> np.ndarray:
    """Pass 1: plays per track code over the events since ``since``."""
    plays = PlayCounts()
    for chunk in source.chunks(log):
        stats.events += len(chunk)
        keep = _since_mask(chunk["timestamp"].to_numpy(), since)
        codes = tracks.encode(chunk["track"].to_numpy()[keep])
        stats.events_since += len(codes)
        plays.add(codes)
    stats.lines = source.lines_read
    stats.dropped_events = source.dropped_events
    return plays.counts


def aggregate(
    source: EventSource, log: ErrorLog, since: int | None, top_songs: int | None
) -> Aggregated:
    """Apply the date and top-tracks steps to ``source`` and aggregate pairs (see module doc)."""
    stats = StreamStats()
    tracks = IdCoder(source.integer_ids)
    users = IdCoder(source.integer_ids)
    rank_of: np.ndarray | None = None
    selected: np.ndarray | None = None
    if top_songs is not None:
        counts = _count_plays(source, log, since, tracks, stats)
        stats.tracks_since = int(np.count_nonzero(counts))
        ids = None if tracks.integer else tracks.decode(range(len(counts)))
        selected = select_top(counts, ids, top_songs)
        stats.plays_top_tracks = int(counts[selected].sum())
        del counts, ids
        rank_of = np.full(int(selected.max()) + 1 if len(selected) else 0, -1, dtype=np.int32)
        rank_of[selected] = np.arange(len(selected), dtype=np.int32)

    pairs = PairRuns(_MERGE_ROWS)
    audio: dict[int, str] = {}
    names: dict[int, str] = {}
    first_pass = rank_of is None
    # Bad lines were reported in pass 1; pass 2 skips them silently so none is counted twice.
    for chunk in source.chunks(log if first_pass else ErrorLog("skip")):
        timestamps = chunk["timestamp"].to_numpy()
        rows = np.arange(len(chunk))[_since_mask(timestamps, since)]
        if first_pass:
            stats.events += len(chunk)
            stats.events_since += len(rows)
        codes = tracks.encode(chunk["track"].to_numpy()[rows], add=first_pass)
        if rank_of is not None:
            valid = (codes >= 0) & (codes < len(rank_of))
            ranks = np.full(len(codes), -1, dtype=np.int64)
            ranks[valid] = rank_of[codes[valid]]
            kept = ranks >= 0
            rows, codes = rows[kept], ranks[kept]
        if not len(rows):
            continue
        user_codes = users.encode(chunk["user"].to_numpy()[rows])
        if user_codes.max() >= _CODE_LIMIT or codes.max() >= _CODE_LIMIT:
            raise DataError(None, "more than 2**31 distinct users or tracks")
        pairs.add((user_codes << 32) | codes, timestamps[rows])
        for column, store in (("audio_path", audio), ("track_name", names)):
            if column in chunk:
                firsts = pd.DataFrame({"t": codes, "v": chunk[column].to_numpy()[rows]})
                firsts = firsts[firsts["v"] != ""].drop_duplicates("t")
                for t, v in zip(firsts["t"], firsts["v"], strict=True):
                    store.setdefault(int(t), v)
    if first_pass:
        stats.lines = source.lines_read
        stats.dropped_events = source.dropped_events
    keys, plays, first, last = pairs.result()
    del pairs
    song_codes = keys & 0xFFFFFFFF
    track_codes = selected[song_codes] if selected is not None else song_codes
    if first_pass:
        stats.tracks_since = int(len(np.unique(track_codes)))
        stats.plays_top_tracks = int(plays.sum())
    interactions = pd.DataFrame(
        {
            "user": users.column(keys >> 32),
            "song": tracks.column(track_codes),
            "play_count": plays,
            "first_timestamp": first,
            "last_timestamp": last,
        }
    )
    del keys, song_codes

    def by_id(store: dict[int, str]) -> dict[str, str]:
        codes = [selected[c] if selected is not None else c for c in store]
        return dict(zip(tracks.decode(codes), store.values(), strict=True))

    names_out = by_id(names)
    if not names and source.integer_ids and len(interactions):
        wanted = selected if selected is not None else np.unique(track_codes)
        names_out = {str(k): v for k, v in source.track_names(wanted, log).items()}
    return Aggregated(interactions, by_id(audio), names_out, stats)
