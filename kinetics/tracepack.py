"""The AIME24 numbers inside the package: a compact table derived from the authors' 44 per-problem tables.

The Kinetics authors published one table per setting (model, attention, budget) with the problem texts, the
generated-token count of every sample and their own cost columns (Infini-AI-Lab/Kinetics, `cost_model/aime24/`).
The pack keeps numbers only, so a fresh clone builds the whole book with no network and no problem text:
for every source table and problem, the generated-token count of every sample, the number of correct samples, the
prompt token count (the project's own tokenizer path, `kinetics.prompts`) and the authors' cost columns per k
(kept to test the paper convention against, never read as results).

Format: gzip (mtime 0, no file name) of JSON with sorted keys and no spaces; floats written by Python's shortest
round-trip repr. Rebuilding from the same tables gives the same bytes. Beside it, `<name>.provenance.json` names the
source repository and commit, the sha256 of every source table, the sha256 of the pack and the rebuild command;
reading checks the pack against that sha256, so a corrupt or truncated copy is refused in one line.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
from importlib import resources
from pathlib import Path

import pandas as pd

from kinetics.errors import InputError
from kinetics.output import atomic_write

FORMAT = "kinetics-tracepack/1"
SOURCE_REPO = "Infini-AI-Lab/Kinetics"
SOURCE_COMMIT = "e7765597e6718d1d30dde243e181ce6b3b2f5508"
SOURCE_PREFIX = "cost_model/aime24"      # where the tables sit in the authors' repository
SUBDIRS = ("dense", "topk", "block_topk")
EMBEDDED_NAME = "aime24.tracepack.json.gz"
COST_COLUMNS = ("compute_cost", "memory_cost", "total_cost")
REBUILD_COMMAND = f"kinetics traces pack --from DIR --out kinetics/data/{EMBEDDED_NAME}"


def provenance_path(pack: str | Path) -> Path:
    """`x.tracepack.json.gz` -> `x.tracepack.provenance.json`, beside it."""
    pack = Path(pack)
    return pack.with_name(pack.name.removesuffix(".json.gz") + ".provenance.json")


def embedded_path() -> Path:
    """The pack shipped inside the installed package (importlib.resources, so a non-editable install finds it)."""
    return Path(str(resources.files("kinetics") / "data" / EMBEDDED_NAME))


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def source_tables(directory: str | Path) -> list[Path]:
    """The authors' per-problem tables under `directory` (dense/, topk/, block_topk/), sorted."""
    root = Path(directory)
    if not root.is_dir():
        raise InputError(f"--from {str(root)!r}: not a directory of the authors' tables")
    files = sorted(p for sub in SUBDIRS for p in (root / sub).glob("*.csv"))
    if not files:
        raise InputError(f"--from {str(root)!r}: no *.csv tables under {', '.join(SUBDIRS)}/")
    return files


# ---- build ------------------------------------------------------------------------------------------------------

def _entry(path: Path, root: Path) -> dict:
    """One source table as numbers: per problem, lengths, correct count, prompt tokens, the authors' costs per k."""
    from kinetics.traces import read_table_csv

    tidy = read_table_csv(path)    # validates the table and counts prompt tokens the project's way
    raw = pd.read_csv(path)
    missing = [c for c in COST_COLUMNS if c not in raw.columns]
    if missing:
        raise InputError(f"{path}: missing column {missing[0]!r} (the authors' cost columns)")
    problems = []
    for query_id, group in tidy.groupby("query_id", sort=True):
        rows = raw[raw["query_id"] == query_id].sort_values("trial")
        problems.append({
            "query_id": int(query_id),
            "prompt_tokens": int(group["prompt_tokens"].iloc[0]),
            "num_correct": int(group["num_correct"].iloc[0]),
            "gen_tokens": [int(v) for v in group.sort_values("sample_id")["gen_tokens"]],
            "trials": [int(v) for v in rows["trial"]],
            **{column: [float(v) for v in rows[column]] for column in COST_COLUMNS},
        })
    return {"source": path.relative_to(root).as_posix(), "problems": problems}


def build(directory: str | Path) -> tuple[bytes, dict]:
    """(pack bytes, provenance) from the authors' tables under `directory`."""
    root = Path(directory)
    files = source_tables(root)
    payload = {"format": FORMAT, "tables": [_entry(path, root) for path in files]}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as handle:
        handle.write(text.encode())
    data = buffer.getvalue()
    provenance = {
        "format": FORMAT,
        "what": "AIME24 per-sample generated-token counts, correct counts per problem, prompt token counts "
                "(kinetics.prompts: the authors' instruction, Qwen3's chat template, the Qwen3 tokenizer) and the "
                "authors' cost columns per k, derived from their per-problem tables; no problem text",
        "source": {"repository": SOURCE_REPO, "commit": SOURCE_COMMIT, "path": SOURCE_PREFIX},
        "tables": [{"path": path.relative_to(root).as_posix(), "bytes": path.stat().st_size,
                    "sha256": sha256_file(path)} for path in files],
        "pack_sha256": hashlib.sha256(data).hexdigest(),
        "rebuild": REBUILD_COMMAND,
    }
    return data, provenance


def check_destination(path: Path, force: bool) -> None:
    """Refuse an output that is a folder, sits in no writable folder, or exists (unless --force), before any work."""
    if path.is_dir():
        raise InputError(f"--out {str(path)!r} is a directory; give a file name ending in .json.gz")
    if not path.parent.is_dir() or not os.access(path.parent, os.W_OK):
        raise InputError(f"--out {str(path)!r}: folder {str(path.parent)!r} does not exist or is not writable")
    if path.exists() and not force:
        raise InputError(f"--out {str(path)!r} exists; add --force to replace it")


def pack(directory: str | Path, out: str | Path, force: bool = False) -> dict:
    """Rebuild the pack and its provenance from the authors' tables; returns the provenance."""
    out = Path(out)
    if not out.name.endswith(".json.gz"):
        raise InputError(f"--out {str(out)!r}: the pack's name must end in .json.gz")
    for path in (out, provenance_path(out)):
        check_destination(path, force)
    data, provenance = build(directory)
    atomic_write(out, data)
    atomic_write(provenance_path(out), json.dumps(provenance, indent=1, sort_keys=True) + "\n")
    return provenance


# ---- read -------------------------------------------------------------------------------------------------------

def read_provenance(path: str | Path) -> dict:
    where = provenance_path(path)
    try:
        provenance = json.loads(where.read_text())
    except (OSError, ValueError) as error:
        raise InputError(f"traces table provenance {str(where)!r} is missing or unreadable ({error})") from None
    if not isinstance(provenance, dict) or not {"pack_sha256", "tables", "source"} <= set(provenance):
        raise InputError(f"traces table provenance {str(where)!r} lacks the fields pack_sha256, tables, source")
    return provenance


def read_payload(path: str | Path) -> dict:
    """The pack's JSON, after checking its sha256 against the provenance beside it."""
    path = Path(path)
    expected = read_provenance(path)["pack_sha256"]
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InputError(f"traces table {str(path)!r} cannot be read ({error.strerror})") from None
    if hashlib.sha256(data).hexdigest() != expected:
        raise InputError(f"traces table {str(path)!r} is corrupt or truncated: its sha256 differs from the one in "
                         f"{provenance_path(path).name}; reinstall the package or rebuild it ({REBUILD_COMMAND})")
    try:
        payload = json.loads(gzip.decompress(data))
    except (OSError, EOFError, ValueError) as error:
        raise InputError(f"traces table {str(path)!r} is not a readable pack ({error})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise InputError(f"traces table {str(path)!r}: field format is not {FORMAT!r}")
    return payload


def tidy_table(path: str | Path | None = None) -> pd.DataFrame:
    """The pack as the tidy table `kinetics.traces.load_traces` returns for the authors' tables (same rows)."""
    from kinetics.traces import table_from_counts

    return pd.concat([table_from_counts(table["source"], [
        (p["query_id"], p["gen_tokens"], p["num_correct"], p["prompt_tokens"]) for p in table["problems"]])
        for table in read_payload(path or embedded_path())["tables"]], ignore_index=True)


def authors_costs(path: str | Path | None = None) -> pd.DataFrame:
    """The authors' cost columns from the pack: one row per (source, query_id, trial), tera-eFLOPs as published."""
    rows = []
    for table in read_payload(path or embedded_path())["tables"]:
        for problem in table["problems"]:
            for i, trial in enumerate(problem["trials"]):
                rows.append({"source": Path(table["source"]).name, "query_id": problem["query_id"], "trial": trial,
                             **{column: problem[column][i] for column in COST_COLUMNS}})
    return pd.DataFrame(rows)


def describe(path: str | Path | None = None) -> str:
    """One line naming the embedded table and where its numbers come from."""
    provenance = read_provenance(path or embedded_path())
    source = provenance["source"]
    return (f"the AIME24 table inside the package, {len(provenance['tables'])} tables of "
            f"{source['repository']}@{source['commit'][:8]}")
