"""The book's colours and diagrams: one colour per model and per attention kind, diagrams that compute what
they show."""
import matplotlib
import numpy as np
import pytest

from kinetics.models import get_model
from kinetics.plots import ATTENTION_COLORS, MODEL_COLORS, attention_color, diagrams, model_color

matplotlib.use("Agg")  # the diagrams import pyplot only when they draw


def test_a_colour_means_one_model_or_one_attention_kind():
    models, kinds = list(MODEL_COLORS.values()), list(ATTENTION_COLORS.values())
    assert len(set(models)) == len(models) and len(set(kinds)) == len(kinds)
    assert not set(models) & set(kinds)
    assert model_color("qwen3-8b") == MODEL_COLORS["qwen3-8b"]
    assert attention_color("blocktopk") == ATTENTION_COLORS["blocktopk"]
    assert model_color("not-a-model") not in models + kinds


def test_allocated_pages_are_distinct_and_cover_each_request():
    pages = diagrams.allocate_pages((11, 6, 9), page_size=4, num_pages=12, seed=5)
    assert [len(p) for p in pages] == [3, 2, 3]
    flat = [p for row in pages for p in row]
    assert len(set(flat)) == len(flat) and all(0 <= p < 12 for p in flat)
    with pytest.raises(ValueError):
        diagrams.allocate_pages((40,), page_size=4, num_pages=8)


def test_page_selection_keeps_forced_pages_and_the_best_scores():
    rng = np.random.default_rng(0)
    keys, query = rng.standard_normal((10 * 4, 8)), rng.standard_normal(8)
    scores = diagrams.score_pages(keys, query, page_size=4)
    np.testing.assert_allclose(scores[3], keys[12:16].mean(axis=0) @ query)
    kept = diagrams.select_pages(scores, picks=3)
    assert {0, 9} <= set(kept) and len(kept) == 5 and list(kept) == sorted(kept)
    others = [p for p in kept if p not in (0, 9)]
    assert min(scores[others]) >= max(np.delete(scores, list(kept)))


def test_split_k_combine_equals_one_softmax():
    rng = np.random.default_rng(1)
    logits, values = 5 * rng.standard_normal(1000), rng.standard_normal((1000, 16))
    p = np.exp(logits - logits.max())
    for splits in (1, 3, 7):
        combined, lse = diagrams.combine_splits(logits, values, splits)
        np.testing.assert_allclose(combined, p @ values / p.sum(), rtol=1e-12, atol=1e-12)
        assert len(lse) == splits
    np.testing.assert_allclose(np.logaddexp.reduce(lse), np.logaddexp.reduce(logits))


def test_decode_step_bytes_follow_the_model():
    spec = get_model("qwen3-8b")
    reads = diagrams.decode_step_bytes("qwen3-8b", context=8192, budget=1024, page_size=16, batch=8)
    kv = spec.kv_bytes_per_token(2)
    assert reads["dense"]["K/V"] == 8192 * kv
    assert reads["block top-k"]["K/V"] == 1024 * kv
    assert reads["block top-k"]["page summaries"] == 8192 // 16 * kv / 2
    assert reads["dense"]["weights / batch"] == spec.params_matmul * 2 / 8


@pytest.mark.parametrize("name", ["paged_kv_cache", "decode_reads", "page_selection", "split_k_decode",
                                  "scheduler_loop"])
def test_every_diagram_draws(name):
    fig = getattr(diagrams, name)()
    assert fig.axes and any(ax.patches for ax in fig.axes)
    matplotlib.pyplot.close(fig)


def test_numbered_table_is_a_myst_table_directive():
    import pandas as pd

    from kinetics.plots.tables import table_markdown

    frame = pd.DataFrame({"model": ["a|b", "c"], "cost": [1234.5, float("nan")]}).set_index("model")
    text = table_markdown(frame, "Costs.", "tab-x", {"cost": "{:,.0f}"})
    lines = text.splitlines()
    assert lines[:2] == ["```{table} Costs.", ":name: tab-x"] and lines[-1] == "```"
    assert "| model | cost |" in lines and "|:--|--:|" in lines
    assert "| a\\|b | 1,234 |" in lines and "| c | — |" in lines
    with pytest.raises(ValueError):
        table_markdown(frame, "Costs.", "fig-x")


def test_a_transposed_table_keeps_each_value_as_given():
    import pandas as pd

    from kinetics.plots.tables import as_given, table_markdown

    rows = pd.DataFrame([{"model": "8b", "attention": "dense", "tok/s": 1949, "step ms": 41.7, "ok": True},
                         {"model": "8b", "attention": "block top-k", "tok/s": 6416, "step ms": 12.5, "ok": False}])
    view = rows.set_index(["model", "attention"]).T
    text = table_markdown(view.rename_axis("measure"), "Runs.", "tab-runs",
                          dict.fromkeys(view.columns, as_given))
    assert "| measure | 8b, dense | 8b, block top-k |" in text
    assert "| tok/s | 1,949 | 6,416 |" in text and "| step ms | 41.7 | 12.5 |" in text
    assert "| ok | True | False |" in text


def test_kernel_listing_reads_the_source_and_marks_program_ids():
    from kinetics.plots.source import listing_html, ownership_lines, source_of

    def fake_kernel(x):
        b = tl.program_id(0)  # noqa: F821 (never run: only its source is read)
        return x + b

    class Jitted:   # what @triton.jit returns: the Python function sits in .fn
        fn = staticmethod(fake_kernel)

    assert source_of(Jitted()) == source_of(fake_kernel)
    assert ownership_lines(source_of(fake_kernel)) == [2]
    html = listing_html(Jitted())
    assert 'class="hll"' in html and "program_id" in html and html.count('class="hll"') == 1
