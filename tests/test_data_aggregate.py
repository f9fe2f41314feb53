"""The streaming aggregation against a direct, whole-table computation of the paper's steps.

The inputs are small and generated: few distinct play counts (many ties at the top-N cut),
events exactly at the date boundary, empty chunks and chunks emptied by the date step, integer
and text ids, and a merge threshold small enough that pairs are merged many times.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from coat_tf.data import interactions
from coat_tf.data.errors import ErrorLog
from coat_tf.data.interactions import PairRuns, PlayCounts, aggregate, select_top
from coat_tf.data.readers import EventSource

SINCE = 1_388_534_400


class FrameSource(EventSource):
    """Event chunks held in memory (re-iterable), as a reader would yield them."""

    def __init__(self, chunks: list[pd.DataFrame], integer_ids: bool) -> None:
        super().__init__()
        self._chunks = chunks
        self.integer_ids = integer_ids
        self.name = "frames"

    def chunks(self, log: ErrorLog) -> Iterator[pd.DataFrame]:
        self.lines_read = 0
        for chunk in self._chunks:
            self.lines_read += len(chunk)
            yield chunk.copy()


def _events(seed: int, n: int, integer_ids: bool) -> list[pd.DataFrame]:
    rng = np.random.default_rng(seed)
    track = rng.integers(0, 40, n) ** 2 % 37  # skewed, many equal play counts
    user = rng.integers(0, 25, n) * 7
    offset = rng.choice([-86_400, -1, 0, 0, 1, 5_000], n)  # at, just before, just after
    frame = pd.DataFrame({"user": user, "track": track, "timestamp": SINCE + offset})
    if not integer_ids:
        frame["user"] = "u" + frame["user"].astype(str)
        frame["track"] = frame["track"].astype(str)  # "10" < "9": text order differs
        frame = frame.astype({"user": object, "track": object})
    cuts = sorted(rng.choice(np.arange(1, n), 6, replace=False).tolist())
    chunks = [frame.iloc[a:b] for a, b in zip([0, *cuts], [*cuts, n], strict=True)]
    old = frame.iloc[:30].assign(timestamp=SINCE - 10)  # a chunk emptied by the date step
    return [frame.iloc[:0], chunks[0], old, frame.iloc[:0], *chunks[1:], frame.iloc[:0]]


def _reference(chunks: list[pd.DataFrame], since: int | None, top: int | None, integer: bool):
    """The steps on the whole table; rows in the streaming order (user code, song code)."""
    events = pd.concat(chunks, ignore_index=True)
    if since is not None:
        events = events[events["timestamp"] >= since]
    plays = events.groupby("track", sort=False).size()
    if top is None:  # codes: integer ids themselves, text ids by first appearance
        rank = {t: (t if integer else i) for i, t in enumerate(pd.unique(events["track"]))}
    else:
        ordered = sorted(plays.items(), key=lambda item: (-item[1], item[0]))[:top]
        rank = {t: i for i, (t, _) in enumerate(ordered)}
    kept = events[events["track"].isin(list(rank))]
    users = pd.unique(kept["user"])
    user_code = {u: (u if integer else i) for i, u in enumerate(users)}
    pairs = (
        kept.groupby(["user", "track"], sort=False)["timestamp"]
        .agg(play_count="size", first_timestamp="min", last_timestamp="max")
        .reset_index()
    )
    pairs["order"] = [
        (user_code[u], rank[t]) for u, t in zip(pairs["user"], pairs["track"], strict=True)
    ]
    pairs = pairs.sort_values("order").reset_index(drop=True)
    expected = pd.DataFrame(
        {
            "user": pairs["user"].astype(str).astype(object),
            "song": pairs["track"].astype(str).astype(object),
            "play_count": pairs["play_count"].astype(np.int64),
            "first_timestamp": pairs["first_timestamp"].astype(np.int64),
            "last_timestamp": pairs["last_timestamp"].astype(np.int64),
        }
    )
    stats = {
        "events": sum(len(c) for c in chunks),
        "events_since": len(events),
        "tracks_since": int(events["track"].nunique()),
        "plays_top_tracks": int(kept.shape[0]),
    }
    return expected, stats


@pytest.mark.parametrize("integer_ids", [True, False])
@pytest.mark.parametrize("since, top", [(SINCE, 5), (SINCE, 12), (None, 3), (SINCE, None)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_streaming_equals_whole_table(monkeypatch, seed, since, top, integer_ids):
    monkeypatch.setattr(interactions, "_MERGE_ROWS", 16)
    chunks = _events(seed, 900, integer_ids)
    result = aggregate(FrameSource(chunks, integer_ids), ErrorLog(), since, top)
    expected, stats = _reference(chunks, since, top, integer_ids)
    got = result.interactions
    assert got["user"].tolist() == expected["user"].tolist()
    assert got["song"].tolist() == expected["song"].tolist()
    for column in ("play_count", "first_timestamp", "last_timestamp"):
        assert got[column].dtype == np.int64
        assert got[column].tolist() == expected[column].tolist(), column
    got_stats = dataclasses.asdict(result.stats)
    assert {k: got_stats[k] for k in stats} == stats
    assert got_stats["lines"] == stats["events"]


def test_ties_at_the_cut_go_to_the_smaller_id():
    # tracks 9 and 10 both have 2 plays and compete for the last place
    rows = [(1, 10, SINCE), (2, 10, SINCE), (1, 9, SINCE), (2, 9, SINCE + 1), (1, 5, SINCE)]
    rows += [(3, 5, SINCE), (3, 5, SINCE - 1)]  # the last is before the boundary
    frame = pd.DataFrame(rows, columns=["user", "track", "timestamp"])
    numeric = aggregate(FrameSource([frame], True), ErrorLog(), SINCE, 2)
    assert sorted(set(numeric.interactions["song"])) == ["5", "9"]
    text = frame.astype({"user": str, "track": str}).astype(object)
    textual = aggregate(FrameSource([text], False), ErrorLog(), SINCE, 2)
    assert sorted(set(textual.interactions["song"])) == ["10", "5"]  # "10" < "9" as text


def test_nothing_since_the_date_gives_an_empty_table():
    frame = pd.DataFrame({"user": [1, 2], "track": [3, 4], "timestamp": [SINCE - 5, SINCE - 1]})
    result = aggregate(FrameSource([frame, frame.iloc[:0]], True), ErrorLog(), SINCE, 10)
    assert len(result.interactions) == 0
    assert list(result.interactions.columns) == [
        "user",
        "song",
        "play_count",
        "first_timestamp",
        "last_timestamp",
    ]
    assert result.stats.events == 2 and result.stats.events_since == 0


def test_pair_runs_match_groupby():
    rng = np.random.default_rng(3)
    keys = rng.integers(0, 50, 2_000)
    stamps = rng.integers(0, 10**9, 2_000)
    runs = PairRuns(merge_rows=10)
    for start in range(0, 2_000, 37):
        runs.add(keys[start : start + 37], stamps[start : start + 37])
    runs.add(keys[:0], stamps[:0])
    got_keys, plays, first, last = runs.result()
    expected = pd.DataFrame({"k": keys, "t": stamps}).groupby("k")["t"].agg(["size", "min", "max"])
    assert got_keys.tolist() == expected.index.tolist()
    assert plays.tolist() == expected["size"].tolist()
    assert first.tolist() == expected["min"].tolist()
    assert last.tolist() == expected["max"].tolist()
    assert all(len(column) == 0 for column in PairRuns().result())


def test_play_counts_grow():
    counts = PlayCounts()
    counts.add(np.array([3, 3, 1]))
    counts.add(np.zeros(0, dtype=np.int64))
    counts.add(np.array([1000, 3]))
    assert counts.counts[[0, 1, 3, 1000]].tolist() == [0, 1, 3, 1]
    assert len(counts.counts) == 1001 and counts.counts.sum() == 5
    seen = counts.counts
    counts.add(np.array([5000, 1]))  # grows by copying: the view handed out stays valid
    assert seen[[1, 3]].tolist() == [1, 3] and len(seen) == 1001
    assert counts.counts[[1, 5000]].tolist() == [2, 1]


def test_select_top_id_forms_agree():
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 4, 200)
    for n in (None, 1, 17, 150, 500):
        by_list = select_top(counts, list(range(200)), n)
        assert by_list.tolist() == select_top(counts, np.arange(200), n).tolist()
        assert by_list.tolist() == select_top(counts, None, n).tolist()
