"""The NCF data format (He et al., 2017): the files of the NCF reference code and of many papers
after it, read as a pre-split source.

For a prefix ``P`` (``Data/ml-1m``, say)::

    P.train.rating     user \\t item \\t rating [\\t timestamp]     the training interactions
    P.test.rating      user \\t item \\t rating [\\t timestamp]     one held-out item per user
    P.test.negative    (user,item) \\t n_1 \\t n_2 ... \\t n_99     its sampled negatives

Ids are integers (0-based in the original files) and are kept as the data set's ids. The
catalogue is the item ids ``0..M``, ``M`` the largest item id of the two rating files; items
that appear only among the negatives are part of it. The negatives are used exactly as given,
so results compare to published ones on the very same candidates, and their number per user
is the data set's number of evaluation negatives. Every user is kept (such files are already
filtered), and the validation item is taken from training as for the other sources: each
user's latest training interaction.

The timestamp column is optional (the files of some papers have three columns). Without it, a
line's position in its file stands for its time: the validation item is then each user's last
training line in file order, and ``train.tsv``'s timestamps hold line positions, not seconds.

Bad lines get the file and the line, under the same ``on_error`` policy as the other readers;
a negative user or item id in a rating file is one (ids count from 0).
A negatives line is bad when its pair ``(user,item)`` is not a test user and their test item,
or when a negative is outside the catalogue, is one of the user's training or test items, or
is repeated, or when the line holds another number of negatives than the others. Under
``on_error="skip"`` such a line is skipped and counted, and its user, left without
candidates, is dropped from the data set and counted; under ``"raise"`` a test user without
negatives is an error naming the file.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from coat_tf.data.errors import DataError, ErrorLog
from coat_tf.data.table import Column, TableReader, open_binary

SUFFIXES = (".train.rating", ".test.rating", ".test.negative")


@dataclass
class NcfFiles:
    """The three files, read.

    Attributes:
        train: text ``user``, ``item`` and int ``timestamp`` columns.
        test: the same, one row per user.
        negatives: user id -> the item ids of their test negatives, in file order.
        negatives_path: the ``.test.negative`` file (for messages).
        timed: whether the rating files have timestamps (else ``timestamp`` is the file order).
        dropped_users: users left out for want of usable negatives (``on_error="skip"``).
        bad_negatives: the negatives of skipped lines that were at fault, by reason.
    """

    train: pd.DataFrame
    test: pd.DataFrame
    negatives: dict[str, list[str]]
    negatives_path: Path
    timed: bool = True
    dropped_users: list[str] = field(default_factory=list)
    bad_negatives: dict[str, int] = field(default_factory=dict)

    @property
    def negatives_per_user(self) -> int:
        """The number of negatives every line holds (0 when there are none)."""
        return len(next(iter(self.negatives.values()), []))


def paths(prefix: str | os.PathLike) -> list[Path]:
    """``[P.train.rating, P.test.rating, P.test.negative]``; a missing one is a DataError."""
    out = [Path(f"{prefix}{suffix}") for suffix in SUFFIXES]
    missing = [str(p) for p in out if not p.is_file()]
    if missing:
        raise DataError(
            prefix,
            f"not an NCF data set prefix: no {', '.join(missing)} (--input takes the prefix P "
            "of P.train.rating, P.test.rating and P.test.negative)",
        )
    return out


def _column_count(path: Path) -> int:
    """The fields of the first non-empty line: 4 with timestamps, 3 without."""
    with open_binary(path) as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if not line.strip():
                continue
            count = len(line.split("\t"))
            if count not in (3, 4):
                raise DataError(
                    path,
                    f"expected 4 columns (user, item, rating, timestamp) or 3 (user, item, "
                    f"rating), found {count}",
                    number,
                )
            return count
    raise DataError(path, "no interactions")


def _ratings(path: Path, log: ErrorLog, start: int = 0) -> tuple[pd.DataFrame, bool]:
    """The ratings of ``path`` and whether it has timestamps; without them each row's
    ``timestamp`` is ``start`` plus its position in the file."""
    timed = _column_count(path) == 4
    columns = [Column("user", "int"), Column("item", "int"), Column("rating", "opt", keep=False)]
    if timed:
        columns.append(Column("timestamp", "unix"))
    chunks = list(TableReader(path, columns, log=log))
    if not chunks:
        raise DataError(path, "no interactions")
    frame = _without_negative_ids(path, pd.concat(chunks, ignore_index=True), log)
    if not len(frame):
        raise DataError(path, "no interactions")
    if not timed:
        frame["timestamp"] = start + np.arange(len(frame), dtype=np.int64)
    return frame.assign(user=frame["user"].astype(str), item=frame["item"].astype(str)), timed


def _without_negative_ids(path: Path, frame: pd.DataFrame, log: ErrorLog) -> pd.DataFrame:
    """``frame`` without its rows whose user or item id is negative (ids count from 0), each
    reported to ``log`` with its line."""
    bad = (frame["user"] < 0) | (frame["item"] < 0)
    if not bad.any():
        return frame
    with open_binary(path) as handle:
        for number, raw in enumerate(handle, start=1):
            fields = raw.decode("utf-8", errors="replace").split("\t")[:2]
            for name, field in zip(("user", "item"), fields, strict=False):
                if field.strip().startswith("-"):
                    reason = f"{name} id {field.strip()} is negative (NCF ids count from 0)"
                    log.bad_line(path, number, reason, "negative id")
                    break
    return frame[~bad].reset_index(drop=True)


@dataclass
class _Known:
    """What a negatives line is checked against."""

    test_item: dict[str, str]
    seen: dict[str, set[str]]
    last_id: int
    test_path: Path


def _problems(user: str, item: str, negatives: list[str], known: _Known) -> list[tuple[str, str]]:
    """``(reason, kind)`` of each fault of one negatives line (none: the line is good)."""
    if user not in known.test_item:
        return [(f"user {user} has no test item in {known.test_path}", "bad pair")]
    if item != known.test_item[user]:
        reason = f"the pair names item {item}, but user {user}'s test item is "
        return [(reason + f"{known.test_item[user]} in {known.test_path}", "bad pair")]
    out = []
    repeated = set()
    for position, negative in enumerate(negatives):
        if not 0 <= int(negative) <= known.last_id:
            reason = f"negative {negative} is not in the catalogue (items 0..{known.last_id})"
            out.append((reason, "negative outside the catalogue"))
        elif negative == item:
            out.append((f"the test item {item} is among its own negatives", "bad negative"))
        elif negative in known.seen.get(user, ()):
            reason = f"negative {negative} is one of user {user}'s training items"
            out.append((reason, "negative among the user's items"))
        elif negative in negatives[:position] and negative not in repeated:
            repeated.add(negative)
            out.append((f"negative {negative} appears twice", "repeated negative"))
    return out


def _negatives(path: Path, log: ErrorLog, known: _Known) -> tuple[dict[str, list[str]], Counter]:
    """The good lines of ``path`` (user -> negatives) and the faulty negatives by kind."""
    lines: dict[str, tuple[int, list[str]]] = {}
    bad: Counter = Counter()
    with open_binary(path) as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split("\t")
            pair = fields[0].strip()
            try:
                parts = pair[1:-1].split(",")
                if not (pair.startswith("(") and pair.endswith(")")) or len(parts) != 2:
                    raise ValueError(f"the first field must be '(user,item)', got {pair!r}")
                user, item = str(int(parts[0])), str(int(parts[1]))
                negatives = [str(int(field)) for field in fields[1:] if field.strip()]
                if not negatives:
                    raise ValueError("no negatives after the (user,item) pair")
            except ValueError as error:
                reason = str(error).replace("invalid literal for int() with base 10", "not an id")
                log.bad_line(path, number, reason, "bad negatives line")
                continue
            if user in lines:
                log.bad_line(path, number, f"user {user} has a second line", "repeated user")
                continue
            problems = _problems(user, item, negatives, known)
            if problems:
                bad.update(kind for _, kind in problems)
                more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
                log.bad_line(path, number, problems[0][0] + more, problems[0][1])
                continue
            lines[user] = (number, negatives)
    return _same_length(path, lines, log), bad


def _same_length(
    path: Path, lines: dict[str, tuple[int, list[str]]], log: ErrorLog
) -> dict[str, list[str]]:
    """The lines that hold the number of negatives most lines hold; the others are bad."""
    lengths = Counter(len(negatives) for _, negatives in lines.values())
    if not lengths:
        return {}
    usual = max(sorted(lengths), key=lengths.__getitem__)
    out = {}
    for user, (number, negatives) in sorted(lines.items(), key=lambda kv: kv[1][0]):
        if len(negatives) != usual:
            reason = (
                f"{len(negatives)} negatives where the other lines hold {usual} (different "
                "numbers of negatives; every test user needs the same number)"
            )
            log.bad_line(path, number, reason, "other number of negatives")
            continue
        out[user] = negatives
    return out


def read_ncf(prefix: str | os.PathLike, log: ErrorLog | None = None) -> NcfFiles:
    """Read ``P.train.rating``, ``P.test.rating`` and ``P.test.negative`` (module docstring).

    Raises:
        DataError: a missing file, a bad line (under ``on_error="raise"``), a test user
            without negatives (under ``"raise"``), or a user with two test items.
    """
    log = log or ErrorLog()
    train_path, test_path, negative_path = paths(prefix)
    train, timed = _ratings(train_path, log)
    test, _ = _ratings(test_path, log, start=len(train))
    if test["user"].duplicated().any():
        user = test.loc[test["user"].duplicated(), "user"].iloc[0]
        raise DataError(test_path, f"user {user} has more than one test item")
    known = _Known(
        test_item=dict(zip(test["user"], test["item"], strict=True)),
        seen={u: set(items) for u, items in train.groupby("user")["item"]},
        last_id=int(max(train["item"].astype(np.int64).max(), test["item"].astype(np.int64).max())),
        test_path=test_path,
    )
    negatives, bad = _negatives(negative_path, log, known)
    missing = sorted(set(test["user"]) - set(negatives), key=int)
    if missing and log.on_error == "raise":
        raise DataError(
            negative_path,
            f"no negatives for {len(missing)} test users of {test_path} (first: {missing[0]})",
        )
    if missing:
        train = train[~train["user"].isin(missing)].reset_index(drop=True)
        test = test[~test["user"].isin(missing)].reset_index(drop=True)
    if not len(test):
        raise DataError(negative_path, "no test user has usable negatives")
    return NcfFiles(
        train, test, negatives, negative_path, timed, missing, dict(sorted(bad.items()))
    )
