"""A picture of COAT's architecture: ``python -m coat_tf.inspection.diagram OUT.png``.

The boxes follow :func:`coat_tf.models.coat.build_coat_model` and the paper's equations (1) to
(5): the GMF layer ``P[u] * Q[i]``; the chord attention, whose score for position ``i`` is
``a_i = h^T ReLU(W_u^T e_u + W_c^T C_i + W_p^T p_i + b)``, ``beta = softmax(a)`` and
``Att_out = sum_i beta_i C_i``; and the tower on ``[GMF_out; Att_out]``, each layer half the
width of the one before, then a sigmoid. Drawn with Matplotlib's Agg canvas (no pyplot, no
global backend change), so it runs headless.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Sequence
from pathlib import Path

from coat_tf import add_version_option

#: (x, y, width, height, text, colour) of each box, in axes units (0..1).
BOXES: tuple[tuple[float, float, float, float, str, str], ...] = (
    (0.03, 0.05, 0.16, 0.10, "user id u", "#e8e8e8"),
    (0.27, 0.05, 0.16, 0.10, "song id i", "#e8e8e8"),
    (0.55, 0.05, 0.40, 0.10, "chord ids of song i  [L = 100]", "#e8e8e8"),
    (0.03, 0.24, 0.16, 0.10, "e_u = P[u]  [d]", "#cfe2f3"),
    (0.27, 0.24, 0.16, 0.10, "Q[i]  [d]", "#cfe2f3"),
    (0.55, 0.24, 0.40, 0.10, "C[chord_1..L], p_1..L  [L, d]", "#cfe2f3"),
    (0.03, 0.45, 0.40, 0.11, "GMF:  GMF_out = P[u] * Q[i]  [d]", "#d9ead3"),
    (
        0.48,
        0.42,
        0.49,
        0.17,
        "chord attention\na_i = h^T ReLU(W^T [e_u; C_i; p_i] + b)\n"
        "beta = softmax(a)  [L];  Att_out = sum_i beta_i C_i  [d]",
        "#fce5cd",
    ),
    (0.18, 0.66, 0.64, 0.09, "[GMF_out; Att_out]  [2d]", "#e8e8e8"),
    (0.18, 0.80, 0.64, 0.09, "tower MLP: 4d, 2d, d units (ReLU)", "#d9d2e9"),
    (0.33, 0.92, 0.34, 0.07, "sigmoid: P(u listens to i)", "#f4cccc"),
)

#: Arrows between box centres' edges: ((x0, y0), (x1, y1)).
ARROWS: tuple[tuple[tuple[float, float], tuple[float, float]], ...] = (
    ((0.11, 0.15), (0.11, 0.24)),
    ((0.35, 0.15), (0.35, 0.24)),
    ((0.75, 0.15), (0.75, 0.24)),
    ((0.11, 0.34), (0.11, 0.45)),
    ((0.35, 0.34), (0.35, 0.45)),
    ((0.75, 0.34), (0.75, 0.42)),
    ((0.19, 0.34), (0.52, 0.42)),  # e_u also scores the chord positions (shared)
    ((0.23, 0.56), (0.35, 0.66)),
    ((0.72, 0.59), (0.62, 0.66)),
    ((0.50, 0.75), (0.50, 0.80)),
    ((0.50, 0.89), (0.50, 0.92)),
)


def draw_model(path: str | Path, width_inches: float = 9.0) -> Path:
    """Draw COAT's architecture into the PNG ``path`` (written whole, then renamed).

    Returns:
        The path written.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    from coat_tf.fileio import atomic_write_bytes

    figure = Figure(figsize=(width_inches, width_inches * 0.72))
    canvas = FigureCanvasAgg(figure)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.axis("off")
    for x, y, width, height, text, colour in BOXES:
        box = FancyBboxPatch(
            (x, y), width, height, boxstyle="round,pad=0.005", facecolor=colour, edgecolor="#444"
        )
        axes.add_patch(box)
        axes.text(x + width / 2, y + height / 2, text, ha="center", va="center", fontsize=9)
    for start, end in ARROWS:
        axes.add_patch(
            FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12, color="#444")
        )
    axes.text(
        0.03,
        0.015,
        "COAT (Feng, Li & Yang, 2022); d = --embedding-size, L = sequence length",
        fontsize=8,
        va="center",
        color="#555",
    )
    canvas.draw()
    buffer = io.BytesIO()
    canvas.print_png(buffer)
    path = Path(path)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Write the picture; 0 done, 2 an output path that cannot be written."""
    parser = argparse.ArgumentParser(prog="python -m coat_tf.inspection.diagram")
    add_version_option(parser)
    parser.add_argument("out", help="the PNG to write, e.g. docs/model.png")
    args = parser.parse_args(argv)
    try:
        print(draw_model(args.out))
    except OSError as error:
        print(f"error: {args.out}: {error.strerror or error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
