"""The settings of a prepared data set (:class:`PrepareConfig`) and the sources it reads.

Kept apart from :mod:`coat_tf.data.prepare` so that the manifest, which names the ``prepare``
command that rebuilds a folder, can read them without importing the whole preparation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from coat_tf.chords.key import CHORD_KEYS
from coat_tf.data import filtering, records
from coat_tf.data.errors import ON_ERROR

SOURCES = ("lfm1b", "lastfm1k", "events", "movielens", "ncf", "demo", "playlists")
SONGS_WITHOUT_CHORDS = ("keep", "drop")
#: How ``prepare --new-songs`` chooses the new songs (:mod:`coat_tf.data.new_songs`).
NEW_SONGS_BY = ("time", "random")

#: The ``prepare`` options, by the :class:`PrepareConfig` field (or ``prepare`` argument) they
#: set.
OPTION_FLAGS = {
    "input": "--input",
    "since": "--since",
    "top_songs": "--top-songs",
    "min_user_interactions": "--min-user-interactions",
    "eval_negatives": "--eval-negatives",
    "seed": "--seed",
    "songs_without_chords": "--songs-without-chords",
    "chord_vocabulary": "--chord-vocabulary",
    "num_shards": "--shards",
    "compression": "--compression",
    "on_error": "--on-error",
    "mfcc": "--mfcc",
    "validation_in_train": "--validation-in-train",
    "workers": "--workers",
    "cache_dir": "--cache-dir",
    "chord_key": "--chord-key",
    "order_column": "--order-column",
    "chords": "--chords",
    "new_songs": "--new-songs",
    "new_songs_by": "--new-songs-by",
}
_NO_AUDIO = "it has no audio, so no chords or MFCCs"
_AUDIO_OPTIONS = (
    "songs_without_chords",
    "chord_vocabulary",
    "chord_key",
    "mfcc",
    "workers",
    "cache_dir",
)
_SHEETS = "its chords come from the chord sheets of songs.tsv.gz, it has no audio"
#: The options only the generic events file uses.
_EVENTS_ONLY = {
    "order_column": "its files say what orders the events",
    "chords": "its chords come with the source",
}
#: The options each source does not use, with the reason; given, they are refused rather than
#: silently ignored. Every other option applies to every source.
NOT_USED: dict[str, dict[str, str]] = {
    "lfm1b": {**dict.fromkeys(_AUDIO_OPTIONS, _NO_AUDIO), **_EVENTS_ONLY},
    "lastfm1k": {**dict.fromkeys(_AUDIO_OPTIONS, _NO_AUDIO), **_EVENTS_ONLY},
    "events": {},
    "movielens": {
        "since": "it has no timestamps",
        **dict.fromkeys(_AUDIO_OPTIONS, _NO_AUDIO),
        **_EVENTS_ONLY,
    },
    "ncf": {
        "since": "its files are filtered and split already",
        "top_songs": "its files are filtered already",
        "new_songs": "its files give the test negatives, which would hold new songs",
        "new_songs_by": "its files give the test negatives, which would hold new songs",
        **dict.fromkeys(_AUDIO_OPTIONS, _NO_AUDIO),
        **_EVENTS_ONLY,
    },
    "demo": {"input": "the demo data set is generated", **_EVENTS_ONLY},
    "playlists": {
        "since": "it has no timestamps: a playlist's positions order its songs",
        **dict.fromkeys(("mfcc", "workers", "cache_dir"), _SHEETS),
        "order_column": "its songs are ordered by the position column",
        "chords": _SHEETS,
    },
}
#: Options that exclude each other, for every source, with the reason.
EXCLUSIVE = {("order_column", "since"): "the order column holds no times"}
#: The sources whose order is not a global time, with the reason: ``--new-songs-by time``
#: (the songs first heard latest) does not apply to them.
UNTIMED = {
    "playlists": "a playlist's positions order its songs, not a time",
    "movielens": "it has no timestamps",
}


def untimed_reason(source: str, order_column: str | None) -> str | None:
    """Why ``source`` (with ``order_column``) holds no global time, or ``None`` where its
    events are timed. The NCF format takes no new songs."""
    if source in UNTIMED:
        return UNTIMED[source]
    if order_column is not None:
        return f"its order column {order_column!r} holds no times"
    return None


def refuse_new_songs_by_time(source: str, why: str) -> ValueError:
    """The error for ``--new-songs-by time`` on a source whose order is not a time."""
    return ValueError(
        f"--new-songs-by time does not apply to --source {source} ({why}): the new songs "
        "cannot be the songs first heard latest; use --new-songs-by random"
    )


def check_options(source: str, given: Iterable[str]) -> None:
    """Refuse the options in ``given`` (field names, see :data:`OPTION_FLAGS`) that ``source``
    does not use (:data:`NOT_USED`), or that exclude each other (:data:`EXCLUSIVE`).

    Raises:
        ValueError: ``"--since does not apply to --source movielens (it has no timestamps)"``.
    """
    unused = NOT_USED.get(source, {})
    given = list(given)
    for name in given:
        if name in unused:
            raise ValueError(
                f"{OPTION_FLAGS[name]} does not apply to --source {source} ({unused[name]})"
            )
    for (first, second), why in EXCLUSIVE.items():
        if first in given and second in given:
            raise ValueError(
                f"{OPTION_FLAGS[second]} does not apply with {OPTION_FLAGS[first]} ({why})"
            )


@dataclass(frozen=True)
class PrepareConfig:
    """Every setting that shapes a prepared data set (all written to the manifest).

    Attributes:
        since, top_songs, min_user_interactions: the filtering steps
            (:class:`~coat_tf.data.filtering.FilterConfig`); ``None`` turns a step off.
        eval_negatives: sampled negatives per user for validation and test (paper: 99);
            ``None`` for the NCF format: the number its ``.test.negative`` file holds.
        seed: seeds the candidates (and MovieLens' validation items).
        songs_without_chords: ``"keep"`` (all-``N`` sequence, flagged) or ``"drop"``.
        chord_vocabulary: ``"majmin"`` or ``"full"``.
        chord_key: ``"absolute"`` (chords as they sound, the paper's) or ``"relative"`` (each
            song moved to a common tonic before the vocabulary, see
            :func:`coat_tf.chords.sequence.keyed_segments`).
        order_column: for ``events``, the column that orders each user's events where it is
            not a timestamp (e.g. ``position``); ``None``: the ``timestamp`` column. With it
            the date step does not apply.
        new_songs: the fraction (0 < f < 1) of the songs held out of the catalogue as new
            songs, for evaluating the ranking of songs nobody trained on
            (:mod:`coat_tf.data.new_songs`); ``None``: none.
        new_songs_by: ``"time"`` (the songs first heard latest) or ``"random"`` (seeded);
            ``time`` needs a source ordered by time.
        sequence_length: chord ids per song (paper: 100).
        num_shards, compression: TFRecord shards and ``""`` or ``"GZIP"``.
        on_error: ``"raise"`` at the first bad line, or ``"skip"`` and count.
        mfcc: also compute MFCC excerpts for songs with audio.
        validation_in_train: keep each user's validation interaction in training too, as NCF's
            code trains on everything but the test item. The validation figures are then on a
            training item and choose the epoch on training data: a named variant for
            measuring what holding the validation item out costs, not for choosing settings
            (the tuner refuses such a data set).
    """

    since: str | None = "2014-01-01"
    top_songs: int | None = 10_000
    min_user_interactions: int | None = 10
    eval_negatives: int | None = 99
    seed: int = 0
    songs_without_chords: str = "keep"
    chord_vocabulary: str = "majmin"
    chord_key: str = "absolute"
    order_column: str | None = None
    sequence_length: int = 100
    num_shards: int = 4
    compression: str = ""
    on_error: str = "raise"
    mfcc: bool = False
    validation_in_train: bool = False
    new_songs: float | None = None
    new_songs_by: str = "time"

    def __post_init__(self) -> None:
        filtering.FilterConfig(self.since, self.top_songs, self.min_user_interactions)
        rules = (
            (
                "eval_negatives",
                self.eval_negatives is None or _positive(self.eval_negatives),
                "a positive integer, or None (the number the NCF files give)",
            ),
            ("seed", _integer(self.seed) and self.seed >= 0, "a non-negative integer"),
            ("sequence_length", _positive(self.sequence_length), "a positive integer"),
            ("num_shards", _positive(self.num_shards), "a positive integer"),
            (
                "songs_without_chords",
                self.songs_without_chords in SONGS_WITHOUT_CHORDS,
                f"one of {SONGS_WITHOUT_CHORDS}",
            ),
            ("chord_vocabulary", self.chord_vocabulary in ("majmin", "full"), "majmin or full"),
            ("chord_key", self.chord_key in CHORD_KEYS, " or ".join(CHORD_KEYS)),
            (
                "order_column",
                self.order_column is None
                or (isinstance(self.order_column, str) and self.order_column.strip() != ""),
                "a column name, or None (the timestamp column)",
            ),
            ("compression", self.compression in records.COMPRESSIONS, "'' or 'GZIP'"),
            ("on_error", self.on_error in ON_ERROR, f"one of {ON_ERROR}"),
            (
                "new_songs",
                self.new_songs is None or _fraction(self.new_songs),
                "a fraction strictly between 0 and 1, or None (no new songs)",
            ),
            ("new_songs_by", self.new_songs_by in NEW_SONGS_BY, " or ".join(NEW_SONGS_BY)),
        )
        for name, ok, rule in rules:
            if not ok:
                raise ValueError(f"{name} must be {rule}, got {getattr(self, name)!r}")
        if self.order_column is not None and self.since is not None:
            raise ValueError(
                f"since must be None with order_column {self.order_column!r} (the order column "
                f"holds no times), got {self.since!r}"
            )

    @property
    def filters(self) -> filtering.FilterConfig:
        return filtering.FilterConfig(self.since, self.top_songs, self.min_user_interactions)

    @classmethod
    def for_source(cls, source: str, **overrides) -> PrepareConfig:
        """Defaults for ``source``: the paper's, except no date step for the sources whose
        data predate 2014 or have no timestamps (lastfm1k, movielens, demo, playlists, events
        with an ``order_column``), every song kept for playlists, and no filtering at all for
        the NCF format (its files are filtered already), whose number of negatives comes from
        its files. An override the source does not use is a ValueError
        (:func:`check_options`)."""
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
        check_options(source, overrides)
        timed = source == "lfm1b" or (source == "events" and not overrides.get("order_column"))
        defaults: dict = {} if timed else {"since": None}
        if source == "playlists":
            defaults["top_songs"] = None
        if source == "ncf":
            defaults = {
                "since": None,
                "top_songs": None,
                "min_user_interactions": None,
                "eval_negatives": None,
            }
        config = cls(**{**defaults, **overrides})
        config.check_new_songs_by(source)
        return config

    def check_new_songs_by(self, source: str) -> None:
        """Refuse ``new_songs_by="time"`` where ``source`` holds no global time.

        Raises:
            ValueError: naming ``--new-songs-by random``.
        """
        if self.new_songs is None or self.new_songs_by != "time":
            return
        why = untimed_reason(source, self.order_column)
        if why is not None:
            raise refuse_new_songs_by_time(source, why)


def _integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _fraction(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 1


def _positive(value: object) -> bool:
    return _integer(value) and value >= 1
