"""The report's plot: every influencer's score with its 95 % interval against its video count."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pandas as pd

from influencer_pipeline.display import show
from influencer_pipeline.ranking.report_data import (
    METHOD_COLOURS,
    METHOD_LABELS,
    _flags,
    display_name,
    indistinct_note,
)

PLOT_LABELS = 5  # the top influencers named in the plot
LOG_X_RATIO = 8.0  # log-scale the plot's x axis when max n / min n reaches this


def _tie_positions(n: np.ndarray, log_x: bool) -> np.ndarray:
    """x positions: n, with influencers sharing an n spread side by side (best rank left)."""
    x = n.astype(float).copy()
    for value in np.unique(n):
        where = np.flatnonzero(n == value)
        if len(where) < 2:
            continue
        offsets = np.linspace(-1.0, 1.0, len(where))
        if log_x:
            x[where] = value * np.exp(0.12 * offsets)
        else:
            x[where] = value + min(0.3, 0.04 * len(where)) * offsets
    return x


def plot_png(ranked: pd.DataFrame, mu: float | None, fmt: Callable[[object], str]) -> bytes:
    """PNG bytes: score with its 95 % interval against the number of videos, mean as a line."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

    figure = Figure(figsize=(9, 5.5), dpi=120)
    axes = figure.add_subplot()
    if ranked.empty:
        axes.text(
            0.5,
            0.5,
            "No influencers ranked yet",
            ha="center",
            va="center",
            fontsize=14,
            transform=axes.transAxes,
        )
        axes.set_axis_off()
    else:
        n = ranked["n_videos"].to_numpy(int)
        log_x = n.min() > 0 and n.max() / n.min() >= LOG_X_RATIO
        x = _tie_positions(n, log_x)
        score = ranked["score"].to_numpy(float)
        low, high = ranked["score_low"].to_numpy(float), ranked["score_high"].to_numpy(float)
        for method, marker in (("face", "o"), ("outro", "s")):
            sel = (ranked["method"] == method).to_numpy()
            if not sel.any():
                continue
            axes.errorbar(
                x[sel],
                score[sel],
                yerr=[score[sel] - low[sel], high[sel] - score[sel]],
                fmt=marker,
                color=METHOD_COLOURS[method],
                ecolor=METHOD_COLOURS[method],
                elinewidth=1.2,
                capsize=3,
                markersize=6,
                alpha=0.9,
                label=f"{METHOD_LABELS[method]} influencer (95 % interval)",
            )
        star = _flags(ranked["consistently_above_average"]).to_numpy()
        if star.any():
            axes.scatter(
                x[star],
                score[star],
                s=170,
                facecolors="none",
                edgecolors="#15803d",
                linewidths=1.6,
                label="consistently above average",
                zorder=3,
            )
        if mu is not None:
            axes.axhline(
                mu, color="#dc2626", linestyle="--", linewidth=1.2, label=f"overall mean {fmt(mu)}"
            )
        for i in range(min(PLOT_LABELS, len(ranked))):
            axes.annotate(  # analyst text: shown safely, never parsed as mathtext
                f"#{ranked['rank'].iloc[i]} {show(display_name(ranked.iloc[i]), 40)}",
                (x[i], score[i]),
                xytext=(7, 5),
                textcoords="offset points",
                fontsize=8,
                parse_math=False,
            )
        if log_x:
            axes.set_xscale("log")
            axes.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
            axes.xaxis.set_minor_formatter(NullFormatter())
        else:
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))
            axes.set_xlim(min(x.min(), 1.0) - 0.6, x.max() + 0.9)
        axes.set_xlabel("number of videos (n)" + (", log scale" if log_x else ""))
        axes.set_ylabel("score (shrunk mean) and 95 % interval")
        title = "Influencer score against number of videos"
        if indistinct_note(ranked):
            title += "\n(the data cannot tell these influencers apart: the order is not a finding)"
        axes.set_title(title)
        axes.grid(alpha=0.25)
        axes.legend(
            loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, fontsize=8, frameon=False
        )
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
