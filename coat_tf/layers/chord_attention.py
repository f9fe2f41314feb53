"""COAT's chord attention layer (the paper's equations 2 to 4)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import tensorflow as tf
from tensorflow.python.ops import control_flow_util

from coat_tf.checks import check_choice, check_non_negative, check_positive_int, fresh_initializer
from coat_tf.config import ATTENTION_MODES as MODES
from coat_tf.layers import fused

IMPLEMENTATIONS = ("auto", "fused", "split", "concat")

_split_only = threading.local()


@contextlib.contextmanager
def split_graph() -> Iterator[None]:
    """Within the block, ``"auto"`` and ``"fused"`` layers trace the split form.

    For graphs that leave the process (an exported SavedModel), which then never need the
    fused op's library.
    """
    depth = getattr(_split_only, "depth", 0)
    _split_only.depth = depth + 1
    try:
        yield
    finally:
        _split_only.depth = depth


def fused_possible() -> bool:
    """Whether ``"auto"`` picks the fused op: it is loaded and no GPU is visible (on a GPU,
    XLA fuses the split form on its own)."""
    return fused.available() and not tf.config.list_logical_devices("GPU")


def _in_split_context() -> bool:
    """Inside :func:`split_graph`, or tracing for XLA, which cannot compile a custom op."""
    if getattr(_split_only, "depth", 0):
        return True
    return control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())


@tf.keras.utils.register_keras_serializable(package="coat_tf")
class ChordAttention(tf.keras.layers.Layer):
    """Attention of a user over the chord positions of a song.

    For a user embedding ``e_u`` and a song's chord ids ``c_1 .. c_L``, with chord embeddings
    ``C`` (vocabulary x d) and position embeddings ``p`` (L x d)::

        a_i    = h^T ReLU(W^T [e_u; C[c_i]; p_i] + b)        (2)
        beta   = softmax(a_1 .. a_L)                          (3)
        Att    = sum_i beta_i C[c_i]                          (4)

    ``W`` is ``(d_u + 2d) x A``. It is stored as three blocks, ``W = [W_u; W_c; W_p]``, so that

        W^T [e_u; C[c_i]; p_i] = W_u^T e_u + (C W_c)[c_i] + (p W_p)_i

    ``implementation="split"`` computes the right-hand side: ``C W_c`` is one
    ``vocabulary x A`` product per call and ``p W_p + b`` one ``L x A`` product, so each example
    costs ``L x A`` additions instead of ``L x (d_u + 2d) x A`` multiply-adds. The chord and
    position terms depend only on the song, the user term only on the user, which is what makes
    scoring every user against every song affordable.

    The split form also reads equation (4) by chord rather than by position: with
    ``M[v] = sum_{i: c_i = v} beta_i`` (a segment sum of ``L`` scalars per example, ``[B, V]``),
    ``Att = M C``. That never gathers the ``[B, L, d]`` chord vectors, and its gradient is a
    ``V x d`` product instead of a scatter of ``B x L`` rows of ``d`` into ``C`` (:meth:`mix`).

    ``implementation="fused"`` computes the same scores as the split form with a C++ op
    (:mod:`coat_tf.layers.fused`) that makes the ``B x L x A`` pre-activations on the fly, in
    one pass forward and one backward, and never stores them. ``"auto"`` (the default) is
    ``"fused"`` on CPU when the op's library is loaded, else ``"split"``. Both trace the split
    form inside :func:`split_graph` (export) and under XLA (``jit_compile``), which cannot
    compile a custom op.

    ``implementation="concat"`` evaluates the literal equations with the same weights (the
    concatenation of equation 2, the sum over positions of equation 4); it exists to test and
    measure the split form.

    The ablations "without attention" give every position the same weight. ``mode="ones"`` is
    the paper's literal form, ``beta_i = 1``, so ``Att`` is the *sum* of the ``L`` chord
    embeddings. ``mode="uniform"`` normalises, ``beta_i = 1 / L``, so ``Att`` is their *mean*.
    Sequences always have length ``L`` (100), so the two differ by the constant factor ``L``,
    which the next dense layer can absorb: they define the same family of models, but not the
    same training. The mean keeps the attended vector on the scale of ``learned`` mode (same
    initialisation and regularisation behave the same), so that ablation changes only the
    weighting; the sum starts ``L`` times larger. In both modes the layer has no ``W``, ``b``,
    ``h`` or ``p``.

    Args:
        num_chords: chord vocabulary size.
        sequence_length: ``L``.
        embedding_size: ``d``, the size of the chord and position embeddings.
        attention_size: ``A``.
        mode: ``"learned"``, ``"uniform"`` or ``"ones"``.
        implementation: ``"auto"``, ``"fused"``, ``"split"`` or ``"concat"`` (``"fused"``
            needs the op's library: ``make install`` builds it).
        l2: L2 penalty on the chord and position embeddings.
        embeddings_initializer: initialiser of the chord and position tables.
        kernel_initializer: initialiser of ``W`` and ``h``.

    Input: ``[user_embedding, chord_ids]``: ``[B, d_u]`` float, ``[B, L]`` integer.
    Output: ``(attended, weights)``: ``[B, d]`` and ``[B, L]`` (each row sums to 1, or to ``L``
    in mode ``"ones"``).
    """

    def __init__(
        self,
        num_chords: int,
        sequence_length: int,
        embedding_size: int,
        attention_size: int,
        mode: str = "learned",
        implementation: str = "auto",
        l2: float = 0.0,
        embeddings_initializer: str | tf.keras.initializers.Initializer = "random_normal",
        kernel_initializer: str | tf.keras.initializers.Initializer = "glorot_uniform",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        check_positive_int("num_chords", num_chords)
        check_positive_int("sequence_length", sequence_length)
        check_positive_int("embedding_size", embedding_size)
        check_positive_int("attention_size", attention_size)
        check_choice("mode", mode, MODES)
        check_choice("implementation", implementation, IMPLEMENTATIONS)
        if implementation == "fused" and not fused.available():
            raise ValueError(f"implementation='fused' is unavailable: {fused.unavailable_reason()}")
        check_non_negative("l2", l2)
        self.num_chords = num_chords
        self.sequence_length = sequence_length
        self.embedding_size = embedding_size
        self.attention_size = attention_size
        self.mode = mode
        self.implementation = implementation
        self.l2 = float(l2)
        self.embeddings_initializer = tf.keras.initializers.get(embeddings_initializer)
        self.kernel_initializer = tf.keras.initializers.get(kernel_initializer)

    def build(self, input_shape) -> None:  # noqa: ANN001 - Keras passes shapes
        user_shape, chord_shape = input_shape
        if chord_shape[-1] is not None and chord_shape[-1] != self.sequence_length:
            raise ValueError(
                f"chord_ids must have {self.sequence_length} positions, got shape {chord_shape}"
            )
        regularizer = tf.keras.regularizers.l2(self.l2) if self.l2 > 0 else None
        d, a = self.embedding_size, self.attention_size
        self.chord_embeddings = self.add_weight(
            name="chord_embeddings",
            shape=(self.num_chords, d),
            initializer=fresh_initializer(self.embeddings_initializer),
            regularizer=regularizer,
        )
        if self.mode == "learned":
            user_size = int(user_shape[-1])
            self.position_embeddings = self.add_weight(
                name="position_embeddings",
                shape=(self.sequence_length, d),
                initializer=fresh_initializer(self.embeddings_initializer),
                regularizer=regularizer,
            )
            self.user_kernel = self._kernel("user_kernel", (user_size, a))
            self.chord_kernel = self._kernel("chord_kernel", (d, a))
            self.position_kernel = self._kernel("position_kernel", (d, a))
            self.bias = self.add_weight(name="bias", shape=(a,), initializer="zeros")
            self.score_vector = self._kernel("score_vector", (a,))
        super().build(input_shape)

    def _kernel(self, name: str, shape: tuple[int, ...]) -> tf.Variable:
        return self.add_weight(
            name=name, shape=shape, initializer=fresh_initializer(self.kernel_initializer)
        )

    def call(self, inputs: list[tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
        user, chord_ids = inputs
        weights = self.weights_for(user, chord_ids)  # [B, L]
        if self.implementation == "concat":
            chords = tf.gather(self.chord_embeddings, chord_ids)  # [B, L, d]
            return tf.einsum("bl,bld->bd", weights, chords), weights
        return tf.matmul(self.mix(weights, chord_ids), self.chord_embeddings), weights

    def mix(self, weights: tf.Tensor, chord_ids: tf.Tensor) -> tf.Tensor:
        """``M[n, v, ...] = sum_{i: c_{n,i} = v} weights[n, i, ...]``: ``[N, L, ...], [N, L] ->
        [N, V, ...]``.

        With the attention weights ``[N, L]``, the weight each chord gets in total, so that
        ``Att = M C`` (equation 4). Trailing axes (several users' weights over the same songs)
        are summed alike.
        """
        rows = tf.shape(chord_ids)[0]
        trailing = tf.shape(weights)[2:]
        segments = tf.range(rows)[:, None] * self.num_chords + tf.cast(chord_ids, tf.int32)
        mixed = tf.math.unsorted_segment_sum(
            tf.reshape(weights, tf.concat([[-1], trailing], 0)),
            tf.reshape(segments, [-1]),
            rows * self.num_chords,
        )
        return tf.reshape(mixed, tf.concat([[rows, self.num_chords], trailing], 0))

    def weights_for(self, user: tf.Tensor, chord_ids: tf.Tensor) -> tf.Tensor:
        """``beta``: ``[B, d_u], [B, L] -> [B, L]`` (constant in the ablation modes)."""
        ones = tf.ones_like(chord_ids, dtype=self.chord_embeddings.dtype)
        if self.mode == "ones":
            return ones
        if self.mode == "uniform":
            return ones / tf.cast(tf.shape(chord_ids)[-1], ones.dtype)
        return tf.nn.softmax(self.scores(user, chord_ids), axis=-1)

    def active_implementation(self) -> str:
        """The implementation the scores are computed with here: ``"fused"``, ``"split"`` or
        ``"concat"`` (``"auto"`` resolved; the split form in :func:`split_graph` and under
        XLA)."""
        if self.implementation in ("split", "concat"):
            return self.implementation
        if _in_split_context():
            return "split"
        if self.implementation == "fused" or fused_possible():
            return "fused"
        return "split"

    def uses_fused_op(self) -> bool:
        """Whether the layer's scores run the fused op (outside :func:`split_graph` and XLA)."""
        return self.mode == "learned" and self.active_implementation() == "fused"

    def constant_weight(self) -> float | None:
        """The weight of every position in the ablation modes (``1`` or ``1 / L``), else None."""
        if self.mode == "ones":
            return 1.0
        if self.mode == "uniform":
            return 1.0 / self.sequence_length
        return None

    def scores(self, user: tf.Tensor, chord_ids: tf.Tensor) -> tf.Tensor:
        """The unnormalised scores ``a_i`` of equation (2): ``[B, d_u], [B, L] -> [B, L]``."""
        if self.mode != "learned":
            raise ValueError("scores exist only in mode='learned'")
        implementation = self.active_implementation()
        if implementation == "concat":
            return self._concat_scores(user, chord_ids)
        if implementation == "fused":
            return self._fused_scores(user, chord_ids)
        return self.combine(self.user_terms(user), self.song_terms(chord_ids))

    def _fused_scores(self, user: tf.Tensor, chord_ids: tf.Tensor) -> tf.Tensor:
        chord_table = tf.matmul(self.chord_embeddings, self.chord_kernel)  # [V, A]
        position_table = tf.matmul(self.position_embeddings, self.position_kernel) + self.bias
        return fused.chord_scores(
            self.user_terms(user), chord_ids, chord_table, position_table, self.score_vector
        )

    def user_terms(self, user: tf.Tensor) -> tf.Tensor:
        """``W_u^T e_u``: ``[N, d_u] -> [N, A]``, computed once per user."""
        return tf.matmul(user, self.user_kernel)

    def song_terms(self, chord_ids: tf.Tensor) -> tf.Tensor:
        """``(C W_c)[c_i] + (p W_p)_i + b``: ``[S, L] -> [S, L, A]``, computed once per song."""
        chord_table = tf.matmul(self.chord_embeddings, self.chord_kernel)  # [V, A]
        position_table = tf.matmul(self.position_embeddings, self.position_kernel) + self.bias
        return tf.gather(chord_table, chord_ids) + position_table  # [S, L, A]

    def chord_position_table(self) -> tf.Tensor:
        """``(C W_c)[v] + (p W_p)_i + b`` for every chord ``v`` and position ``i``: ``[V, L, A]``.

        A song's term at position ``i`` depends only on the chord there and on ``i``, so these
        ``V x L`` rows are all the distinct song terms there are.
        """
        chord_table = tf.matmul(self.chord_embeddings, self.chord_kernel)  # [V, A]
        position_table = tf.matmul(self.position_embeddings, self.position_kernel) + self.bias
        return chord_table[:, None, :] + position_table[None, :, :]

    def combine(self, user_terms: tf.Tensor, song_terms: tf.Tensor) -> tf.Tensor:
        """Scores from precomputed terms: ``[B, A], [B, L, A] -> [B, L]`` (row-aligned)."""
        hidden = tf.nn.relu(user_terms[:, None, :] + song_terms)
        return tf.einsum("bla,a->bl", hidden, self.score_vector)

    def _concat_scores(self, user: tf.Tensor, chord_ids: tf.Tensor) -> tf.Tensor:
        chords = tf.gather(self.chord_embeddings, chord_ids)  # [B, L, d]
        batch = tf.shape(chord_ids)[0]
        length = tf.shape(chord_ids)[1]
        users = tf.tile(user[:, None, :], [1, length, 1])  # [B, L, d_u]
        positions = tf.tile(self.position_embeddings[None, :length], [batch, 1, 1])
        stacked = tf.concat([users, chords, positions], axis=-1)  # [B, L, d_u + 2d]
        kernel = tf.concat([self.user_kernel, self.chord_kernel, self.position_kernel], axis=0)
        hidden = tf.nn.relu(tf.einsum("blk,ka->bla", stacked, kernel) + self.bias)
        return tf.einsum("bla,a->bl", hidden, self.score_vector)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "num_chords": self.num_chords,
            "sequence_length": self.sequence_length,
            "embedding_size": self.embedding_size,
            "attention_size": self.attention_size,
            "mode": self.mode,
            "implementation": self.implementation,
            "l2": self.l2,
            "embeddings_initializer": tf.keras.initializers.serialize(self.embeddings_initializer),
            "kernel_initializer": tf.keras.initializers.serialize(self.kernel_initializer),
        }
