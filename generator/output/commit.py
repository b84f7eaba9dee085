"""Stage 7, commit: switch out/ from the last build to this one, every environment at once, and never leave it
half-written, whatever stops the build (a kill, a full disk, a read-only folder) and whenever it does.

The protocol. A build holds the build lock (.nimgen/build.lock, see `build_lock`) from start to end, so one
commit runs at a time. `out` below is out/ (or, when out/ is a symlink to a folder inside the repository, that
folder); every temporary name sits beside it, in the same folder and so on the same filesystem:

0. Recover (`recover`): a journal `.out.commit` left by step 2b is rolled forward (below); then every leftover
   is deleted: `.out.new-*`, `.out.old-*` and `.out.commit.tmp-*` beside out/, and the `.<env>.new-*` /
   `.<env>.old-*` folders older nimgen versions staged inside out/. Leftovers are never content: check and plan
   read only out/<env>/ folders, never names that start with a dot, and nothing is ever staged inside out/.
1. Stage (`commit`): write the complete new tree into a fresh `.out.new-<token>`: the environment folders this
   build changed, written afresh, and every other entry of out/ carried over unchanged (hard links, or copies
   where links cannot be made): the environments a `--env` build did not render, environments whose files did
   not change, files at the top of out/. Environment folders a full build no longer produces are left out.
   out/ itself is not touched; a kill leaves it as it was plus a leftover that step 0 deletes.
2. Switch, in one atomic step:
   a. out/ does not exist yet: rename(staging, out).
      Otherwise, where the filesystem can exchange two names atomically (Linux renameat2 RENAME_EXCHANGE,
      macOS renamex_np RENAME_SWAP): exchange(staging, out). At every instant out/ is the whole old tree or the
      whole new tree; afterwards the staging name holds the old tree.
   b. Elsewhere, a journal. Write `.out.commit` naming the staging and the old name `.out.old-<token>`
      (a temporary file, then an atomic rename): THE COMMIT POINT. Then rename(out, old), rename(staging, out),
      delete the journal. Step 0 reads a journal deterministically: if the staging still exists, the switch
      did not finish, so it moves out/ (if still there) to old and the staging to out/ (roll forward); if the
      staging is gone the switch finished. Without a journal nothing was switched (roll back: the staging is
      a leftover). So a build killed before the commit point leaves the old out/, one killed after it leaves
      the new out/ once any nimgen build has run step 0; until then, a kill between the two renames leaves
      out/ missing (never mixed).
3. Delete the old tree (now at the staging or the old name). A kill here leaves a leftover for step 0.

This guards against the process stopping (SIGKILL, a crash, Ctrl-C), not against the machine losing power:
nothing is fsynced.

A write that cannot happen (read-only or immutable out/ or repository, no space or no inodes left, out/ or
out/<env> a file, out/ or out/<env> a symlink leaving the repository) raises BuildFailed with the path before
the commit point: the staging is deleted and out/ is as it was. Only OSError is handled so; anything else
(a kill, Ctrl-C) stops at once and leaves recovery to the next build.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import re
import shutil
import stat
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from filelock import FileLock, Timeout

from ..diagnostics import BuildFailed, Diagnostic, display_path

UNCHANGED = "out/ was not changed"
_UNSUPPORTED = {errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOTTY}


def _load_exchange() -> Callable[[str, str], None] | None:
    """exchange(a, b): swap two names atomically, or None where the C library offers no such call."""
    if not sys.platform.startswith(("linux", "darwin")):  # pragma: no cover - other systems use the journal
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover - no C library to load
        return None
    if sys.platform.startswith("linux") and hasattr(libc, "renameat2"):
        call, at_fdcwd, flag = libc.renameat2, -100, 2                  # AT_FDCWD, RENAME_EXCHANGE
        call.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]

        def invoke(a: str, b: str) -> int:
            result: int = call(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), flag)   # restype c_int: an int
            return result
    elif sys.platform == "darwin" and hasattr(libc, "renamex_np"):  # pragma: no cover - macOS
        call, flag = libc.renamex_np, 2                                  # RENAME_SWAP
        call.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint]

        def invoke(a: str, b: str) -> int:
            result: int = call(os.fsencode(a), os.fsencode(b), flag)   # restype c_int: an int
            return result
    else:  # pragma: no cover - other systems use the journal
        return None
    call.restype = ctypes.c_int

    def exchange(a: str, b: str) -> None:
        if invoke(a, b) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code), a, None, b)
    return exchange


_exchange = _load_exchange()


# names


def _new(target: Path) -> str:
    return f".{target.name}.new-"


def _old(target: Path) -> str:
    return f".{target.name}.old-"


def _journal(target: Path) -> Path:
    return target.with_name(f".{target.name}.commit")


INSIDE_LEFTOVER = re.compile(r"^\..+\.(new|old)-[^/]+$")   # what older nimgen versions staged inside out/


def is_leftover(name: str) -> bool:
    """An entry of out/ that is never content: an interrupted staging or old folder of an older nimgen."""
    return bool(INSIDE_LEFTOVER.match(name))


def _failed(shown: str, message: str, hint: str | None = None) -> BuildFailed:
    return BuildFailed([Diagnostic(shown, 1, 1, "$", message, f"{hint}; {UNCHANGED}" if hint else UNCHANGED)])


def _cannot(root: Path, path: Path, exc: OSError, doing: str) -> BuildFailed:
    where = Path(exc.filename) if exc.filename else path
    reason = exc.strerror or str(exc)
    number = exc.errno
    code = errno.errorcode.get(number, number) if number is not None else None
    return _failed(display_path(where, root), f"cannot {doing}: {reason} (errno {code})",
                   _HINTS.get(exc.errno or 0, "make the folder writable and build again"))


_HINTS = {
    errno.ENOSPC: "free some space (or inodes) on the disk and build again",
    errno.EDQUOT: "free some space within your disk quota and build again",
    errno.EROFS: "the filesystem is read-only: build in a writable copy of the repository",
    errno.EACCES: "make the folder writable for you and build again",
    errno.EPERM: "the folder is not writable (immutable? 'lsattr -d'): make it writable and build again",
}


# the lock


@contextmanager
def build_lock(root: Path, lock: Path, timeout: float, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the build lock; when another build holds it, say so through on_wait and wait up to timeout seconds.
    The lock is the operating system's (flock): it is released when its process ends, however it ends."""
    shown = display_path(lock, root)
    file_lock = FileLock(lock)
    try:
        try:
            file_lock.acquire(timeout=0)
        except Timeout:
            if on_wait is not None:
                on_wait(f"nimgen: waiting for another nimgen build of this repository to finish "
                        f"(lock {shown}, up to {timeout:g} s) ...")
            file_lock.acquire(timeout=timeout)
    except Timeout:
        raise _failed(shown, f"another nimgen build still holds the build lock after {timeout:g} s",
                      "wait for it to finish (or stop it) and build again") from None
    except OSError as exc:
        raise _cannot(root, lock, exc, "take the build lock") from None
    except NotImplementedError:
        raise _failed(shown, "the filesystem of .nimgen/ cannot lock files (flock)",
                      "build in a copy of the repository on a local filesystem") from None
    try:
        yield
    finally:
        file_lock.release()


# where out/ is, and what may stand in the way


def out_target(root: Path) -> Path:
    """The folder the build writes: out/, or the folder inside the repository an out/ symlink points to.
    Raises BuildFailed when out/ is a file or a symlink leaving the repository (or pointing nowhere)."""
    root = root.resolve()
    out = root / "out"
    if out.is_symlink():
        target = out.resolve()
        if not target.is_relative_to(root) or target == root:
            raise _failed("out", f"out/ is a symlink to {target}, outside the repository",
                          "make out/ a folder of the repository")
        if not target.is_dir():
            raise _failed("out", f"out/ is a symlink to {target}, which is not a folder",
                          "make out/ a folder of the repository")
        return target
    if out.exists() and not out.is_dir():
        raise _failed("out", "out/ is a file, not a folder", "move or delete it (nimgen writes out/<env>/ folders)")
    return out


def check_environments(root: Path, target: Path, envs: list[str]) -> None:
    """Raise BuildFailed when out/<env> of an environment is a file or a symlink leaving the repository."""
    root = root.resolve()
    problems = []
    for env in envs:
        path = target / env
        if path.is_symlink():
            found = path.resolve()
            if not found.is_relative_to(root) or found == root:
                problems.append(Diagnostic(f"out/{env}", 1, 1, "$", f"out/{env} is a symlink to {found}, outside "
                                           "the repository", f"make out/{env} a folder; {UNCHANGED}"))
                continue
        if path.exists() and not path.is_dir():
            problems.append(Diagnostic(f"out/{env}", 1, 1, "$", f"out/{env} is a file, not a folder",
                                       f"move or delete it (nimgen writes the environment's files there); "
                                       f"{UNCHANGED}"))
    if problems:
        raise BuildFailed(problems)


# step 0


def recover(root: Path, target: Path) -> None:
    """Finish an interrupted commit (a journal: roll forward), then delete every leftover (best effort)."""
    journal = _journal(target)
    if journal.exists():
        _roll_forward(root, target, journal)
    parent = target.parent
    try:
        beside = [parent / n for n in os.listdir(parent)
                  if n.startswith((_new(target), _old(target), f"{journal.name}.tmp-"))]
    except OSError:
        beside = []
    try:
        inside = [target / n for n in os.listdir(target) if is_leftover(n)] if target.is_dir() else []
    except OSError:
        inside = []
    for path in beside + inside:
        _remove(path)


def _roll_forward(root: Path, target: Path, journal: Path) -> None:
    try:
        names = json.loads(journal.read_text(encoding="utf-8"))
        staging, old = target.with_name(names["new"]), target.with_name(names["old"])
        if not (staging.name.startswith(_new(target)) and old.name.startswith(_old(target))):
            raise ValueError(names)
    except (OSError, ValueError, KeyError, TypeError):
        _remove(journal)  # unreadable: written by no complete step 2b (it is renamed into place whole)
        return
    try:
        if staging.is_dir():
            if target.exists() or target.is_symlink():
                os.rename(target, old)
            os.rename(staging, target)
        os.unlink(journal)
    except OSError as exc:
        raise _failed(display_path(target, root), f"cannot finish the commit of an interrupted build: {exc}",
                      f"the new tree is in {staging.name} (journal {journal.name}); make the folder writable "
                      "and build again") from None


def _remove(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            if sys.version_info >= (3, 12):
                shutil.rmtree(path, onexc=_writable_and_retry)
            else:
                shutil.rmtree(path, onerror=_writable_and_retry)
        else:
            os.unlink(path)
    except OSError:
        pass  # a leftover that cannot be deleted now is deleted by a later build


def _writable_and_retry(function: Callable[[str], object], path: str, _info: object) -> None:
    """rmtree cannot delete in a folder without write permission (a leftover of a read-only out/<env>)."""
    try:
        os.chmod(os.path.dirname(path), 0o755)
        function(path)
    except OSError:
        pass


# steps 1-3


def commit(root: Path, target: Path, write: dict[str, dict[str, str]], drop: set[str]) -> None:
    """Switch target (out/) to a tree where each environment in write holds exactly those files (relative path
    -> text), the environments in drop are gone and everything else is as it was. Raises BuildFailed, with
    target unchanged, when the new tree cannot be written or switched in."""
    root = root.resolve()
    exists = target.is_dir()
    _check_writable(root, target, [target / env for env in sorted(set(write) | drop)] if exists else [])
    try:
        staging = Path(tempfile.mkdtemp(prefix=_new(target), dir=target.parent))
    except OSError as exc:
        raise _cannot(root, target.parent, exc, f"create the staging folder for {display_path(target, root)}/") from None
    try:
        _stage(target, staging, write, drop, exists)
    except OSError as exc:
        _remove(staging)
        raise _cannot(root, _as_target(exc, staging, target), exc, f"write the new {display_path(target, root)}/") from None
    if not exists:
        _switch(root, target, staging, lambda: os.rename(staging, target))
    elif _exchange is not None and _switch(root, target, staging, lambda: _exchange(str(staging), str(target)),
                                           unsupported_ok=True):
        pass
    else:
        _journaled(root, target, staging)
        return
    _remove(staging)  # step 3: it holds the old tree now


def _check_writable(root: Path, target: Path, folders: list[Path]) -> None:
    """Step 3 deletes the replaced folders: refuse up front (out/ unchanged) when they are read-only or immutable."""
    for folder in ([target] if target.is_dir() else []) + folders:
        if folder.is_dir() and not folder.is_symlink() and not os.access(folder, os.W_OK):
            raise _failed(display_path(folder, root), f"{display_path(folder, root)}/ is read-only (or immutable)",
                          "make it writable (chmod u+w; chattr -i) and build again")


def _as_target(exc: OSError, staging: Path, target: Path) -> Path:
    """A staging path in an error names the out/ path it stands for."""
    if exc.filename:
        path = Path(os.fsdecode(exc.filename))
        if path == staging or staging in path.parents:
            exc.filename = str(target / path.relative_to(staging))
    return target


def _stage(target: Path, staging: Path, write: dict[str, dict[str, str]], drop: set[str], exists: bool) -> None:
    os.chmod(staging, stat.S_IMODE(os.stat(target).st_mode) if exists else 0o755)
    if exists:
        for entry in sorted(os.listdir(target)):
            if entry in write or entry in drop or is_leftover(entry):
                continue
            _carry(target / entry, staging / entry)
    for env, files in write.items():
        folders = {staging / env}
        (staging / env).mkdir(mode=0o755)
        for relpath, text in files.items():
            path = staging / env / relpath
            if path.parent not in folders:
                path.parent.mkdir(parents=True, exist_ok=True)
                folders.add(path.parent)
            try:
                path.write_bytes(text.encode("utf-8"))
            except OSError as exc:
                exc.filename = exc.filename or str(path)  # a failed write() names no file
                raise


def _carry(source: Path, dest: Path) -> None:
    if source.is_symlink():
        os.symlink(os.readlink(source), dest)
    elif source.is_dir():
        shutil.copytree(source, dest, symlinks=True, copy_function=_link_or_copy)
    elif source.is_file():
        _link_or_copy(source, dest)
    # sockets, fifos and devices are not carried over


def _link_or_copy(source: str | Path, dest: str | Path) -> None:
    try:
        os.link(source, dest)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
            raise
        shutil.copy2(source, dest)


def _switch(root: Path, target: Path, staging: Path, step: Callable[[], None], unsupported_ok: bool = False) -> bool:
    """Run one atomic switch; False when the filesystem does not support it (and unsupported_ok)."""
    try:
        step()
        return True
    except OSError as exc:
        if unsupported_ok and exc.errno in _UNSUPPORTED:
            return False
        _remove(staging)
        raise _cannot(root, target, exc, f"switch {display_path(target, root)}/ to the new build") from None


def _journaled(root: Path, target: Path, staging: Path) -> None:
    """Step 2b and 3: the journal, two renames, the old tree deleted."""
    journal = _journal(target)
    old = target.with_name(_old(target) + staging.name[len(_new(target)):])
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f"{journal.name}.tmp-", dir=target.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps({"new": staging.name, "old": old.name}) + "\n")
        os.replace(tmp, journal)  # the commit point
    except OSError as exc:
        if tmp is not None:
            _remove(Path(tmp))
        _remove(staging)
        raise _cannot(root, journal, exc, f"switch {display_path(target, root)}/ to the new build") from None
    try:
        os.rename(target, old)
    except OSError as exc:  # nothing moved yet: roll back
        _remove(journal)
        _remove(staging)
        raise _cannot(root, target, exc, f"switch {display_path(target, root)}/ to the new build") from None
    try:
        os.rename(staging, target)
    except OSError as exc:
        try:
            os.rename(old, target)  # roll back
        except OSError:
            shown = display_path(target, root)
            raise BuildFailed([Diagnostic(shown, 1, 1, "$", f"cannot switch {shown}/ to the new build: {exc}; "
                                          f"{shown}/ is missing", "the next 'nimgen build' completes the switch "
                                          f"(journal {journal.name})")]) from None
        _remove(journal)
        _remove(staging)
        raise _cannot(root, target, exc, f"switch {display_path(target, root)}/ to the new build") from None
    _remove(journal)
    _remove(old)
