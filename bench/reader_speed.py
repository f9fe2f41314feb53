"""LFM-1b reader speed and peak memory on a generated file in the LFM-1b events format.

    .venv/bin/python -m bench.reader_speed [--lines 50000000] [--path /tmp/LFM-1b_LEs.txt]

Writes (once; reused while its line count matches) a tab-separated file of ``--lines`` events
``user artist album track timestamp``: 120,000 users, 2,000,000 tracks with Zipf-like
popularity, timestamps spread over 2012-2014 (about two thirds since 2014-01-01). Then, each in
a fresh process so that peak memory is its own:

- ``read``: one pass of the block reader (parse to typed chunks), rows per second;
- ``filter``: the paper's steps (date, 10,000 most played tracks, two passes) then users with
  at least 10 interactions, rows per second over both passes.

Peak memory is the child's maximum resident set size.
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


def generate(path: Path, lines: int, seed: int = 0, chunk: int = 2_000_000) -> None:
    """Write ``lines`` synthetic events (bounded memory: ``chunk`` lines at a time)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    tmp = path.with_name(path.name + ".partial")
    started = time.perf_counter()
    with open(tmp, "w") as handle:
        for start in range(0, lines, chunk):
            n = min(chunk, lines - start)
            track = (rng.pareto(0.8, n) * 1000).astype(np.int64) % 2_000_000
            frame = pd.DataFrame(
                {
                    "user": rng.integers(1, 120_000, n) * 37 % 50_000_000,
                    "artist": track // 10,
                    "album": track // 3,
                    "track": track,
                    "timestamp": rng.integers(T2014 - 2 * 365 * 86400, T2014 + 220 * 86400, n),
                }
            )
            frame.to_csv(handle, sep="\t", header=False, index=False, lineterminator="\n")
            print(f"\rgenerated {start + n:,} lines", end="", file=sys.stderr)
    tmp.rename(path)
    print(f"\nwrote {path} in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def _child(mode: str, path: str) -> None:
    import coat_tf  # noqa: F401
    from coat_tf.data.errors import ErrorLog
    from coat_tf.data.filtering import filter_min_user_interactions, interaction_stats
    from coat_tf.data.interactions import aggregate
    from coat_tf.data.readers import Lfm1bSource

    source = Lfm1bSource(path)
    started = time.perf_counter()
    result: dict = {"mode": mode}
    if mode == "read":
        rows = sum(len(chunk) for chunk in source.chunks(ErrorLog()))
        passes = 1
    else:
        agg = aggregate(source, ErrorLog(), T2014, 10_000)
        rows = agg.stats.events
        passes = 2
        result["stats"] = interaction_stats(filter_min_user_interactions(agg.interactions, 10))
        result["events_since"] = agg.stats.events_since
    seconds = time.perf_counter() - started
    result.update(
        rows=rows,
        seconds=round(seconds, 2),
        rows_per_second=round(rows * passes / seconds),
        peak_rss_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    )
    print(json.dumps(result))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=50_000_000)
    parser.add_argument("--path", default="/tmp/coat_bench/LFM-1b_LEs.txt")
    parser.add_argument("--modes", default="read,filter")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.path)
        return 0
    path = Path(args.path)
    path.parent.mkdir(parents=True, exist_ok=True)
    marker = path.with_name(path.name + ".lines")
    if not path.exists() or not marker.exists() or int(marker.read_text()) != args.lines:
        path.unlink(missing_ok=True)
        generate(path, args.lines)
        marker.write_text(str(args.lines))
    size = path.stat().st_size
    print(f"{path}: {args.lines:,} lines, {size / 2**30:.2f} GiB")
    for mode in args.modes.split(","):
        out = subprocess.run(
            [sys.executable, "-m", "bench.reader_speed", "--child", mode, "--path", str(path)],
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"{mode}: {result['rows']:,} rows in {result['seconds']} s, "
            f"{result['rows_per_second']:,} rows/s, peak RSS {result['peak_rss_mib']} MiB"
            + (f", after filtering {result['stats']}" if "stats" in result else "")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
