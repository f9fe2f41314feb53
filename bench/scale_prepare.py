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
- peak memory: per phase, least squares ``peak = m + p * pairs`` at the projected pairs (the
  memory that grows is the pairs'), the largest phase giving the peak; as an upper bound, the
  same with ``peak = m + q * lines``. Pass 1 (play counts, sized by the largest track id,
  which every size already reaches) is projected at its largest measured peak.
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
        "--prepare-rounds", type=int, help="measurements of each (default 2; --tiny: 1)"
    )
    group.add_argument(
        "--prepare-baseline",
        type=Path,
        help="another checkout whose coat_tf is measured beside this one",
    )


def run(args: argparse.Namespace) -> dict:
    sizes = sorted(set(args.prepare_sizes or (TINY_SIZES if args.tiny else SIZES)))
    modes = args.prepare_modes or (["read", "filter"] if args.tiny else list(MODES))
    rounds = args.prepare_rounds or (1 if args.tiny else 2)
    settings = {"users": 3, "negatives": 9} if args.tiny else {}
    trees = [("current", None)]
    if args.prepare_baseline is not None:
        trees.append(("baseline", args.prepare_baseline.resolve()))
    rows = []
    with tempfile.TemporaryDirectory(prefix="coat_scale_") as scratch:
        data = args.prepare_data or (
            Path(scratch) if args.tiny else Path(tempfile.gettempdir()) / "coat_scale_lfm1b"
        )
        largest = ensure_file(data / f"lines-{sizes[-1]}" / "LFM-1b_LEs.txt", sizes[-1])
        for lines in sizes:
            path = ensure_file(data / f"lines-{lines}" / "LFM-1b_LEs.txt", lines, longer=largest)
            results: dict[tuple[str, str], list[dict]] = {}
            for _ in range(rounds):  # rounds outermost: a slow spell touches every variant
                for mode in modes:
                    for label, root in trees:
                        result = run_child(mode, path, root, **settings)
                        results.setdefault((label, mode), []).append(result)
            rows += [_row(label, runs) for (label, _), runs in results.items()]
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
            f"Each figure: the best time and the highest peak of {rounds} round(s), each in a "
            "fresh process; cpu_seconds (user + system, all threads) is steadier than the wall "
            "time on a shared machine. Phase peaks: pass 1 counts plays, pass 2 aggregates the "
            "pairs, users is the user filter; in prepare, steps is everything between "
            "aggregation and the TFRecords (records).",
            f"Rows marked 'projected' are fits to the measured sizes, evaluated at "
            f"{FULL_LINES:,} lines (LFM-1b): time linear in lines; pairs (distinct user, top "
            "track) a power law in lines; each phase's peak linear in pairs (pass 1: its "
            "largest measured, as its arrays are sized by the track ids, all present at every "
            "size), the projected peak the largest phase; peak_upper: the phases linear in "
            "lines.",
        ],
        "settings": {"sizes": sizes, "rounds": rounds, **settings},
    }


def _row(label: str, runs: list[dict]) -> dict:
    best = min(runs, key=lambda r: r["seconds"])
    row = {
        "checkout": label,
        "mode": best["mode"],
        "lines": best["lines"],
        "seconds": best["seconds"],
        "cpu_seconds": min(r["cpu_seconds"] for r in runs),
        "lines_per_s": best["lines_per_second"],
        "peak_rss_mib": max(r["peak_rss_mib"] for r in runs),
    }
    if "pairs" in best:
        row["pairs"] = best["pairs"]
        row["kept_interactions"] = best["after_filter"]["interactions"]
    if "counts" in best:
        row["kept_interactions"] = best["counts"]["interactions"]
    phases: dict[str, float] = {}
    for run in runs:
        for phase, peak in run.get("phase_peaks_mib", {}).items():
            phases[phase] = max(phases.get(phase, 0.0), peak)
    if phases:
        row["phase_peaks_mib"] = phases
    return row


def _project(label: str, mode: str, rows: list[dict]) -> dict | None:
    mine = [r for r in rows if r["checkout"] == label and r["mode"] == mode]
    if len(mine) < 2:
        return None
    lines = np.array([r["lines"] for r in mine], dtype=float)
    seconds = float(np.polyval(np.polyfit(lines, [r["seconds"] for r in mine], 1), FULL_LINES))
    cpu = np.polyval(np.polyfit(lines, [r["cpu_seconds"] for r in mine], 1), FULL_LINES)
    row: dict = {
        "checkout": label,
        "mode": f"{mode} (projected)",
        "lines": FULL_LINES,
        "seconds": round(seconds),
        "cpu_seconds": round(float(cpu)),
        "lines_per_s": round(FULL_LINES / seconds),
    }
    pairs = {r["lines"]: r["pairs"] for r in rows if r["checkout"] == label and "pairs" in r}
    by_pairs = None
    if all(n in pairs for n in lines):
        counts = np.array([pairs[n] for n in lines], dtype=float)
        k, c = np.polyfit(np.log(lines), np.log(counts), 1)
        row["pairs"] = round(float(np.exp(c) * FULL_LINES**k))
        row["pairs_exponent"] = round(float(k), 3)
        by_pairs = _phase_fit(mine, counts, row["pairs"])
    by_lines = _phase_fit(mine, lines, FULL_LINES)
    phases = by_pairs or by_lines
    row["peak_rss_mib"] = max(phases.values())
    row["peak_rss_mib_upper"] = max(by_lines.values())
    row["phase_peaks_mib"] = phases
    return row


def _phase_fit(rows: list[dict], x: np.ndarray, at: float) -> dict[str, int]:
    """Each phase's peak (the whole peak where there are no phases) fitted linearly in ``x``
    and evaluated at ``at``, never below the largest measured. Pass 1 holds per-track arrays
    sized by the largest track id, which every generated size already spans (ids up to 32.3
    million): its largest measured peak is its projection."""
    names = [p for r in rows for p in r.get("phase_peaks_mib", {})] or ["whole"]
    out = {}
    for name in dict.fromkeys(names):
        peaks = [r.get("phase_peaks_mib", {}).get(name, r["peak_rss_mib"]) for r in rows]
        fitted = float(np.polyval(np.polyfit(x, peaks, 1), at)) if name != "pass 1" else 0.0
        out[name] = round(max(fitted, max(peaks)))
    return out
