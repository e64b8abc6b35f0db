"""Training curves: losses and judge metrics against steps, one PNG per run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

PANELS = (("losses", ("loss_d", "loss_g")), ("domain FID", ("fid",)),
          ("accuracy", ("category_accuracy", "pattern_accuracy")),
          ("colour Delta-E (median)", ("colour_delta_e_median",)),
          ("intra-condition diversity", ("diversity",)))


def plot_training(rows: list[dict[str, Any]], path: Path) -> Path | None:
    """Write a figure of whatever the metric rows hold; None when there are no rows."""
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(14, 7))
    axes.flat[-1].set_visible(False)  # five panels on a 2x3 grid
    for ax, (title, keys) in zip(axes.flat, PANELS, strict=False):
        for key in keys:
            points = [(r["step"], r[key]) for r in rows if key in r]
            if points:
                steps, values = zip(*points, strict=True)
                ax.plot(steps, values, marker="o", markersize=3, label=key)
        ax.set_title(title)
        ax.set_xlabel("step")
        if ax.lines:
            ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
