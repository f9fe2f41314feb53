"""``prepare --source ncf``: the NCF reference code's files, their ids and their negatives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from coat_tf.data import DataError, PrepareConfig, prepare
from coat_tf.data.ncf import read_ncf

# user: (training items with timestamps, test item, test negatives); item 11 is played by
# nobody and appears only among the negatives
USERS = {
    0: ([(1, 100), (2, 105), (3, 101)], 4, [5, 6, 11]),
    1: ([(2, 200), (5, 210), (6, 205)], 1, [0, 3, 11]),
    2: ([(0, 300), (7, 301), (8, 302), (9, 303)], 10, [1, 2, 11]),
    3: ([(4, 400), (9, 401), (1, 402)], 7, [0, 5, 8]),
}


def write_ncf(folder: Path, users: dict = USERS) -> Path:
    prefix = folder / "tiny"
    train, test, negative = [], [], []
    for user, (items, held, negatives) in users.items():
        train += [f"{user}\t{item}\t5\t{time}" for item, time in items]
        test.append(f"{user}\t{held}\t4\t999")
        negative.append(f"({user},{held})\t" + "\t".join(map(str, negatives)))
    Path(f"{prefix}.train.rating").write_text("\n".join(train) + "\n")
    Path(f"{prefix}.test.rating").write_text("\n".join(test) + "\n")
    Path(f"{prefix}.test.negative").write_text("\n".join(negative) + "\n")
    return prefix


def _prepare(prefix: Path, out: Path):  # noqa: ANN202
    config = PrepareConfig.for_source("ncf", eval_negatives=2, num_shards=1)
    return prepare("ncf", prefix, out, config, progress=False)


def test_the_given_negatives_are_the_test_candidates(tmp_path: Path) -> None:
    data = _prepare(write_ncf(tmp_path), tmp_path / "out")
    assert data.num_users == 4 and data.user_ids == ["0", "1", "2", "3"]
    assert "11" in data.song_ids  # a song only among the negatives is in the catalogue
    assert data.num_songs == 12
    for row, user in enumerate(data.test.users):
        _, held, negatives = USERS[int(data.user_ids[user])]
        items = [data.song_ids[i] for i in data.test.items[row]]
        assert items == [str(held)] + [str(n) for n in negatives]


def test_validation_is_the_latest_training_item_and_every_user_is_kept(tmp_path: Path) -> None:
    data = _prepare(write_ncf(tmp_path), tmp_path / "out")
    valid = {
        data.user_ids[u]: data.song_ids[s]
        for u, s in zip(data.valid.users, data.valid.positives, strict=True)
    }
    assert valid == {"0": "2", "1": "5", "2": "9", "3": "1"}
    train = {
        (data.user_ids[u], data.song_ids[s])
        for u, s in zip(data.train["user"], data.train["song"], strict=True)
    }
    assert ("0", "2") not in train and ("0", "1") in train and ("0", "4") not in train
    assert len(data.train) == sum(len(items) for items, _, _ in USERS.values()) - 4
    # validation negatives are drawn from songs the user never interacted with
    for row, user in enumerate(data.valid.users):
        seen = set(data.train_items_by_user()[user]) | {data.test.positives[row]}
        assert not seen & set(data.valid.items[row, 1:].tolist())
    assert data.manifest["settings"]["min_user_interactions"] is None


def test_bad_lines_name_the_file_and_the_line(tmp_path: Path) -> None:
    prefix = write_ncf(tmp_path)
    negative = Path(f"{prefix}.test.negative")
    lines = negative.read_text().splitlines()
    lines[2] = "2,10\t1\t2\t11"
    negative.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"tiny.test.negative:3: the first field must be"):
        read_ncf(prefix)
    lines[2] = "(2,10)\t1\tx\t11"
    negative.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"tiny.test.negative:3: .*not an id"):
        read_ncf(prefix)
    train = Path(f"{prefix}.train.rating")
    train.write_text(train.read_text() + "7\tseven\t5\t100\n")
    with pytest.raises(DataError, match=r"tiny.train.rating:14"):
        read_ncf(prefix)


def test_missing_files_and_users_are_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not an NCF data set prefix.*nothing.train.rating"):
        read_ncf(tmp_path / "nothing")
    prefix = write_ncf(tmp_path)
    negative = Path(f"{prefix}.test.negative")
    negative.write_text("\n".join(negative.read_text().splitlines()[:3]) + "\n")
    with pytest.raises(DataError, match="no negatives for 1 test users.*first: 3"):
        read_ncf(prefix)
    write_ncf(tmp_path, {**USERS, 3: ([(4, 400), (9, 401)], 7, [0, 5])})
    with pytest.raises(DataError, match="different numbers of negatives"):
        read_ncf(prefix)


def test_the_cli_prepares_an_ncf_prefix(tmp_path: Path, capsys) -> None:
    from coat_tf.data.__main__ import main

    prefix = write_ncf(tmp_path)
    out = tmp_path / "cli"
    code = main(
        ["prepare", "--source", "ncf", "--input", str(prefix), "--out", str(out)]
        + ["--eval-negatives", "2", "--shards", "1", "--quiet"]
    )
    assert code == 0
    assert np.load(out / "chords.npy").shape == (12, 100)
