"""HR@K and NDCG@K of songs that are not in the catalogue (new songs), from their content.

A data set prepared with ``--new-songs`` holds, besides its catalogue, new songs in their own
index space ``0 .. S_new - 1`` (:attr:`PreparedDataset.new_songs`), cut into two shelves,
``valid`` and ``test``, and one candidate row per (user, new song of the shelf) pair. No model
has seen a new song in training: it has no index in the catalogue, so a model ranks it from its
content alone (:meth:`Recommender.score_new_songs`: the chord ids for COAT and its ablations, the
MFCC excerpt for NeuMF+CNN and NeuMF+LSTM).

**Identity embedding.** A new song has no row in the song embedding table ``Q``. Wherever a
model needs one, it uses the table's mean, ``mean_j Q[j]``, the catalogue's average song: COAT's
GMF term is ``P[u] * mean_j Q[j]`` beside the attention over the song's own chords; the audio
models use the mean GMF song embedding and the mean MLP song embedding beside the content vector
of the song's own MFCCs. The evaluator, the export's ``score_chords`` / ``score_mfcc`` and
``recommend --new-songs`` all score through ``score_new_songs``, so they use that same value.

**Protocol.** Each row ``r`` is a user ``u`` and a held-out new song ``t`` of shelf ``h``
(column 0 of ``new_songs.split(h).items``). It is ranked by the catalogue's evaluator
(:mod:`coat_tf.evaluation`, ties and non-finite scores against the model) over the adapter
:class:`NewSongScorer`, whose ``score_pairs(users, i) = score_new_songs(users, content[i])``:

- *sampled*: against the row's stored negatives (the other columns: songs of the same shelf the
  user does not have);
- *whole shelf*: against every song of shelf ``h`` except ``t`` and the user's other songs of
  that shelf (``new_songs.shelf_exclusions(h)``, which also removes every song of the other
  shelf)::

      rank_r  = |{ j in shelf(h) \\ (songs of u in h) : score(u, j) >= score(u, t) }|
      HR@K    = mean_r [rank_r < K]
      NDCG@K  = mean_r [rank_r < K] / log2(rank_r + 2)

Means are over rows, so a user with several new songs of a shelf counts once per song
(``RankingMetrics.users`` holds the number of rows). The ``valid`` shelf gives the validation
block, the ``test`` shelf the test block; a search reads the valid shelf only. Where the
sampled lists, or the whole shelf, hold at most ``K`` songs, every row is a hit by construction:
that figure then carries a ``note`` saying so.

A model with no content input (GMF, MLP, NeuMF, WMF, popularity, item-kNN) cannot rank a new
song: the block is then ``{"unsupported": "<name> reads no song content: ..."}``, and likewise
for an audio model on a data set whose new songs have no MFCCs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from coat_tf import evaluation
from coat_tf.models.recommender import Recommender, pairwise_score_all
from coat_tf.schema import MFCC

#: The name of each shelf's block in ``metrics.json``.
BLOCK_NAMES = {"valid": "validation", "test": "test"}
#: The most content values (chord ids or MFCC floats) gathered for one ``score_new_songs`` call.
CONTENT_VALUES_PER_CALL = 1 << 24


class NewSongScorer(Recommender):
    """A model's scoring interface over a table of new songs, as if they were a catalogue.

    ``score_pairs(users [N], i [N]) = recommender.score_new_songs(users, content[i])``, at most
    :data:`CONTENT_VALUES_PER_CALL` content values at a time (an MFCC excerpt is 25,840 floats
    a song); ``score_all(users [U]) -> [U, S_new]`` scores every new song, ``song_chunk`` songs
    at a time, through ``score_pairs``, once per distinct user of the call.

    Args:
        recommender: a trained model with a :attr:`~Recommender.content_input`.
        content: ``[S_new, ...]``, the new songs' content as ``score_new_songs`` takes it.
        song_chunk: new songs scored at once by :meth:`score_all`.
    """

    def __init__(self, recommender: Recommender, content: np.ndarray, song_chunk: int = 512):
        super().__init__(recommender.num_users, len(content), name="new_songs")
        self.recommender = recommender
        self.content = content
        self.song_chunk = max(1, int(song_chunk))
        row = int(np.prod(np.shape(content)[1:], dtype=np.int64)) or 1
        self.pair_chunk = max(1, CONTENT_VALUES_PER_CALL // row)

    def score_pairs(self, user_ids: tf.Tensor, song_ids: tf.Tensor) -> tf.Tensor:
        users = np.asarray(user_ids, dtype=np.int32)
        songs = np.asarray(song_ids, dtype=np.int64)
        parts = [
            self.recommender.score_new_songs(
                tf.constant(users[start : start + self.pair_chunk]),
                tf.constant(np.take(self.content, songs[start : start + self.pair_chunk], 0)),
            )
            for start in range(0, len(users), self.pair_chunk)
        ]
        return tf.concat(parts, axis=0) if parts else tf.zeros([0], tf.float32)

    def score_all(self, user_ids: tf.Tensor) -> tf.Tensor:
        """Every new song for each user, each distinct user of the call scored once (the rows
        of a user with several new songs repeat their user)."""
        users, row = np.unique(np.asarray(user_ids, dtype=np.int32), return_inverse=True)
        return tf.gather(pairwise_score_all(self, tf.constant(users)), row.reshape(-1))


def unsupported_reason(recommender: Recommender, data) -> str | None:  # noqa: ANN001
    """Why ``recommender`` cannot rank the new songs of ``data``, or ``None`` if it can."""
    kind = recommender.content_input
    if kind is None:
        return f"{recommender.name} reads no song content: it cannot rank new songs"
    if kind == MFCC and data.new_songs.mfcc is None:
        return (
            f"{recommender.name} reads MFCCs, and the new songs of {getattr(data, 'path', '')} "
            "have none (prepare --mfcc): it cannot rank them"
        )
    return None


def scorer(recommender: Recommender, data) -> NewSongScorer:  # noqa: ANN001
    """The adapter over every new song of ``data``, with the content ``recommender`` reads."""
    return NewSongScorer(recommender, data.new_songs.content(recommender.content_input))


def _trivial_note(what: str, songs: int, k: int) -> str | None:
    """The note of a list of at most ``k`` songs, in which every row is a hit (else None)."""
    if songs > k:
        return None
    return f"{what} {songs} songs, at most k = {k}: every row is a hit"


def evaluate_shelf(
    adapter: Recommender,
    new_songs,  # noqa: ANN001 - a NewSongs
    name: str,
    k: int,
    rankings: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> dict:
    """The sampled and whole-shelf figures of shelf ``name`` (``"valid"`` or ``"test"``)
    through ``adapter`` (a :class:`NewSongScorer`). ``rankings``, where given, receives each
    row's user and rank (for :mod:`coat_tf.per_user`) under ``new_<name>/sampled`` and
    ``new_<name>/whole_shelf``."""
    split = new_songs.split(name)
    sampled = evaluation.sampled(adapter, split.users, split.items, k=k)
    whole = evaluation.full_catalogue(
        adapter, split.users, split.positives, new_songs.shelf_exclusions(name), k=k
    )
    if rankings is not None:
        rankings[f"new_{name}/sampled"] = (split.users, sampled.ranks)
        rankings[f"new_{name}/whole_shelf"] = (split.users, whole.ranks)
    out = {"sampled": sampled.to_dict(), "whole_shelf": whole.to_dict()}
    shelf = len(new_songs.shelf_songs(name))
    notes = {
        "sampled": _trivial_note("the sampled lists hold", split.items.shape[1], k),
        "whole_shelf": _trivial_note(f"the {name} shelf holds", shelf, k),
    }
    for block, note in notes.items():
        if note and len(split):
            out[block]["note"] = note
    return out


def evaluate_new_songs(
    recommender: Recommender,
    data,  # noqa: ANN001 - a PreparedDataset with new songs
    k: int,
    splits: Sequence[str] = ("valid", "test"),
    rankings: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> dict:
    """The ``new_songs`` block of ``metrics.json`` (see the module docstring).

    Args:
        recommender: a trained model's scoring interface.
        data: a :class:`~coat_tf.data.PreparedDataset` whose ``new_songs`` is not ``None``.
        k: the cut-off.
        splits: the shelves to evaluate, ``"valid"`` and/or ``"test"``.
        rankings: where given, receives each row's rank (see :func:`evaluate_shelf`).

    Returns:
        ``{"validation": {"sampled": ..., "whole_shelf": ...}, "test": {...}}`` (the shelves
        asked for), or ``{"unsupported": reason}`` for a model that cannot rank new songs.

    Raises:
        ValueError: ``data`` has no new songs, or a shelf name is unknown.
        coat_tf.failures.NonFiniteScoresError: every row of a shelf scored NaN or infinite.
    """
    new_songs = getattr(data, "new_songs", None)
    if new_songs is None:
        raise ValueError(f"{getattr(data, 'path', 'the data set')} has no new songs")
    unknown = [name for name in splits if name not in BLOCK_NAMES]
    if unknown:
        raise ValueError(f"unknown shelves {unknown}: expected among {list(BLOCK_NAMES)}")
    reason = unsupported_reason(recommender, data)
    if reason is not None:
        return {"unsupported": reason}
    adapter = scorer(recommender, data)
    return {
        BLOCK_NAMES[name]: evaluate_shelf(adapter, new_songs, name, k, rankings) for name in splits
    }
