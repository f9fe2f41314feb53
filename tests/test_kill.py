"""SIGKILL in the middle of a command, then the same command again: it finishes with the result
an uninterrupted run gives, and no temporary file or folder is left behind.

(Training has its own kill test in ``tests/test_train.py``.)
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from coat_tf.chords.cli import main as chords_main
from coat_tf.data import PrepareConfig, prepare
from tests.test_chords_extract import PROGRESSION, bad_files, chord_tones, write_audio
from tests.tiny_data import write_events

TEMPORARY = re.compile(r"^\..*\.(tmp|partial|old)$")

pytestmark = pytest.mark.slow


def temporaries(folder: Path) -> list[Path]:
    """Temporary files and folders (``fileio``'s names) anywhere below ``folder``."""
    return [p for p in folder.rglob(".*") if TEMPORARY.match(p.name)]


def start(argv: list[str]) -> subprocess.Popen:
    """``python argv`` in its own process group (so that its workers can be killed too)."""
    env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
    return subprocess.Popen(
        [sys.executable, *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def kill_when(process: subprocess.Popen, ready: Callable[[], bool], limit: float = 240) -> None:
    """SIGKILL ``process`` and its workers as soon as ``ready()`` holds."""
    deadline = time.time() + limit
    while not ready():
        assert process.poll() is None, (
            f"finished before it could be killed: {process.stderr.read()}"
        )
        assert time.time() < deadline, "never reached the point to kill it at"
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    stderr = process.stderr.read()
    assert "Traceback" not in stderr
    for noise in ("cuInit", "cudart_stub", "absl::InitializeLog"):
        assert noise not in stderr, stderr  # workers start quietly too


def test_chords_extract_killed_then_resumed(tmp_path: Path) -> None:
    music = tmp_path / "music"
    for i in range(12):  # 12 distinct 30 s recordings, and one that fails
        write_audio(music / f"song{i:02d}.wav", chord_tones(PROGRESSION, 7.5) * (1 - 0.02 * i))
    bad_files(music)
    out = tmp_path / "out"
    records = out / "cache" / "chords"
    argv = ["-m", "coat_tf.chords", "extract", str(music), "--out", str(out), "--workers", "2"]
    first = start([*argv, "--quiet"])
    kill_when(first, lambda: any(records.rglob("*.json")))
    assert not (out / "summary.json").exists()

    assert chords_main(["extract", str(music), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["cached"] >= 1 and summary["cached"] + summary["extracted"] == 12
    reference = tmp_path / "reference"
    assert (
        chords_main(["extract", str(music), "--out", str(reference), "--workers", "1", "--quiet"])
        == 0
    )
    for name in ("chords.tsv", "segments.jsonl", "failures.tsv", "vocabulary.json"):
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name
    assert temporaries(tmp_path) == []


def test_prepare_killed_then_run_again(tmp_path: Path) -> None:
    events = write_events(tmp_path / "events.tsv")
    out = tmp_path / "data" / "prepared"
    argv = ["-m", "coat_tf.data", "prepare", "--source", "events", "--input", str(events)]
    argv += ["--out", str(out), "--since", "none", "--min-user-interactions", "5", "--quiet"]
    first = start(argv)
    kill_when(first, lambda: bool(list(out.parent.glob(".prepared.*.partial"))))
    assert not out.exists() and temporaries(out.parent)  # the killed run's folder is left

    config = PrepareConfig.for_source("events", since=None, min_user_interactions=5)
    again = prepare("events", events, out, config, progress=False)
    reference = prepare("events", events, tmp_path / "reference", config, progress=False)
    assert again.manifest["files"] == reference.manifest["files"]
    assert again.manifest["content_hash"] == reference.manifest["content_hash"]
    assert temporaries(tmp_path) == []
