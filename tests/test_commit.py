"""out/ is never corrupt: a build switches every environment at once (render/commit.py), whatever stops it and
whenever; builds wait for each other; a write that cannot happen is a user error that leaves out/ as it was.

Every test here writes, so each gets a copy (`built`) of one repository built per session in both states below
(`ab_once`: out/ in state A, the build cache holding A and B). How many kill and concurrency trials run is the
test profile's (tests/conftest.py: a few in the fast profile, all of them in the thorough one)."""

from __future__ import annotations

import errno
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from filelock import FileLock

from conftest import BUDGET, PROJECT, run, snapshot
from nimgen import usecases
from nimgen.output import commit

CHAT = "metadata: {name: llama-8b-chat, project: chat}"


def set_inputs(root: Path, state: str) -> None:
    """State A: the fixture. State B: dev and staging change (annotations, a new workload), prod does not."""
    for env in ("dev", "staging"):
        path = root / "environments" / env / "workloads" / "llama-8b-chat.yaml"
        text = path.read_text().replace(CHAT[:-1] + ", annotations: {revision: b}}", CHAT)
        path.write_text(text.replace(CHAT, CHAT[:-1] + ", annotations: {revision: b}}") if state == "B" else text)
    extra = root / "environments" / "staging" / "workloads" / "llama-8b-extra.yaml"
    if state == "B":
        base = (root / "environments" / "base" / "workloads" / "llama-8b-batch.yaml").read_text()
        extra.write_text(base.replace("name: llama-8b-batch", "name: llama-8b-extra"))
    elif extra.exists():
        extra.unlink()


@pytest.fixture(scope="session")
def ab_once(built_once: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, bytes]]]:
    """The built test repository after a build of state B and one of state A again: out/ of both states, both in
    its build cache; the repository is left in state A. Never written to: `built` copies it."""
    root = Path(shutil.copytree(built_once, tmp_path_factory.mktemp("states") / "repo", symlinks=True))
    found = {"A": snapshot(root / "out")}
    set_inputs(root, "B")
    assert run(root, "build").exit_code == 0
    found["B"] = snapshot(root / "out")
    assert found["A"]["prod/README.md"] == found["B"]["prod/README.md"] and found["A"] != found["B"]
    set_inputs(root, "A")
    assert run(root, "build").exit_code == 0
    assert snapshot(root / "out") == found["A"]
    return root, found


@pytest.fixture
def built(ab_once: tuple[Path, dict], tmp_path: Path) -> Path:
    """A copy of ab_once's repository (this module's own `built`): state A, A and B in the build cache."""
    return Path(shutil.copytree(ab_once[0], tmp_path / "repo", symlinks=True))


@pytest.fixture
def states(ab_once: tuple[Path, dict]) -> dict[str, dict[str, bytes]]:
    """out/ of state A and B (both in the build cache of `built`, which is in state A)."""
    return ab_once[1]


def leftovers(root: Path) -> list[str]:
    beside = [n for n in os.listdir(root) if n.startswith(".out")]
    inside = [n for n in os.listdir(root / "out") if n.startswith(".")] if (root / "out").is_dir() else []
    return beside + [f"out/{n}" for n in inside]


def assert_recovers(root: Path, states: dict, target: str, check: bool = True) -> None:
    """A following normal build: out/ is the target state, nothing left behind, and check agrees."""
    result = run(root, "build")
    assert result.exit_code == 0, result.stderr
    assert snapshot(root / "out") == states[target]
    assert leftovers(root) == []
    if check:
        assert run(root, "check").exit_code == 0


def state_of(root: Path, states: dict) -> str:
    found = snapshot(root / "out") if (root / "out").exists() else None
    return next((name for name, tree in states.items() if tree == found), "mixed or missing")


# SIGKILL at random moments of a real build (a process of its own)


def start_build(root: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "nimgen", "--root", str(root), "build"], cwd=PROJECT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def kill_trials(root: Path, states: dict, trials: int, when, seed: int) -> list[str]:
    rng, seen = random.Random(seed), []
    target = "A"
    for _ in range(trials):
        target = "B" if target == "A" else "A"
        set_inputs(root, target)
        build = start_build(root)
        when(root, build, rng)
        build.send_signal(signal.SIGKILL)
        build.wait()
        found = state_of(root, states)
        assert found in ("A", "B"), f"after a kill out/ is {found}"
        seen.append(found)
        assert_recovers(root, states, target)
    return seen


def test_sigkill_at_random_moments_leaves_out_old_or_new(built: Path, states: dict):
    set_inputs(built, "B")
    start = time.perf_counter()
    assert start_build(built).wait() == 0
    duration = time.perf_counter() - start
    set_inputs(built, "A")
    assert run(built, "build").exit_code == 0

    def after_a_random_delay(_root, _build, rng):
        time.sleep(rng.uniform(0.3, 1.2) * duration)

    kill_trials(built, states, BUDGET.kills_at_random, after_a_random_delay, seed=7)


def test_sigkill_during_the_commit_leaves_out_old_or_new(built: Path, states: dict):
    def while_committing(root, build, rng):
        # the staging folder appears when the commit starts; kill within the next few milliseconds
        while build.poll() is None and not any(n.startswith(".out.new-") for n in os.listdir(root)):
            time.sleep(0.0002)
        time.sleep(rng.choice([0, 0, 0.0005, 0.001, 0.002, 0.004, 0.008]))

    kill_trials(built, states, BUDGET.kills_in_commit, while_committing, seed=11)


# a kill between any two steps of the commit, in this process


class Killed(BaseException):
    """Stands for SIGKILL: no handler of nimgen catches it (they handle OSError), so nothing cleans up."""


STEPS = [(os, "rename"), (os, "replace"), (os, "unlink"), (os, "link"), (os, "symlink"), (os, "mkdir"),
         (shutil, "rmtree"), (Path, "write_bytes")]


def interrupt(monkeypatch: pytest.MonkeyPatch, root: Path, kill_at: int | None) -> list[str]:
    """Count the file system steps on out/ and its temporary names; raise Killed instead of step kill_at."""
    done: list[str] = []

    def wrap(name, function):
        def step(*args, **kwargs):
            if any(on_out(root, os.fspath(a)) for a in args if isinstance(a, (str, os.PathLike))):
                if len(done) == kill_at:
                    raise Killed(name)
                done.append(name)
            return function(*args, **kwargs)
        return step

    for owner, name in STEPS:
        monkeypatch.setattr(owner, name, wrap(name, getattr(owner, name)))
    if commit._exchange is not None:
        monkeypatch.setattr(commit, "_exchange", wrap("exchange", commit._exchange))
    return done


SWITCH = ("exchange", "replace", "rename", "unlink", "rmtree")


def chosen(steps: list[str], last_too: bool = True) -> list[int]:
    """Every step of the switch; of the many others (creating folders, writing files, linking the files carried
    over), the first and (last_too) the last of each kind."""
    picked = {i for i, name in enumerate(steps) if name in SWITCH}
    for kind in set(steps) - set(SWITCH):
        found = [i for i, name in enumerate(steps) if name == kind]
        picked |= {found[0], found[-1]} if last_too else {found[0]}
    return sorted(picked)


@pytest.mark.parametrize("mode", ["exchange", "journal"])
def test_a_kill_at_every_step_of_the_commit_is_recovered(built: Path, states: dict, mode: str,
                                                         monkeypatch: pytest.MonkeyPatch):
    if mode == "journal":
        monkeypatch.setattr(commit, "_exchange", None)  # a filesystem without an atomic exchange
    elif commit._exchange is None:
        pytest.skip("no atomic exchange on this system")
    root = built.resolve()
    plans, commits = {}, {}
    for source, target in (("A", "B"), ("B", "A")):  # what a build commits, step by step
        set_inputs(root, target)
        with monkeypatch.context() as patch:
            recorded, original = [], commit.commit
            patch.setattr(commit, "commit", lambda *args: (recorded.append(args), original(*args))[1])
            plans[source] = interrupt(patch, root, None)
            usecases.build(root)
        commits[source] = recorded[0]
        assert snapshot(root / "out") == states[target]
    assert {"rmtree", "link", "write_bytes", "exchange" if mode == "exchange" else "replace"} <= set(plans["A"])
    steps = {source: chosen(plan, last_too=BUDGET.every_step) for source, plan in plans.items()}
    tried = []
    for i in range(max(map(len, steps.values()))):
        for source, target in (("A", "B"), ("B", "A")):  # A -> B, recovered to B, then B -> A, recovered to A
            k = steps[source][min(i, len(steps[source]) - 1)]
            set_inputs(root, target)
            with monkeypatch.context() as patch:  # the commit of the build, killed before its k-th step
                done = interrupt(patch, root, k)
                with pytest.raises(Killed):
                    commit.commit(*commits[source])
            switched = "exchange" in done or "replace" in done  # the commit point was passed
            expected = target if switched else source
            if mode == "exchange":  # out/ is the one or the other even before any recovery
                assert state_of(root, states) == expected, (k, done)
            commit.recover(root, root / "out")
            assert state_of(root, states) == expected, (k, done)
            assert_recovers(root, states, target, check=False)  # the next build
            tried.append(plans[source][k])
    assert set(tried) == set(plans["A"])


def test_a_kill_between_the_two_renames_is_rolled_forward(built: Path, states: dict,
                                                          monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(commit, "_exchange", None)
    root = built.resolve()
    set_inputs(root, "B")
    with monkeypatch.context() as patch:
        done = interrupt(patch, root, None)
        usecases.build(root)
    second = [i for i, name in enumerate(done) if name == "rename"][1]
    set_inputs(root, "A")
    usecases.build(root)
    set_inputs(root, "B")
    with monkeypatch.context() as patch:
        interrupt(patch, root, second)
        with pytest.raises(Killed):
            usecases.build(root)
    assert not (root / "out").exists() and (root / ".out.commit").exists()
    # check reads out/ as it is (missing), and a build of the same inputs completes the switch
    assert run(root, "check").exit_code == 1
    assert_recovers(root, states, "B")


def test_leftovers_are_not_content_and_the_next_build_removes_them(built: Path, states: dict):
    for name in (".out.new-x1", ".out.old-x1", "out/.dev.new-abc", "out/.prod.old-4242"):
        (built / name / "chat").mkdir(parents=True)
        (built / name / "chat" / "stray.yaml").write_text("stray: true\n")
    (built / ".out.commit.tmp-x1").write_text("{")
    (built / "out" / ".gitkeep").write_text("")
    result = run(built, "check")
    assert result.exit_code == 0, result.stdout
    assert run(built, "plan").stdout.endswith("0 file(s) would change\n")
    result = run(built, "build")
    assert "0 environment folder(s) changed" in result.stdout
    assert leftovers(built) == ["out/.gitkeep"]  # not a leftover: kept
    assert snapshot(built / "out") == {**states["A"], ".gitkeep": b""}


def test_an_env_build_carries_the_other_environments_over_unchanged(built: Path, states: dict):
    set_inputs(built, "B")
    (built / "out" / "notes.md").write_text("kept\n")
    inode = (built / "out" / "prod" / "README.md").stat().st_ino
    result = run(built, "build", "--env", "staging")
    assert "1 environment folder(s) changed" in result.stdout
    found = snapshot(built / "out")
    assert found["notes.md"] == b"kept\n"
    for rel, data in states["B"].items():
        expected = data if rel.startswith("staging/") else states["A"][rel]
        assert found[rel] == expected, rel
    assert (built / "out" / "prod" / "README.md").stat().st_ino == inode  # carried over, not rewritten
    assert leftovers(built) == []


# builds at the same time


def test_concurrent_builds_wait_for_each_other(built: Path, states: dict):
    target = "A"
    for _ in range(BUDGET.concurrent_rounds):
        target = "B" if target == "A" else "A"
        set_inputs(built, target)
        builds = [subprocess.Popen([sys.executable, "-m", "nimgen", "--root", str(built), "build"], cwd=PROJECT,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        check = subprocess.Popen([sys.executable, "-m", "nimgen", "--root", str(built), "check"], cwd=PROJECT,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for process in builds + [check]:
            _, stderr = process.communicate(timeout=120)
            assert "Traceback" not in stderr, stderr
            assert process.returncode in ((0, 1) if process is check else (0,)), stderr
        assert snapshot(built / "out") == states[target]
        assert leftovers(built) == []


def test_a_second_build_waits_for_the_lock(built: Path):
    lock = FileLock(built / ".nimgen" / "build.lock")
    with lock:
        build = subprocess.Popen([sys.executable, "-m", "nimgen", "--root", str(built), "build"], cwd=PROJECT,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert "waiting for another nimgen build" in build.stderr.readline()
        time.sleep(0.2)
        assert build.poll() is None
    assert build.wait(timeout=60) == 0
    assert "0 environment folder(s) changed" in build.stdout.read()


def test_a_build_that_waits_too_long_fails_clearly(built: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(usecases, "LOCK_TIMEOUT", 0.3)
    before = snapshot(built / "out")
    with FileLock(built / ".nimgen" / "build.lock"):
        result = run(built, "build")
    assert result.exit_code == 1
    assert "waiting for another nimgen build" in result.stderr
    assert "another nimgen build still holds the build lock after 0.3 s" in result.stderr
    assert "out/ was not changed" in result.stderr and "Traceback" not in result.stderr
    assert snapshot(built / "out") == before


# writes that cannot happen


def assert_refused(root: Path, before: dict, *messages: str) -> None:
    result = run(root, "build")
    assert result.exit_code == 1, result.stdout + result.stderr
    for message in messages:
        assert message in result.stderr, result.stderr
    assert "out/ was not changed" in result.stderr and "Traceback" not in result.stderr
    assert snapshot(root / "out") == before
    assert leftovers(root) == []


def on_out(root: Path, path: str) -> bool:
    """A path of out/ or of its temporary names beside it."""
    out, found = str(root.resolve()), os.path.abspath(path)
    return found.startswith(out + os.sep) and found[len(out) + 1:].split(os.sep)[0].startswith(("out", ".out"))


def failing(monkeypatch: pytest.MonkeyPatch, owner, name: str, error: OSError, root: Path, after: int = 0):
    """owner.name raises error once, on a path of out/ or beside it, after `after` calls that succeed."""
    original, calls = getattr(owner, name), []

    def broken(*args, **kwargs):
        paths = [os.fspath(a) for a in (*args, *kwargs.values()) if isinstance(a, (str, os.PathLike))]
        if any(on_out(root, p) for p in paths):
            calls.append(name)
            if len(calls) == after + 1:
                raise OSError(error.errno, error.strerror, paths[0])
        return original(*args, **kwargs)
    monkeypatch.setattr(owner, name, broken)


@pytest.mark.parametrize("case", ["disk full", "no inodes", "read-only repository", "read-only filesystem",
                                  "immutable out", "journal on a full disk", "link on a full disk"])
def test_a_write_that_cannot_happen_leaves_out_unchanged(built: Path, states: dict, case: str,
                                                         monkeypatch: pytest.MonkeyPatch):
    set_inputs(built, "B")
    before = snapshot(built / "out")
    message = {
        "disk full": lambda: failing(monkeypatch, Path, "write_bytes", OSError(errno.ENOSPC, "No space left on "
                                                                                "device"), built, after=5),
        "no inodes": lambda: failing(monkeypatch, os, "mkdir", OSError(errno.ENOSPC, "No space left on device"),
                                     built, after=2),
        "read-only repository": lambda: failing(monkeypatch, os, "mkdir",
                                                PermissionError(errno.EACCES, "Permission denied"), built),
        "read-only filesystem": lambda: failing(monkeypatch, commit, "_exchange",
                                                OSError(errno.EROFS, "Read-only file system"), built),
        "immutable out": lambda: failing(monkeypatch, commit, "_exchange",
                                         PermissionError(errno.EPERM, "Operation not permitted"), built),
        "journal on a full disk": lambda: (monkeypatch.setattr(commit, "_exchange", None),
                                           failing(monkeypatch, os, "replace",
                                                   OSError(errno.ENOSPC, "No space left on device"), built)),
        "link on a full disk": lambda: failing(monkeypatch, os, "link", OSError(errno.ENOSPC, "No space left on "
                                                                               "device"), built, after=1),
    }
    if case in ("read-only filesystem", "immutable out") and commit._exchange is None:
        pytest.skip("no atomic exchange on this system")
    message[case]()
    reason = {"read-only repository": "Permission denied", "read-only filesystem": "Read-only file system",
              "immutable out": "Operation not permitted"}.get(case, "No space left on device")
    assert_refused(built, before, "cannot ", reason)


def test_a_rename_failing_after_the_journal_rolls_back(built: Path, states: dict, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(commit, "_exchange", None)
    set_inputs(built, "B")
    failing(monkeypatch, os, "rename", OSError(errno.EIO, "Input/output error"), built, after=1)
    assert_refused(built, states["A"], "cannot switch out/ to the new build", "Input/output error")


def chattr(flag: str, *paths: Path) -> bool:
    found = shutil.which("chattr")
    return bool(found) and subprocess.run([found, flag, *map(str, paths)], capture_output=True).returncode == 0


@pytest.mark.parametrize("what", ["out", "out/dev", ".nimgen/build.lock"])
def test_immutable_paths_are_refused_for_real(built: Path, states: dict, what: str):
    set_inputs(built, "B")
    before = snapshot(built / "out")
    if not chattr("+i", built / what):
        pytest.skip("chattr +i is not available here")
    try:
        expected = "take the build lock" if what.endswith(".lock") else f"{what}/ is read-only (or immutable)"
        assert_refused(built, before, expected)
    finally:
        chattr("-i", built / what)
    assert_recovers(built, states, "B")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders anyway")
def test_read_only_out_is_refused(built: Path):
    set_inputs(built, "B")
    before = snapshot(built / "out")
    (built / "out").chmod(0o555)
    try:
        assert_refused(built, before, "out/ is read-only")
    finally:
        (built / "out").chmod(0o755)


def test_out_that_is_a_file_is_refused(built: Path):
    shutil.rmtree(built / "out")
    (built / "out").write_text("not a folder\n")
    result = run(built, "build")
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert "out/ is a file, not a folder" in result.stderr and "out/ was not changed" in result.stderr
    assert (built / "out").read_text() == "not a folder\n"


def test_an_environment_folder_that_is_a_file_is_refused(built: Path):
    set_inputs(built, "B")
    shutil.rmtree(built / "out" / "dev")
    (built / "out" / "dev").write_text("not a folder\n")
    before = snapshot(built / "out")
    assert_refused(built, before, "out/dev is a file, not a folder")


@pytest.mark.parametrize("link", ["out", "out/prod"])
def test_a_symlink_leaving_the_repository_is_refused(built: Path, tmp_path: Path, link: str):
    set_inputs(built, "B")
    elsewhere = tmp_path / "elsewhere"
    shutil.move(built / link, elsewhere)
    (built / link).symlink_to(elsewhere, target_is_directory=True)
    outside = snapshot(elsewhere)
    before = snapshot(built / "out")
    shown = "out/" if link == "out" else link
    assert_refused(built, before, f"{shown} is a symlink to {elsewhere.resolve()}, outside the repository")
    assert (built / link).is_symlink() and snapshot(elsewhere) == outside


def test_a_symlink_to_a_folder_of_the_repository_is_followed(built: Path, states: dict):
    set_inputs(built, "B")
    shutil.move(built / "out", built / "rendered")
    (built / "out").symlink_to("rendered", target_is_directory=True)
    result = run(built, "build")
    assert result.exit_code == 0, result.stderr
    assert (built / "out").is_symlink() and snapshot(built / "rendered") == states["B"]
    assert [n for n in os.listdir(built) if n.startswith((".out", ".rendered"))] == []
