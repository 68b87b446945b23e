"""The AIME24 table inside the package: what it holds, that it rebuilds byte for byte from the authors' tables,
that every trace-derived output is the same from it as from the full tables, and that a damaged copy is refused."""
from __future__ import annotations

import gzip
import json
import shutil

import pandas as pd
import pytest

from kinetics import paths, tracepack, traces
from kinetics.cli import main
from kinetics.errors import InputError

SETTINGS = 44


def test_the_embedded_table_is_small_numbers_only_and_found_by_importlib():
    path = tracepack.embedded_path()
    assert path.stat().st_size < 1_000_000
    payload = tracepack.read_payload(path)
    assert len(payload["tables"]) == SETTINGS
    keys = {key for table in payload["tables"] for problem in table["problems"] for key in problem}
    assert keys == {"query_id", "prompt_tokens", "num_correct", "gen_tokens", "trials", *tracepack.COST_COLUMNS}
    strings = {type(v) for table in payload["tables"] for problem in table["problems"] for v in problem.values()}
    assert str not in strings   # no problem text, no answers
    provenance = tracepack.read_provenance(path)
    assert provenance["source"]["commit"].startswith("e7765597") and len(provenance["tables"]) == SETTINGS


def test_prompt_counts_are_the_ones_the_authors_priced():
    table = traces.load_traces("embedded")
    dense = table[table["source"] == "aime24_qwen3-8b_dense_numTrials_tradeoff.csv"]
    # the lengths the authors' cost columns were computed with (test_reproduce_paper.py derives them from the text)
    assert dense.groupby("query_id")["prompt_tokens"].first()[[0, 1, 5]].tolist() == [155, 177, 160]


def test_pack_rebuilds_the_shipped_file_byte_for_byte(full_traces, tmp_path):
    out = tmp_path / tracepack.EMBEDDED_NAME
    assert main(["traces", "pack", "--from", str(full_traces), "--out", str(out)]) == 0
    shipped = tracepack.embedded_path()
    # the payload first, for a readable failure; then the bytes (gzip header, compression) and the provenance
    assert json.loads(gzip.decompress(out.read_bytes())) == json.loads(gzip.decompress(shipped.read_bytes()))
    assert out.read_bytes() == shipped.read_bytes()
    assert tracepack.provenance_path(out).read_bytes() == tracepack.provenance_path(shipped).read_bytes()


def _sorted(frame: pd.DataFrame, keys) -> pd.DataFrame:
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


def test_embedded_and_full_tables_give_the_same_numbers(full_traces, capsys):
    full, embedded = traces.load_traces(full_traces), traces.load_traces("embedded")
    assert full.groupby(traces.CONFIG_KEYS + ["run"]).ngroups == SETTINGS
    keys = ["source", "query_id", "sample_id"]
    pd.testing.assert_frame_equal(_sorted(full, keys), _sorted(embedded, keys), check_exact=True)
    keys = ["source", "query_id", "trial"]
    pd.testing.assert_frame_equal(_sorted(traces.authors_costs(full_traces), keys),
                                  _sorted(traces.authors_costs("embedded"), keys), check_exact=True)
    for command in (["traces", "summary", "--json"],
                    ["frontier", "--json", "--attention", "all"],
                    ["frontier", "--json", "--strategy", "long-cot", "--cost", "flops", "--convention", "paper"]):
        outputs = []
        for source in (str(full_traces), "embedded"):
            assert main([*command, "--traces", source]) == 0
            record = json.loads(capsys.readouterr().out)
            if isinstance(record, dict):
                assert paths.portable_path(source) in record.pop("traces_source") or source == "embedded"
            outputs.append(record)
        assert outputs[0] == outputs[1], command
    # chapter 5 replays the recorded lengths of one dense and one block top-k table
    from kinetics.engine.replay import load_workload

    for lengths_from in ("dense", "blocktopk-1024-16"):
        full_w, embedded_w = (load_workload(source, "qwen3-8b", "aime24", trials=8, lengths_from=lengths_from)
                              for source in (full_traces, "embedded"))
        assert full_w.problems == embedded_w.problems and len(full_w.problems) == 30


def test_resolution_order(tmp_path, monkeypatch):
    data = tmp_path / "traces"
    monkeypatch.setattr(paths, "DEFAULT_TRACES", data)
    monkeypatch.delenv(paths.TRACES_ENV, raising=False)
    assert paths.traces_source(None) == (None, "the default: no --traces, $KINETICS_TRACES or data/traces/")
    data.mkdir()
    assert paths.traces_source(None)[0] is None          # an empty data/traces/ falls through to the package
    (data / "x.csv").write_text("")
    assert paths.traces_source(None)[0] == data
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.setenv(paths.TRACES_ENV, str(other))
    assert paths.traces_source(None) == (other, "$KINETICS_TRACES")
    assert paths.traces_source(data) == (data, "--traces")
    assert paths.traces_source("embedded") == (None, "--traces")
    monkeypatch.setenv(paths.TRACES_ENV, "embedded")
    assert paths.traces_source(None) == (None, "$KINETICS_TRACES")
    monkeypatch.setenv(paths.TRACES_ENV, str(tmp_path / "typo"))
    with pytest.raises(InputError, match="typo.*from \\$KINETICS_TRACES.*does not exist"):
        paths.traces_source(None)


def test_summary_names_its_source(capsys, caplog):
    caplog.set_level("INFO")
    assert main(["traces", "summary", "--traces", "embedded"]) == 0
    assert "inside the package" in caplog.text and "qwen3-8b" in capsys.readouterr().out


@pytest.mark.parametrize("damage", ["truncate", "flip", "no-provenance"])
def test_a_damaged_copy_is_refused_in_one_line(tmp_path, monkeypatch, capsys, damage):
    copy = tmp_path / tracepack.EMBEDDED_NAME
    shutil.copy(tracepack.embedded_path(), copy)
    shutil.copy(tracepack.provenance_path(tracepack.embedded_path()), tracepack.provenance_path(copy))
    data = copy.read_bytes()
    if damage == "truncate":
        copy.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        copy.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
    else:
        tracepack.provenance_path(copy).unlink()
    with pytest.raises(InputError, match="corrupt or truncated|provenance"):
        tracepack.tidy_table(copy)
    monkeypatch.setattr(tracepack, "embedded_path", lambda: copy)
    assert main(["traces", "summary", "--traces", "embedded"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kinetics: error: ") and err.count("\n") == 1 and str(copy.parent) in err


def test_pack_refuses_bad_destinations_before_reading(tmp_path, capsys):
    source = tmp_path / "src"
    assert main(["traces", "pack", "--from", str(source), "--out", str(tmp_path / "p.json.gz")]) == 2
    assert "not a directory" in capsys.readouterr().err
    (source / "dense").mkdir(parents=True)
    assert main(["traces", "pack", "--from", str(source), "--out", str(tmp_path / "p.json.gz")]) == 2
    assert "no *.csv tables" in capsys.readouterr().err
    existing = tmp_path / "p.json.gz"
    existing.write_text("mine")
    (tmp_path / "d.json.gz").mkdir()
    for out, message in ((existing, "exists; add --force"), (tmp_path / "d.json.gz", "is a directory"),
                         (tmp_path / "nope" / "p.json.gz", "does not exist or is not writable"),
                         (tmp_path / "p.csv", "must end in .json.gz")):
        assert main(["traces", "pack", "--from", str(source), "--out", str(out)]) == 2
        assert message in capsys.readouterr().err
    assert existing.read_text() == "mine"
