"""The ``prepare`` section of :mod:`bench.scale`: LFM-1b preparation at growing sizes, projected
to the real file's 1,088,161,692 lines.

For each size (a generated LFM-1b-like file, :class:`bench.reader_speed.Lfm1bLike`; smaller
files are the first lines of the largest) and each mode (``read``, ``filter``, ``prepare``; see
:func:`bench.reader_speed.measure`), one fresh process measures wall time and peak resident
memory. With ``--prepare-baseline DIR`` (another checkout, for example an older commit exported
with ``git archive``), the same measurements run with that checkout's ``coat_tf``, each right
after the current one, so the two see the same machine.

Projection to the full file, from the measured growth:

- time: least squares ``seconds = a + b * lines``;
- distinct (user, top track) pairs: a power law ``pairs = c * lines ** k`` (log-log fit), since
  the pairs grow more slowly than the lines (listeners replay tracks);
- peak memory: least squares ``peak = m + p * pairs`` at the projected pairs (the memory that
  grows is the pairs'), and, as an upper bound, ``peak = m + q * lines``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from bench.reader_speed import ensure_file, run_child

FULL_LINES = 1_088_161_692
MODES = ("read", "filter", "prepare")
SIZES = (10_000_000, 25_000_000, 50_000_000)
TINY_SIZES = (20_000, 50_000)
MIN_PROJECTED = 1_000_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("prepare section")
    group.add_argument(
        "--prepare-sizes",
        type=int,
        nargs="+",
        help="lines of each generated file (default: 10M 25M 50M; with --tiny 20k 50k)",
    )
    group.add_argument(
        "--prepare-modes",
        nargs="+",
        choices=MODES,
        help="what to measure (default: all; with --tiny read and filter)",
    )
    group.add_argument(
        "--prepare-data",
        type=Path,
        help="folder for the generated files, kept for reuse (default: a temporary folder "
        "with --tiny, else <tmp>/coat_scale_lfm1b); needs about 44 bytes a line",
    )
    group.add_argument(
        "--prepare-baseline",
        type=Path,
        help="another checkout whose coat_tf is measured beside this one",
    )


def run(args: argparse.Namespace) -> dict:
    sizes = sorted(set(args.prepare_sizes or (TINY_SIZES if args.tiny else SIZES)))
    modes = args.prepare_modes or (["read", "filter"] if args.tiny else list(MODES))
    settings = {"users": 3, "negatives": 9} if args.tiny else {}
    trees = [("current", None)]
    if args.prepare_baseline is not None:
        trees.append(("baseline", args.prepare_baseline.resolve()))
    with tempfile.TemporaryDirectory(prefix="coat_scale_") as scratch:
        data = args.prepare_data or (
            Path(scratch) if args.tiny else Path(tempfile.gettempdir()) / "coat_scale_lfm1b"
        )
        largest = ensure_file(data / f"lines-{sizes[-1]}" / "LFM-1b_LEs.txt", sizes[-1])
        rows = []
        for lines in sizes:
            path = ensure_file(data / f"lines-{lines}" / "LFM-1b_LEs.txt", lines, longer=largest)
            for mode in modes:
                for label, root in trees:
                    result = run_child(mode, path, root, **settings)
                    rows.append(_row(label, result))
    projections = []
    if sizes[-1] >= MIN_PROJECTED:  # below, start-up costs swamp the growth
        projections = [_project(label, mode, rows) for label, _ in trees for mode in modes]
    return {
        "title": "Preparing LFM-1b",
        "rows": rows + [p for p in projections if p],
        "notes": [
            "Generated LFM-1b-like files (bench.reader_speed.Lfm1bLike: 120,322 users, "
            "32.3 million tracks with Zipf plays, 2005-2014, 60% of plays replays of a "
            "listener's own tracks). read: one pass of the reader; filter: date >= "
            "2014-01-01, the 10,000 most played tracks (two passes), users with >= 10 "
            "interactions; prepare: the whole `prepare --source lfm1b` without audio.",
            f"Rows marked 'projected' are fits to the measured sizes, evaluated at "
            f"{FULL_LINES:,} lines (LFM-1b): time linear in lines; pairs a power law in "
            "lines; peak memory linear in pairs (and, as an upper bound, linear in lines).",
        ],
        "settings": {"sizes": sizes, **settings},
    }


def _row(label: str, result: dict) -> dict:
    row = {
        "checkout": label,
        "mode": result["mode"],
        "lines": result["lines"],
        "seconds": result["seconds"],
        "lines_per_s": result["lines_per_second"],
        "peak_rss_mib": result["peak_rss_mib"],
    }
    if "pairs" in result:
        row["pairs"] = result["pairs"]
        row["kept_interactions"] = result["after_filter"]["interactions"]
    if "counts" in result:
        row["kept_interactions"] = result["counts"]["interactions"]
    if result.get("phase_peaks_mib"):
        row["phase_peaks_mib"] = result["phase_peaks_mib"]
    return row


def _project(label: str, mode: str, rows: list[dict]) -> dict | None:
    mine = [r for r in rows if r["checkout"] == label and r["mode"] == mode]
    if len(mine) < 2:
        return None
    lines = np.array([r["lines"] for r in mine], dtype=float)
    seconds = np.polyval(np.polyfit(lines, [r["seconds"] for r in mine], 1), FULL_LINES)
    peaks = np.array([r["peak_rss_mib"] for r in mine])
    row = {
        "checkout": label,
        "mode": f"{mode} (projected)",
        "lines": FULL_LINES,
        "seconds": round(float(seconds)),
        "lines_per_s": round(FULL_LINES / seconds),
        "peak_rss_mib": round(float(np.polyval(np.polyfit(lines, peaks, 1), FULL_LINES))),
    }
    pairs = {r["lines"]: r["pairs"] for r in rows if r["checkout"] == label and "pairs" in r}
    if all(n in pairs for n in lines):
        counts = np.array([pairs[n] for n in lines], dtype=float)
        k, c = np.polyfit(np.log(lines), np.log(counts), 1)
        full_pairs = float(np.exp(c) * FULL_LINES**k)
        row["pairs"] = round(full_pairs)
        row["pairs_exponent"] = round(float(k), 3)
        row["peak_rss_mib_upper"] = row["peak_rss_mib"]
        row["peak_rss_mib"] = round(float(np.polyval(np.polyfit(counts, peaks, 1), full_pairs)))
    return row
