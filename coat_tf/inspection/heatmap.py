"""Pictures of one attention vector: a heat strip and a bar chart labelled with the chords."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from coat_tf.checks import check_positive_int

HEIGHT_INCHES = 3.4


class AttentionPlot:
    """A reusable figure of the attention over one fixed chord sequence.

    Top: a one-row heat map of the weights (brighter = more weight). Bottom: the weights as
    bars, with the uniform weight ``1 / L`` as a dashed line; the x axis is the position,
    labelled with the chord at that position (every ``label_every`` positions).

    The axes and their ``L`` chord labels are built once; :meth:`render` only updates the
    weights and the title, which roughly halves the cost of each picture when the same pair is
    drawn every epoch. Uses Matplotlib's Agg canvas directly (no pyplot, no global backend
    change).

    Args:
        chord_ids: ``[L]`` chord ids.
        chord_labels: chord id -> label.
        label_every: label every n-th position.
        width_inches: image width (the height is 3.4 inches).
        dpi: image resolution.
    """

    def __init__(
        self,
        chord_ids,
        chord_labels: Sequence[str],
        label_every: int = 1,
        width_inches: float = 14.0,
        dpi: int = 100,
    ) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        check_positive_int("label_every", label_every)
        chord_ids = np.asarray(chord_ids)
        if chord_ids.ndim != 1 or len(chord_ids) == 0:
            raise ValueError(f"chord_ids must be a non-empty [L] array, got {chord_ids.shape}")
        if chord_ids.min() < 0 or chord_ids.max() >= len(chord_labels):
            raise ValueError(
                f"chord ids reach {int(chord_ids.max())} but chord_labels has "
                f"{len(chord_labels)} labels"
            )
        length = len(chord_ids)
        self.length = length
        positions = np.arange(length)
        self._figure = Figure(figsize=(width_inches, HEIGHT_INCHES), dpi=dpi)
        self._canvas = FigureCanvasAgg(self._figure)
        strip, bars = self._figure.subplots(
            2, 1, gridspec_kw={"height_ratios": [1, 4], "hspace": 0.05}
        )
        self._image = strip.imshow(
            np.zeros((1, length)),
            aspect="auto",
            cmap="viridis",
            extent=(-0.5, length - 0.5, 0, 1),
            interpolation="nearest",
        )
        strip.set_xlim(-0.5, length - 0.5)
        strip.set_xticks([])
        strip.set_yticks([])
        self._title = strip.set_title("", fontsize=9)
        self._bars = bars.bar(positions, np.zeros(length), width=0.85, color="tab:blue")
        bars.axhline(1.0 / length, color="tab:red", linestyle="--", linewidth=0.8)
        bars.set_xlim(-0.5, length - 0.5)
        bars.set_ylabel("attention weight", fontsize=7)
        bars.tick_params(axis="y", labelsize=6)
        ticks = positions[::label_every]
        bars.set_xticks(ticks)
        bars.set_xticklabels(
            [chord_labels[int(chord_ids[i])] for i in ticks], rotation=90, fontsize=5.5
        )
        bars.text(
            0.995, 0.97, "dashed: uniform 1/L", transform=bars.transAxes, ha="right", va="top",
            fontsize=6, color="tab:red",
        )  # fmt: skip
        self._axes = bars
        self._figure.subplots_adjust(left=0.05, right=0.99, top=0.9, bottom=0.22)

    def render(self, weights, title: str) -> np.ndarray:
        """The picture of ``weights`` (``[L]``) as uint8 ``[H, W, 3]``."""
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != (self.length,):
            raise ValueError(
                f"weights and chord_ids must both be [L] = [{self.length}], got {weights.shape}"
            )
        top = max(float(weights.max()), 1.0 / self.length)
        self._image.set_data(weights[None, :])
        self._image.set_clim(0.0, top)
        for bar, height in zip(self._bars, weights, strict=True):
            bar.set_height(height)
        self._axes.set_ylim(0.0, top * 1.08)
        self._title.set_text(title)
        self._canvas.draw()
        return np.asarray(self._canvas.buffer_rgba())[..., :3].copy()


def render_attention(
    weights,
    chord_ids,
    chord_labels: Sequence[str],
    title: str,
    label_every: int = 1,
    width_inches: float = 14.0,
    dpi: int = 100,
) -> np.ndarray:
    """Render one pair's attention as uint8 ``[H, W, 3]`` (a one-off :class:`AttentionPlot`).

    Args:
        weights: ``[L]`` attention weights.
        chord_ids: ``[L]`` chord ids.
        chord_labels: chord id -> label.
        title: figure title.
        label_every: see :class:`AttentionPlot`.
        width_inches: see :class:`AttentionPlot`.
        dpi: see :class:`AttentionPlot`.
    """
    plot = AttentionPlot(chord_ids, chord_labels, label_every, width_inches, dpi)
    return plot.render(weights, title)
