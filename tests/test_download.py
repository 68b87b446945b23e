"""`kinetics traces download`, end to end against a local HTTP server on 127.0.0.1 serving copies this test writes:
good files land, a wrong checksum or a truncated file is refused and leaves nothing, a 404 and an unreachable host
are one line, a rerun fetches nothing, an existing different file is kept unless --force, a cut transfer resumes."""
from __future__ import annotations

import hashlib
import http.server
import io
import os
import json
import threading
from functools import partial
from pathlib import Path

import pytest

from kinetics import download, tracepack
from kinetics.cli import main

BODIES = {"dense/a.csv": b"query_id,trial\n0,1\n" * 50, "topk/b.csv": b"query_id,trial\n1,2\n" * 70}


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """The stdlib file server, plus `Range: bytes=N-` (what the downloader sends to resume), quiet."""

    def send_head(self):
        header = self.headers.get("Range")
        path = Path(self.translate_path(self.path))
        if not header or not path.is_file():
            return super().send_head()
        start = int(header.removeprefix("bytes=").rstrip("-"))
        data = path.read_bytes()
        self.send_response(206)
        self.send_header("Content-Length", str(len(data) - start))
        self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        self.server.ranges.append(start)
        return io.BytesIO(data[start:])

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(RangeHandler, directory=str(root)))
    httpd.ranges = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}", httpd
    httpd.shutdown()
    httpd.server_close()


def _items(base: str, bodies: dict, digests: dict | None = None) -> list[download.Item]:
    return [download.Item(f"{base}/files/{name}", name, "sha256",
                          (digests or {}).get(name) or hashlib.sha256(body).hexdigest())
            for name, body in bodies.items()]


def _serve(root: Path, bodies: dict) -> None:
    for name, body in bodies.items():
        (root / "files" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "files" / name).write_bytes(body)


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_good_files_land_and_a_rerun_fetches_nothing(server, tmp_path):
    root, base, _ = server
    _serve(root, BODIES)
    dest = tmp_path / "data" / "traces"
    assert download.download(_items(base, BODIES), dest) == {"fetched": 2, "present": 0, "dest": str(dest)}
    assert {name: (dest / name).read_bytes() for name in BODIES} == BODIES
    assert download.download(_items(base, BODIES), dest)["fetched"] == 0
    assert _files(dest) == sorted(BODIES)   # no .part left behind


@pytest.mark.parametrize("fault", ["wrong checksum", "truncated file"])
def test_a_bad_file_is_refused_and_leaves_nothing(server, tmp_path, fault):
    root, base, _ = server
    served = dict(BODIES)
    digests = {}
    if fault == "wrong checksum":
        digests["topk/b.csv"] = "0" * 64
    else:
        served["topk/b.csv"] = BODIES["topk/b.csv"][:40]
    _serve(root, served)
    dest = tmp_path / "d"
    with pytest.raises(download.InputError, match=r"topk/b\.csv: sha256 [0-9a-f]{64} differs .* nothing written"):
        download.download(_items(base, BODIES, digests), dest)
    assert _files(dest) == ["dense/a.csv"]


def test_404_and_an_unreachable_host_are_one_line(server, tmp_path, capsys, monkeypatch):
    root, base, _ = server
    with pytest.raises(download.InputError, match=r"/files/dense/a\.csv: HTTP 404"):
        download.download(_items(base, BODIES), tmp_path / "d")
    assert not (tmp_path / "d" / "dense" / "a.csv").exists()
    # the real command, pointed at a port nothing listens on: one line naming the URL, exit 2
    monkeypatch.setenv(download.BASE_ENV, "http://127.0.0.1:9")
    assert main(["traces", "download", "--dest", str(tmp_path / "t")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kinetics: error: cannot reach http://127.0.0.1:9/Infini-AI-Lab/Kinetics/e7765597")
    assert err.count("\n") == 1


def test_an_existing_different_file_is_kept_unless_force(server, tmp_path):
    root, base, _ = server
    _serve(root, BODIES)
    dest = tmp_path / "d"
    (dest / "dense").mkdir(parents=True)
    (dest / "dense" / "a.csv").write_bytes(b"my own edits")
    with pytest.raises(download.InputError, match="exists and differs .* keeping it .*--force"):
        download.download(_items(base, BODIES), dest)
    assert (dest / "dense" / "a.csv").read_bytes() == b"my own edits"
    assert _files(dest) == ["dense/a.csv"]                  # checked before any transfer
    assert download.download(_items(base, BODIES), dest, force=True)["fetched"] == 2
    assert (dest / "dense" / "a.csv").read_bytes() == BODIES["dense/a.csv"]


def test_a_cut_transfer_resumes_from_its_part_file(server, tmp_path):
    root, base, httpd = server
    _serve(root, BODIES)
    dest = tmp_path / "d"
    part = dest / "dense" / ".a.csv.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(BODIES["dense/a.csv"][:300])
    assert download.download(_items(base, BODIES), dest)["fetched"] == 2
    assert httpd.ranges == [300] and (dest / "dense" / "a.csv").read_bytes() == BODIES["dense/a.csv"]
    assert not part.exists()


def test_bad_destinations(tmp_path, capsys):
    afile = tmp_path / "f"
    afile.write_text("x")
    assert main(["traces", "download", "--dest", str(afile), "--base-url", "http://127.0.0.1:9"]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert main(["traces", "download", "--dest", str(afile / "sub"), "--base-url", "http://127.0.0.1:9"]) == 2
    assert "is not a writable folder" in capsys.readouterr().err
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if not os.access(locked, os.W_OK):   # root can write anywhere
        assert main(["traces", "download", "--dest", str(locked / "t"), "--base-url", "http://x"]) == 2
        assert "not writable" in capsys.readouterr().err


def test_the_real_sources_point_at_the_pinned_commit_and_the_hub(server, tmp_path, capsys):
    items = download.table_items()
    provenance = tracepack.read_provenance(tracepack.embedded_path())
    assert len(items) == len(provenance["tables"]) == 44
    assert items[0].url.startswith("https://raw.githubusercontent.com/Infini-AI-Lab/Kinetics/"
                                   "e7765597e6718d1d30dde243e181ce6b3b2f5508/cost_model/aime24/")
    # --hf: the Hub's tree listing, then each file checked against its LFS sha256 or git blob id
    root, base, _ = server
    lfs_body, small_body = b'{"model": "Qwen3-8B"}\n' * 20, b'{"meta": 1}\n'
    blob = hashlib.sha1(f"blob {len(small_body)}\0".encode() + small_body).hexdigest()
    listing = [{"type": "file", "path": "aime24/big.jsonl", "lfs": {"oid": hashlib.sha256(lfs_body).hexdigest()}},
               {"type": "file", "path": "aime24/small.jsonl", "oid": blob},
               {"type": "file", "path": "README.md", "oid": "ab"}, {"type": "directory", "path": "aime24"}]
    api = root / "api" / "datasets" / download.HF_DATASET / "tree"
    api.mkdir(parents=True)
    (api / "main").write_text(json.dumps(listing))
    files = root / "datasets" / download.HF_DATASET / "resolve" / "main" / "aime24"
    files.mkdir(parents=True)
    (files / "big.jsonl").write_bytes(lfs_body)
    (files / "small.jsonl").write_bytes(small_body)
    dest = tmp_path / "hf"
    assert main(["traces", "download", "--hf", "--base-url", base, "--dest", str(dest)]) == 0
    assert "2 files fetched" in capsys.readouterr().out
    assert _files(dest) == ["aime24/big.jsonl", "aime24/small.jsonl"]


def test_the_command_fetches_the_authors_tables_from_a_mirror(server, tmp_path, full_traces, capsys):
    root, base, _ = server
    source = tracepack.read_provenance(tracepack.embedded_path())["source"]
    mirror = root / source["repository"] / source["commit"] / source["path"]
    for table in tracepack.source_tables(full_traces):
        (mirror / table.parent.name).mkdir(parents=True, exist_ok=True)
        (mirror / table.parent.name / table.name).write_bytes(table.read_bytes())
    dest = tmp_path / "traces"
    command = ["traces", "download", "--base-url", base, "--dest", str(dest)]
    assert main(command) == 0
    assert "44 files fetched, 0 already present" in capsys.readouterr().out
    assert main(command) == 0
    assert "0 files fetched, 44 already present" in capsys.readouterr().out
    assert main(["traces", "summary", "--json", "--traces", str(dest)]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(
        (main(["traces", "summary", "--json", "--traces", "embedded"]), capsys.readouterr().out)[1])
