"""LFM-1b reader speed and peak memory on a generated file in the LFM-1b events format.

    .venv/bin/python -m bench.reader_speed [--lines 50000000] [--path /tmp/LFM-1b_LEs.txt]

Writes (once; reused while its line count matches) a tab-separated file of ``--lines`` events
``user artist album track timestamp`` drawn with LFM-1b's cardinalities (see :func:`generate`).
Then, each in a fresh process so that peak memory is its own:

- ``read``: one pass of the block reader (parse to typed chunks), rows per second;
- ``filter``: the paper's steps (date, 10,000 most played tracks, two passes) then users with
  at least 10 interactions, lines of the file per second of the whole step;
- ``prepare``: the whole ``prepare --source lfm1b`` (no audio).

Peak memory is the child's maximum resident set size. ``python -m bench.scale --sections
prepare`` runs these at several sizes and projects them to LFM-1b's 1.09 billion lines.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

T2014 = 1388534400
#: LFM-1b's cardinalities (Schedl, ICMR 2016) and the span of its timestamps.
USERS = 120_322
TRACKS = 32_291_134
ALBUMS = 15_991_038
ARTISTS = 3_190_371
FIRST = 1104537600  # 2005-01-01
LAST = 1409529600  # 2014-09-01
_CHUNK = 2_000_000


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: a fixed, well-spread hash of uint64 values."""
    x = x.astype(np.uint64)
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def _zipf_rank(u: np.ndarray, n: int) -> np.ndarray:
    """Ranks in ``[1, n]`` with P(k) ~ 1/k (Zipf, exponent 1) from uniforms ``u`` in [0, 1)."""
    return np.minimum(np.floor(np.exp(u * np.log(n + 1.0))).astype(np.int64), n)


class Lfm1bLike:
    """Draws LFM-1b-like events: 120,322 users, 32.3 million tracks, 2005-2014.

    - tracks: Zipf popularity (exponent 1) over 32,291,134 ranks, a rank's id a fixed
      permutation of ``1..TRACKS`` (ids do not follow popularity); artist and album ids
      follow from the track id;
    - users: log-normal activity (sigma 1.2); ids spread up to about 49 million, as LFM-1b's;
    - time: each user listens over an own span starting between 2005 and early 2014; 40% of
      users are still active at the end (2014-09-01), the others stop at a random date. About
      12% of events fall on or after 2014-01-01;
    - repeat listening: with probability ``repeat`` an event replays one of the user's own 1,000
      library slots (slot popularity Zipf, each slot a fixed Zipf-drawn track), otherwise a
      fresh Zipf draw. ``repeat=0`` gives independent draws (the most distinct pairs).

    Output is deterministic for a seed; a smaller file may be cut from a longer one (its first
    lines are a sample of the same distribution).
    """

    def __init__(self, seed: int = 0, repeat: float = 0.6, slots: int = 1000) -> None:
        self.rng = np.random.default_rng(seed)
        self.repeat, self.slots = repeat, slots
        weights = self.rng.lognormal(0.0, 1.2, USERS)
        self.p = weights / weights.sum()
        self.start = self.rng.uniform(FIRST, T2014 + 60 * 86400, USERS)
        stays = self.rng.random(USERS) < 0.4
        self.end = np.where(stays, LAST, self.rng.uniform(self.start, LAST))

    def draw(self, n: int) -> dict[str, np.ndarray]:
        rng = self.rng
        user = rng.choice(USERS, n, p=self.p)
        fresh = rng.random(n) >= self.repeat
        slot = (_zipf_rank(rng.random(n), self.slots) - 1).astype(np.uint64)
        library = _mix((user.astype(np.uint64) << np.uint64(20)) | slot)
        u = (library >> np.uint64(11)).astype(np.float64) / float(1 << 53)
        u[fresh] = rng.random(int(fresh.sum()))
        track = (_zipf_rank(u, TRACKS) - 1) * 7_368_787 % TRACKS + 1
        span = self.end[user] - self.start[user]
        return {
            "user": user * 409 + 1,
            "artist": track * 31 % ARTISTS + 1,
            "album": track * 7 % ALBUMS + 1,
            "track": track,
            "timestamp": (self.start[user] + rng.random(n) * span).astype(np.int64),
        }


def generate(path: Path, lines: int, seed: int = 0, repeat: float = 0.6) -> None:
    """Write ``lines`` LFM-1b-like events (:class:`Lfm1bLike`), 2,000,000 lines at a time."""
    import pandas as pd

    draws = Lfm1bLike(seed, repeat)
    tmp = path.with_name(path.name + ".partial")
    started = time.perf_counter()
    with open(tmp, "w") as handle:
        for start in range(0, lines, _CHUNK):
            n = min(_CHUNK, lines - start)
            frame = pd.DataFrame(draws.draw(n))
            frame.to_csv(handle, sep="\t", header=False, index=False, lineterminator="\n")
            print(f"\rgenerated {start + n:,} lines", end="", file=sys.stderr)
    tmp.rename(path)
    print(f"\nwrote {path} in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def copy_prefix(source: Path, target: Path, lines: int) -> None:
    """Write the first ``lines`` lines of ``source`` to ``target`` (under a temporary name)."""
    tmp = target.with_name(target.name + ".partial")
    left = lines
    with open(source, "rb") as src, open(tmp, "wb") as out:
        while left:
            block = src.read(64 << 20)
            if not block:
                raise ValueError(f"{source} has fewer than {lines:,} lines")
            count = block.count(b"\n")
            if count >= left:
                cut = -1
                for _ in range(left):
                    cut = block.index(b"\n", cut + 1)
                block, count = block[: cut + 1], left
            out.write(block)
            left -= count
    tmp.rename(target)


def ensure_file(
    path: Path, lines: int, seed: int = 0, repeat: float = 0.6, longer: Path | None = None
) -> Path:
    """``path`` holding ``lines`` generated lines: reused if its ``.lines`` marker matches, cut
    from ``longer`` (a generated file of more lines, same seed and settings) where possible,
    else generated."""
    path.parent.mkdir(parents=True, exist_ok=True)
    settings = f"seed={seed} repeat={repeat}"
    marker = path.with_name(path.name + ".lines")
    if path.exists() and marker.exists() and marker.read_text() == f"{lines} {settings}":
        return path
    path.unlink(missing_ok=True)
    held = longer.with_name(longer.name + ".lines") if longer else None
    if held and held.exists():
        count, _, theirs = held.read_text().partition(" ")
        if theirs == settings and int(count) >= lines:
            copy_prefix(longer, path, lines)
            marker.write_text(f"{lines} {settings}")
            return path
    generate(path, lines, seed, repeat)
    marker.write_text(f"{lines} {settings}")
    return path


class PeakSampler:
    """Samples this process's resident set size every ``interval`` seconds, per named phase."""

    def __init__(self, interval: float = 0.02) -> None:
        import threading

        self.interval = interval
        self.peaks: dict[str, float] = {}
        self._phase: str | None = None
        self._peak = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @staticmethod
    def rss() -> int:
        try:
            with open("/proc/self/statm") as handle:
                return int(handle.read().split()[1]) * resource.getpagesize()
        except OSError:  # not Linux: phases stay empty, ru_maxrss still reports the peak
            return 0

    def _run(self) -> None:
        while not self._done.wait(self.interval):
            self._peak = max(self._peak, self.rss())

    def phase(self, name: str | None) -> None:
        """End the current phase (recording its peak in MiB) and start ``name``."""
        if self._phase is not None:
            peak = max(self._peak, self.rss())
            self.peaks[self._phase] = round(peak / 2**20, 1)
        self._phase, self._peak = name, self.rss()

    def stop(self) -> dict[str, float]:
        self.phase(None)
        self._done.set()
        self._thread.join()
        return self.peaks


def measure(mode: str, path: str, top: int = 10_000, users: int = 10, negatives: int = 99) -> dict:
    """One measurement of ``mode`` on the events file ``path`` (run it in a fresh process).

    ``read``: parse every chunk; ``filter``: the date (2014-01-01) and top-``top`` steps (two
    passes) then users with at least ``users`` interactions; ``prepare``: the whole ``prepare
    --source lfm1b`` into a temporary folder (no audio: every song gets the all-unknown chords;
    ``negatives`` evaluation negatives a user).
    """
    import tempfile

    import coat_tf  # noqa: F401
    from coat_tf.data.errors import ErrorLog
    from coat_tf.data.filtering import filter_min_user_interactions, interaction_stats
    from coat_tf.data.interactions import aggregate
    from coat_tf.data.readers import Lfm1bSource

    sampler = PeakSampler()

    class Passes(Lfm1bSource):
        passes = 0

        def chunks(self, log):
            Passes.passes += 1
            sampler.phase(f"pass {Passes.passes}")
            yield from super().chunks(log)

    source = Passes(path)
    result: dict = {"mode": mode}
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime
    started = time.perf_counter()
    if mode == "read":
        rows = sum(len(chunk) for chunk in source.chunks(ErrorLog()))
    elif mode == "filter":
        agg = aggregate(source, ErrorLog(), T2014, top)
        rows = agg.stats.events
        result["pairs"] = len(agg.interactions)
        result["events_since"] = agg.stats.events_since
        sampler.phase("users")
        result["after_filter"] = interaction_stats(
            filter_min_user_interactions(agg.interactions, users)
        )
    elif mode == "prepare":
        import importlib

        from coat_tf.data import records

        module = importlib.import_module("coat_tf.data.prepare")  # the package exports prepare()

        def aggregate_then(*args, **kwargs):
            out = aggregate(*args, **kwargs)
            sampler.phase("steps")  # chords, users, splits, candidates, tables
            return out

        def write_records_then(*args, **kwargs):
            sampler.phase("records")
            return write_records(*args, **kwargs)

        # Phases by wrapping the names prepare() looks up (the same in older checkouts).
        write_records = records.write_records
        module.Lfm1bSource, module.aggregate = Passes, aggregate_then
        records.write_records = write_records_then
        config = module.PrepareConfig.for_source(
            "lfm1b", top_songs=top, min_user_interactions=users, eval_negatives=negatives
        )
        with tempfile.TemporaryDirectory(prefix="coat_prepare_") as tmp:
            prepared = module.prepare(
                "lfm1b", path, Path(tmp) / "out", config, progress=False, cache_dir=tmp, workers=1
            )
            result["counts"] = {
                k: prepared.manifest["counts"][k] for k in ("users", "songs", "interactions")
            }
            rows = prepared.manifest["counts"]["events"]
    else:
        raise ValueError(f"unknown mode {mode!r}")
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result.update(
        lines=rows,
        seconds=round(seconds, 2),
        cpu_seconds=round(usage.ru_utime + usage.ru_stime - cpu_before, 2),
        lines_per_second=round(rows / seconds),
        peak_rss_mib=round(usage.ru_maxrss / 1024, 1),
        phase_peaks_mib=sampler.stop(),
    )
    return result


def run_child(mode: str, path: Path, coat_root: Path | None = None, **settings) -> dict:
    """:func:`measure` in a fresh process (its own peak memory), with ``coat_tf`` imported
    from ``coat_root`` where given (to measure another checkout, such as an older commit)."""
    command = [sys.executable, "-m", "bench.reader_speed", "--child", mode, "--path", str(path)]
    if coat_root is not None:
        command += ["--coat-root", str(coat_root)]
    command += ["--settings", json.dumps(settings)]
    out = subprocess.run(
        command, check=True, capture_output=True, text=True, cwd=Path(__file__).parents[1]
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=50_000_000)
    parser.add_argument("--path", default="/tmp/coat_bench/LFM-1b_LEs.txt")
    parser.add_argument("--modes", default="read,filter", help="read, filter, prepare")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--coat-root", help=argparse.SUPPRESS)
    parser.add_argument("--settings", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        if args.coat_root:
            sys.path.insert(0, args.coat_root)
        print(json.dumps(measure(args.child, args.path, **json.loads(args.settings))))
        return 0
    path = ensure_file(Path(args.path), args.lines)
    size = path.stat().st_size
    print(f"{path}: {args.lines:,} lines, {size / 2**30:.2f} GiB")
    for mode in args.modes.split(","):
        result = run_child(mode, path)
        print(
            f"{mode}: {result['lines']:,} lines in {result['seconds']} s, "
            f"{result['lines_per_second']:,} lines/s, peak RSS {result['peak_rss_mib']} MiB"
            + (f", after filtering {result['after_filter']}" if "after_filter" in result else "")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
