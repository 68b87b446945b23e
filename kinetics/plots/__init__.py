"""Every figure of the book, one module per chapter; each function returns a matplotlib Figure."""
from __future__ import annotations

# One colour per Qwen3 size, reused by every chapter so a model keeps its colour through the book.
MODEL_COLORS = {
    "qwen3-0.6b": "#4C72B0", "qwen3-1.7b": "#DD8452", "qwen3-4b": "#55A868", "qwen3-8b": "#C44E52",
    "qwen3-14b": "#8172B3", "qwen3-32b": "#937860", "qwen3-30b-a3b": "#DA8BC3", "qwen3-235b-a22b": "#8C8C8C",
}


def style() -> None:
    """The book's plotting style: readable fonts, light grid, tight layout."""
    import matplotlib.pyplot as plt

    plt.rcParams.update({
        "figure.figsize": (7.5, 4.5), "figure.dpi": 110, "savefig.dpi": 110,
        "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False, "axes.spines.right": False,
        "font.size": 10.5, "axes.titlesize": 11.5, "legend.fontsize": 9, "figure.autolayout": True,
    })
