"""From a stream of listening events to interactions, in bounded memory.

An interaction is a distinct (user, song) pair; it keeps its play count (events of the pair)
and its first and last timestamps. The paper's first two filtering steps act on events:

1. keep events with ``timestamp >= since`` (default 2014-01-01, Unix 1388534400);
2. keep the ``top_songs`` most played tracks (plays counted over the events of step 1). Ties
   at the cut are broken by track id: numerically for integer ids, by text otherwise.

With ``top_songs`` set the source is read twice: pass 1 counts plays per track (one counter
per distinct track), pass 2 aggregates the (user, track) pairs of the selected tracks only, so
memory is bounded by the number of distinct tracks plus the kept pairs, never by the events.
Pairs are aggregated per chunk and the partial aggregates merged when they grow large.
"""

from __future__ import annotations

from collections.abc import Iterable
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

    def encode(self, values: pd.Series, add: bool = True) -> np.ndarray:
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


def select_top(counts: np.ndarray, ids: list, n: int | None) -> np.ndarray:
    """Indices of the ``n`` largest ``counts`` (zeros never chosen), ties by ``ids`` ascending.

    The result is ordered by count descending, then id ascending.
    """
    candidates = np.flatnonzero(counts > 0)
    if n is not None and len(candidates) > n:
        threshold = np.partition(counts[candidates], len(candidates) - n)[len(candidates) - n]
        candidates = candidates[counts[candidates] >= threshold]
    keys = [ids[i] for i in candidates]
    order = np.lexsort((np.argsort(np.argsort(np.array(keys), kind="stable")), -counts[candidates]))
    chosen = candidates[order]
    return chosen if n is None else chosen[:n]


def _since_mask(chunk: pd.DataFrame, since: int | None) -> np.ndarray | slice:
    if since is None:
        return slice(None)
    return chunk["timestamp"].to_numpy() >= since


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
        counts = np.zeros(0, dtype=np.int64)
        for chunk in source.chunks(log):
            stats.events += len(chunk)
            chunk = chunk[_since_mask(chunk, since)]
            stats.events_since += len(chunk)
            codes = tracks.encode(chunk["track"])
            if not len(codes):
                continue
            if codes.max() >= len(counts):
                counts = np.concatenate([counts, np.zeros(codes.max() + 1 - len(counts), np.int64)])
            vc = pd.Series(codes).value_counts(sort=False)
            counts[vc.index.to_numpy()] += vc.to_numpy()
        stats.lines = source.lines_read
        stats.dropped_events = source.dropped_events
        stats.tracks_since = int((counts > 0).sum())
        ids = np.arange(len(counts)) if tracks.integer else tracks.decode(range(len(counts)))
        selected = select_top(counts, list(ids), top_songs)
        stats.plays_top_tracks = int(counts[selected].sum())
        rank_of = np.full(len(counts), -1, dtype=np.int64)
        rank_of[selected] = np.arange(len(selected))
        del counts

    parts: list[pd.DataFrame] = []
    base_rows = pending = 0
    audio: dict[int, str] = {}
    names: dict[int, str] = {}
    first_pass = rank_of is None
    # Bad lines were reported in pass 1; pass 2 skips them silently so none is counted twice.
    for chunk in source.chunks(log if first_pass else ErrorLog("skip")):
        if first_pass:
            stats.events += len(chunk)
        chunk = chunk[_since_mask(chunk, since)]
        if first_pass:
            stats.events_since += len(chunk)
        codes = tracks.encode(chunk["track"], add=first_pass)
        if rank_of is not None:
            valid = (codes >= 0) & (codes < len(rank_of))
            ranks = np.full(len(codes), -1, dtype=np.int64)
            ranks[valid] = rank_of[codes[valid]]
            keep = ranks >= 0
            chunk, codes = chunk[keep], ranks[keep]
        if not len(chunk):
            continue
        user_codes = users.encode(chunk["user"])
        if user_codes.max() >= _CODE_LIMIT or codes.max() >= _CODE_LIMIT:
            raise DataError(None, "more than 2**31 distinct users or tracks")
        frame = pd.DataFrame(
            {
                "key": (user_codes << 32) | codes,
                "play_count": np.ones(len(chunk), dtype=np.int64),
                "first_timestamp": chunk["timestamp"].to_numpy(),
                "last_timestamp": chunk["timestamp"].to_numpy(),
            }
        )
        parts.append(_merge([frame]))
        pending += len(parts[-1])
        for column, store in (("audio_path", audio), ("track_name", names)):
            if column in chunk:
                firsts = pd.DataFrame({"t": codes, "v": chunk[column].to_numpy()})
                firsts = firsts[firsts["v"] != ""].drop_duplicates("t")
                for t, v in zip(firsts["t"], firsts["v"], strict=True):
                    store.setdefault(int(t), v)
        # Merge when the unmerged parts outgrow the merged base: amortised O(n log n).
        if pending > max(_MERGE_ROWS, base_rows) and len(parts) > 1:
            parts = [_merge(parts)]
            base_rows, pending = len(parts[0]), 0
    if first_pass:
        stats.lines = source.lines_read
        stats.dropped_events = source.dropped_events
    merged = _merge(parts) if parts else _merge([_empty()])
    user_codes = (merged["key"].to_numpy() >> 32).astype(np.int64)
    song_codes = (merged["key"].to_numpy() & 0xFFFFFFFF).astype(np.int64)
    track_codes = selected[song_codes] if selected is not None else song_codes
    if first_pass:
        stats.tracks_since = int(len(np.unique(track_codes)))
        stats.plays_top_tracks = int(merged["play_count"].sum())
    song_ids = np.asarray(tracks.decode(track_codes), dtype=object)
    interactions = pd.DataFrame(
        {
            "user": np.asarray(users.decode(user_codes), dtype=object),
            "song": song_ids,
            "play_count": merged["play_count"].to_numpy(),
            "first_timestamp": merged["first_timestamp"].to_numpy(),
            "last_timestamp": merged["last_timestamp"].to_numpy(),
        }
    )

    def by_id(store: dict[int, str]) -> dict[str, str]:
        codes = [selected[c] if selected is not None else c for c in store]
        return dict(zip(tracks.decode(codes), store.values(), strict=True))

    names_out = by_id(names)
    if not names and source.integer_ids and len(interactions):
        wanted = selected if selected is not None else np.unique(track_codes)
        names_out = {str(k): v for k, v in source.track_names(wanted, log).items()}
    return Aggregated(interactions, by_id(audio), names_out, stats)


def _empty() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "key": np.zeros(0, np.int64),
            "play_count": np.zeros(0, np.int64),
            "first_timestamp": np.zeros(0, np.int64),
            "last_timestamp": np.zeros(0, np.int64),
        }
    )


def _merge(parts: list[pd.DataFrame]) -> pd.DataFrame:
    frame = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
    grouped = frame.groupby("key", sort=True).agg(
        play_count=("play_count", "sum"),
        first_timestamp=("first_timestamp", "min"),
        last_timestamp=("last_timestamp", "max"),
    )
    return grouped.reset_index()
