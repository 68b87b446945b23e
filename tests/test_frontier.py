"""Frontiers against brute force, long-CoT bounds, the envelope, the cost ratio, the paper's own cost columns."""
import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from kinetics import frontier as F
from kinetics import traces
from kinetics.cli import main
from kinetics.traces import ProblemArrays, TraceConfig

finite = st.floats(0.0, 1.0, allow_nan=False)


@st.composite
def choice_arrays(draw):
    q, m = draw(st.integers(1, 6)), draw(st.integers(1, 7))
    cost = draw(arrays(float, (q, m), elements=st.sampled_from([1.0, 2.0, 3.0, 5.0, 8.0, 13.0])))
    acc = draw(arrays(float, (q, m), elements=st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0])))
    return cost, acc


@settings(max_examples=150, deadline=None)
@given(choice_arrays(), st.floats(0.5, 20.0))
def test_oracle_equals_brute_force(data, cap):
    cost, acc = data
    brute = np.mean([max([a for c, a in zip(cr, ar) if c <= cap], default=0.0) for cr, ar in zip(cost, acc)])
    assert float(F.oracle_steps(cost, acc).at(cap)) == pytest.approx(brute)


@settings(max_examples=150, deadline=None)
@given(choice_arrays(), st.floats(0.5, 20.0))
def test_deployable_equals_brute_force(data, cap):
    cost, acc = data
    mean_cost, mean_acc = cost.mean(axis=0), acc.mean(axis=0)
    brute = max([a for c, a in zip(mean_cost, mean_acc) if c <= cap], default=0.0)
    steps, chosen = F.deployable_steps(cost, acc)
    assert float(steps.at(cap)) == pytest.approx(brute)
    assert np.allclose(mean_acc[chosen], steps.y)


@settings(max_examples=100, deadline=None)
@given(choice_arrays(), st.floats(0.05, 1.0))
def test_cost_to_reach_inverts_the_step_function(data, level):
    cost, acc = data
    steps = F.oracle_steps(cost, acc)
    needed = float(steps.cost_to_reach(level))
    if math.isinf(needed):
        assert steps.y.size == 0 or steps.y.max() < level - 1e-12
    else:
        assert steps.at(needed) >= level - 1e-12
        assert steps.at(np.nextafter(needed, 0)) < level - 1e-12


def test_no_leakage_from_dearer_choices():
    """The authors smoothed with a centred window, so accuracy bought at the next budget showed up below it."""
    cost = np.array([[1.0, 2.0, 4.0]])
    acc = np.array([[0.2, 0.4, 0.9]])
    for allocation in F.ALLOCATIONS:
        choices = make_choices(cost, acc)
        before = F.frontier(choices, "eflops", allocation).at([1.5, 3.9])
        choices.accuracy = {b: np.array([[0.2, 0.4, 1.0]]) for b in F.BOUNDS}
        after = F.frontier(choices, "eflops", allocation).at([1.5, 3.9, 4.0])
        assert np.allclose(before, after[:2]) and after[2] == 1.0


def make_choices(cost, acc, model="qwen3-8b", cost_b=None):
    q, m = cost.shape
    return F.Choices(TraceConfig("aime24", model), "best-of-n", np.arange(1, m + 1), np.zeros(m, int),
                     np.ones((q, m)), {b: acc for b in F.BOUNDS},
                     {"flops": cost, "flops-attn": cost, "eflops": cost if cost_b is None else cost_b})


# ---- long CoT from per-problem counts ---------------------------------------------------------------------------

def problem(lengths, correct_count, finished=None, correct=None):
    lengths = np.atleast_2d(np.asarray(lengths))
    fin = traces.is_finished(lengths) if finished is None else np.atleast_2d(finished)
    return ProblemArrays(TraceConfig("aime24", "qwen3-8b"), lengths, fin, np.full(lengths.shape[0], 100),
                         np.atleast_1d(correct_count), None if correct is None else np.atleast_2d(correct),
                         np.arange(lengths.shape[0]))


def test_long_cot_bounds_by_hand():
    # four samples: 1k, 3k, 5k tokens finished, one at the cap; 2 correct (which two is unknown)
    data = problem([[1000, 3000, 5000, 30767]], [2])
    acc = F.long_cot_accuracy(data, np.array([2048, 4096, 8192, 32768]))
    assert acc["high"][0].tolist() == [0.25, 0.5, 0.5, 0.5]       # correct = the two shortest
    assert acc["low"][0].tolist() == [0.0, 0.25, 0.5, 0.5]        # correct = the two longest finished
    assert np.allclose(acc["estimate"][0], [1 / 3 * 2 / 4, 2 / 3 * 2 / 4, 0.5, 0.5])


def test_long_cot_capped_samples_count_as_wrong():
    # the tables say 3 correct but only 2 samples finished: at most 2 can keep an answer
    data = problem([[1000, 2000, 30767, 30767]], [3])
    acc = F.long_cot_accuracy(data, np.array([32768]))
    assert acc["low"][0, 0] == acc["high"][0, 0] == acc["estimate"][0, 0] == 0.5


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 8).flatmap(lambda n: st.tuples(
    st.lists(st.integers(1, 30767), min_size=n, max_size=n), st.integers(0, n))))
def test_long_cot_bounds_hold_the_truth(sample):
    """Whatever the correct samples were, the truth lies between the bounds and the bounds are tight."""
    lengths, c = sample
    data = problem([lengths], [c])
    budgets = np.array([1, 4096, 16384, 32768])
    acc = F.long_cot_accuracy(data, budgets)
    finished = np.flatnonzero(data.finished[0])
    assert np.all(acc["low"] <= acc["estimate"] + 1e-12) and np.all(acc["estimate"] <= acc["high"] + 1e-12)
    rng = np.random.default_rng(len(lengths) * 31 + c)
    for _ in range(5):
        correct = np.zeros(len(lengths), bool)
        correct[rng.permutation(finished)[: min(c, finished.size)]] = True
        truth = F.long_cot_accuracy(problem([lengths], [c], correct=[correct]), budgets)["estimate"]
        assert np.all(acc["low"] - 1e-12 <= truth) and np.all(truth <= acc["high"] + 1e-12)


def test_long_cot_with_known_correctness_is_exact():
    data = problem([[1000, 3000, 5000, 30767]], [2], correct=[[False, True, False, True]])
    acc = F.long_cot_accuracy(data, np.array([2048, 4096, 32768]))
    assert acc["estimate"][0].tolist() == [0.0, 0.25, 0.25]   # the capped correct one never counts
    assert acc["low"] is acc["estimate"] or np.array_equal(acc["low"], acc["estimate"])


def test_long_cot_choices_cost_the_truncated_lengths():
    data = problem([[1000, 3000], [500, 40000 - 9233]], [1, 0])
    choices = F.long_cot_choices(data, "b200", "paper", budgets=[2048, 32768])
    assert np.allclose(choices.tokens, [[1524, 2000], [(500 + 2048) / 2, (500 + 30767) / 2]])
    from kinetics.cost import Attention, generation_cost

    one = generation_cost("qwen3-8b", "b200", 100, 2048, Attention.dense(), "paper").eflops
    other = generation_cost("qwen3-8b", "b200", 100, 1000, Attention.dense(), "paper").eflops
    assert choices.cost["eflops"][0, 0] == pytest.approx((one + other) / 2)


def test_best_of_n_choices_use_unbiased_pass_at_k():
    data = problem([[1000, 2000, 3000, 4000]], [1])
    choices = F.best_of_n_choices(data, "b200", "exact")
    assert np.allclose(choices.accuracy["estimate"][0], [0.25, 0.5, 0.75, 1.0])
    assert np.all(np.diff(choices.cost["eflops"][0]) > 0)
    assert np.allclose(choices.cost["flops"][0] / choices.cost["flops"][0, 0], [1, 2, 3, 4])


# ---- envelope, threshold, cost ratio ----------------------------------------------------------------------------

def test_envelope_names_the_winner_and_ties_go_to_the_smaller_model():
    small = F.frontier(make_choices(np.array([[1.0, 4.0]]), np.array([[0.5, 0.6]]), "qwen3-0.6b"))
    big = F.frontier(make_choices(np.array([[2.0, 3.0]]), np.array([[0.5, 0.9]]), "qwen3-8b"))
    env = F.envelope([big, small], np.array([0.5, 1.0, 2.5, 3.0, 10.0]))
    assert env["accuracy"].tolist() == [0.0, 0.5, 0.5, 0.9, 0.9]
    assert env["model"].tolist() == [None, "qwen3-0.6b", "qwen3-0.6b", "qwen3-8b", "qwen3-8b"]
    spans = F.winner_spans(env)
    assert spans["model"].tolist() == ["qwen3-0.6b", "qwen3-8b"]


def test_winners_by_part():
    grid = np.geomspace(1, 1e3, 7)
    env = pd.DataFrame({"cost": grid, "accuracy": [0.0, 0.1, 0.2, 0.5, 0.6, 0.9, 0.9],
                        "budget": pd.Series([None, 32, 32, 64, 256, 256, 256], dtype=object)})
    # rising range: costs 10^0.5 .. 10^2.5, thirds of 2/3 decade each
    assert F.winners_by_part(env, "budget") == [32, 64, 256]


def test_threshold_is_the_widest_span_past_half_accuracy():
    grid = np.geomspace(1, 1e4, 9)   # half a decade per step
    env = pd.DataFrame({"cost": grid, "accuracy": [0.0, 0.1, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.95],
                        "model": [None, "qwen3-0.6b", "qwen3-4b", "qwen3-14b", "qwen3-14b", "qwen3-14b",
                                  "qwen3-32b", "qwen3-32b", "qwen3-32b"]})
    model, spans = F.threshold_model(env)
    assert model == "qwen3-14b"
    assert dict(zip(spans["model"], spans["decades"])) == pytest.approx(
        {"qwen3-4b": 0.5, "qwen3-14b": 1.5, "qwen3-32b": 0.5})


def test_cost_ratio_of_a_flops_cheap_memory_dear_model():
    """Small model: least FLOPs to reach 50%, but 3x the eFLOPs of the big one there."""
    q = 4
    small = make_choices(np.full((q, 2), 1.0) * [1, 2], np.full((q, 2), 0.5) * [1, 1.2], "qwen3-0.6b",
                         cost_b=np.full((q, 2), 30.0) * [1, 2])
    big = make_choices(np.full((q, 2), 5.0) * [1, 2], np.full((q, 2), 0.5) * [1, 1.6], "qwen3-14b",
                       cost_b=np.full((q, 2), 10.0) * [1, 2])
    for allocation in F.ALLOCATIONS:
        ratio = F.cost_ratio([small, big], allocation, levels=np.array([0.5, 0.6, 0.8]), n_boot=50)
        assert ratio.ratio.tolist() == pytest.approx([3.0, 3.0, 1.0])
        assert ratio.guide_model == ["qwen3-0.6b", "qwen3-0.6b", "qwen3-14b"]
        assert ratio.judge_model == ["qwen3-14b", "qwen3-14b", "qwen3-14b"]
        assert ratio.max_ratio.estimate == pytest.approx(3.0) and ratio.level_at_max == 0.5
        assert ratio.max_ratio.low == pytest.approx(3.0)   # identical problems: every resample agrees


# ---- the real tables ----------------------------------------------------------------------------------------------

def test_paper_convention_reproduces_the_published_cost_columns():
    """Our lengths, our prompt counts and cost.py's paper convention give the authors' total_cost to 1e-12, except
    the one table they priced as dense (32B top-k 128). Runs on the table inside the package."""
    table = traces.load_traces("embedded")
    published = traces.authors_costs("embedded")
    result = F.sweep(table, "b200", strategies=["best-of-n"], conventions=["paper"])
    checked = 0
    for choices in result.settings("best-of-n", "paper"):
        config = choices.config
        sources = table.loc[(table["model"] == config.model) & (table["attention"] == config.attention)
                            & (table["budget"] == config.budget) & (table["local_window"] == config.local_window),
                            "source"].unique()
        if len(sources) != 1 or sources[0].startswith("aime24_qwen3-32b_local0_topk128_"):
            continue
        raw = published[published["source"] == sources[0]]
        assert set(raw["trial"]) == set(choices.knob), sources[0]   # the authors' k grid, not 1..n
        column = np.searchsorted(choices.knob, raw["trial"].to_numpy())
        ours = choices.cost["eflops"][raw["query_id"].to_numpy(), column]
        assert np.allclose(ours, raw["total_cost"].to_numpy() * 1e12, rtol=1e-12, atol=0), sources[0]
        checked += 1
    assert checked >= 40


def _authors_oracle(raw: pd.DataFrame) -> F.Steps:
    """The per-problem oracle frontier computed only from the authors' own total_cost and coverage columns."""
    cost = raw.pivot(index="query_id", columns="trial", values="total_cost").to_numpy() * 1e12
    coverage = raw.pivot(index="query_id", columns="trial", values="coverage").to_numpy()
    return F.oracle_steps(cost, coverage)


def test_paper_dense_frontier_is_the_one_from_the_authors_columns(full_traces):
    """Every dense model: the paper-convention oracle frontier (ours: lengths, prompt counts, pass@k) has the same
    breakpoints as the one from the authors' total_cost/coverage columns, so it agrees at every cost point. Needs
    the full tables: the package keeps no coverage column (it is pass@k of the correct counts it does keep)."""
    root = full_traces
    table = traces.load_traces(root)
    result = F.sweep(table, "b200", strategies=["best-of-n"], conventions=["paper", "exact"])
    paper = result.per_model("best-of-n", "paper", "dense")
    assert len(paper) == 6
    for choices in paper:
        source = table.loc[(table["model"] == choices.config.model) & (table["attention"] == "dense"), "source"]
        authors = _authors_oracle(pd.read_csv(next(root.rglob(source.iloc[0]))))
        ours = F.frontier(choices, "eflops").steps["estimate"]
        assert np.allclose(ours.x, authors.x, rtol=1e-12, atol=0), choices.label
        assert np.allclose(ours.y, authors.y, rtol=0, atol=1e-12), choices.label
        between = np.sqrt(authors.x[1:] * authors.x[:-1])   # every cost point: between and at the breakpoints
        assert np.allclose(ours.at(between), authors.at(between), atol=1e-12)
    # the exact convention keeps every k = 1..n (a listed departure)
    assert all(c.knob.tolist() == list(range(1, c.knob.size + 1)) and c.knob.size >= 8
               for c in result.per_model("best-of-n", "exact", "dense"))


def test_cli_json_csv_and_errors(tmp_path, capsys):
    root = tmp_path / "t"
    root.mkdir()
    rng = np.random.default_rng(0)
    for model, c in (("qwen3-0-6b", [1, 0, 2]), ("qwen3-8b", [3, 2, 4])):
        rows = []
        for q in range(3):
            lengths = rng.integers(500, 20000, 4).tolist()
            for k in (1, 2, 4):
                rows.append({"query_id": q, "query": f"Find {q}.", "generation_length": json.dumps(lengths),
                             "trial": k, "coverage": 1 - math.comb(4 - c[q], k) / math.comb(4, k)})
        pd.DataFrame(rows).to_csv(root / f"aime24_{model}_dense_numTrials_tradeoff.csv", index=False)
    assert main(["frontier", "--traces", str(root), "--strategy", "long-cot", "--cost", "eflops", "--json",
                 "--points", "20"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert len(record["points"]) == 2 * 20
    assert set(record["points"][0]) >= {"model", "attention", "budget", "cost", "accuracy"}
    assert all(0 <= p["accuracy"] <= 1 for p in record["points"])
    assert len(record["envelope"]) == 20
    best = max(p["accuracy"] for p in record["points"])
    assert record["envelope"][-1]["accuracy"] == pytest.approx(best)
    out = tmp_path / "f.csv"
    assert main(["frontier", "--traces", str(root), "--cost", "flops", "--allocation", "deployable",
                 "--csv", str(out)]) == 0
    assert set(pd.read_csv(out)["model"]) == {"qwen3-0.6b", "qwen3-8b"}
    png = tmp_path / "f.png"
    assert main(["frontier", "--traces", str(root), "--strategy", "long-cot", "--plot", str(png)]) == 0
    assert png.stat().st_size > 10_000
    assert main(["frontier", "--traces", str(root), "--convention", "paper", "--cost", "flops-attn"]) == 0
    assert "winning model per cost range" in capsys.readouterr().out
    assert main(["frontier", "--traces", str(root), "--attention", "topk"]) == 2
    assert "no topk settings" in capsys.readouterr().err
    assert main(["frontier", "--traces", str(root), "--points", "1"]) == 2
    assert main(["frontier", "--traces", str(root), "--peak-tflops", "100"]) == 2


# ---- resampled statistics and figures ----------------------------------------------------------------------------

def test_oracle_picks_take_the_cheapest_best_choice():
    cost = np.array([[1.0, 2.0, 3.0], [3.0, 1.0, 2.0]])
    acc = np.array([[0.5, 0.5, 1.0], [1.0, 0.0, 1.0]])
    picks = F.oracle_picks(cost, acc, np.array([0.5, 1.0, 2.5, 3.0]))
    assert picks.tolist() == [[-1, 0, 0, 2], [-1, 1, 2, 2]]


def test_sparse_gain_and_saving_on_a_constructed_case():
    q = 5
    dense = make_choices(np.tile([10.0, 20.0], (q, 1)), np.tile([0.4, 0.8], (q, 1)), "qwen3-8b")
    sparse = make_choices(np.tile([1.0, 5.0], (q, 1)), np.tile([0.4, 0.8], (q, 1)), "qwen3-8b")
    sparse.config = TraceConfig("aime24", "qwen3-8b", "topk", -1)
    gain = F.sparse_gain([dense], [sparse], levels=np.array([0.4, 0.8]), n_boot=20, high_fraction=1.0)
    assert gain.low_cost_gain.estimate == pytest.approx(0.8)      # sparse at 0.8 while dense has nothing yet
    assert gain.saving.tolist() == pytest.approx([10.0, 4.0])
    assert gain.saving_at_dense_best.estimate == pytest.approx(4.0)
    assert gain.max_saving.estimate == pytest.approx(10.0)
    assert gain.high_cost_gain.estimate == pytest.approx(0.0)
    assert gain.gain_at(1.0).estimate == pytest.approx(0.4)


def test_budget_growth_recovers_a_planted_power_law():
    """Choices whose cost is budget^a x tokens: the oracle climbs a ladder where tokens double per step."""
    budgets = np.array([64, 128, 256])
    tokens = np.array([1000, 2000, 4000, 8000])
    grid_b, grid_t = np.meshgrid(budgets, tokens, indexing="ij")
    cost = (grid_b.astype(float) * grid_t).ravel()[None, :]
    # accuracy rises with tokens and only slightly with budget, so the best use of more cost is mostly tokens
    acc = (np.log2(grid_t / 500) / 5 + 0.01 * np.log2(grid_b / 32)).ravel()[None, :]
    choices = F.Choices(TraceConfig("aime24", "qwen3-8b", "topk", -1), "best-of-n", grid_t.ravel(), grid_b.ravel(),
                        grid_t.ravel()[None, :].astype(float), {b: acc for b in F.BOUNDS},
                        {m: cost for m in F.METRICS})
    growth = F.budget_growth(choices, n_boot=10)
    assert growth.tokens_per_doubling.estimate > growth.budget_per_doubling.estimate
    assert np.all(np.diff(growth.tokens) >= 0)


def test_threshold_replicates_and_choice_table():
    q = 6
    small = make_choices(np.tile([1.0, 2.0], (q, 1)), np.tile([0.2, 0.3], (q, 1)), "qwen3-0.6b")
    big = make_choices(np.tile([1.5, 8.0], (q, 1)), np.tile([0.5, 0.9], (q, 1)), "qwen3-14b")
    grid = np.geomspace(1, 8, 30)
    share = F.threshold_replicates([small, big], "eflops", grid, n_boot=25)
    assert share.to_dict() == {"qwen3-14b": 1.0}
    table = F.choice_table([small, big])
    assert len(table) == 4 and table["accuracy"].max() == pytest.approx(0.9)


def test_figures_have_labels():
    import matplotlib

    matplotlib.use("Agg")
    from kinetics.plots import scaling

    q = 3
    choices = [make_choices(np.tile([1.0, 2.0], (q, 1)), np.tile([0.2, 0.3], (q, 1)), "qwen3-0.6b"),
               make_choices(np.tile([1.5, 8.0], (q, 1)), np.tile([0.5, 0.9], (q, 1)), "qwen3-14b")]
    frontiers = [F.frontier(c) for c in choices]
    grid = F.cost_grid(frontiers, 20)
    env = F.envelope(frontiers, grid)
    fig = scaling.plot_frontiers(frontiers, grid, env, title="t")
    ax = fig.axes[0]
    assert "eFLOP" in ax.get_xlabel() and "%" in ax.get_ylabel()
    assert any("wins: qwen3-14b" == t.get_text() for t in ax.get_legend().get_texts())
    table = F.choice_table(choices)
    fig = scaling.plot_iso_cost(table, "knob", "trials k")
    assert len(fig.axes) == 6   # two maps, each with an accuracy and a cost colour bar
    # iso-cost marks stay inside one model's column: no line spans two categories of the model axis
    for ax in fig.axes[:2]:
        assert ax.lines and all(np.ptp(line.get_xdata()) < 1 for line in ax.lines)
    ratio = F.cost_ratio(choices, levels=np.array([0.2, 0.5]), n_boot=5)
    assert scaling.plot_cost_ratio({"case": ratio}).axes[0].get_yscale() == "log"


@settings(max_examples=100, deadline=None)
@given(choice_arrays(), st.floats(0.5, 20.0))
def test_mean_budget_oracle_bounds_every_allocation(data, budget):
    """Brute force over all per-problem assignments (small cases): the best mean accuracy with mean cost <= budget
    lies between the steps at the budget and the LP bound, and is never below the deployable or the cap oracle."""
    import itertools

    cost, acc = data
    if cost.shape[0] > 4 or cost.shape[1] > 4:
        return
    q = cost.shape[0]
    options = [[(0.0, 0.0)] + list(zip(cost[i], acc[i])) for i in range(q)]
    best = 0.0
    for pick in itertools.product(*options):
        if sum(c for c, _ in pick) / q <= budget + 1e-12:
            best = max(best, sum(a for _, a in pick) / q)
    steps = F.mean_budget_oracle_steps(cost, acc)
    assert float(steps.at(budget)) <= best + 1e-9                     # achievable
    deployable, _ = F.deployable_steps(cost, acc)
    assert float(deployable.at(budget)) <= best + 1e-9
    # the cap oracle spends at most its cap on average, so the brute-force optimum at that mean is no worse
    assert float(F.oracle_steps(cost, acc).at(budget)) <= best + 1e-9
    # at its own breakpoints the greedy allocation is integral and LP-optimal, hence optimal
    for x, y in zip(steps.x, steps.y):
        feasible = max(sum(a for _, a in pick) / q for pick in itertools.product(*options)
                       if sum(c for c, _ in pick) / q <= x + 1e-9)
        assert y == pytest.approx(feasible)
