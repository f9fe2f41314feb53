"""The paper's filtering as configurable steps, and its statistics.

COAT (on LFM-1b) keeps events from 2014-01-01 on, then the 10,000 most played songs, then the
users with at least 10 interactions (distinct user-song pairs), giving 30,753 users, 10,000
songs, 1,533,245 interactions and a sparsity of 99.50%. The first two steps act on the event
stream (:mod:`coat_tf.data.interactions`); the steps here act on the interaction table
(columns ``user, song, play_count, first_timestamp, last_timestamp``).

The user step is applied once, not repeated to a fixed point: a song may lose listeners (and a
song whose listeners all left disappears and is counted).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import pandas as pd


@dataclass(frozen=True)
class FilterConfig:
    """The filtering steps; ``None`` turns a step off.

    Attributes:
        since: keep events on or after this date (``YYYY-MM-DD``, UTC midnight).
        top_songs: keep the N most played songs (plays counted after the date step).
        min_user_interactions: keep users with at least M distinct songs after the song step.
    """

    since: str | None = "2014-01-01"
    top_songs: int | None = 10_000
    min_user_interactions: int | None = 10

    def __post_init__(self) -> None:
        if self.since is not None:
            since_timestamp(self.since)
        for name in ("top_songs", "min_user_interactions"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer or None, got {value!r}")

    @property
    def since_unix(self) -> int | None:
        return None if self.since is None else since_timestamp(self.since)


def since_timestamp(text: str) -> int:
    """Unix seconds of UTC midnight on ``text`` (``YYYY-MM-DD``); 2014-01-01 is 1388534400."""
    try:
        day = date.fromisoformat(text)
    except (TypeError, ValueError):
        raise ValueError(f"since must be a date YYYY-MM-DD, got {text!r}") from None
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def filter_min_user_interactions(interactions: pd.DataFrame, minimum: int | None) -> pd.DataFrame:
    """Keep the users with at least ``minimum`` interactions (rows)."""
    if minimum is None:
        return interactions
    sizes = interactions.groupby("user")["song"].transform("size")
    return interactions[sizes >= minimum].reset_index(drop=True)


def drop_songs(interactions: pd.DataFrame, songs: set[str]) -> pd.DataFrame:
    """Remove every interaction with a song in ``songs``."""
    if not songs:
        return interactions
    return interactions[~interactions["song"].isin(songs)].reset_index(drop=True)


def interaction_stats(interactions: pd.DataFrame) -> dict[str, float | int]:
    """The paper's statistics: users, songs, interactions, sparsity (``1 - I / (U * S)``).

    Also the plays (events) the interactions stand for.
    """
    users = int(interactions["user"].nunique())
    songs = int(interactions["song"].nunique())
    count = len(interactions)
    cells = users * songs
    return {
        "users": users,
        "songs": songs,
        "interactions": count,
        "plays": int(interactions["play_count"].sum()) if count else 0,
        "sparsity": round(1.0 - count / cells, 6) if cells else 1.0,
    }


def format_stats(stats: dict, title: str = "") -> str:
    """One human line in the paper's terms, e.g. ``30,753 users, 10,000 songs, ...``."""
    line = (
        f"{stats['users']:,} users, {stats['songs']:,} songs, "
        f"{stats['interactions']:,} interactions, sparsity {100 * stats['sparsity']:.2f}%"
    )
    return f"{title}: {line}" if title else line
