"""kinetics traces summary|pack|download: the per-setting summary (problems, samples, pass@1, lengths, share at the
length cap), the AIME24 table inside the package rebuilt from the authors' tables, and the download of the full
tables (kinetics.tracepack, kinetics.download)."""
from __future__ import annotations

import argparse
import json
import logging

from kinetics.traces import load_traces, summary

TRACES_HELP = ("traces directory, or 'embedded' (default: $KINETICS_TRACES, then data/traces/, then the AIME24 "
               "table inside the package)")


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    show = sub.add_parser("summary", help="per (model, attention, budget): problems, samples, pass@1, lengths")
    show.add_argument("--traces", default=None, help=TRACES_HELP)
    show.add_argument("--json", action="store_true", help="print JSON records instead of a table")
    show.add_argument("--pool-duplicates", action="store_true",
                      help="pool files holding the same setting and run as separate runs (default: refuse)")
    show.set_defaults(func=_summary)
    pack = sub.add_parser("pack", help="rebuild the embedded AIME24 table from the authors' full tables")
    pack.add_argument("--from", dest="source", required=True, help="folder with dense/, topk/, block_topk/ tables")
    pack.add_argument("--out", required=True, help="the pack, NAME.json.gz (its provenance goes beside it)")
    pack.add_argument("--force", action="store_true", help="replace existing output files")
    pack.set_defaults(func=_pack)
    download = sub.add_parser("download", help="fetch the authors' full tables (pinned commit) into data/traces/")
    download.add_argument("--hf", action="store_true", help="fetch the Hugging Face jsonl traces (with the "
                          "generated text) instead, into data/hf-traces/")
    download.add_argument("--revision", default="main", help="Hugging Face dataset revision (with --hf)")
    download.add_argument("--dest", default=None, help="destination folder (default data/traces/ or data/hf-traces/)")
    download.add_argument("--base-url", default=None, help="fetch from this base URL instead of GitHub / the Hub "
                          "(a mirror; default $KINETICS_DOWNLOAD_BASE)")
    download.add_argument("--force", action="store_true", help="replace existing files that differ")
    download.set_defaults(func=_download)


def _pack(args) -> int:
    from kinetics import tracepack

    provenance = tracepack.pack(args.source, args.out, force=args.force)
    print(f"wrote {args.out} ({len(provenance['tables'])} tables, sha256 {provenance['pack_sha256'][:16]}...) and "
          f"{tracepack.provenance_path(args.out)}")
    return 0


def _download(args) -> int:
    from kinetics import download
    from kinetics.paths import DEFAULT_TRACES, HF_TRACES

    if args.hf:
        items, dest = download.hf_items(args.revision, args.base_url), args.dest or HF_TRACES
    else:
        items, dest = download.table_items(args.base_url), args.dest or DEFAULT_TRACES
    done = download.download(items, dest, force=args.force)
    print(f"{done['fetched']} files fetched, {done['present']} already present and verified, in {done['dest']}")
    return 0


def _summary(args) -> int:
    table = load_traces(args.traces, pool=args.pool_duplicates)
    logging.getLogger(__name__).info("traces: %s", table.attrs["traces_source"])
    frame = summary(table)
    if args.json:
        print(json.dumps(frame.to_dict(orient="records"), indent=2))
        return 0
    shown = frame.copy()
    shown["pass@1"] = shown["pass@1"].map(lambda v: f"{100 * v:.1f}%")
    shown["at_cap"] = shown["at_cap"].map(lambda v: f"{100 * v:.1f}%")
    shown["mean_tokens"] = shown["mean_tokens"].map(lambda v: f"{v:,.0f}")
    shown["p90_tokens"] = shown["p90_tokens"].map(lambda v: f"{v:,.0f}")
    print(shown.to_string(index=False))
    return 0
