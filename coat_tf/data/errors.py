"""Errors for bad input, and the log that decides whether a bad line stops a job or is skipped.

Every message names the file and, where there is one, the line (1-based, counting the header),
so ``path:line: reason`` can be pasted into an editor.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

ON_ERROR = ("raise", "skip")


class DataError(Exception):
    """Input that cannot be used: a missing file, a malformed line, an empty result.

    Attributes:
        path: the file (or folder) at fault, or ``None`` when the problem is not one file's.
        line: 1-based line number, or ``None``.
        reason: what is wrong, in words.
    """

    def __init__(self, path: str | os.PathLike | None, reason: str, line: int | None = None):
        self.path = None if path is None else str(path)
        self.line = line
        self.reason = reason
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path or ""
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.reason}" if where else self.reason


@dataclass
class ErrorLog:
    """Collects bad lines under the ``on_error`` policy.

    ``"raise"`` raises :class:`DataError` at the first bad line; ``"skip"`` counts it (by
    reason, without the offending value) and keeps the first ``max_examples`` messages.
    """

    on_error: str = "raise"
    max_examples: int = 20
    skipped: int = 0
    by_reason: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.on_error not in ON_ERROR:
            raise ValueError(f"on_error must be one of {ON_ERROR}, got {self.on_error!r}")

    def bad_line(self, path: str | os.PathLike, line: int, reason: str, kind: str) -> None:
        """Report line ``line`` of ``path``; ``kind`` is a short category for the counts."""
        error = DataError(path, reason, line)
        if self.on_error == "raise":
            raise error
        self.skipped += 1
        self.by_reason[kind] += 1
        if len(self.examples) < self.max_examples:
            self.examples.append(str(error))

    def summary(self) -> dict[str, Any]:
        return {
            "skipped_lines": self.skipped,
            "skipped_by_reason": dict(sorted(self.by_reason.items())),
            "skipped_examples": list(self.examples),
        }
