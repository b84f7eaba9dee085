"""The build cache is sealed: a garbled, truncated or misplaced entry is deleted and rendered again, never written
to out/, and never makes check or diff take it for a fresh build."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import make_repo, run, snapshot
from nimgen.render.cache import BuildCache, seal, unseal

TARGET = "prod/serve/chat/llama-8b-chat.yaml"


def entries(root: Path) -> list[Path]:
    return sorted((root / ".nimgen" / "cache").glob("*/*.yaml"))


def entry_of(root: Path, relpath: str) -> Path:
    """The cache entry holding the text of out/<relpath>."""
    text = (root / "out" / relpath).read_bytes()
    found = [p for p in entries(root) if (unseal(p.stem, p.read_bytes()) or "").encode() == text]
    assert len(found) == 1, relpath
    return found[0]


def garble(data: bytes) -> bytes:
    """What a bad disk or a careless hand could make of the entry: a value changed, the seal line kept."""
    assert b"maxReplicas: 6" in data
    return data.replace(b"maxReplicas: 6", b"maxReplicas: 60")


def test_seal_round_trip_and_what_breaks_it():
    sealed = seal("ab" * 32, "kind: X\n")
    assert unseal("ab" * 32, sealed) == "kind: X\n"
    assert unseal("cd" * 32, sealed) is None                       # an entry moved to another key
    assert unseal("ab" * 32, sealed[:-3]) is None                   # truncated
    assert unseal("ab" * 32, sealed.replace(b"X", b"Y")) is None    # garbled
    assert unseal("ab" * 32, b"kind: X\n") is None                  # no seal (an older format)
    assert unseal("ab" * 32, b"") is None


def test_a_bad_entry_is_a_miss_and_is_deleted(tmp_path: Path):
    cache = BuildCache(tmp_path, "fingerprint")
    cache.put("key", "kind: X\n")
    assert cache.get("key") == "kind: X\n"
    (path,) = tmp_path.glob("*/*.yaml")
    path.write_bytes(path.read_bytes()[:-2])
    assert cache.get("key") is None and not path.exists()
    assert (cache.hits, cache.misses, cache.discarded) == (1, 1, 1)


@pytest.fixture(scope="module")
def uncached_out(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """out/ of `build --no-cache` of a fresh copy of the test repository: a build that reads no cache at all."""
    fresh = make_repo(tmp_path_factory.mktemp("fresh") / "repo")
    assert run(fresh, "build", "--no-cache").exit_code == 0
    return snapshot(fresh / "out")


@pytest.mark.parametrize("damage", ["garbled", "truncated", "unsealed", "moved", "emptied"])
def test_a_damaged_entry_never_reaches_out(built: Path, uncached_out: dict[str, bytes], damage: str):
    entry = entry_of(built, TARGET)
    data = entry.read_bytes()
    if damage == "garbled":
        entry.write_bytes(garble(data))
    elif damage == "truncated":
        entry.write_bytes(data[: len(data) // 2])
    elif damage == "unsealed":     # the text alone, as entries were stored before they were sealed
        entry.write_bytes(data.partition(b"\n")[2].replace(b"maxReplicas: 6", b"maxReplicas: 60"))
    elif damage == "moved":        # another file's valid entry under this key
        other = entry_of(built, "prod/serve/research/mistral-7b-eval.yaml")
        entry.write_bytes(other.read_bytes())
    else:
        entry.write_bytes(b"")
    shutil.rmtree(built / "out")
    assert run(built, "build").exit_code == 0
    # the same bytes as a build that reads no cache at all (of the same, unchanged inputs)
    assert snapshot(built / "out") == uncached_out
    # the bad entry was replaced by a sound one
    assert unseal(entry.stem, entry.read_bytes()) == (built / "out" / TARGET).read_text()


@pytest.mark.parametrize("command", ["check", "diff"])
def test_check_is_not_fooled_by_out_and_cache_tampered_alike(built: Path, command: str):
    entry = entry_of(built, TARGET)
    entry.write_bytes(garble(entry.read_bytes()))
    target = built / "out" / TARGET
    target.write_bytes(garble(target.read_bytes()))
    result = run(built, command)
    assert f"changed: out/{TARGET}" in result.stdout
    assert "+    maxReplicas: 6\n" in result.stdout
    if command == "check":
        assert result.exit_code == 1 and "matches" not in result.stdout
    # and a build repairs both
    assert run(built, "build").exit_code == 0
    assert b"maxReplicas: 60" not in target.read_bytes()
    assert run(built, "check").exit_code == 0


def test_a_cache_that_cannot_be_read_only_costs_speed(built: Path):
    before = snapshot(built / "out")
    for entry in entries(built):
        entry.unlink()
        entry.mkdir()                       # unreadable as a file
    result = run(built, "build")
    assert result.exit_code == 0, result.stderr
    assert "0 environment folder(s) changed" in result.stdout
    assert snapshot(built / "out") == before


def test_check_renders_afresh_even_over_a_validly_resealed_poisoned_entry(built: Path):
    """A seal catches corruption, not a hand that reseals: check's verdict never comes from the cache."""
    entry = entry_of(built, TARGET)
    poisoned = garble(unseal(entry.stem, entry.read_bytes()).encode()).decode()
    entry.write_bytes(seal(entry.stem, poisoned))
    target = built / "out" / TARGET
    target.write_text(poisoned)
    assert run(built, "diff").stdout.count("changed:") == 0        # diff reads the cache, as a build would
    result = run(built, "check")
    assert result.exit_code == 1 and f"changed: out/{TARGET}" in result.stdout


def test_a_key_holds_what_decides_the_file_and_not_what_only_explain_shows(tmp_path: Path):
    import dataclasses
    from conftest import resolved
    from nimgen.render.cache import model_key
    root = make_repo(tmp_path / "repo")
    workload = next(iter(resolved(root, "dev").values()))
    assert workload.provenance           # what `explain` shows: which file and line set each value
    moved = dataclasses.replace(workload, provenance=workload.provenance[1:])
    assert model_key(moved) == model_key(workload)
    service = dataclasses.replace(workload.service, max_replicas=workload.service.max_replicas + 1)
    assert model_key(dataclasses.replace(workload, service=service)) != model_key(workload)
