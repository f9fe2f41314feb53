"""Keras's "Callback method ... is slow compared to the batch time" warnings, dropped during
trials: the validation ranking runs once per epoch by design, and a search prints one line per
trial."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator


class _SlowCallbackFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Callback method")


@contextlib.contextmanager
def quiet_keras_warnings() -> Iterator[None]:
    import tensorflow as tf

    logger, quiet = tf.get_logger(), _SlowCallbackFilter()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)
