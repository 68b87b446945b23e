"""`kinetics traces download`: the authors' full tables (and, on request, the Hugging Face traces) into data/traces/.

Sources, both pinned:

* the authors' per-problem tables, from GitHub at the commit the embedded table was derived from; the sha256 of
  every file comes from the embedded table's provenance, so a download is checked against the very bytes the book's
  numbers were derived from;
* the Hugging Face dataset InfiniAILab/Kinetics-generations (jsonl traces with the generated text), listed through
  the Hub's API at a revision; each file is checked against the sha256 (LFS files) or git blob sha1 the Hub lists.

Every file is checked before anything is written (a different existing file is kept unless `force`), then fetched
into a `.part` file beside its destination, resumed from there with an HTTP range request when a previous run was
cut, verified, and renamed into place: a destination holds a whole, verified file or nothing.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from kinetics import tracepack
from kinetics.errors import InputError

log = logging.getLogger(__name__)

GITHUB_RAW = "https://raw.githubusercontent.com"
HF_HUB = "https://huggingface.co"
HF_DATASET = "InfiniAILab/Kinetics-generations"
BASE_ENV = "KINETICS_DOWNLOAD_BASE"   # one base URL for every source (a mirror, or a local server in tests)
TIMEOUT_S = 60
CHUNK = 1 << 16


@dataclass(frozen=True)
class Item:
    """One file to fetch: where from, where to (relative to the destination folder), and its checksum."""

    url: str
    path: str
    algorithm: str   # "sha256" or "git-sha1" (a git blob id, what the Hub lists for files outside LFS)
    digest: str


def _base(default: str, base_url: str | None) -> str:
    return (base_url or os.environ.get(BASE_ENV) or default).rstrip("/")


def table_items(base_url: str | None = None) -> list[Item]:
    """The authors' 44 tables at the pinned commit, with the sha256 recorded when the embedded table was built."""
    provenance = tracepack.read_provenance(tracepack.embedded_path())
    source = provenance["source"]
    base = _base(GITHUB_RAW, base_url)
    return [Item(f"{base}/{source['repository']}/{source['commit']}/{source['path']}/{table['path']}",
                 table["path"], "sha256", table["sha256"]) for table in provenance["tables"]]


def _open(url: str, headers: dict | None = None):
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=TIMEOUT_S)
    except urllib.error.HTTPError as error:
        raise InputError(f"{url}: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise InputError(f"cannot reach {url} ({reason})") from None


def hf_items(revision: str = "main", base_url: str | None = None) -> list[Item]:
    """The jsonl files of the Hugging Face dataset at `revision`, as the Hub's tree API lists them."""
    base = _base(HF_HUB, base_url)
    listing_url = f"{base}/api/datasets/{HF_DATASET}/tree/{revision}?recursive=true"
    with _open(listing_url) as response:
        try:
            listing = json.loads(response.read())
        except ValueError:
            raise InputError(f"{listing_url}: the file listing is not JSON") from None
    items = []
    for entry in listing if isinstance(listing, list) else []:
        path = entry.get("path", "") if isinstance(entry, dict) else ""
        if entry.get("type") != "file" or not path.endswith(".jsonl"):
            continue
        lfs = entry.get("lfs") or {}
        algorithm, digest = ("sha256", lfs.get("oid")) if lfs.get("oid") else ("git-sha1", entry.get("oid"))
        if not digest or ".." in Path(path).parts or Path(path).is_absolute():
            raise InputError(f"{listing_url}: entry {path!r} has no checksum or an unsafe path")
        items.append(Item(f"{base}/datasets/{HF_DATASET}/resolve/{revision}/{path}", path, algorithm, digest))
    if not items:
        raise InputError(f"{listing_url}: the listing names no .jsonl file")
    return items


def file_digest(path: Path, algorithm: str) -> str:
    if algorithm == "sha256":
        return tracepack.sha256_file(path)
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())   # noqa: S324 (git's blob id, not security)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _part(path: Path) -> Path:
    return path.with_name(f".{path.name}.part")


def plan(items: list[Item], dest: Path, force: bool) -> list[Item]:
    """The items still to fetch. Fails before any transfer on a bad destination or a different existing file."""
    if dest.exists() and not dest.is_dir():
        raise InputError(f"destination {str(dest)!r} is a file, not a folder")
    probe = dest
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK):
        raise InputError(f"destination {str(dest)!r} is not writable ({str(probe)!r} is not a writable folder)")
    todo = []
    for item in items:
        target = dest / item.path
        if target.is_dir():
            raise InputError(f"destination {str(target)!r} is a folder, expected a file")
        if target.exists():
            if file_digest(target, item.algorithm) == item.digest:
                continue
            if not force:
                raise InputError(f"{str(target)!r} exists and differs from {item.url}; keeping it (add --force to "
                                 f"replace it)")
        todo.append(item)
    return todo


def fetch(item: Item, target: Path, progress=None) -> None:
    """One file: resume its .part with a range request, verify, rename into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    part = _part(target)
    have = part.stat().st_size if part.exists() else 0
    response = _open(item.url, {"Range": f"bytes={have}-"} if have else None)
    with response:
        mode = "ab" if have and response.status == 206 else "wb"   # a server without ranges sends it all again
        with open(part, mode) as handle:
            while True:
                try:
                    chunk = response.read(CHUNK)
                except (OSError, http.client.HTTPException) as error:   # e.g. IncompleteRead: the .part stays
                    raise InputError(f"{item.url}: transfer cut ({error}); run again to resume") from None
                if not chunk:
                    break
                handle.write(chunk)
                if progress is not None:
                    progress.update(len(chunk))
    got = file_digest(part, item.algorithm)
    if got != item.digest:
        part.unlink()
        raise InputError(f"{item.url}: {item.algorithm} {got} differs from the expected {item.digest}; "
                         f"file refused, nothing written")
    os.replace(part, target)


def download(items: list[Item], dest: str | Path, force: bool = False) -> dict:
    """Fetch what is missing or different into `dest`; returns counts of fetched and already present files."""
    from tqdm.auto import tqdm

    dest = Path(dest)
    todo = plan(items, dest, force)
    log.info("%d of %d files to fetch into %s", len(todo), len(items), dest)
    # the bar shows on a terminal only (disable=None), so logs and error lines stay clean
    with tqdm(total=len(todo), unit="file", desc="download", disable=None if todo else True) as bar:
        for item in todo:
            bar.set_postfix_str(Path(item.path).name, refresh=False)
            try:
                fetch(item, dest / item.path)
            except OSError as error:   # the disk, not the network: a full disk, a folder turned read-only
                raise InputError(f"cannot write {str(dest / item.path)!r} ({error.strerror or error})") from None
            bar.update(1)
    return {"fetched": len(todo), "present": len(items) - len(todo), "dest": str(dest)}

