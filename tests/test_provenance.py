"""Provenance records this project's commit, never the commit of a repository that merely encloses the tree."""
import re
import subprocess

import pytest

from kinetics.bench import provenance
from kinetics.errors import InputError


def test_commit_from_environment(monkeypatch):
    monkeypatch.setenv("KINETICS_COMMIT", "a28e643")
    assert provenance.git_commit() == "a28e643"


def test_malformed_commit_is_refused(monkeypatch):
    monkeypatch.setenv("KINETICS_COMMIT", "main; rm -rf /")
    with pytest.raises(InputError, match="KINETICS_COMMIT"):
        provenance.git_commit()


def test_enclosing_repository_is_not_ours(tmp_path, monkeypatch):
    """A copy of the project inside another git checkout (as on the GPU machine) says 'unknown'."""
    monkeypatch.delenv("KINETICS_COMMIT", raising=False)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q",
                    "--allow-empty", "-m", "other"], check=True)
    copy = tmp_path / "copy"
    copy.mkdir()
    monkeypatch.setattr(provenance, "REPO_ROOT", copy)
    assert provenance.git_commit() == "unknown"


def test_own_checkout_commit(monkeypatch):
    monkeypatch.delenv("KINETICS_COMMIT", raising=False)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=provenance.REPO_ROOT, capture_output=True,
                          text=True).stdout.strip()
    if not head:
        pytest.skip("not a git checkout")
    assert provenance.git_commit().split("+")[0] == head


def test_recorded_command_names_no_machine_path():
    from kinetics.bench.provenance import REPO_ROOT, portable_command
    command = (f"kinetics bench engine --workload {REPO_ROOT}/data/w.json --out /root/out/engine.json "
               "--parts saturated")
    assert portable_command(command) == ("kinetics bench engine --workload data/w.json --out engine.json "
                                         "--parts saturated")


def test_saved_results_name_no_machine_path():
    """Results are read on other machines: a path of the machine that measured them means nothing there."""
    from kinetics.paths import RESULTS_DIR

    machine = re.compile(r"(?<![\w.])/(?:work|tmp|home|root|Users|scratch|mnt)/")
    hits = [f"{path.relative_to(RESULTS_DIR)}: {match.group(0)}..." for path in sorted(RESULTS_DIR.rglob("*.json"))
            for match in [machine.search(path.read_text())] if match]
    assert not hits, hits
