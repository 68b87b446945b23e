"""Every figure of the book, one module per chapter; each function returns a matplotlib Figure."""
from __future__ import annotations

import numpy as np

# Colour carries one meaning in each figure of the book, and the same meaning in all of them:
# - a Qwen3 model: dense sizes along the viridis ramp (dark = small, light = large), the two mixtures of experts
#   in browns off the ramp;
# - an attention kind: grey for dense, vermillion for oracle top-k, reddish purple for block top-k, hues the
#   model ramp never takes, so a line's colour never reads as a model in one panel and a kind in the next.
MODEL_COLORS = {
    "qwen3-0.6b": "#440154", "qwen3-1.7b": "#443A83", "qwen3-4b": "#31688E", "qwen3-8b": "#21908C",
    "qwen3-14b": "#35B779", "qwen3-32b": "#8FD744", "qwen3-30b-a3b": "#B8860B", "qwen3-235b-a22b": "#8C564B",
}
ATTENTION_COLORS = {"dense": "#666666", "topk": "#D55E00", "blocktopk": "#CC79A7"}
UNKNOWN_COLOR = "#333333"


def model_color(name: str) -> str:
    """The colour of a model (a name as `kinetics.models` spells it), the same in every chapter."""
    return MODEL_COLORS.get(name, UNKNOWN_COLOR)


def attention_color(kind: str) -> str:
    """The colour of an attention kind: "dense", "topk" or "blocktopk"."""
    return ATTENTION_COLORS.get(kind, UNKNOWN_COLOR)


def attention_shades(kind: str, n: int) -> list[str]:
    """n shades of an attention kind's colour, light to full: its settings (budgets) in one figure."""
    from matplotlib.colors import to_hex, to_rgb

    full = np.array(to_rgb(attention_color(kind)))
    return [to_hex(1 - (1 - full) * f) for f in np.linspace(0.45, 1.0, n)] if n > 1 else [to_hex(full)]


def style() -> None:
    """The book's plotting style: readable fonts, light grid, tight layout."""
    import matplotlib.pyplot as plt

    plt.rcParams.update({
        "figure.figsize": (7.5, 4.5), "figure.dpi": 110, "savefig.dpi": 110,
        "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False, "axes.spines.right": False,
        "font.size": 10.5, "axes.titlesize": 11.5, "legend.fontsize": 9, "figure.autolayout": True,
    })
