"""``AttentionSummary``: a Keras callback writing the probe pairs' attention to TensorBoard."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from coat_tf.checks import check_positive_int
from coat_tf.inspection.heatmap import AttentionPlot
from coat_tf.inspection.measures import (
    attention_entropy,
    top_chords_markdown,
    uniform_entropy,
    user_chords,
)
from coat_tf.inspection.probes import Probes
from coat_tf.models.recommender import Recommender

logger = logging.getLogger(__name__)

SUBDIR = "attention"
Names = Sequence[str] | Mapping[int, str]


def probe_attention(recommender: Recommender, probes: Probes) -> np.ndarray:
    """Attention weights float64 ``[P, L]`` of the probe pairs under a COAT model."""
    if not recommender.has_attention:
        raise ValueError(f"model {recommender.name!r} has no chord attention")
    length = recommender.sequence_length
    if length != probes.sequence_length:
        raise ValueError(
            f"the model takes {length} chord positions, the probes have {probes.sequence_length}"
        )
    weights = recommender.attention(tf.constant(probes.users), tf.constant(probes.chords))
    return np.asarray(weights, dtype=np.float64)


def _name(names: Names | None, index: int, kind: str) -> str:
    if names is None:
        return f"{kind} {index}"
    try:
        return str(names[index])
    except (IndexError, KeyError):
        return f"{kind} {index}"


class AttentionSummary(tf.keras.callbacks.Callback):
    """Writes the attention of fixed probe pairs to ``log_dir/attention`` for TensorBoard.

    At step ``s`` (``s`` epochs of training done; step 0 is the model before the first epoch)
    it writes, for the ``P`` probe pairs with weights ``beta`` ``[P, L]``:

    - images ``attention_map/pair_NN_user_U_song_S``: the weights over the ``L`` positions,
      labelled with the chords (:func:`~coat_tf.inspection.heatmap.render_attention`);
    - histograms ``attention/weights`` (all ``P x L`` weights) and ``attention/entropy`` (per
      pair, ``H = -sum_i beta_i log beta_i``; uniform attention gives the maximum ``log L``);
    - scalars ``attention/mean_entropy`` and ``attention/mean_max_weight``;
    - text ``top_chords/user_U``: per probe user, a markdown table of the chords receiving the
      most attention mass over their probe songs.

    The Keras ``TensorBoard`` callback logs epoch ``e``'s loss at step ``e`` (0-based), which is
    this callback's step ``e + 1``.

    Steps are written before the first epoch of each ``fit`` (step ``initial_epoch``), every
    ``every_n_epochs`` epochs, and after the last epoch. A model without a chord attention
    (NeuMF) makes the callback do nothing, with one logged warning.

    Args:
        log_dir: the run's TensorBoard folder (the same as the ``TensorBoard`` callback's).
        probes: the pairs, from :func:`~coat_tf.inspection.probes.choose_probes`.
        chord_labels: chord id -> label (``data.vocabulary.labels``).
        recommender: the scoring interface of the model being trained; its ``attention``
            reads the current weights.
        user_names: index -> display name of a user (``data.user_ids``); default ``"user 3"``.
        song_names: index -> display name of a song
            (:func:`~coat_tf.inspection.probes.song_display_names`); default ``"song 3"``.
        every_n_epochs: write every n-th epoch.
        top_chords: rows of each user's table.
        label_every: label every n-th position on the images' x axes.
    """

    def __init__(
        self,
        log_dir: str | os.PathLike,
        probes: Probes,
        chord_labels: Sequence[str],
        recommender: Recommender,
        user_names: Names | None = None,
        song_names: Names | None = None,
        every_n_epochs: int = 1,
        top_chords: int = 5,
        label_every: int = 1,
    ) -> None:
        super().__init__()
        check_positive_int("every_n_epochs", every_n_epochs)
        check_positive_int("top_chords", top_chords)
        check_positive_int("label_every", label_every)
        if not isinstance(probes, Probes):
            raise ValueError(f"probes must be a Probes, got {type(probes).__name__}")
        if int(probes.chords.max()) >= len(chord_labels) or int(probes.chords.min()) < 0:
            raise ValueError(
                f"probe chord ids reach {int(probes.chords.max())} but chord_labels has "
                f"{len(chord_labels)} labels"
            )
        self.log_dir = Path(log_dir)
        self.recommender = recommender
        self.probes = probes
        self.chord_labels = list(chord_labels)
        self.user_names = user_names
        self.song_names = song_names
        self.every_n_epochs = every_n_epochs
        self.top_chords = top_chords
        self.label_every = label_every
        self._writer = None
        self._plots: list[AttentionPlot] = []
        self._warned = False
        self._started = False
        self._last_step: int | None = None
        self._written_step: int | None = None

    # -- Keras hooks ------------------------------------------------------------------------

    def on_train_begin(self, logs=None) -> None:
        self._started = False
        self._last_step = None

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        if not self._started:
            self._started = True
            self.write(epoch)

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        self._last_step = epoch + 1
        if self._last_step % self.every_n_epochs == 0:
            self.write(self._last_step)

    def on_train_end(self, logs=None) -> None:
        if self._last_step is not None and self._written_step != self._last_step:
            self.write(self._last_step)
        self.close()

    # -- writing ----------------------------------------------------------------------------

    def write(self, step: int) -> bool:
        """Write every summary for the current model at ``step``; False where the model has
        no attention."""
        if not self.recommender.has_attention:
            if not self._warned:
                self._warned = True
                logger.warning(
                    "model %r has no chord attention: attention summaries are not written",
                    self.recommender.name,
                )
            return False
        probes = self.probes
        weights = probe_attention(self.recommender, probes)
        entropy = attention_entropy(weights)
        maximum = uniform_entropy(probes.sequence_length)
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(str(self.log_dir / SUBDIR))
        with self._writer.as_default(step=step):
            tf.summary.histogram(
                "attention/weights",
                weights.ravel(),
                description=f"All {weights.size} attention weights of the {len(probes)} probe "
                f"pairs; uniform attention puts every weight at 1/L = {1 / weights.shape[1]:.4f}.",
            )
            entropy_text = (
                "-sum_i beta_i log beta_i in nats; uniform attention gives the maximum "
                f"log L = {maximum:.3f}, one position holding all the weight gives 0."
            )
            tf.summary.histogram(
                "attention/entropy", entropy, description=f"Per probe pair: {entropy_text}"
            )
            tf.summary.scalar(
                "attention/mean_entropy",
                float(entropy.mean()),
                description=f"Mean over the probe pairs of {entropy_text}",
            )
            tf.summary.scalar(
                "attention/mean_max_weight",
                float(weights.max(axis=1).mean()),
                description="Mean over the probe pairs of the largest attention weight "
                f"(uniform: 1/L = {1 / weights.shape[1]:.4f}, one-hot: 1).",
            )
            self._write_images(weights, entropy, maximum, step)
            self._write_tables(weights)
        self._writer.flush()
        self._written_step = step
        return True

    def _write_images(self, weights, entropy, maximum, step) -> None:
        probes = self.probes
        if not self._plots:
            self._plots = [
                AttentionPlot(chords, self.chord_labels, self.label_every)
                for chords in probes.chords
            ]
        for i in range(len(probes)):
            user, song = int(probes.users[i]), int(probes.songs[i])
            user_name = _name(self.user_names, user, "user")
            song_name = _name(self.song_names, song, "song")
            title = (
                f"{user_name} × {song_name} ({probes.roles[i]}), step {step}: "
                f"entropy {entropy[i]:.3f} of max {maximum:.3f}"
            )
            image = self._plots[i].render(weights[i], title)
            tf.summary.image(
                f"attention_map/pair_{i:02d}_user_{user}_song_{song}",
                image[None],
                description=f"Attention of {user_name} over the chords of {song_name} "
                f"({probes.roles[i]}).",
            )

    def _write_tables(self, weights) -> None:
        for summary in user_chords(
            weights, self.probes.chords, self.probes.users, len(self.chord_labels)
        ):
            name = _name(self.user_names, summary.user, "user")
            table = top_chords_markdown(summary, self.chord_labels, name, self.top_chords)
            tf.summary.text(f"top_chords/user_{summary.user}", table)

    def close(self) -> None:
        """Flush and close the writer (a later ``write`` opens a new one)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
