"""The NCF data format (He et al., 2017): the files of the NCF reference code and of many papers
after it, read as a pre-split source.

For a prefix ``P`` (``Data/ml-1m``, say)::

    P.train.rating     user \\t item \\t rating \\t timestamp       the training interactions
    P.test.rating      user \\t item \\t rating \\t timestamp       one held-out item per user
    P.test.negative    (user,item) \\t n_1 \\t n_2 ... \\t n_99     its sampled negatives

Ids are integers (0-based in the original files) and are kept as the data set's ids. The
negatives are used exactly as given, so results compare to published ones on the very same
candidates; songs that appear only among the negatives are part of the catalogue. Every user is
kept (such files are already filtered), and the validation item is taken from training as for
the other sources: each user's latest training interaction.

Bad lines get the file and the line, under the same ``on_error`` policy as the other readers;
a missing user or a different number of negatives per line is an error naming the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

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
    """

    train: pd.DataFrame
    test: pd.DataFrame
    negatives: dict[str, list[str]]
    negatives_path: Path


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


def _ratings(path: Path, log: ErrorLog) -> pd.DataFrame:
    columns = [
        Column("user", "int"),
        Column("item", "int"),
        Column("rating", "opt", keep=False),
        Column("timestamp", "unix"),
    ]
    chunks = list(TableReader(path, columns, log=log))
    if not chunks:
        raise DataError(path, "no interactions")
    frame = pd.concat(chunks, ignore_index=True)
    return frame.assign(user=frame["user"].astype(str), item=frame["item"].astype(str))


def _negatives(path: Path, log: ErrorLog) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
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
                user, item = int(parts[0]), int(parts[1])
                negatives = [str(int(field)) for field in fields[1:] if field.strip()]
                if not negatives:
                    raise ValueError("no negatives after the (user,item) pair")
            except ValueError as error:
                reason = str(error).replace("invalid literal for int() with base 10", "not an id")
                log.bad_line(path, number, reason, "bad negatives line")
                continue
            if str(user) in out:
                log.bad_line(path, number, f"user {user} has a second line", "repeated user")
                continue
            if str(item) in negatives:
                log.bad_line(
                    path, number, f"the test item {item} is among its own negatives", "bad negative"
                )
                continue
            out[str(user)] = negatives
    return out


def read_ncf(prefix: str | os.PathLike, log: ErrorLog | None = None) -> NcfFiles:
    """Read ``P.train.rating``, ``P.test.rating`` and ``P.test.negative`` (module docstring).

    Raises:
        DataError: a missing file, a bad line (under ``on_error="raise"``), a test user
            without negatives, or lines with different numbers of negatives.
    """
    log = log or ErrorLog()
    train_path, test_path, negative_path = paths(prefix)
    train = _ratings(train_path, log)
    test = _ratings(test_path, log)
    negatives = _negatives(negative_path, log)
    lengths = {len(n) for n in negatives.values()}
    if len(lengths) > 1:
        raise DataError(
            negative_path,
            f"lines hold different numbers of negatives ({sorted(lengths)}); every test user "
            "needs the same number",
        )
    missing = sorted(set(test["user"]) - set(negatives), key=int)
    if missing:
        raise DataError(
            negative_path,
            f"no negatives for {len(missing)} test users of {test_path} (first: {missing[0]})",
        )
    if test["user"].duplicated().any():
        user = test.loc[test["user"].duplicated(), "user"].iloc[0]
        raise DataError(test_path, f"user {user} has more than one test item")
    return NcfFiles(train, test, negatives, negative_path)
