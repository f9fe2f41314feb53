"""The error of an audio file that cannot be used (a leaf module: the cache, the extraction
and the MFCCs all raise or catch it)."""

from __future__ import annotations

import os
from typing import Any


class AudioError(Exception):
    """An audio file that cannot be used; ``str()`` names the file and the reason."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (AudioError, (self.path, self.reason))
