"""Performance at the paper's scale: one command, independent sections, JSON and markdown out.

Command (from the project root)::

    .venv/bin/python -m bench.scale --out /tmp/scale                       # every section
    .venv/bin/python -m bench.scale --sections matmul extraction --out DIR  # some of them
    .venv/bin/python -m bench.scale --tiny --out DIR                        # seconds (CI smoke)

Sections (``--sections``; each is a function of the parsed options that returns a dict):

- ``prepare``: LFM-1b preparation at growing sizes, projected to 1.09 billion lines
  (:mod:`bench.scale_prepare`);
- ``extraction``: Chordino chord extraction in times real time, one process and all cores;
- ``matmul``: one large float32 matrix product with TensorFlow, in GMAC/s: the floor that the
  compute-bound sections are compared with;
- ``attention``: the chord attention's forward and backward pass, the fused op against the
  split form with and without XLA (:mod:`bench.scale_attention`);
- ``training``: training examples per second and multiply-adds per second of every Keras model
  at predictive factors 8 to 64, as ratios to NeuMF (:mod:`bench.scale_models`);
- ``evaluation``: full-catalogue and sampled scoring in users per second, projected to all the
  paper's users, beside the matrix-product floor (:mod:`bench.scale_models`);
- ``pipeline``: the tf.data training input's examples per second on a prepared data set of the
  paper's shape, beside the models it feeds (:mod:`bench.scale_pipeline`);
- ``profile``: a ``tf.profiler`` trace of COAT's and NeuMF's training steps, summarised by part
  (attention, tower, embeddings, optimizer; forward and backward) (:mod:`bench.scale_profile`).

A section returns ``{"title": str, "rows": [dict, ...], "notes": [str, ...], ...}``; ``rows``
becomes a markdown table (columns: the union of the rows' keys, in order of appearance). With
``--out DIR``, ``DIR/scale.json`` and ``DIR/scale.md`` are rewritten atomically after every
section, so a run that is stopped keeps what it measured. A section that raises is recorded with
its error and the others still run; the exit status is then 1. ``--tiny`` shrinks every
section's defaults so that the whole command takes seconds.

To add a section: write ``add_arguments(parser)`` (options prefixed with the section's name)
and ``run(args) -> dict``, and list them in :data:`SECTIONS`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import scale_attention, scale_models, scale_pipeline, scale_prepare, scale_profile
from coat_tf.fileio import atomic_write_text  # (coat_tf first: it selects legacy Keras)


@dataclass(frozen=True)
class Section:
    title: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], dict]


# -- matmul ------------------------------------------------------------------------------------


def _matmul_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("matmul section")
    group.add_argument("--matmul-size", type=int, help="n of n x n @ n x n (default 4096)")
    group.add_argument("--matmul-repeats", type=int, default=5, help="timed products")


def run_matmul(args: argparse.Namespace) -> dict:
    import tensorflow as tf

    n = args.matmul_size or (256 if args.tiny else 4096)
    seconds, cpu = scale_models.time_matmul(n, args.matmul_repeats)
    macs = n**3
    device = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
    return {
        "title": "Matrix product floor (TensorFlow, float32)",
        "rows": [
            {
                "n": n,
                "device": device,
                "repeats": len(seconds),
                "best_seconds": round(min(seconds), 4),
                "median_seconds": round(statistics.median(seconds), 4),
                "best_gmac_per_s": round(macs / min(seconds) / 1e9, 1),
                "median_gmac_per_s": round(macs / statistics.median(seconds) / 1e9, 1),
                "gmac_per_cpu_s": round(macs / statistics.median(cpu) / 1e9, 1),
            }
        ],
        "notes": [
            f"{n} x {n} @ {n} x {n}: {macs / 1e9:.4g} GMAC a product. gmac_per_cpu_s: per "
            "second of CPU time over all of TensorFlow's threads (the median product), which "
            "other work on the machine disturbs less than the wall time."
        ],
    }


# -- extraction --------------------------------------------------------------------------------


def _extraction_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("extraction section")
    group.add_argument(
        "--extraction-audio", type=Path, help="folder of recordings (default: shared audio/)"
    )
    group.add_argument(
        "--extraction-copies",
        type=int,
        help="WAV renditions of each recording at distinct gains (default 4; --tiny: 1)",
    )
    group.add_argument(
        "--extraction-workers", type=int, help="pool size (default: all cores; --tiny: 1)"
    )
    group.add_argument("--extraction-rounds", type=int, help="keep the best of (default 2)")


def run_extraction(args: argparse.Namespace) -> dict:
    try:
        from bench.extraction_speed import make_copies, measure
        from coat_tf.chords.cache import default_workers
        from coat_tf.chords.extract import ExtractorSettings, extract_file
    except ImportError as error:  # the audio extra is not installed
        return {"title": "Chord extraction", "rows": [], "skipped": str(error)}

    settings = ExtractorSettings()
    workers = args.extraction_workers or (1 if args.tiny else default_workers())
    rounds = args.extraction_rounds or (1 if args.tiny else 2)
    with tempfile.TemporaryDirectory(prefix="coat_scale_audio_") as folder:
        paths = _recordings(args, Path(folder), settings.sample_rate)
        if not args.tiny and (args.extraction_copies or 4) > 1:
            paths = make_copies(paths, args.extraction_copies or 4, Path(folder), 22050)
        digests = {hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}
        if len(digests) != len(paths):
            raise RuntimeError("two audio files have the same content: speeds would be wrong")
        extract_file(paths[0], settings)  # warm-up of the in-process measurement
        rows = []
        for count in sorted({1, workers}):
            best = cpu = None
            for _ in range(rounds):
                cpu_started = _cpu_seconds()
                audio, seconds = measure(paths, count, settings)
                used = _cpu_seconds() - cpu_started
                best = seconds if best is None else min(best, seconds)
                cpu = used if cpu is None else min(cpu, used)
            rows.append(
                {
                    "workers": count,
                    "files": len(paths),
                    "audio_seconds": round(audio, 1),
                    "wall_seconds": round(best, 2),
                    "x_real_time": round(audio / best, 1),
                    "x_real_time_per_worker": round(audio / best / count, 1),
                    "cpu_seconds": round(cpu, 2),
                    "x_real_time_per_cpu_s": round(audio / cpu, 1),
                }
            )
    return {
        "title": "Chord extraction (Chordino)",
        "rows": rows,
        "notes": [
            "Every file distinct in content (checked by hash), extracted into an empty cache. "
            "1 worker: in this process after one warm-up extraction; N workers: a fresh pool, "
            f"start-up included. Best of {rounds} round(s). cpu_seconds: this process and its "
            "workers, user + system: the audio per CPU second does not depend on how busy the "
            "machine is, the wall-clock speed-up with N workers does."
        ],
    }


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (a pool's workers, once joined)."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _recordings(args: argparse.Namespace, folder: Path, sample_rate: int) -> list[Path]:
    if args.tiny and args.extraction_audio is None:
        from coat_tf.chords import synth

        out = []
        for i, labels in enumerate((["C:maj", "A:min"], ["F:maj", "G:7"])):
            timed = [(2.0 * j, 2.0 * (j + 1), label) for j, label in enumerate(labels * 2)]
            signal = synth.render(timed, synth.SynthSettings(sample_rate=sample_rate))
            out.append(folder / f"tiny-{i}.wav")
            synth.write_audio(out[-1], signal, sample_rate)
        return out
    from bench.extraction_speed import AUDIO_EXTENSIONS
    from coat_tf.paths import shared_data_dir

    audio = args.extraction_audio or shared_data_dir() / "audio"
    paths = sorted(p for p in audio.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS)
    if not paths:
        raise FileNotFoundError(f"no audio files in {audio}")
    return paths


# -- the command -------------------------------------------------------------------------------

SECTIONS: dict[str, Section] = {
    "prepare": Section("Preparing LFM-1b", scale_prepare.add_arguments, scale_prepare.run),
    "extraction": Section("Chord extraction", _extraction_arguments, run_extraction),
    "matmul": Section("Matrix product floor", _matmul_arguments, run_matmul),
    "attention": Section(
        "Chord attention, fused and split", scale_attention.add_arguments, scale_attention.run
    ),
    "training": Section(
        "Training throughput", scale_models.add_training_arguments, scale_models.run_training
    ),
    "evaluation": Section(
        "Evaluation speed", scale_models.add_evaluation_arguments, scale_models.run_evaluation
    ),
    "pipeline": Section("Training input", scale_pipeline.add_arguments, scale_pipeline.run),
    "profile": Section("Training step profile", scale_profile.add_arguments, scale_profile.run),
}


def render_markdown(report: dict) -> str:
    """The report as markdown: a heading, a table and notes per section."""
    lines = [
        "# Performance at scale",
        "",
        f"`{report['command']}` on {report['machine']['summary']}, {report['started']}.",
    ]
    for name, section in report["sections"].items():
        lines += ["", f"## {section.get('title', name)}", ""]
        if "error" in section:
            lines.append(f"Failed: `{section['error']}`")
            continue
        if "skipped" in section:
            lines.append(f"Skipped: {section['skipped']}")
            continue
        columns: list[str] = []
        for row in section.get("rows", []):
            columns += [key for key in row if key not in columns]
        if columns:
            lines.append("| " + " | ".join(columns) + " |")
            lines.append("|" + "---|" * len(columns))
            for row in section["rows"]:
                lines.append("| " + " | ".join(_cell(row.get(c, "")) for c in columns) + " |")
        for note in section.get("notes", []):
            lines += ["", note]
        if "seconds" in section:
            lines += ["", f"Section time: {section['seconds']} s."]
    return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_cell(v)}" for k, v in value.items())
    return str(value).replace("|", "\\|")


def _machine() -> dict:
    memory = ""
    try:
        with open("/proc/meminfo") as handle:
            kib = int(handle.readline().split()[1])
        memory = f"{kib / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    cpus = os.cpu_count()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else ""
    return {
        "cpus": cpus,
        "memory": memory,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_at_start": load,
        "summary": f"{cpus} cores, {memory or 'unknown'} memory, load {load or 'unknown'}",
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sections", nargs="+", choices=list(SECTIONS), default=list(SECTIONS), metavar="NAME"
    )
    parser.add_argument("--out", type=Path, help="folder for scale.json and scale.md")
    parser.add_argument("--tiny", action="store_true", help="small sizes: seconds, for CI")
    for section in SECTIONS.values():
        section.add_arguments(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    shown = sys.argv[1:] if argv is None else argv
    report = {
        "command": " ".join(["python -m bench.scale", *shown]),
        "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": _machine(),
        "sections": {},
    }
    failed = False
    for name in args.sections:
        print(f"[bench.scale] {name} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            result = SECTIONS[name].run(args)
        except Exception as error:  # record it, go on with the other sections
            traceback.print_exc()
            result = {"title": SECTIONS[name].title, "error": f"{type(error).__name__}: {error}"}
            failed = True
        result["seconds"] = round(time.perf_counter() - started, 1)
        report["sections"][name] = result
        if args.out is not None:
            atomic_write_text(args.out / "scale.json", json.dumps(report, indent=2) + "\n")
            atomic_write_text(args.out / "scale.md", render_markdown(report))
    print(render_markdown(report))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
