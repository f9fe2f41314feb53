"""Loading the fused chord-scores op and registering its gradient.

:func:`chord_scores` computes, for user terms ``U`` ``[B, A]``, chord ids ``c`` ``[B, L]``,
the chord part ``T_c`` ``[V, A]`` and position part ``T_p`` ``[L, A]`` (the bias included) of
the song terms, and the score vector ``h`` ``[A]``::

    scores[b, l] = sum_a h[a] ReLU(U[b, a] + T_c[c[b, l], a] + T_p[l, a])     [B, L]

in one pass, and its gradient in one more, without storing the ``B x L x A`` pre-activations.
The library is loaded once per process, on the first call of :func:`available`; a missing or
unloadable library (not built, built for another TensorFlow) makes :func:`available` false
and :func:`unavailable_reason` say why.
"""

from __future__ import annotations

import functools
from pathlib import Path
from types import ModuleType

import tensorflow as tf

LIBRARY = Path(__file__).with_name("_chord_scores.so")
SOURCE = Path(__file__).with_name("chord_scores.cc")
OP_NAME = "CoatChordScores"


@functools.lru_cache(maxsize=1)
def _load() -> tuple[ModuleType | None, str]:
    """The loaded op module, or None and the reason it could not be loaded."""
    if not LIBRARY.is_file():
        return None, f"{LIBRARY.name} is not built (run `make install`)"
    try:
        module = tf.load_op_library(str(LIBRARY))
    except (tf.errors.NotFoundError, OSError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return None, f"{LIBRARY.name} does not load ({first}); rebuild it with `make install`"
    tf.RegisterGradient(OP_NAME)(functools.partial(_gradient, module))
    return module, ""


def available() -> bool:
    """Whether the fused op is loaded in this process (loading it on the first call)."""
    return _load()[0] is not None


def unavailable_reason() -> str:
    """Why the fused op is not available ("" when it is)."""
    return _load()[1]


def chord_scores(
    user_terms: tf.Tensor,
    chord_ids: tf.Tensor,
    chord_table: tf.Tensor,
    position_table: tf.Tensor,
    score_vector: tf.Tensor,
) -> tf.Tensor:
    """The scores ``[B, L]`` of equation (2) from the split form's parts (module docstring).

    Raises:
        RuntimeError: the op is not available (:func:`unavailable_reason`).
    """
    module = _load()[0]
    if module is None:
        raise RuntimeError(f"the fused chord attention op is unavailable: {unavailable_reason()}")
    return module.coat_chord_scores(
        tf.cast(user_terms, tf.float32),
        tf.cast(chord_ids, tf.int32),
        tf.cast(chord_table, tf.float32),
        tf.cast(position_table, tf.float32),
        tf.cast(score_vector, tf.float32),
    )


def _gradient(module: ModuleType, op: tf.Operation, grad: tf.Tensor) -> list[tf.Tensor | None]:
    """The gradients of the op's five inputs (none for the chord ids), from one fused pass."""
    user, chords, positions, vector = module.coat_chord_scores_grad(grad, *op.inputs)
    return [user, None, chords, positions, vector]
