"""An experiment's tables and plot, from its ``results.csv`` rows.

- ``<experiment>.md``: one table per metric (HR@10 and NDCG@10, on the stored sampled
  candidates and over the full catalogue), models down, predictive factors across, mean ±
  standard deviation over seeds, the best mean of each column in bold; then where the
  hyperparameters came from; then the paired comparisons: COAT against every other model (and,
  for new songs, every other model against random order), the mean per-user difference in
  NDCG@10 with its 95% bootstrap interval, seeds pooled (:mod:`coat_tf.experiments.paired`;
  also in ``<experiment>-paired.csv``). Runs that
  recorded the test figures of every epoch (``train --test-every-epoch``) add two tables: the
  best of those, NCF's rule, for comparison.
- ``<experiment>.png``: the shape of the paper's Fig. 2: one panel per metric, predictive
  factors on the x axis (log scale), one line per model, error bars of one standard deviation.
"""

from __future__ import annotations

import io
import math
import statistics
from collections.abc import Sequence
from pathlib import Path

from coat_tf.experiments.paired import PairedDifference, against, compare, reference_model
from coat_tf.fileio import atomic_write_bytes, atomic_write_text

#: The tables' metrics; ``{sampled}`` is filled in by :func:`labelled` with the data set's
#: number of sampled negatives per user.
METRICS = (
    ("sampled_hr", "HR@10, {sampled}"),
    ("sampled_ndcg", "NDCG@10, {sampled}"),
    ("full_hr", "HR@10, full catalogue"),
    ("full_ndcg", "NDCG@10, full catalogue"),
)
#: The rankings compared per user (keys of a run's ``per_user.npz``) and their labels.
PAIRED_RANKINGS = (
    ("test/sampled", "{sampled}"),
    ("test/full_catalogue", "full catalogue"),
)
PAIRED_COLUMNS = (
    "reference",
    "other",
    "factors",
    "ranking",
    "seeds",
    "users",
    "mean",
    "low",
    "high",
)
#: The new-song experiment's metrics: each held-out new song against the other songs of its
#: shelf (:mod:`coat_tf.new_songs_evaluation`); ``{sampled}`` as above, for the shelf.
NEW_SONG_METRICS = (
    ("new_sampled_hr", "HR@10, new songs, {sampled}"),
    ("new_sampled_ndcg", "NDCG@10, new songs, {sampled}"),
    ("new_shelf_hr", "HR@10, new songs, whole shelf"),
    ("new_shelf_ndcg", "NDCG@10, new songs, whole shelf"),
)
NEW_SONG_RANKINGS = (
    ("new_test/sampled", "new songs, {sampled}"),
    ("new_test/whole_shelf", "new songs, whole shelf"),
)
#: On new songs every content model is also compared with this one: the bar a content model
#: has to clear.
NEW_SONG_BASELINE = "random"
#: Tables added for the runs that recorded the test figures of every epoch (``train
#: --test-every-epoch``): the best of them, NCF's reference code's rule, beside the others.
NCF_RULE_METRICS = (
    ("ncf_rule_sampled_hr", "HR@10, {sampled}, best epoch on test (NCF's rule)"),
    ("ncf_rule_sampled_ndcg", "NDCG@10, {sampled}, best epoch on test (NCF's rule)"),
)


def labelled(metrics: Sequence[tuple[str, str]], negatives: int | None) -> list[tuple[str, str]]:
    """``metrics`` with their labels saying the sampled negatives per user (``negatives``;
    None where no run recorded it)."""
    sampled = "sampled negatives" if negatives is None else f"{negatives} sampled negatives"
    return [(metric, label.format(sampled=sampled)) for metric, label in metrics]


def summarise(rows: list[dict], metric: str) -> dict[tuple[str, int], tuple[float, float, int]]:
    """``(model, factors) -> (mean, standard deviation, seeds)`` of ``metric``, over the runs
    that have it (a run evaluated without the full catalogue has no full-catalogue figures)."""
    groups: dict[tuple[str, int], list[float]] = {}
    for row in rows:
        value = float(row[metric])
        if not math.isnan(value):
            groups.setdefault((row["model"], row["factors"]), []).append(value)
    return {
        key: (
            statistics.mean(values),
            statistics.stdev(values) if len(values) > 1 else 0.0,
            len(values),
        )
        for key, values in groups.items()
    }


def _ordered(rows: list[dict], key: str) -> list:
    seen: list = []
    for row in rows:
        if row[key] not in seen:
            seen.append(row[key])
    return seen


def figures(experiment: str) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    """``(metrics, rankings)`` of an experiment's report: the columns of ``results.csv`` its
    tables show, and the per-user rankings its paired comparisons read."""
    if experiment == "new-songs":
        return NEW_SONG_METRICS, NEW_SONG_RANKINGS
    return METRICS, PAIRED_RANKINGS


def paired_differences(
    rows: list[dict],
    rankings: Sequence[tuple[str, str]] = PAIRED_RANKINGS,
    baseline: str | None = None,
) -> list[PairedDifference]:
    """COAT against every other model of ``rows``, on each ranking of ``rankings`` (none where
    the experiment has no ``coat`` runs); then, where ``baseline`` ran, every model that is
    neither COAT nor ``baseline`` minus ``baseline``."""
    reference = reference_model(_ordered(rows, "model"))
    found: list[PairedDifference] = []
    for ranking, _ in rankings:
        if reference is not None:
            found += compare(rows, reference, ranking)
        if baseline is not None and baseline in _ordered(rows, "model"):
            found += against(rows, baseline, ranking, skip=[reference] if reference else [])
    return found


def paired_markdown(
    paired: list[PairedDifference],
    rows: list[dict],
    negatives: int | None = 99,
    rankings: Sequence[tuple[str, str]] = PAIRED_RANKINGS,
) -> list[str]:
    """The paired comparisons' tables: one per ranking, the other models down, sizes across,
    each cell ``mean [low, high]``, in bold where the interval excludes 0."""
    if not paired:
        return []
    seeds = len(_ordered(rows, "seed"))
    sampled = "sampled negatives" if negatives is None else f"{negatives} sampled negatives"
    lines = [
        "## Paired comparisons",
        "",
        "The mean per-user difference in NDCG@10, the first model minus the second, with "
        "its 95% bootstrap interval over users (2,000 resamples; each user's difference "
        "averaged over the seeds both models ran, then resampled): in bold where the interval "
        "excludes 0. A positive figure favours the first.",
        "",
    ]
    for ranking, label in rankings:
        chosen = [found for found in paired if found.ranking == ranking]
        if not chosen:
            continue
        sizes = sorted({found.factors for found in chosen})
        lines += [f"### NDCG@10, {label.format(sampled=sampled)}", ""]
        lines.append("| difference | " + " | ".join(f"F = {f}" for f in sizes) + " |")
        lines.append("|---|" + "---|" * len(sizes))
        for pair in dict.fromkeys((found.reference, found.other) for found in chosen):
            cells = []
            for size in sizes:
                found = next(
                    (c for c in chosen if (c.reference, c.other) == pair and c.factors == size),
                    None,
                )
                if found is None:
                    cells.append("")
                    continue
                cell = f"{found.mean:+.4f} [{found.low:+.4f}, {found.high:+.4f}]"
                if found.seeds < seeds:
                    cell += f" ({found.seeds} seed{'s' if found.seeds > 1 else ''})"
                cells.append(f"**{cell}**" if found.excludes_zero else cell)
            lines.append(f"| {pair[0]} − {pair[1]} | " + " | ".join(cells) + " |")
        lines.append("")
    users = sorted({found.users for found in paired})
    lines += [f"Users compared: {', '.join(map(str, users))}.", ""]
    return lines


def paired_csv(paired: list[PairedDifference]) -> str:
    """The paired comparisons as CSV (columns :data:`PAIRED_COLUMNS`)."""
    lines = [",".join(PAIRED_COLUMNS)]
    for found in paired:
        lines.append(",".join(str(getattr(found, column)) for column in PAIRED_COLUMNS))
    return "\n".join(lines) + "\n"


def markdown(
    experiment: str,
    rows: list[dict],
    title: str,
    note: str = "",
    negatives: int | None = 99,
    paired: list[PairedDifference] | None = None,
) -> str:
    """The experiment's tables (see the module docstring); ``note`` goes under the title,
    ``negatives`` (the sampled negatives per user of the data set) into the labels, ``paired``
    (:func:`paired_differences`) after the hyperparameters. The metrics shown are those of
    :func:`figures`."""
    metrics, rankings = figures(experiment)
    models = _ordered(rows, "model")
    factors = sorted(_ordered(rows, "factors"))
    seeds = sorted(_ordered(rows, "seed"))
    lines = [f"# {title}", ""]
    if note:
        lines += [note, ""]
    lines += [
        f"Mean ± standard deviation over seeds {', '.join(map(str, seeds))} "
        f"({len(rows)} runs; one run: its figure alone); the best mean of each column in "
        "bold. Every figure is on the test split, with the epoch chosen on validation NDCG@10.",
        "",
    ]
    ruled = [row for row in rows if not math.isnan(float(row.get("ncf_rule_sampled_ndcg", "nan")))]
    tables = [(metric, label, rows) for metric, label in labelled(metrics, negatives)]
    tables += [
        (metric, label, ruled) for metric, label in labelled(NCF_RULE_METRICS, negatives) if ruled
    ]
    for metric, label, chosen in tables:
        table = summarise(chosen, metric)
        if not table:
            continue  # no run has it (e.g. --no-full-catalogue)
        shown = [m for m in models if any((m, f) in table for f in factors)]
        best = {
            f: max((table[(m, f)][0] for m in shown if (m, f) in table), default=None)
            for f in factors
        }
        lines += [f"## {label}", ""]
        if metric in dict(NCF_RULE_METRICS):
            lines += [
                "Only the runs that recorded the test figures of every epoch: the best of them, "
                "as NCF's reference code reports; chosen on the test split, so for comparison "
                "only.",
                "",
            ]
        lines.append("| model | " + " | ".join(f"F = {f}" for f in factors) + " |")
        lines.append("|---|" + "---|" * len(factors))
        for model in shown:
            cells = []
            for f in factors:
                if (model, f) not in table:
                    cells.append("")
                    continue
                mean, spread, count = table[(model, f)]
                cell = f"{mean:.4f}" if count == 1 else f"{mean:.4f} ± {spread:.4f}"
                if count < len(seeds):
                    cell += f" ({count} seed{'s' if count > 1 else ''})"
                cells.append(f"**{cell}**" if mean == best[f] else cell)
            lines.append(f"| {model} | " + " | ".join(cells) + " |")
        lines.append("")
    sources = {}
    for row in rows:
        sources.setdefault(row["model"], set()).add(row["source"])
    lines += ["## Hyperparameters", ""]
    for model in models:
        lines.append(f"- {model}: {', '.join(sorted(sources[model]))}")
    lines.append("")
    lines += paired_markdown(paired or [], rows, negatives, rankings)
    return "\n".join(lines)


def plot(
    rows: list[dict],
    title: str,
    metrics: Sequence[tuple[str, str]] = METRICS,
    negatives: int | None = 99,
) -> bytes:
    """The PNG of the paper's Fig. 2 shape (see the module docstring)."""
    metrics = labelled(metrics, negatives)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = _ordered(rows, "model")
    factors = sorted(_ordered(rows, "factors"))
    columns = 2
    rows_of_panels = -(-len(metrics) // columns)
    figure, axes = plt.subplots(
        rows_of_panels, columns, figsize=(5.2 * columns, 3.6 * rows_of_panels), squeeze=False
    )
    for axis, (metric, label) in zip(axes.ravel(), metrics, strict=False):
        table = summarise(rows, metric)
        for model in models:
            points = [(f, *table[(model, f)][:2]) for f in factors if (model, f) in table]
            if not points:
                continue
            xs, means, spreads = zip(*points, strict=True)
            axis.errorbar(xs, means, yerr=spreads, marker="o", capsize=3, label=model)
        axis.set_xscale("log", base=2)
        axis.set_xticks(factors, [str(f) for f in factors])
        axis.set_xlabel("predictive factors")
        axis.set_title(label, fontsize=10)
        axis.grid(alpha=0.3)
    for axis in axes.ravel()[len(metrics) :]:
        axis.axis("off")
    axes.ravel()[0].legend(fontsize=8)
    figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    plt.close(figure)
    return buffer.getvalue()


def write_report(
    out: Path,
    experiment: str,
    rows: list[dict],
    title: str,
    note: str = "",
    negatives: int | None = 99,
) -> None:
    """Write ``<experiment>.md``, ``<experiment>.png`` and, where COAT is compared with other
    models per user, ``<experiment>-paired.csv`` into ``out`` (atomically).

    Raises:
        ValueError: a run's ``per_user.npz`` is damaged (naming it).
    """
    metrics, rankings = figures(experiment)
    baseline = NEW_SONG_BASELINE if experiment == "new-songs" else None
    paired = paired_differences(rows, rankings, baseline)
    text = markdown(experiment, rows, title, note, negatives, paired)
    if paired:
        atomic_write_text(out / f"{experiment}-paired.csv", paired_csv(paired))
    atomic_write_text(out / f"{experiment}.md", text)
    atomic_write_bytes(out / f"{experiment}.png", plot(rows, title, metrics, negatives))
