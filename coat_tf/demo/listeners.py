"""The simulated listeners of the demo data set and their planted chord preference.

Everything in it is **simulated**: the songs are synthesised from chord progressions and the
listeners are random draws from the model below. It exists so that the main job runs out of the
box and so that a known, planted structure can be looked for in what COAT learns.

The songs, and song ``i``'s progression family ``f_i``, are those of :mod:`coat_tf.demo.catalogue`.

Listeners (``num_users``). With ``k = taste_dim``:

- taste ``x_u ~ N(0, I_k)``; song factor ``y_i = sqrt(rho) z_{f_i} + sqrt(1 - rho) e_i`` with
  ``z_f, e_i ~ N(0, I_k)`` and ``rho = family_taste`` (tastes are partly about style);
- popularity ``b_i ~ N(0, popularity_sd^2)``;
- a share ``planted_user_share`` of listeners carries one planted chord ``c_u``, uniform over
  ``planted_chords`` (canonical ``majmin`` labels);
- ``share_i(c)``: the fraction of song ``i``'s chord changes (``majmin``, counted as
  :func:`coat_tf.chords.sequence.chord_changes` counts them, so as the model's chord sequence
  shows them) that are ``c``;
- ``logit(u, i) = taste_weight <x_u, y_i> / sqrt(k) + b_i + planted_strength share_i(c_u)``, the
  last term only for planted listeners.

Why the defaults (half the listeners planted, strength 10, no style taste): the planted chords
are the only link between a song's chords and who listens to it, so that what the attention
learns can be read against a known truth. With a style taste (``family_taste`` 0.6, the first
version's default) and 30% of listeners planted at strength 6, the chords mostly told the
models a song's style, which matters to every listener alike; COAT's attention then learnt one
focus shared by all listeners, the same for planted listeners and the others, and did no
better than its uniform ablation (the README's demo section keeps both results).

Listener ``u`` picks ``n_u = min_songs + Poisson(mean_extra_songs)`` distinct songs without
replacement, each draw with probability proportional to ``exp(logit)`` among the songs left
(Gumbel top-k). Each picked song is played ``1 + Poisson(replay_rate)`` times; the plays are
shuffled and get strictly increasing timestamps (Unix seconds) uniform in ``[s_u, end]``, with
``s_u`` uniform in the first half of the span ``[start_timestamp, + span_days]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from coat_tf.demo.catalogue import Song, chord_shares
from coat_tf.demo.config import FAMILIES, DemoConfig


@dataclass
class Listening:
    """Simulated plays (parallel arrays, sorted by user then time) and the planted truth.

    Attributes:
        users, songs, timestamps: int64 ``[plays]``: user index, song index, Unix seconds.
        planted: int64 ``[num_users]``: index into ``planted_chords``, or -1 (no preference).
        shares: ``share_i(c)`` for the planted chords, ``[num_songs, len(planted_chords)]``.
    """

    users: np.ndarray
    songs: np.ndarray
    timestamps: np.ndarray
    planted: np.ndarray
    shares: np.ndarray


def simulate_listening(songs: Sequence[Song], config: DemoConfig) -> Listening:
    """Draw every listener's plays (see the module docstring), deterministic under the seed."""
    rng = np.random.default_rng([config.seed, 2])
    families = sorted(FAMILIES)
    k, n_songs, n_users = config.taste_dim, len(songs), config.num_users
    z = rng.standard_normal((len(families), k))
    family_index = np.array([families.index(song.family) for song in songs])
    y = np.sqrt(config.family_taste) * z[family_index] + np.sqrt(
        1 - config.family_taste
    ) * rng.standard_normal((n_songs, k))
    x = rng.standard_normal((n_users, k))
    popularity = config.popularity_sd * rng.standard_normal(n_songs)
    shares = chord_shares(songs, config.planted_chords)
    planted = np.where(
        rng.random(n_users) < config.planted_user_share,
        rng.integers(len(config.planted_chords), size=n_users),
        -1,
    )
    logits = config.taste_weight * (x @ y.T) / np.sqrt(k) + popularity[None, :]
    carriers = planted >= 0
    logits[carriers] += config.planted_strength * shares[:, planted[carriers]].T
    keys = logits + rng.gumbel(size=logits.shape)
    order = np.argsort(-keys, axis=1)
    counts = np.minimum(config.min_songs + rng.poisson(config.mean_extra_songs, n_users), n_songs)
    start, span = config.start_timestamp, int(config.span_days * 86400)
    users, plays, stamps = [], [], []
    for u in range(n_users):
        picked = order[u, : counts[u]]
        repeats = 1 + rng.poisson(config.replay_rate, len(picked))
        songs_u = rng.permutation(np.repeat(picked, repeats))
        first = start + int(rng.integers(span // 2))
        t = np.sort(rng.integers(first, start + span, size=len(songs_u)))
        t = np.maximum.accumulate(t - np.arange(len(t))) + np.arange(len(t))  # strictly rising
        users.append(np.full(len(t), u))
        plays.append(songs_u)
        stamps.append(t)
    return Listening(
        np.concatenate(users), np.concatenate(plays), np.concatenate(stamps), planted, shares
    )


def over_representation(listening: Listening) -> dict[str, dict[str, float]]:
    """Per planted chord: mean ``share_i(c)`` over the distinct songs its carriers picked, and
    over the songs every other listener picked; their ratio should clearly exceed 1."""
    pairs = np.unique(np.stack([listening.users, listening.songs], axis=1), axis=0)
    result = {}
    for j in range(listening.shares.shape[1]):
        share = listening.shares[pairs[:, 1], j]
        carrier = listening.planted[pairs[:, 0]] == j
        inside = float(share[carrier].mean()) if carrier.any() else float("nan")
        outside = float(share[~carrier].mean()) if (~carrier).any() else float("nan")
        result[str(j)] = {
            "carriers_mean_share": inside,
            "others_mean_share": outside,
            "ratio": inside / outside if outside > 0 else float("nan"),
        }
    return result
