"""A resumable per-song cache and the parallel runner that fills it.

One record per song, at ``CACHE/KIND/KEY[:2]/KEY.json`` (or ``.npy``), where

    KEY = sha256(file content) [:32] + "-" + settings key

so a record is found again whatever the file is called or where it lies, and any change of
settings (or of the extractor's version, which is part of the settings key) misses the cache.
Records are written with :func:`coat_tf.fileio.atomic_write_bytes`: a run killed half-way leaves
finished records whole and no partial one. A record that does not parse, or whose stored key
differs from its name, is ignored and redone.

:func:`run_cached` hashes every file in the calling process, serves the records it finds, and
sends the rest to a pool of worker processes (``spawn`` start method, so the workers are clean
of whatever the caller imported, TensorFlow included). Each worker stays alive across files, so
per-process warm-up is paid once per worker. Workers write the records themselves.
"""

from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from coat_tf.chords.errors import AudioError
from coat_tf.fileio import atomic_write_bytes, remove_stale_temporaries

RECORD_FORMATS = ("json", "npy")


def file_digest(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """SHA-256 of a file's content, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()


class RecordCache:
    """Cache records of one kind (``"chords"``, ``"mfcc"``) under one settings key.

    Args:
        root: cache folder (created on first write).
        kind: sub-folder name, one per kind of record.
        settings_key: the settings' stable hash; part of every key.
        record_format: ``"json"`` (any JSON value) or ``"npy"`` (one NumPy array).
    """

    def __init__(
        self,
        root: str | os.PathLike,
        kind: str,
        settings_key: str,
        record_format: str = "json",
    ) -> None:
        if record_format not in RECORD_FORMATS:
            raise ValueError(
                f"record_format must be one of {RECORD_FORMATS}, got {record_format!r}"
            )
        self.root = Path(root)
        self.kind = kind
        self.settings_key = settings_key
        self.record_format = record_format

    def key_for(self, path: str | os.PathLike) -> str:
        """The record key of a file: its content hash and the settings key."""
        return f"{file_digest(path)[:32]}-{self.settings_key}"

    def record_path(self, key: str) -> Path:
        return self.root / self.kind / key[:2] / f"{key}.{self.record_format}"

    def load(self, key: str) -> Any | None:
        """The record stored under ``key``; ``None`` if absent, unreadable or not this key's."""
        path = self.record_path(key)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        try:
            if self.record_format == "npy":
                return np.load(io.BytesIO(data), allow_pickle=False)
            wrapper = json.loads(data.decode("utf-8"))
            if not isinstance(wrapper, dict) or wrapper.get("key") != key:
                return None
            return wrapper["record"]
        except (ValueError, KeyError, EOFError, UnicodeDecodeError, OSError):
            return None

    def save(self, key: str, record: Any) -> None:
        """Store ``record`` under ``key`` atomically."""
        if self.record_format == "npy":
            buffer = io.BytesIO()
            np.save(buffer, np.asarray(record), allow_pickle=False)
            data = buffer.getvalue()
        else:
            data = json.dumps({"key": key, "record": record}).encode("utf-8")
        atomic_write_bytes(self.record_path(key), data)


@dataclass
class TaskResult:
    """The outcome for one input path: a record, or an error reason.

    ``cached``: read from the cache. ``copy``: the same content as an earlier input of this
    call, whose record it shares (computed once, so it is neither computed nor cached).
    """

    path: str
    record: Any = None
    cached: bool = False
    error: str | None = None
    copy: bool = False


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _run_task(job: tuple[Callable[..., Any], str, str, RecordCache, tuple[Any, ...]]):
    """Worker body: compute one record, store it, and report (never raises)."""
    task, path, key, cache, task_args = job
    try:
        record = task(path, *task_args)
        cache.save(key, record)
        return key, record, None
    except AudioError as error:
        return key, None, error.reason
    except Exception as error:  # keep the batch going; the reason names what went wrong
        return key, None, f"failed: {type(error).__name__}: {error}"


def run_cached(
    task: Callable[..., Any],
    paths: Sequence[str],
    cache: RecordCache,
    task_args: tuple[Any, ...] = (),
    workers: int | None = None,
    stop_on_error: bool = False,
    progress: bool = True,
    description: str = "files",
) -> list[TaskResult]:
    """Compute ``task(path, *task_args)`` for every path not yet in ``cache``.

    ``task`` must be a module-level function (it is sent to worker processes), return a record
    the cache can store, and raise :class:`~coat_tf.chords.errors.AudioError` for bad input.

    Returns:
        One :class:`TaskResult` per distinct path, in input order.

    Raises:
        AudioError: the first failure, when ``stop_on_error`` is true.
    """
    from tqdm import tqdm

    remove_stale_temporaries(cache.root / cache.kind, recursive=True)  # left by a killed run
    unique = list(dict.fromkeys(str(path) for path in paths))
    results = {path: TaskResult(path) for path in unique}
    pending: dict[str, list[str]] = {}  # key -> paths with that content
    bar = tqdm(
        total=len(unique), desc=description, unit="file", file=sys.stderr, disable=not progress
    )

    def fail(path: str, reason: str) -> None:
        results[path].error = reason
        if stop_on_error:
            bar.close()
            raise AudioError(path, reason)

    try:
        for path in unique:
            if not Path(path).is_file():
                fail(path, "file not found")
                bar.update(1)
                continue
            try:
                key = cache.key_for(path)
            except OSError as error:
                fail(path, f"cannot read file: {error.strerror or error}")
                bar.update(1)
                continue
            record = cache.load(key)
            if record is not None:
                results[path].record, results[path].cached = record, True
                bar.update(1)
            else:
                results[path].copy = key in pending
                pending.setdefault(key, []).append(path)

        jobs = [(task, group[0], key, cache, task_args) for key, group in pending.items()]
        jobs.sort(key=lambda job: -_size(job[1]))  # longest first: a balanced pool
        count = min(workers or default_workers(), len(jobs))
        if count <= 1:
            outcomes = map(_run_task, jobs)
            pool = None
        else:
            pool = multiprocessing.get_context("spawn").Pool(count)
            outcomes = pool.imap_unordered(_run_task, jobs, chunksize=1)
        try:
            for key, record, error in outcomes:
                for path in pending[key]:
                    if error is not None:
                        fail(path, error)
                    else:
                        results[path].record = record
                bar.update(len(pending[key]))
        except BaseException:
            if pool is not None:
                pool.terminate()
            raise
        finally:
            if pool is not None:
                pool.close()
                pool.join()
    finally:
        bar.close()
    return [results[path] for path in unique]
