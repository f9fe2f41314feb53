"""``python -m coat_tf.chords``: see :mod:`coat_tf.chords.cli`."""

from __future__ import annotations

import sys

from coat_tf.chords.cli import main

if __name__ == "__main__":
    sys.exit(main())
